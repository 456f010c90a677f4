// What the core asks the effects to do.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "core/config.h"
#include "core/types.h"

namespace havip {

// The one choke point of every role change: the daemon writes the state file,
// logs "NAME: OLD -> NEW (REASON)" and tells listeners, in that order.
struct RoleChange {
  std::string router;
  Role from = Role::unknown;
  Role to = Role::unknown;
  std::string reason;     // "vip 169.254.0.1/24 on ha-edge1 in qrouter-…"
  std::string netns;      // for structured log fields
  std::string interface;
  bool operator==(const RoleChange&) const = default;
};

// The router's gateway interface appeared (created, renamed to its name, or
// re-created with a new ifindex) while the router has a role: its sysctls must
// be written again (Neutron bug #1585246).
struct GatewayAppeared {
  std::string router;
  bool operator==(const GatewayAppeared&) const = default;
};

// A router entered `fault` with [daemon] on_stale_vip = "release": remove its
// addresses (after its backup effects) so that the network sees one owner.
struct ReleaseAddresses {
  std::string router;
  std::string netns;
  std::vector<HeldAddress> addresses;
  bool operator==(const ReleaseAddresses&) const = default;
};

// Start (ifindex != 0) or stop reading VRRP adverts for a router on its
// interface: while its keepalived is gone and it holds the VIP, or always with
// observe_vrrp. One per router at a time; the daemon shares sockets.
struct Listen {
  std::string router;
  std::string netns;
  int family = 0;
  std::uint32_t ifindex = 0;  // 0: stop
  bool operator==(const Listen&) const = default;
};

// Something an operator must hear of began (active) or ended.
struct RouterAlert {
  enum class Kind : std::uint8_t {
    speaker,      // active: the keepalived VRRP process is gone
    stale_vip,    // active: the VIP is held although keepalived is gone
    split_brain,  // active: another host advertises as master while this one is
  };
  std::string router;
  std::string netns;
  Kind kind = Kind::speaker;
  bool active = false;
  std::string detail;
  // Worth a warning: keepalived gone while the router holds its VIP (or is
  // primary); a backup's keepalived stopping or not started yet is not.
  bool serious = true;
  bool operator==(const RouterAlert&) const = default;
};

using Action = std::variant<RoleChange, GatewayAppeared, ReleaseAddresses, Listen, RouterAlert>;

}  // namespace havip
