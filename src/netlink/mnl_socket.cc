#include "netlink/mnl_socket.h"

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace havip::netlink {

void Socket::Close::operator()(mnl_socket* s) const { mnl_socket_close(s); }

tl::expected<Socket, std::string> Socket::open(int receive_buffer) {
  mnl_socket* raw = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (!raw) return tl::unexpected(std::string("netlink socket: ") + std::strerror(errno));
  Socket s(raw);
  int fd = mnl_socket_get_fd(raw);
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer, sizeof receive_buffer) != 0 &&
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer) != 0)
    return tl::unexpected(std::string("netlink receive buffer: ") + std::strerror(errno));
  unsigned groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (mnl_socket_bind(raw, groups, MNL_SOCKET_AUTOPID) != 0)
    return tl::unexpected(std::string("netlink bind: ") + std::strerror(errno));
  return s;
}

int Socket::fd() const { return mnl_socket_get_fd(sock_.get()); }

tl::expected<void, std::string> Socket::request_dump(DumpKind kind, std::uint32_t seq) {
  alignas(nlmsghdr) char buf[256];  // one request header and its family
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = seq;
  if (kind == DumpKind::links) {
    nlh->nlmsg_type = RTM_GETLINK;
    auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
    ifi->ifi_family = AF_UNSPEC;
  } else {
    nlh->nlmsg_type = RTM_GETADDR;
    auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
    ifa->ifa_family = AF_UNSPEC;
  }
  if (mnl_socket_sendto(sock_.get(), nlh, nlh->nlmsg_len) < 0)
    return tl::unexpected(std::string("netlink dump request: ") + std::strerror(errno));
  return {};
}

tl::expected<void, std::string> Socket::request_link_up(std::uint32_t ifindex, std::uint32_t seq) {
  alignas(nlmsghdr) char buf[256];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = seq;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = static_cast<int>(ifindex);
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  if (mnl_socket_sendto(sock_.get(), nlh, nlh->nlmsg_len) < 0)
    return tl::unexpected(std::string("netlink link up request: ") + std::strerror(errno));
  return {};
}

tl::expected<std::span<const std::uint8_t>, int> Socket::receive(std::span<std::uint8_t> buf) {
  ssize_t n = mnl_socket_recvfrom(sock_.get(), buf.data(), buf.size());
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return std::span<const std::uint8_t>{};
    return tl::unexpected(errno);
  }
  return std::span<const std::uint8_t>(buf.data(), static_cast<std::size_t>(n));
}

}  // namespace havip::netlink
