// Everything one router does on a role change besides its state file, in
// DESIGN.md's order: sysctls -> radvd -> services -> conntrackd -> hooks, the
// notification once conntrackd's commands are done. Each effect is
// idempotent; a failing sysctl or radvd config write is retried with backoff
// without holding up the effects that follow it or any other router.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "core/backoff.h"
#include "core/config.h"
#include "effects/hooks.h"
#include "effects/notifier.h"
#include "effects/radvd.h"
#include "effects/run_files.h"
#include "effects/supervisor.h"
#include "effects/sysctl.h"

namespace havip {

struct EffectsContext {
  Launcher& launcher;
  Sysctls& sysctls;
  RunFiles& files;
  Supervisor::ClockFn clock;
  Observer& observer;
  Notifier* notifier = nullptr;  // for routers with notify_l3_agent (Neutron mode)
};

class RouterEffects {
 public:
  RouterEffects(EffectsContext ctx, const DaemonConfig& daemon, const RouterConfig& router);

  // The same effects with another state directory or conntrackd (same_effects()).
  void reconfigured(const RouterConfig& router) { config_ = router; }
  // Work that can be done before any transition (radvd's configtest).
  void prepare(TimePoint now);
  // Takes `role`: sysctls, radvd and services. The rest of a transition
  // follows separately (Pipeline: after its state file, written()); a reloaded
  // router takes its role again without it.
  void enter(Role role, TimePoint now);
  // A transition's state file is written: conntrackd's commands, then the L3
  // agent's notification (Neutron mode) once they are done, as the incumbent
  // does; the hooks queued after them, one at a time.
  void written(Role from, Role to);
  // The gateway interface (re)appeared: its sysctls for the current role.
  void gateway_appeared(TimePoint now);
  // Stops every child: as for `unknown`. Shutdown or a router removed also
  // cancels its hooks and conntrackd commands; a router reconfigured (its
  // successor waits for these effects to be quiet) lets the transition's
  // conntrackd commands and the notification after them finish.
  enum class Stop { gone, reconfigured };
  void stop(TimePoint now, Stop why = Stop::gone);

  void tick(TimePoint now);
  std::optional<TimePoint> deadline() const;
  // No child of this router is running or about to run.
  bool quiet() const;

  Role role() const { return role_; }
  const RouterConfig& config() const { return config_; }
  const RadvdEffect* radvd() const { return radvd_.get(); }
  const std::vector<std::unique_ptr<Supervisor>>& services() const { return services_; }
  // Effects that failed and wait for a retry ("sysctls", "radvd").
  std::vector<std::string> failing() const;
  // What does not serve the role now: failing() and every supervised process
  // that is wanted but not running (starting, checked, in backoff), named
  // "radvd" or as the service ("service haproxy"). How long it must stay so
  // before the router is given away is core/track.h's.
  std::vector<std::string> unhealthy() const;

 private:
  void apply(TimePoint now);
  bool apply_sysctls();
  bool apply_radvd(TimePoint now);
  void announce(Role to);

  EffectsContext ctx_;
  RouterConfig config_;
  Role role_ = Role::unknown;
  std::unique_ptr<RadvdEffect> radvd_;
  std::vector<std::unique_ptr<Supervisor>> services_;
  HookQueue hooks_;
  Backoff retry_;  // keys "sysctls", "radvd"
};

}  // namespace havip
