// The audit (DESIGN.md §3.14–15): the primary holds everything keepalived was
// told to hold, the backup nothing. For a router read from a keepalived.conf,
// what keepalived holds (RouterConfig::addresses: virtual_ipaddress and
// virtual_ipaddress_excluded; RouterConfig::routes: virtual_routes) is
// compared with what the kernel has in the router's namespace:
//
//   role     finding                                   example
//   primary  an address or route is missing            a gateway address gone: a black hole
//   backup   an address or route is still there        two hosts answer for one address
//   other    nothing is compared (fault, unknown: keepalived's own business)
//
// Pure: audit() compares, AuditTracker holds each finding back until it has
// lasted the grace period since it was first seen and since the router took
// its role (keepalived adds and removes the addresses one by one; that
// settling is not a finding). The daemon reads the kernel (daemon/auditor.h).
// Report only: nothing is repaired.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/types.h"

namespace havip {

// A route in the kernel's tables, as the audit compares it.
struct KernelRoute {
  struct Hop {
    std::optional<IpPrefix> via;  // the gateway, a host prefix
    std::string dev;              // the device's name ("" if unknown)
    bool operator==(const Hop&) const = default;
  };
  int table = 254;
  IpPrefix destination;
  std::vector<Hop> hops;  // one, or each nexthop of a multipath route
  bool operator==(const KernelRoute&) const = default;
};

struct AuditFinding {
  enum class Kind : std::uint8_t {
    missing,  // the primary lacks it
    held,     // the backup still has it
  };
  Kind kind = Kind::missing;
  std::string what;  // "address 203.0.113.5/24 dev qg-1", "route default via 203.0.113.1 dev qg-1"
  auto operator<=>(const AuditFinding&) const = default;
  // "primary is missing address …" / "backup still holds route …"
  std::string to_string() const;
};
std::string_view audit_kind_name(AuditFinding::Kind k);  // "missing", "held"

// What the kernel has. `has_address(a)`: the address (any prefix length, any
// state: a tentative IPv6 address is held) is on the interface named a.dev.
// `routes`: the namespace's routes; nullopt when they were not read (then
// routes are not compared).
struct KernelState {
  std::function<bool(const HeldAddress&)> has_address;
  const std::vector<KernelRoute>* routes = nullptr;
};

// The differences between what `router` should hold in `role` and `kernel`.
std::vector<AuditFinding> audit(const RouterConfig& router, Role role, const KernelState& kernel);

// Whether a configuration change leaves what audit() compares as it was (the
// namespace, the addresses, the routes): a change elsewhere (radvd's content,
// a conntrackd.conf appearing) keeps the findings and their grace.
bool same_audit_inputs(const RouterConfig& a, const RouterConfig& b);

// Whether `route` is among `routes`: same table and destination, and a hop
// with its gateway and device (those it names).
bool route_present(const HeldRoute& route, const std::vector<KernelRoute>& routes);

// One router's findings over time.
class AuditTracker {
 public:
  struct Change {
    bool reported;  // true: now reported; false: gone (or no longer reported)
    AuditFinding finding;
  };
  // The findings of a comparison at `now`. A finding is reported once it has
  // been seen at every comparison since `grace` ago and the router has had its
  // role (since `role_since`) as long; a finding not seen any more is dropped.
  std::vector<Change> update(const std::vector<AuditFinding>& seen, TimePoint role_since,
                             Millis grace, TimePoint now);
  // Forgets everything (the router left primary/backup, or was removed):
  // what was reported comes back as cleared.
  std::vector<Change> clear();
  // What is reported now, sorted.
  std::vector<AuditFinding> reported() const;

 private:
  struct Seen {
    TimePoint first;
    bool reported = false;
  };
  std::map<AuditFinding, Seen> seen_;
};

}  // namespace havip
