// The effects of every router: creates, reconfigures and retires each
// router's RouterEffects, and makes a changed router wait until its old
// processes are gone before its new ones start (two radvd for one router,
// even briefly, would advertise twice from the same link-local address).
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
#include "core/config.h"
#include "effects/router_effects.h"

namespace havip {

class Effects {
 public:
  explicit Effects(EffectsContext ctx) : ctx_(ctx) {}

  // Sets the routers. `role_of` gives the current role of a router the core
  // already knows (a changed router takes it again, without hooks).
  void configure(const DaemonConfig& daemon, const std::vector<RouterConfig>& routers,
                 const std::function<Role(const std::string&)>& role_of, TimePoint now);
  // An applied transition (hooks and the L3 agent notification run even
  // while a changed router waits for its predecessor's processes to exit).
  // `state_write` (> 0) is the number of the state file write the hooks and
  // the notification wait for (StateWriter): they follow the state file, in
  // the order of the transitions, once state_written() reaches it.
  void transition(const RoleChange& change, TimePoint now, std::uint64_t state_write = 0);
  // Every state file write of `router` up to number `seq` is done (or failed
  // and retried): the hooks and notifications waiting for it go ahead.
  void state_written(const std::string& router, std::uint64_t seq);
  void gateway_appeared(const std::string& router, TimePoint now);
  void tick(TimePoint now);
  std::optional<TimePoint> deadline() const;
  // Stops every child; quiet() says when they are all gone.
  void shutdown(TimePoint now);
  bool quiet() const;

  const RouterEffects* router(const std::string& name) const;

 private:
  EffectsContext ctx_;
  std::map<std::string, std::unique_ptr<RouterEffects>> routers_;
  std::vector<std::unique_ptr<RouterEffects>> retiring_;
  // Role to enter once the predecessor is quiet (unknown: none decided yet).
  std::map<std::string, Role> waiting_;
  // Hooks and notifications of transitions whose state file is not written yet.
  struct Held {
    Role from, to;
    std::uint64_t state_write;  // 0: none of its own, goes with the one before it
  };
  std::map<std::string, std::deque<Held>> held_;
  void after_state_file(const std::string& router, Role from, Role to);
  // A retiring router whose processes `r` must wait for, if any.
  const RouterEffects* predecessor_of(const RouterConfig& r) const;
  static bool succeeds(const RouterConfig& next, const RouterConfig& old);
};

}  // namespace havip
