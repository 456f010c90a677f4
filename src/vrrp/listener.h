// A raw IPPROTO_VRRP socket that receives VRRP adverts inside one network
// namespace, read-only: it never sends anything.
//
// What the kernel delivers to it (checked on Linux 6.18, tests/kernel/test_vrrp_listener.py):
//  * Multicast adverts (224.0.0.18, ff02::12) reach the namespace only on an
//    interface where someone in it is a member of the group. keepalived joins on
//    its interface; once keepalived is dead nobody is, and the kernel drops the
//    adverts before any socket sees them: join() the interfaces to watch.
//  * Once the group is joined on an interface, by this socket or by anyone else
//    in the namespace (keepalived), this socket receives the adverts sent there
//    (the sockets' default IP_MULTICAST_ALL; an unbound raw IPv6 socket is not
//    filtered by its memberships at all). So adverts may come from interfaces
//    this socket did not join: filter on Received::ifindex.
//  * Unicast adverts (keepalived's unicast_peer) to one of the namespace's
//    addresses arrive without any join.
//  * Own adverts: a keepalived in the same namespace sends with multicast loop
//    off, so its multicast adverts do not come back here; but anything that does
//    loop back (another sender, a unicast peer that is one of our own addresses)
//    is delivered like any advert. Nothing is filtered by source here: the caller
//    drops adverts whose source is one of the namespace's own addresses.
//  * Received::ifindex is the interface the advert came in on (IP_PKTINFO /
//    IPV6_PKTINFO), an ifindex of the listener's namespace.
//  * While it is open the kernel counts protocol 112 as handled in the namespace:
//    it no longer answers unicast adverts with ICMP "protocol unreachable", as it
//    does when nothing listens (keepalived dead). That is all it changes.
// Joining needs no privilege beyond the raw socket's CAP_NET_RAW. One IPv4 socket
// may join at most net.ipv4.igmp_max_memberships groups (20 by default, per
// namespace): one per watched interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <tl/expected.hpp>

#include "core/unique_fd.h"
#include "vrrp/advert.h"

namespace havip::vrrp {

class Listener {
 public:
  // Opens a raw IPPROTO_VRRP socket of `family` (AF_INET or AF_INET6) in the
  // namespace `netns_fd` (entered and left again: `home_fd` is the daemon's own
  // namespace), non-blocking, close-on-exec, with IP_PKTINFO or IPV6_RECVPKTINFO
  // and IPV6_RECVHOPLIMIT, and a bounded receive buffer (kReceiveBuffer).
  static tl::expected<Listener, std::string> open(int netns_fd, int home_fd, int family);

  static constexpr int kReceiveBuffer = 256 * 1024;  // SO_RCVBUF (the kernel doubles it)

  int fd() const { return fd_.get(); }
  int family() const { return family_; }

  // Joins / leaves the VRRP group (224.0.0.18 or ff02::12) on one interface of the
  // namespace (by ifindex). Reference-counted per ifindex (two routers on one
  // interface): only the first join and the last leave reach the kernel. leave()
  // of an interface not joined does nothing; a kernel error on leaving is ignored
  // (the interface may be gone, which the kernel has already cleaned up after).
  tl::expected<void, std::string> join(std::uint32_t ifindex);
  void leave(std::uint32_t ifindex);
  // How many joins of `ifindex` are outstanding.
  unsigned joined(std::uint32_t ifindex) const;

  struct Received {
    std::uint32_t ifindex;
    Advert advert;
  };
  // Reads what is queued, at most `budget` datagrams (so a flood cannot starve
  // the loop), and decodes each: `got` for an advert, `bad` with the reason for a
  // malformed one (which is skipped) or for a socket error (which ends the
  // drain). Returns how many datagrams it read: fewer than `budget` means the
  // queue is empty (or a socket error was reported).
  std::size_t drain(std::size_t budget, const std::function<void(const Received&)>& got,
                    const std::function<void(const std::string&)>& bad);

 private:
  Listener(UniqueFd fd, int family) : fd_(std::move(fd)), family_(family) {}
  tl::expected<void, std::string> membership(std::uint32_t ifindex, bool add);

  UniqueFd fd_;
  int family_ = 0;
  std::map<std::uint32_t, unsigned> joined_;  // ifindex -> joins
};

}  // namespace havip::vrrp
