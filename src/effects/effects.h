// The effects of every router: creates, reconfigures and retires each
// router's RouterEffects, and makes a changed router wait until its old
// processes are gone before its new ones start (two radvd for one router,
// even briefly, would advertise twice from the same link-local address).
#pragma once

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
  void transition(const RoleChange& change, TimePoint now);
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
  std::map<std::string, Role> waiting_;  // role to enter once the predecessor is quiet
};

}  // namespace havip
