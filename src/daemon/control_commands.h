// The answers of the control socket's commands (havipctl status, metrics,
// watch) and what they need to remember: each router's last transition (when,
// why, how many) and the transition lines sent to `havipctl watch` clients.
// It observes the pipeline (it is one of the Observers) and reads the rest
// from the units that own it, through Sources.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "core/engine.h"
#include "daemon/auditor.h"
#include "daemon/namespaces.h"
#include "daemon/track_files.h"
#include "effects/observer.h"
#include "effects/pipeline.h"
#include "netlink/netns_monitor.h"
#include "report/metrics.h"

namespace havip {

class ControlCommands final : public Observer {
 public:
  // What the answers are made of (all owned elsewhere).
  struct Sources {
    const Engine& engine;
    const Pipeline& pipeline;
    const Namespaces& namespaces;
    const MonitorCounters& counters;
    const Metrics& metrics;
    std::function<bool()> ready;
    const TrackFiles& track;
    // Neutron mode's state_path; empty when not in Neutron mode.
    std::function<std::string()> neutron_state_path;
    bool dry_run = false;  // havipd --dry-run
    const Auditor* audit = nullptr;  // the audit's findings (none: not shown)
  };
  struct Watchers {
    std::function<std::size_t()> count;
    std::function<void(const std::string& line)> broadcast;
  };
  using WallClock = std::function<std::chrono::system_clock::time_point()>;

  ControlCommands(Sources sources, Watchers watchers, WallClock wall);

  nlohmann::ordered_json status(TimePoint now) const;
  std::string metrics() const;
  // Forgets the routers no longer configured.
  void keep_only(const std::set<std::string>& routers);

  void transition(const RoleChange& change) override;
  void effect_failed(const EffectFailure&) override {}
  void child_exited(const ChildExit&) override {}

 private:
  struct LastTransition {
    std::chrono::system_clock::time_point time;
    std::string reason;
    std::uint64_t count = 0;
  };
  Sources sources_;
  Watchers watchers_;
  WallClock wall_;
  std::map<std::string, LastTransition> last_;
};

}  // namespace havip
