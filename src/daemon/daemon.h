// The event loop's owner, and nothing else: it wires the sources (netlink
// monitors, the netns directory, timers, signals, the control socket, the
// state file writer, Neutron discovery) to the core, and the core's actions
// to the effect pipeline. What each part does lives in its own unit:
//
//   Namespaces       which namespaces are watched, their retries and losses
//   Pipeline         the one place a role change is applied (effects/pipeline.h)
//   Readiness        READY/STATUS/RELOADING/STOPPING for the service manager
//   KeepalivedWatch  the routers of keepalived.conf, followed live
//   Speakers         the keepalived process behind each router, by pidfd
//   VrrpReaders      the VRRP adverts of other hosts, where the core asks
//   ControlCommands  havipctl's answers and what they remember
//   MetricsTextfile  the metrics file
//   TrackFiles       keepalived's track files: failing effects and drain (feedback into VRRP)
//   Observers        the journal, the metrics, the two above: every report
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/cstamp_clock.h"
#include "core/engine.h"
#include "core/privileges.h"
#include "core/unique_fd.h"
#include "daemon/auditor.h"
#include "daemon/control_commands.h"
#include "daemon/control_server.h"
#include "daemon/instance_lock.h"
#include "daemon/keepalived_watch.h"
#include "daemon/metrics_textfile.h"
#include "daemon/namespaces.h"
#include "daemon/netns_dir_watch.h"
#include "daemon/readiness.h"
#include "daemon/speakers.h"
#include "daemon/track_files.h"
#include "daemon/vrrp_readers.h"
#include "effects/observer.h"
#include "effects/pipeline.h"
#include "effects/process.h"
#include "effects/run_files.h"
#include "effects/state_writer.h"
#include "effects/sysctl.h"
#include "netlink/netns_monitor.h"
#include "neutron/neutron_watch.h"
#include "report/journal.h"
#include "report/metrics.h"

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
  static int on_state_written(sd_event_source* s, int fd, std::uint32_t revents, void* self);

  bool setup();
  void make_effects();
  // The CstampClock's start-up reference (exact, else assumed).
  void take_cstamp_reference();
  void feed(Event&& event);
  // The end of a dispatch: the actions decided are applied, timers armed.
  void flush();
  void apply(const RoleChange& change);
  void apply(const GatewayAppeared& appeared);
  void apply(const ReleaseAddresses& release);
  void apply(const Listen& listen);
  void apply(const RouterAlert& alert);
  Speakers::Io speaker_io();
  void stop();
  Namespaces::Io namespace_io();
  // Re-reads the configuration; the answer havipctl reload prints.
  nlohmann::ordered_json reload();
  nlohmann::ordered_json reload_rejected(const std::string& message,
                                         std::vector<std::string> errors = {});
  // Why `next` cannot be served: a missing capability it needs, or a
  // directory of it locked by another havipd. Takes the new locks.
  std::optional<std::string> cannot_serve(const Config& next,
                                          const std::optional<KeepalivedRead>& discovered);
  void listen_control();
  // Every router: the configured ones, those of keepalived.conf, then
  // those Neutron mode discovered.
  std::vector<RouterConfig> all_routers();
  // Hands the current router set to the engine and the pipeline.
  void apply_routers();
  void start_neutron();
  // Follows keepalived.conf's routers (read already: start-up, reload).
  void start_keepalived(std::optional<KeepalivedRead> read);
  void watch_netns_dir();
  // havipctl drain / undrain: the answer.
  nlohmann::ordered_json drain(bool on, const std::vector<std::string>& routers);
  // The drained set from <state_dir>/.havipd.drained, at start.
  void load_drained();
  TrackFiles::Inputs track_inputs();

  Config config_;
  DaemonOptions options_;
  InstanceLocks locks_;  // one havipd per state_dir, run_dir and state_path
  Privileges privileges_;  // read at start-up
  Engine engine_;
  sd_event* loop_ = nullptr;
  UniqueFd home_ns_;
  CstampClock cstamps_;
  MonitorCounters counters_;
  Metrics metrics_;
  JournalObserver journal_;
  Observers observers_;  // the journal, the metrics, the control commands, the textfile
  StateWriter* state_writer_ = nullptr;  // owned by the pipeline's queue
  std::unique_ptr<Launcher> launcher_;
  std::unique_ptr<Sysctls> sysctls_;
  std::unique_ptr<RunFiles> run_files_;
  // The L3 agent notifier of Neutron mode (none otherwise), behind a
  // forwarder whose address the pipeline keeps across reloads.
  struct NotifierSlot final : Notifier {
    std::unique_ptr<Notifier> target;
    void notify(const std::string& router, Role role) override {
      if (target) target->notify(router, role);
    }
    void forget(const std::string& router) override {
      if (target) target->forget(router);
    }
  } notifier_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<Namespaces> namespaces_;
  std::unique_ptr<NetnsDirWatch> netns_dir_;
  std::unique_ptr<NeutronWatch> neutron_;
  std::unique_ptr<KeepalivedWatch> keepalived_;
  std::unique_ptr<VrrpReaders> vrrp_;
  std::unique_ptr<Speakers> speakers_;
  std::unique_ptr<TrackFiles> track_;
  std::unique_ptr<Auditor> auditor_;
  std::set<std::string> collisions_;  // Neutron routers shadowed by configured ones (warned)
  Readiness readiness_;
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<ControlCommands> commands_;
  std::unique_ptr<MetricsTextfile> textfile_;
  bool relisten_ = false;  // the control socket moves once this reload is answered
  std::optional<TimePoint> stop_deadline_;  // set once stopping: children get until then
  sd_event_source* post_ = nullptr;
  sd_event_source* idle_ = nullptr;  // STATUS, once a burst is over
  sd_event_source* hold_down_timer_ = nullptr;
  sd_event_source* retry_timer_ = nullptr;
  sd_event_source* state_io_ = nullptr;  // the state file writer's results
  std::vector<Action> pending_;
  std::optional<TimePoint> batch_start_;  // when the first event of this batch was read
};

}  // namespace havip
