#include "vrrp/listener.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "netns/netns.h"

namespace havip::vrrp {

namespace {

std::string errno_text(std::string_view what) {
  return fmt::format("{}: {}", what, std::strerror(errno));
}

tl::expected<void, std::string> enable(int fd, int level, int option, std::string_view name) {
  int on = 1;
  if (::setsockopt(fd, level, option, &on, sizeof on) != 0) return tl::unexpected(errno_text(name));
  return {};
}

// The largest valid advert is 60 + 8 + 255 * 4 + 8 bytes (IPv4) or 8 + 255 * 16
// (IPv6, no header): anything longer is reported as truncated.
constexpr std::size_t kDatagram = 8192;

// What one recvmsg() gave besides the bytes.
struct Meta {
  IpPrefix source;
  std::uint32_t ifindex = 0;
  std::array<std::uint8_t, 16> destination{};
  int hop_limit = -1;
};

Meta meta_of(const msghdr& msg, const sockaddr_storage& from) {
  Meta m;
  if (from.ss_family == AF_INET) {
    const auto& sin = reinterpret_cast<const sockaddr_in&>(from);
    m.source.family = AF_INET;
    std::memcpy(m.source.bytes.data(), &sin.sin_addr, 4);
    m.source.length = 32;
  } else if (from.ss_family == AF_INET6) {
    const auto& sin6 = reinterpret_cast<const sockaddr_in6&>(from);
    m.source.family = AF_INET6;
    std::memcpy(m.source.bytes.data(), &sin6.sin6_addr, 16);
    m.source.length = 128;
  }
  for (auto* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
        c->cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      m.ifindex = static_cast<std::uint32_t>(info.ipi_ifindex);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
               c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      m.ifindex = info.ipi6_ifindex;
      std::memcpy(m.destination.data(), &info.ipi6_addr, 16);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT &&
               c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      std::memcpy(&m.hop_limit, CMSG_DATA(c), sizeof(int));
    }
  }
  return m;
}

}  // namespace

tl::expected<Listener, std::string> Listener::open(int netns_fd, int home_fd, int family) {
  if (family != AF_INET && family != AF_INET6)
    return tl::unexpected(fmt::format("vrrp socket: address family {} is not AF_INET(6)", family));
  // The socket belongs to the namespace it is created in (DESIGN.md §5).
  auto created =
      netns::run_in(netns_fd, home_fd, [family]() -> tl::expected<UniqueFd, std::string> {
        UniqueFd fd(::socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, kProtocol));
        if (fd) return fd;
        bool denied = errno == EPERM;
        std::string why = errno_text("vrrp socket");
        if (denied) why += " (a raw socket needs CAP_NET_RAW)";
        return tl::unexpected(why);
      });
  if (!created) return tl::unexpected(created.error());
  if (!*created) return tl::unexpected(created->error());
  Listener l(std::move(**created), family);
  int fd = l.fd();
  int size = kReceiveBuffer;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) != 0)
    return tl::unexpected(errno_text("vrrp socket SO_RCVBUF"));
  tl::expected<void, std::string> ok;
  if (family == AF_INET) {
    ok = enable(fd, IPPROTO_IP, IP_PKTINFO, "vrrp socket IP_PKTINFO");
  } else {
    ok = enable(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, "vrrp socket IPV6_RECVPKTINFO").and_then([fd] {
      return enable(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, "vrrp socket IPV6_RECVHOPLIMIT");
    });
  }
  if (!ok) return tl::unexpected(ok.error());
  return l;
}

tl::expected<void, std::string> Listener::membership(std::uint32_t ifindex, bool add) {
  int rc;
  if (family_ == AF_INET) {
    ip_mreqn req{};
    std::memcpy(&req.imr_multiaddr, kGroup4.data(), 4);
    req.imr_ifindex = static_cast<int>(ifindex);
    rc = ::setsockopt(fd(), IPPROTO_IP, add ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &req,
                      sizeof req);
  } else {
    ipv6_mreq req{};
    std::memcpy(&req.ipv6mr_multiaddr, kGroup6.data(), 16);
    req.ipv6mr_interface = ifindex;
    rc = ::setsockopt(fd(), IPPROTO_IPV6, add ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP, &req,
                      sizeof req);
  }
  if (rc != 0) {
    bool full = errno == ENOBUFS && family_ == AF_INET;
    std::string why =
        errno_text(fmt::format("{} {} on ifindex {}", add ? "join" : "leave",
                               family_ == AF_INET ? "224.0.0.18" : "ff02::12", ifindex));
    if (full) why += " (more groups than net.ipv4.igmp_max_memberships)";
    return tl::unexpected(why);
  }
  return {};
}

tl::expected<void, std::string> Listener::join(std::uint32_t ifindex) {
  // (0 would let the kernel choose an interface by the routes.)
  if (ifindex == 0) return tl::unexpected(std::string("join: ifindex 0 is no interface"));
  auto it = joined_.find(ifindex);
  if (it != joined_.end()) {
    ++it->second;
    return {};
  }
  if (auto ok = membership(ifindex, true); !ok) return ok;
  joined_.emplace(ifindex, 1);
  return {};
}

void Listener::leave(std::uint32_t ifindex) {
  auto it = joined_.find(ifindex);
  if (it == joined_.end()) return;
  if (--it->second > 0) return;
  joined_.erase(it);
  (void)membership(ifindex, false);
}

unsigned Listener::joined(std::uint32_t ifindex) const {
  auto it = joined_.find(ifindex);
  return it == joined_.end() ? 0 : it->second;
}

std::size_t Listener::drain(std::size_t budget, const std::function<void(const Received&)>& got,
                            const std::function<void(const std::string&)>& bad) {
  std::array<std::uint8_t, kDatagram> buf;
  // IPV6_PKTINFO and IPV6_HOPLIMIT, or IP_PKTINFO, with room to spare.
  alignas(cmsghdr) std::array<char, 256> control;
  std::size_t read = 0;
  while (read < budget) {
    sockaddr_storage from{};
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    ssize_t n = ::recvmsg(fd(), &msg, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) bad(errno_text("vrrp socket recvmsg"));
      break;
    }
    ++read;
    Meta m = meta_of(msg, from);
    auto where = [&] {
      return fmt::format(" (from {}, ifindex {})", m.source.to_string(), m.ifindex);
    };
    if (msg.msg_flags & MSG_TRUNC) {
      bad(fmt::format("vrrp: datagram longer than {} bytes{}", kDatagram, where()));
      continue;
    }
    if ((msg.msg_flags & MSG_CTRUNC) || m.ifindex == 0 ||
        (family_ == AF_INET6 && m.hop_limit < 0)) {
      bad("vrrp: the kernel gave no packet info" + where());
      continue;
    }
    auto bytes = std::span<const std::uint8_t>(buf.data(), static_cast<std::size_t>(n));
    auto advert = family_ == AF_INET ? decode_ipv4(bytes)
                                     : decode_ipv6(bytes, m.source, m.destination, m.hop_limit);
    if (!advert) {
      bad(advert.error() + where());
      continue;
    }
    got(Received{m.ifindex, std::move(*advert)});
  }
  return read;
}

}  // namespace havip::vrrp
