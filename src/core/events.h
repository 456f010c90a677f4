// What the edges tell the core. Netlink bytes are decoded into LinkUpdate and
// AddrUpdate at the edge (netlink/decode.cc); the daemon tags them with their
// namespace and feeds them to the Engine as an Event.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/types.h"

namespace havip {

// RTM_NEWLINK / RTM_DELLINK.
struct LinkUpdate {
  std::uint32_t ifindex = 0;
  std::string name;  // IFLA_IFNAME; may be empty on RTM_DELLINK
  bool removed = false;
  bool operator==(const LinkUpdate&) const = default;
};

// RTM_NEWADDR / RTM_DELADDR.
struct AddrUpdate {
  std::uint32_t ifindex = 0;
  IpPrefix prefix;           // IFA_LOCAL if present, else IFA_ADDRESS; ifa_prefixlen
  std::uint32_t flags = 0;   // IFA_FLAGS if present, else ifa_flags (IFA_F_*)
  bool removed = false;
  bool dumped = false;       // part of a dump reply (NLM_F_MULTI), not a live event
  std::optional<std::uint32_t> created_cs;  // IFA_CACHEINFO cstamp: 1/100 s since boot
  bool operator==(const AddrUpdate&) const = default;

  // Tentative or DAD-failed IPv6 addresses are not usable, so not "present".
  bool usable() const;
};

// A dump of one namespace begins: everything learnt before is unconfirmed.
struct SyncStart { std::string netns; };
// The dump is complete: what it did not confirm is gone.
struct SyncEnd { std::string netns; };
// The namespace was deleted (or could not be watched any more).
struct NetnsGone { std::string netns; std::string reason; };
struct LinkEvent { std::string netns; LinkUpdate link; };
struct AddrEvent {
  std::string netns;
  AddrUpdate addr;
  // When the kernel created the address, on the core's clock; only set for
  // dumped addresses (how start-up recognises a VIP older than the hold-down).
  std::optional<TimePoint> created;
};
// Time passed: timers due at or before "now" fire.
struct Tick {};

// The keepalived VRRP process behind a router was found (pid) or is gone
// (nullopt: exited, or not found in its namespace / pid file).
struct SpeakerEvent {
  std::string router;
  std::optional<int> pid;
  std::string detail;  // why it is gone or not found
};

// A VRRP advertisement read from another host (vrrp/ decodes the bytes).
struct PeerAdvert {
  int version = 0;
  std::uint8_t vrid = 0;
  std::uint8_t priority = 0;  // 0: the master is giving up
  Millis interval{0};
  IpPrefix source;  // full length (/32 or /128)
  std::vector<IpPrefix> addresses;
  bool operator==(const PeerAdvert&) const = default;
};
struct AdvertEvent {
  std::string netns;
  std::uint32_t ifindex = 0;  // where it arrived
  PeerAdvert advert;
};

using Event = std::variant<SyncStart, SyncEnd, NetnsGone, LinkEvent, AddrEvent, Tick, SpeakerEvent,
                           AdvertEvent>;

}  // namespace havip
