// The role of one router, decided from the presence of its signal VIP.
//
//   observed           role now          result
//   ----------------   ---------------   ------------------------------------
//   present since T    primary           nothing
//   present since T    unknown/backup    primary at T + hold-down (now if due)
//   absent             primary/unknown   backup at once; a pending primary is dropped
//   absent             backup            nothing; a pending primary is dropped
//   forget             any               unknown (namespace gone); pending dropped
//   fault              any               fault at once; pending dropped
//   present/absent     fault             as from backup (the engine decides when
//                                        a fault ends: keepalived is back)
//
// This is Neutron's hold-down: a primary superseded within the hold-down is
// never applied. docs/STATES.md draws the same table.
#pragma once

#include <optional>

#include "core/types.h"

namespace havip {

struct Transition {
  Role from = Role::unknown;
  Role to = Role::unknown;
  bool operator==(const Transition&) const = default;
};

class RoleMachine {
 public:
  explicit RoleMachine(Millis hold_down, Role initial = Role::unknown)
      : hold_down_(hold_down), role_(initial) {}

  // The VIP is present since `since` (nullopt: absent), as seen at `now`.
  std::optional<Transition> observe(std::optional<TimePoint> since, TimePoint now);
  // Applies a pending primary whose hold-down has passed.
  std::optional<Transition> expire(TimePoint now);
  // The router can no longer be observed (its namespace is gone).
  std::optional<Transition> forget();
  // keepalived behind the router is gone and a peer serves it.
  std::optional<Transition> fault();

  Role role() const { return role_; }
  // When a pending primary is due, if one is.
  std::optional<TimePoint> deadline() const { return due_; }

 private:
  std::optional<Transition> set(Role to);

  Millis hold_down_;
  Role role_;
  std::optional<TimePoint> due_;
};

}  // namespace havip
