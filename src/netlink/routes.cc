#include "netlink/routes.h"

#include <linux/rtnetlink.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstring>
#include <memory>
#include <optional>

#include "netns/netns.h"

namespace havip::netlink {

namespace {

struct SockFree {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct CacheFree {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using Sock = std::unique_ptr<nl_sock, SockFree>;

// The libnl address as a prefix; nullopt for an address of another family
// or a malformed one. An empty destination is the default route.
std::optional<IpPrefix> prefix_of(nl_addr* a, int family) {
  IpPrefix p;
  p.family = family;
  if (!a || nl_addr_get_len(a) == 0) return p;  // 0.0.0.0/0 or ::/0
  unsigned len = nl_addr_get_len(a);
  if (nl_addr_get_family(a) != family || len != (family == AF_INET ? 4u : 16u)) return std::nullopt;
  std::memcpy(p.bytes.data(), nl_addr_get_binary_addr(a), len);
  unsigned bits = nl_addr_get_prefixlen(a);
  if (bits > len * 8) return std::nullopt;
  p.length = static_cast<std::uint8_t>(bits);
  return p;
}

std::optional<IpPrefix> host_of(nl_addr* a) {
  if (!a) return std::nullopt;
  int family = nl_addr_get_family(a);
  if (family != AF_INET && family != AF_INET6) return std::nullopt;
  auto p = prefix_of(a, family);
  if (!p || nl_addr_get_len(a) == 0) return std::nullopt;
  p->length = family == AF_INET ? 32 : 128;
  return p;
}

}  // namespace

tl::expected<std::vector<KernelRoute>, std::string> read_routes(
    int netns_fd, int home_fd, const std::function<std::string(std::uint32_t)>& name_of) {
  // The socket is made inside the namespace and stays bound to it.
  auto opened = netns::run_in(netns_fd, home_fd, [&]() -> tl::expected<Sock, std::string> {
    Sock s(nl_socket_alloc());
    if (!s) return tl::unexpected(std::string("nl_socket_alloc failed"));
    if (int err = nl_connect(s.get(), NETLINK_ROUTE); err < 0)
      return tl::unexpected(std::string("netlink socket: ") + nl_geterror(err));
    return s;
  });
  if (!opened) return tl::unexpected(opened.error());
  if (!*opened) return tl::unexpected(opened->error());
  Sock sock = std::move(**opened);
  // Never wait on a kernel that does not answer: each receive waits a second
  // at most (libnl gives up with -NLE_AGAIN, a dump error, never a short list).
  timeval timeout{1, 0};
  if (setsockopt(nl_socket_get_fd(sock.get()), SOL_SOCKET, SO_RCVTIMEO, &timeout,
                 sizeof timeout) != 0)
    return tl::unexpected(std::string("SO_RCVTIMEO: ") + std::strerror(errno));

  nl_cache* raw = nullptr;
  if (int err = rtnl_route_alloc_cache(sock.get(), AF_UNSPEC, 0, &raw); err < 0)
    return tl::unexpected(std::string("route dump: ") + nl_geterror(err));
  std::unique_ptr<nl_cache, CacheFree> cache(raw);

  std::vector<KernelRoute> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
    auto* route = reinterpret_cast<rtnl_route*>(o);
    int family = rtnl_route_get_family(route);
    if (family != AF_INET && family != AF_INET6) continue;
    std::uint8_t type = rtnl_route_get_type(route);
    if (type != RTN_UNICAST && type != RTN_BLACKHOLE && type != RTN_UNREACHABLE &&
        type != RTN_PROHIBIT)
      continue;  // local, broadcast, multicast: the kernel's own
    auto dst = prefix_of(rtnl_route_get_dst(route), family);
    if (!dst) continue;
    KernelRoute k;
    k.table = static_cast<int>(rtnl_route_get_table(route));
    k.destination = *dst;
    for (int i = 0, n = rtnl_route_get_nnexthops(route); i < n; ++i) {
      rtnl_nexthop* nh = rtnl_route_nexthop_n(route, i);
      if (!nh) continue;
      int ifindex = rtnl_route_nh_get_ifindex(nh);
      k.hops.push_back({host_of(rtnl_route_nh_get_gateway(nh)),
                        ifindex > 0 ? name_of(static_cast<std::uint32_t>(ifindex)) : ""});
    }
    out.push_back(std::move(k));
  }
  return out;
}

}  // namespace havip::netlink
