// What the core asks the effects to do.
#pragma once

#include <string>
#include <variant>

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

using Action = std::variant<RoleChange, GatewayAppeared>;

}  // namespace havip
