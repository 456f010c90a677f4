// The event loop owner: wires netlink monitors, the /run/netns watch, timers
// and signals to the Engine, and the Engine's actions to the effects.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/actions.h"
#include "core/backoff.h"
#include "core/config.h"
#include "core/cstamp_clock.h"
#include "core/engine.h"
#include "core/metrics.h"
#include "core/privileges.h"
#include "core/unique_fd.h"
#include "daemon/control_server.h"
#include "daemon/netns_dir_watch.h"
#include "daemon/instance_lock.h"
#include "daemon/logging.h"
#include "daemon/netns_monitor.h"
#include "daemon/neutron_watch.h"
#include "effects/effects.h"
#include "effects/process.h"
#include "effects/run_files.h"
#include "effects/state_file.h"
#include "effects/state_writer.h"
#include "effects/sysctl.h"

struct sd_event;
struct sd_event_source;
struct signalfd_siginfo;

namespace havip {

struct DaemonOptions {
  bool dry_run = false;
};

class Daemon {
 public:
  Daemon(Config config, DaemonOptions options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until SIGTERM/SIGINT. Returns the process exit code.
  int run();

 private:
  // sd-event callbacks (userdata is the Daemon).
  static int on_signal(sd_event_source* s, const signalfd_siginfo* si, void* self);
  static int on_post(sd_event_source* s, void* self);
  static int on_idle(sd_event_source* s, void* self);
  static int on_hold_down(sd_event_source* s, std::uint64_t usec, void* self);
  static int on_retry(sd_event_source* s, std::uint64_t usec, void* self);
  static int on_metrics_timer(sd_event_source* s, std::uint64_t usec, void* self);
  static int on_state_written(sd_event_source* s, int fd, std::uint32_t revents, void* self);

  bool setup();
  // The CstampClock's start-up reference (exact, else assumed).
  void take_cstamp_reference();
  void feed(Event&& event);
  void flush();
  void apply(const RoleChange& change);
  void apply(const GatewayAppeared& appeared);
  void stop();
  int netns_fd(const std::string& netns) const;
  // Queues the state file write; returns its number (0: router unknown).
  std::uint64_t write_state(const std::string& router, Role role);
  void state_written();
  // Routers whose state file is not written as it should be: failed and
  // waiting for a retry, or a write pending for over a second (a stalled disk).
  bool state_file_failing(const std::string& router, TimePoint now) const;
  // Re-reads the configuration; the answer havipctl reload prints.
  nlohmann::ordered_json reload();
  // Why `next` cannot be served: a missing capability it needs, or a
  // directory of it locked by another havipd. Takes the new locks.
  std::optional<std::string> cannot_serve(const Config& next);
  void listen_control();
  nlohmann::ordered_json status_json() const;
  std::string metrics_text() const;
  void write_metrics_file();
  void metrics_changed();
  void counted(log::Kind kind, std::span<const log::Field> fields);
  // Every router: the configured ones, then those Neutron mode discovered.
  std::vector<RouterConfig> all_routers();
  // Hands the current router set to the engine and the effects.
  void apply_routers();
  std::vector<RouterConfig> primaries_leaving(const std::vector<RouterConfig>& next) const;
  void start_neutron();
  void watch_netns_dir();
  void netns_dir_changed(const std::vector<netns::NetnsChange>& changes);
  void netns_dir_rescanned();
  void want_namespaces();
  void try_open(const std::string& netns);
  void drop(const std::string& netns, const std::string& reason);
  void retry_due();
  void arm(sd_event_source* timer, std::optional<TimePoint> at);
  void report();

  Config config_;
  DaemonOptions options_;
  InstanceLocks locks_;  // one havipd per state_dir, run_dir and state_path
  Privileges privileges_;  // read at start-up
  Engine engine_;
  std::unique_ptr<StateWriter> state_writer_;
  sd_event_source* state_io_ = nullptr;  // the writer's results
  std::unique_ptr<Launcher> launcher_;
  std::unique_ptr<Sysctls> sysctls_;
  std::unique_ptr<RunFiles> run_files_;
  std::unique_ptr<Effects> effects_;
  std::unique_ptr<NeutronWatch> neutron_;
  // The L3 agent notifier of Neutron mode (none otherwise), behind a
  // forwarder whose address the effects keep across reloads.
  struct NotifierSlot final : Notifier {
    std::unique_ptr<Notifier> target;
    void notify(const std::string& router, Role role) override {
      if (target) target->notify(router, role);
    }
    void forget(const std::string& router) override {
      if (target) target->forget(router);
    }
  } notifier_;
  std::optional<TimePoint> stop_deadline_;  // set once stopping: children get until then
  sd_event* loop_ = nullptr;
  sd_event_source* post_ = nullptr;
  sd_event_source* idle_ = nullptr;  // STATUS, once a burst is over
  sd_event_source* hold_down_timer_ = nullptr;
  sd_event_source* retry_timer_ = nullptr;
  UniqueFd home_ns_;
  std::unique_ptr<NetnsDirWatch> netns_dir_;
  MonitorCounters counters_;
  // What havipctl shows and the metrics count.
  struct LastTransition {
    std::chrono::system_clock::time_point time;
    std::string reason;
    std::uint64_t count = 0;
  };
  std::map<std::string, LastTransition> last_;
  Metrics metrics_;
  std::optional<TimePoint> batch_start_;  // when the first event of this batch was read
  std::unique_ptr<ControlServer> control_;
  sd_event_source* metrics_timer_ = nullptr;  // the textfile: after changes, and every minute
  std::optional<TimePoint> metrics_written_;
  bool relisten_ = false;
  std::set<std::string> collisions_;  // Neutron routers shadowed by configured ones (warned)  // the control socket moves once this reload is answered
  CstampClock cstamps_;
  std::map<std::string, std::unique_ptr<NetnsMonitor>> monitors_;
  std::set<std::string> dead_monitors_;  // to destroy after the current dispatch
  std::vector<Action> pending_;
  Backoff netns_retry_;  // namespaces whose file exists but is not mounted yet
  Backoff state_retry_;  // state files that could not be written
  bool ready_ = false;
  std::string last_status_;
  bool status_dirty_ = false;
};

}  // namespace havip
