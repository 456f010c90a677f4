#include "netlink/address.h"

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "netns/netns.h"

namespace havip::netlink {

namespace {

struct CloseSocket {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};

std::string failed(const HeldAddress& a, std::string_view why) {
  return a.prefix.to_string() + " dev " + a.dev + ": " + std::string(why);
}

// One RTM_DELADDR and its acknowledgement; "" when done (or nothing to do).
std::string delete_one(mnl_socket* sock, const HeldAddress& a, std::uint32_t seq) {
  unsigned ifindex = ::if_nametoindex(a.dev.c_str());
  if (ifindex == 0) return {};       // the interface is gone, and its addresses with it
  alignas(nlmsghdr) char buf[8192];  // an ack or error carries the request back: small
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_DELADDR;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = seq;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = static_cast<std::uint8_t>(a.prefix.family);
  ifa->ifa_prefixlen = a.prefix.length;
  ifa->ifa_index = ifindex;
  std::size_t len = a.prefix.family == AF_INET ? 4 : 16;
  mnl_attr_put(nlh, IFA_LOCAL, len, a.prefix.bytes.data());
  mnl_attr_put(nlh, IFA_ADDRESS, len, a.prefix.bytes.data());
  if (mnl_socket_sendto(sock, nlh, nlh->nlmsg_len) < 0) return failed(a, std::strerror(errno));
  std::uint32_t portid = mnl_socket_get_portid(sock);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock, buf, sizeof buf);
    if (n < 0) return failed(a, std::strerror(errno));
    int r = mnl_cb_run(buf, static_cast<std::size_t>(n), seq, portid, nullptr, nullptr);
    if (r == MNL_CB_STOP) return {};
    if (r < 0) {
      // Already gone: what a release wants.
      if (errno == EADDRNOTAVAIL || errno == ENODEV || errno == ESRCH) return {};
      return failed(a, std::strerror(errno));
    }
  }
}

}  // namespace

std::vector<std::string> delete_addresses(int netns_fd, int home_fd,
                                          const std::vector<HeldAddress>& addresses) {
  auto done = netns::run_in(netns_fd, home_fd, [&] {
    std::vector<std::string> errors;
    std::unique_ptr<mnl_socket, CloseSocket> sock(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC));
    if (!sock || mnl_socket_bind(sock.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
      errors.push_back(std::string("netlink socket: ") + std::strerror(errno));
      return errors;
    }
    // The kernel answers at once; a bound on the wait all the same.
    timeval timeout{1, 0};
    ::setsockopt(mnl_socket_get_fd(sock.get()), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    std::uint32_t seq = 1;
    for (const auto& a : addresses)
      if (auto error = delete_one(sock.get(), a, seq++); !error.empty())
        errors.push_back(std::move(error));
    return errors;
  });
  if (!done) return {"cannot enter the namespace: " + done.error()};
  return *done;
}

}  // namespace havip::netlink
