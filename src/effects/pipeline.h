// The effect pipeline: the one place a role change is applied. apply() takes
// a router's transition through everything it changes, in DESIGN.md's order:
//
//   state file (queued to its writer thread) -> sysctls -> radvd -> services
//     -> (once the state file is written) hooks -> L3 agent notification
//
// Sysctls, radvd and services do not wait for the disk; the hooks and the
// notification of a transition do, in the order of the transitions. How the
// writes are numbered and completed is the pipeline's business: its owner
// only says "apply this", "the writer has results" (written()) and "time
// passed" (tick()). Every outcome is reported to the Observer.
//
// The pipeline also creates, reconfigures and retires each router's
// RouterEffects, and makes a changed router wait until its old processes are
// gone before its new ones start (two radvd for one router, even briefly,
// would advertise twice from the same link-local address).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/actions.h"
#include "core/backoff.h"
#include "core/config.h"
#include "effects/router_effects.h"
#include "effects/state_queue.h"

namespace havip {

class Pipeline {
 public:
  Pipeline(EffectsContext ctx, std::unique_ptr<StateQueue> state_files);

  // Sets the routers. `role_of` gives the current role of a router the core
  // already knows (a changed router takes it again, without hooks). A router
  // removed while primary whose state directory is havipd's gets `backup`
  // written: its file must not go on saying primary for a router nobody serves.
  void configure(const DaemonConfig& daemon, const std::vector<RouterConfig>& routers,
                 const std::function<Role(const std::string&)>& role_of, TimePoint now);
  // The choke point: applies `change` (see the top of this file). While
  // stopping, only the state file is written.
  void apply(const RoleChange& change, TimePoint now);
  void gateway_appeared(const std::string& router, TimePoint now);
  // The state file writer has results: failures are reported and retried,
  // the hooks and notifications waiting for them go ahead.
  void written(TimePoint now);
  // Writes every router's current role again (the state files moved).
  void rewrite_state_files();

  void tick(TimePoint now);
  std::optional<TimePoint> deadline() const;
  // Stops every child; quiet() says when they are all gone.
  void shutdown(TimePoint now);
  bool quiet() const;

  // Whether a state file write is outstanding (start-up: READY waits for them).
  bool writing() const { return state_files_->busy(); }
  // Routers whose state file is still being written.
  std::vector<std::string> unwritten() const;
  // The state file is not as it should be: failed and waiting for a retry,
  // or a write pending for over a second (a stalled disk).
  bool state_file_failing(const std::string& router, TimePoint now) const;
  const RouterEffects* router(const std::string& name) const;

 private:
  struct Held {  // a transition's hooks and notification, waiting for its state file
    Role from, to;
    std::uint64_t state_write;  // 0: none of its own, goes with the one before it
  };
  struct Entry {
    std::unique_ptr<RouterEffects> effects;
    Role role = Role::unknown;  // the latest applied
    // Role to enter once the predecessor is quiet (set: waiting for it).
    std::optional<Role> waiting;
    std::deque<Held> held;
  };

  std::uint64_t write_state(const std::string& router, Role role);
  void state_written(Entry& entry, std::uint64_t seq);
  void after_state_file(Entry& entry, Role from, Role to);
  void retire(std::unique_ptr<RouterEffects> effects, TimePoint now,
              RouterEffects::Stop why = RouterEffects::Stop::gone);
  // A retiring router whose processes `r` must wait for, if any.
  const RouterEffects* predecessor_of(const RouterConfig& r) const;
  static bool succeeds(const RouterConfig& next, const RouterConfig& old);

  EffectsContext ctx_;
  std::unique_ptr<StateQueue> state_files_;
  Backoff state_retry_;  // state files that could not be written
  std::map<std::string, Entry> routers_;
  std::vector<std::unique_ptr<RouterEffects>> retiring_;
  bool stopping_ = false;
};

}  // namespace havip
