// radvd for one router: on primary, its config is written (rendered from
// [router.radvd] or the given config_file), checked once with --configtest,
// and radvd runs in the foreground inside the namespace, supervised. On
// anything else it is stopped with SIGKILL — a graceful stop would send a
// zero-lifetime RA from the link-local address the new primary uses — and
// its config and pid file are removed.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/config.h"
#include "effects/run_files.h"
#include "effects/supervisor.h"

namespace havip {

class RadvdEffect {
 public:
  RadvdEffect(Launcher& launcher, Observer& observer, RunFiles& files, Supervisor::ClockFn clock,
              const DaemonConfig& daemon, const RouterConfig& router);

  // Checks the configuration with radvd --configtest ahead of any transition.
  void precheck(TimePoint now);
  // Returns an error when the config could not be written (the caller retries).
  tl::expected<void, std::string> role(Role role, TimePoint now);
  void tick(TimePoint now) { supervisor_.tick(now); }
  std::optional<TimePoint> deadline() const { return supervisor_.deadline(); }
  bool quiet() const { return supervisor_.quiet(); }
  const Supervisor& supervisor() const { return supervisor_; }

  // The command lines (for tests and documentation).
  static ProcessSpec run_spec(const DaemonConfig& daemon, const RouterConfig& router);
  static ProcessSpec check_spec(const DaemonConfig& daemon, const RouterConfig& router);

 private:
  RunFiles& files_;
  std::string run_dir_, router_, pid_file_;
  // The pid file's directory as (parent, name), to create on the way to
  // primary; empty when it is the router's own run directory, which writing
  // radvd.conf has just made sure of.
  std::string pid_parent_, pid_dir_;
  std::string rendered_;  // empty when config_file is used as it is
  Supervisor supervisor_;
};

}  // namespace havip
