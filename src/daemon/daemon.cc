#include "daemon/daemon.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/config_parse.h"
#include "daemon/config_file.h"
#include "daemon/cstamp_reference.h"
#include "daemon/drained_set.h"
#include "daemon/dry_run.h"
#include "daemon/event_time.h"
#include "effects/spawn_launcher.h"
#include "effects/state_queue.h"
#include "log/logging.h"
#include "netlink/address.h"
#include "netlink/routes.h"
#include "netns/netns.h"
#include "netns/netns_watch.h"
#include "netns/speaker.h"
#include "neutron/l3_agent_notifier.h"
#include "neutron/neutron.h"

namespace havip {

namespace {

std::unique_ptr<StateFiles> make_state_files(const DaemonConfig& d, bool dry_run) {
  if (dry_run) return dry_run_state_files();
  return std::make_unique<FsStateFiles>(d.state_sync);
}

// The directories whose files this havipd writes: one havipd each.
// Neutron's state_path is Neutron's: locked only when it exists.
std::vector<LockTarget> lock_targets(const Config& c) {
  std::vector<LockTarget> out{{c.daemon.state_dir, "state_dir", true},
                              {c.daemon.run_dir, "run_dir", true}};
  struct stat st {};
  if (c.neutron && ::stat(c.neutron->state_path.c_str(), &st) == 0)
    out.push_back({c.neutron->state_path, "[neutron] state_path", false});
  return out;
}

Privileges read_privileges() {
  Privileges p;
  p.root = ::geteuid() == 0;
  std::ifstream in("/proc/self/status");
  std::stringstream text;
  text << in.rdbuf();
  // Unreadable: assume everything rather than warn about nothing.
  if (auto caps = parse_cap_eff(text.str())) p.effective = *caps;
  return p;
}

void notify_manager(const std::string& state) { sd_notify(0, state.c_str()); }

// `c` with the routers read from keepalived.conf: what the privilege check
// must see (their namespaces, their radvd).
Config served(const Config& c, const std::optional<KeepalivedRead>& discovered) {
  Config all = c;
  if (discovered)
    all.routers.insert(all.routers.end(), discovered->routers.routers.begin(),
                       discovered->routers.routers.end());
  return all;
}

// keepalived.conf's routers for `c`, or the errors logged.
tl::expected<std::optional<KeepalivedRead>, std::vector<std::string>> read_discovered(
    const Config& c) {
  if (c.keepalived.empty()) return std::nullopt;
  auto read = read_keepalived_routers(c);
  if (!read) return tl::unexpected(std::move(read.error()));
  return std::optional<KeepalivedRead>(std::move(*read));
}

// A namespace watched over netlink, as Namespaces sees it.
struct Watched final : Namespaces::Monitor {
  template <class... Args>
  explicit Watched(Args&&... args) : monitor(std::forward<Args>(args)...) {}
  int ns_fd() const override { return monitor.ns_fd(); }
  NetnsMonitor monitor;
};

}  // namespace

Daemon::Daemon(Config config, DaemonOptions options)
    : config_(std::move(config)),
      options_(options),
      engine_(config_.routers),
      readiness_(notify_manager) {}

Daemon::~Daemon() {
  speakers_.reset();
  vrrp_.reset();
  control_.reset();
  pipeline_.reset();
  notifier_.target.reset();
  launcher_.reset();  // kills whatever child is left: nothing is orphaned
  namespaces_.reset();
  netns_dir_.reset();
  textfile_.reset();
  for (auto* s : {post_, idle_, hold_down_timer_, retry_timer_, state_io_})
    sd_event_source_disable_unref(s);
  sd_event_unref(loop_);
}

int Daemon::run() {
  if (!setup()) return 1;
  int r = sd_event_loop(loop_);
  flush();  // a final state decided in the last iteration is not lost
  // The final states are written, unless the disk stalls past the stop
  // deadline: shutdown does not wait for a disk (the writer is left behind).
  auto until = std::max(stop_deadline_.value_or(Clock::now()), Clock::now() + Millis(100));
  bool written = state_writer_->wait(until);
  pipeline_->written(Clock::now());  // their results, failures included, are reported
  if (!written) {
    auto left = pipeline_->unwritten();
    spdlog::error("stopping although the state files of {} router(s) are still being written "
                  "(the disk does not answer): {}",
                  left.size(), fmt::join(left, ", "));
  }
  control_.reset();
  textfile_->write();
  pipeline_.reset();
  launcher_.reset();
  namespaces_.reset();
  spdlog::info("stopped");
  if (r < 0) {
    spdlog::error("event loop failed: {}", std::strerror(-r));
    return 1;
  }
  return 0;
}

bool Daemon::setup() {
  // Before anything else: a second havipd must not touch the first one's
  // files. A dry run writes nothing, so it runs beside the real one.
  if (!options_.dry_run) {
    if (auto locked = locks_.hold(lock_targets(config_)); !locked) {
      spdlog::error("{}; exiting", locked.error());
      return false;
    }
  }
  auto discovered = read_discovered(config_);
  if (!discovered) {
    for (const auto& e : discovered.error()) spdlog::error("{}", e);
    spdlog::error("keepalived.conf cannot be used ([keepalived] in {}); exiting", config_.path);
    return false;
  }
  privileges_ = read_privileges();
  auto check = check_privileges(privileges_, served(config_, *discovered));
  for (const auto& w : check.warnings) spdlog::warn("{}", w);
  for (const auto& f : check.fatal) spdlog::error("{}; exiting", f);
  if (!check.fatal.empty()) return false;
  take_cstamp_reference();
  int r = sd_event_default(&loop_);
  if (r < 0) {
    spdlog::error("cannot create the event loop: {}", std::strerror(-r));
    return false;
  }
  sigset_t mask;
  sigemptyset(&mask);
  // SIGCHLD too: children are watched by pidfd, never by a signal handler.
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&mask, sig);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
    // Ahead of everything else: a flap storm keeps the netlink sources busy
    // for as long as it lasts, and SIGTERM must not wait for its end.
    sd_event_source* source = nullptr;
    sd_event_add_signal(loop_, &source, sig, on_signal, this);
    sd_event_source_set_priority(source, SD_EVENT_PRIORITY_IMPORTANT);
    sd_event_source_set_floating(source, true);
    sd_event_source_unref(source);
  }
  sd_event_set_watchdog(loop_, true);  // pings systemd when WATCHDOG_USEC is set
  sd_event_add_post(loop_, &post_, on_post, this);
  sd_event_add_defer(loop_, &idle_, on_idle, this);
  sd_event_source_set_priority(idle_, SD_EVENT_PRIORITY_IDLE);
  sd_event_source_set_enabled(idle_, SD_EVENT_OFF);
  for (auto** t : {&hold_down_timer_, &retry_timer_}) {
    auto cb = t == &hold_down_timer_ ? on_hold_down : on_retry;
    // Accuracy 1 µs: sd-event's default (0 = 250 ms) would delay a primary
    // past its hold-down to coalesce wake-ups.
    sd_event_add_time(loop_, t, CLOCK_MONOTONIC, 0, 1, cb, this);
    sd_event_source_set_enabled(*t, SD_EVENT_OFF);
  }
  auto home = netns::open_current();
  if (!home) {
    spdlog::error("cannot open the current network namespace: {}", home.error());
    return false;
  }
  home_ns_ = std::move(*home);
  make_effects();
  namespaces_ = std::make_unique<Namespaces>(namespace_io(),
                                             [this](Event&& e) { feed(std::move(e)); });
  vrrp_ = std::make_unique<VrrpReaders>(
      loop_, home_ns_.get(), [this](const std::string& ns) { return namespaces_->ns_fd(ns); },
      [this](Event&& e) { feed(std::move(e)); });
  speakers_ =
      std::make_unique<Speakers>(loop_, speaker_io(), [this](Event&& e) { feed(std::move(e)); });
  watch_netns_dir();
  track_ = std::make_unique<TrackFiles>(
      options_.dry_run ? TrackFiles::WriteFn([](const std::string& path, const std::string& v) {
        spdlog::info("dry-run: would write {} to track file {}", v.substr(0, v.size() - 1), path);
        return tl::expected<void, std::string>();
      })
                       : TrackFiles::WriteFn(write_track_file),
      observers_);
  load_drained();
  auditor_ = std::make_unique<Auditor>(Auditor::Io{
      [this](const std::string& name) { return engine_.role_of(name).value_or(Role::unknown); },
      [this](const std::string& ns) { return engine_.view(ns); },
      [this](const std::string& ns,
             const NetnsView& view) -> tl::expected<std::vector<KernelRoute>, std::string> {
        int fd = ns.empty() ? home_ns_.get() : namespaces_->ns_fd(ns);
        if (fd < 0) return tl::unexpected("namespace " + ns + " is not open");
        return netlink::read_routes(fd, home_ns_.get(),
                                    [&](std::uint32_t i) { return view.link_name(i); });
      }});
  control_ = std::make_unique<ControlServer>(
      loop_,
      ControlServer::Handlers{
          [this] { return commands_->status(Clock::now()); },
          [this] { return commands_->metrics(); }, [this] { return reload(); },
          [this](bool on, const std::vector<std::string>& names) { return drain(on, names); }});
  commands_ = std::make_unique<ControlCommands>(
      ControlCommands::Sources{
          engine_, *pipeline_, *namespaces_, counters_, metrics_,
          [this] { return readiness_.ready(); }, *track_,
          [this] { return config_.neutron ? config_.neutron->state_path : std::string(); },
          options_.dry_run, auditor_.get()},
      ControlCommands::Watchers{[this] { return control_ ? control_->watchers() : 0; },
                                [this](const std::string& line) { control_->broadcast(line); }},
      [] { return std::chrono::system_clock::now(); });
  textfile_ = std::make_unique<MetricsTextfile>(loop_, [this] { return commands_->metrics(); });
  textfile_->set_path(options_.dry_run ? "" : config_.daemon.metrics_textfile);
  observers_.add(journal_);
  observers_.add(metrics_);
  observers_.add(*commands_);
  observers_.add(*textfile_);
  listen_control();
  spdlog::info("havipd starting: {} routers, state in {}{}", config_.routers.size(),
               config_.daemon.state_dir, options_.dry_run ? ", dry run" : "");
  start_neutron();
  start_keepalived(std::move(*discovered));
  apply_routers();
  flush();  // with nothing to watch, this is already READY
  return true;
}

// The launcher, sysctls, run files and the state file writer (real, or the
// dry run's that only log), and the pipeline that uses them.
void Daemon::make_effects() {
  auto ns_fd = [this](const std::string& ns) {
    return ns.empty() ? home_ns_.get() : namespaces_->ns_fd(ns);
  };
  // The dry run's writes only log, and the log is the loop thread's.
  auto writer = std::make_unique<StateWriter>(
      make_state_files(config_.daemon, options_.dry_run),
      options_.dry_run ? StateWriter::Mode::inline_ : StateWriter::Mode::threaded);
  state_writer_ = writer.get();
  if (options_.dry_run) {
    launcher_ = dry_run_launcher(loop_);
    sysctls_ = dry_run_sysctls();
    run_files_ = dry_run_files();
  } else {
    launcher_ = std::make_unique<SpawnLauncher>(loop_, observers_, home_ns_.get(), ns_fd);
    sysctls_ = std::make_unique<ProcSysctls>(home_ns_.get(), ns_fd);
    run_files_ = std::make_unique<FsRunFiles>();
  }
  pipeline_ = std::make_unique<Pipeline>(
      EffectsContext{*launcher_, *sysctls_, *run_files_, [] { return Clock::now(); }, observers_,
                     &notifier_},
      std::make_unique<StateWriterQueue>(std::move(writer)));
  sd_event_add_io(loop_, &state_io_, state_writer_->fd(), EPOLLIN, on_state_written, this);
}

Namespaces::Io Daemon::namespace_io() {
  return Namespaces::Io{
      [this](const std::string& ns) {
        struct stat st {};
        std::string path = config_.daemon.netns_dir + "/" + ns;
        // Only a file known missing counts: any other error is the open's to report.
        return ns.empty() || ::stat(path.c_str(), &st) == 0 || errno != ENOENT;
      },
      [this](const std::string& ns, Namespaces::Feed sink)
          -> tl::expected<std::unique_ptr<Namespaces::Monitor>, std::string> {
        auto fd = ns.empty()
                      ? tl::expected<UniqueFd, std::string>(UniqueFd(::dup(home_ns_.get())))
                      : netns::open_named(config_.daemon.netns_dir, ns);
        if (!fd) return tl::unexpected(fd.error());
        auto mon = std::make_unique<Watched>(loop_, ns, std::move(*fd), home_ns_.get(),
                                             config_.daemon.netlink_receive_buffer,
                                             std::move(sink), counters_, cstamps_);
        if (auto started = mon->monitor.start(); !started)
          return tl::unexpected(started.error());
        return mon;
      }};
}

Speakers::Io Daemon::speaker_io() {
  return Speakers::Io{[] { return netns::scan_vrrp_speakers(); },
                      [](const std::string& path) { return netns::speaker_from_pid_file(path); },
                      [this](const std::string& ns) -> std::optional<std::uint64_t> {
                        int fd = ns.empty() ? home_ns_.get() : namespaces_->ns_fd(ns);
                        if (fd < 0) return std::nullopt;
                        return netns::namespace_inode(fd);
                      },
                      [](pid_t pid) { return netns::open_pidfd(pid); }};
}

void Daemon::take_cstamp_reference() {
  auto now = read_cstamp_now();
  if (now) {
    cstamps_.sample(now->cstamp, now->at);
    return;
  }
  Millis offset = timens_monotonic_offset();
  cstamps_.assume(Clock::now(), offset);
  spdlog::warn("cannot read the kernel's address clock ({}); until the first address event, "
               "VIP ages assume it lags CLOCK_MONOTONIC{} by at most {}",
               now.error(),
               offset != Millis(0) ? fmt::format(" (less this time namespace's {} offset)",
                                                 offset)
                                   : "",
               CstampClock::kAssumedLag);
}

void Daemon::start_neutron() {
  neutron_.reset();
  if (!config_.neutron) {
    notifier_.target.reset();
    return;
  }
  std::string socket = neutron::agent_socket(*config_.neutron);
  auto* current = dynamic_cast<L3AgentNotifier*>(notifier_.target.get());
  if (options_.dry_run)
    notifier_.target = dry_run_notifier();
  else if (!current || current->socket_path() != socket) {
    notifier_.target.reset();
    try {
      notifier_.target = std::make_unique<L3AgentNotifier>(loop_, observers_, socket,
                                                           [] { return Clock::now(); });
    } catch (const std::exception& e) {
      // Everything else of Neutron mode works without it.
      spdlog::error("neutron: the L3 agent cannot be notified: {}; state files, sysctls and "
                    "radvd are still applied",
                    e.what());
    }
  }
  neutron_ = std::make_unique<NeutronWatch>(loop_, *config_.neutron, config_.daemon,
                                            *run_files_, [this] { apply_routers(); });
  neutron_->start();
}

void Daemon::start_keepalived(std::optional<KeepalivedRead> read) {
  if (!read) {
    keepalived_.reset();
    return;
  }
  if (!keepalived_)
    keepalived_ = std::make_unique<KeepalivedWatch>(loop_, [this] { apply_routers(); });
  spdlog::info("{}: {} router(s) from {} vrrp_instance(s)", read->files(),
               read->routers.routers.size(), read->instances());
  keepalived_->use(config_, std::move(*read));
}

std::vector<RouterConfig> Daemon::all_routers() {
  auto all = config_.routers;
  if (keepalived_)
    all.insert(all.end(), keepalived_->routers().begin(), keepalived_->routers().end());
  if (!neutron_) return all;
  std::set<std::string> names;
  for (const auto& r : all) names.insert(r.name);
  std::set<std::string> collisions;
  for (const auto& [id, r] : neutron_->routers()) {
    if (names.contains(id)) {
      // Said once, not at every rediscovery of the Neutron routers.
      if (!collisions_.contains(id))
        log::structured(spdlog::level::warn, {{"HAVIP_ROUTER", id}},
                        fmt::format("neutron: router {} is also configured in {}; the configured "
                                    "one is used",
                                    id, config_.path));
      collisions.insert(id);
      continue;
    }
    all.push_back(r);
  }
  collisions_ = std::move(collisions);
  return all;
}

void Daemon::apply_routers() {
  auto now = Clock::now();
  auto routers = all_routers();
  auto actions = engine_.reconfigure(routers, now);
  pending_.insert(pending_.end(), actions.begin(), actions.end());
  pipeline_->configure(config_.daemon, routers, [&](const std::string& name) {
    return engine_.role_of(name).value_or(Role::unknown);
  }, now);
  std::set<std::string> names;
  for (const auto& r : routers) names.insert(r.name);
  speakers_->configure(routers, now);
  track_->configure(routers);
  auditor_->configure(config_.daemon, routers, now);
  metrics_.keep_only(names);
  commands_->keep_only(names);
  textfile_->changed();
  namespaces_->want(engine_.namespaces(), now);
}

void Daemon::watch_netns_dir() {
  netns_dir_ = std::make_unique<NetnsDirWatch>(
      loop_, config_.daemon.netns_dir,
      [this](const std::vector<netns::NetnsChange>& changes) {
        auto now = Clock::now();
        for (const auto& ch : changes) {
          if (neutron_) neutron_->netns_changed(ch.name);
          if (ch.appeared)
            namespaces_->appeared(ch.name, now);
          else
            namespaces_->deleted(ch.name);
        }
      },
      [this] { namespaces_->rescan(engine_.namespaces(), Clock::now()); });
  if (auto ok = netns_dir_->start(); !ok)
    spdlog::error("{}; namespaces created later will not be noticed", ok.error());
}

void Daemon::feed(Event&& event) {
  if (!batch_start_) batch_start_ = Clock::now();
  auto actions = engine_.handle(event, Clock::now());
  pending_.insert(pending_.end(), std::make_move_iterator(actions.begin()),
                  std::make_move_iterator(actions.end()));
}

void Daemon::flush() {
  namespaces_->reap(Clock::now());
  if (relisten_) {
    relisten_ = false;
    listen_control();
  }
  auto actions = std::move(pending_);
  pending_.clear();
  for (const auto& a : actions) std::visit([&](const auto& x) { apply(x); }, a);
  batch_start_.reset();
  auto now = Clock::now();
  pipeline_->tick(now);
  if (!stop_deadline_) track_->update(track_inputs(), now);
  if (!stop_deadline_) auditor_->tick(now);
  arm_timer(hold_down_timer_, engine_.next_deadline());
  std::optional<TimePoint> wake;
  for (auto t :
       {namespaces_->deadline(), pipeline_->deadline(), speakers_->deadline(), track_->deadline(),
        stop_deadline_ ? std::nullopt : auditor_->deadline(), stop_deadline_})
    if (t && (!wake || *t < *wake)) wake = t;
  arm_timer(retry_timer_, wake);
  bool synced = true;
  for (const auto& ns : namespaces_->watched()) synced = synced && engine_.synced(ns);
  readiness_.update(engine_.counts(), synced, pipeline_->writing());
  if (readiness_.status_due() || !actions.empty())
    sd_event_source_set_enabled(idle_, SD_EVENT_ONESHOT);
  if (stop_deadline_ && (pipeline_->quiet() || now >= *stop_deadline_)) sd_event_exit(loop_, 0);
}

TrackFiles::Inputs Daemon::track_inputs() {
  return TrackFiles::Inputs{
      [this](const std::string& r) { return engine_.role_of(r).value_or(Role::unknown); },
      [this](const std::string& r) {
        const RouterEffects* fx = pipeline_->router(r);
        return fx ? fx->unhealthy() : std::vector<std::string>{};
      }};
}

void Daemon::load_drained() {
  auto loaded = load_drained_set(config_.daemon.state_dir);
  if (!loaded) {
    spdlog::error("drained routers: {}; none is drained until `havipctl drain`", loaded.error());
    return;
  }
  for (const auto& p : loaded->problems)
    spdlog::warn("{}/{}: {}", config_.daemon.state_dir, kDrainedFile, p);
  if (!loaded->routers.empty())
    spdlog::info("drained (havipctl undrain gives them back): {}",
                 fmt::join(loaded->routers, ", "));
  track_->set_drained(std::move(loaded->routers));
}

nlohmann::ordered_json Daemon::drain(bool on, const std::vector<std::string>& routers) {
  auto change = on ? track_->drain(routers) : track_->undrain(routers);
  if (!change) return {{"ok", false}, {"error", change.error()}};
  if (!options_.dry_run) {
    if (auto saved = save_drained_set(config_.daemon.state_dir, change->next); !saved) {
      spdlog::error("{}: {}; nothing {}", on ? "drain" : "undrain", saved.error(),
                    on ? "drained" : "undrained");
      return {{"ok", false},
              {"error", fmt::format("{} cannot be saved ({}): nothing {}, so that a restart "
                                    "would not undo it",
                                    kDrainedFile, saved.error(), on ? "drained" : "undrained")}};
    }
  }
  spdlog::info("{}: {}", on ? "drained" : "undrained", fmt::join(change->routers, ", "));
  track_->set_drained(std::move(change->next));
  nlohmann::ordered_json answer{{"ok", true}, {"routers", change->routers}};
  if (on) answer["skipped"] = change->skipped;
  return answer;  // the files are written by the flush after this dispatch
}

void Daemon::apply(const RoleChange& c) {
  pipeline_->apply(c, Clock::now());
  auditor_->role_changed(c.router, Clock::now());
  // The effects that do not wait for the disk are done: the state file
  // handed to the writer, sysctls set, radvd started or killed.
  if (batch_start_) metrics_.latency(Clock::now() - *batch_start_);
}

void Daemon::apply(const GatewayAppeared& g) {
  const RouterConfig* config = engine_.router(g.router);
  log::router(spdlog::level::info, g.router, config ? config->netns : "",
              "gateway interface appeared; writing its sysctls");
  pipeline_->gateway_appeared(g.router, Clock::now());
}

void Daemon::apply(const ReleaseAddresses& r) {
  if (options_.dry_run) {
    log::router(spdlog::level::info, r.router, r.netns, "dry-run: would release {} address(es)",
                r.addresses.size());
    return;
  }
  int fd = r.netns.empty() ? home_ns_.get() : namespaces_->ns_fd(r.netns);
  std::vector<std::string> failed;
  if (fd < 0)
    failed.push_back("namespace " + r.netns + " is not open");
  else
    failed = netlink::delete_addresses(fd, home_ns_.get(), r.addresses);
  observers_.released(r, failed);
}

void Daemon::apply(const Listen& l) { vrrp_->apply(l); }

void Daemon::apply(const RouterAlert& a) { observers_.alert(a); }

void Daemon::stop() {
  // Services get their stop timeout (then SIGKILL); one more second to reap.
  Millis grace(1000);
  for (const auto& r : all_routers())
    for (const auto& svc : r.services) grace = std::max(grace, svc.stop_timeout + Millis(1000));
  readiness_.stopping();
  auto now = Clock::now();
  stop_deadline_ = now + grace;
  pipeline_->shutdown(now);
  // Stop listening to the kernel: during a flap storm the netlink sockets
  // never run dry, and draining them would hold up the exit for as long as
  // the storm lasts. What was read is still applied; the next start dumps
  // the kernel's state anyway.
  namespaces_->close();
  if (netns_dir_) netns_dir_->stop();
}

int Daemon::on_state_written(sd_event_source*, int, std::uint32_t, void* self) {
  static_cast<Daemon*>(self)->pipeline_->written(Clock::now());
  return 0;
}

int Daemon::on_idle(sd_event_source*, void* self) {
  // A burst (a mass failover: a thousand notifications in flight at once)
  // leaves freed heap behind; give it back to the system once it is over.
  ::malloc_trim(0);
  static_cast<Daemon*>(self)->readiness_.idle();
  return 0;
}

nlohmann::ordered_json Daemon::reload_rejected(const std::string& message,
                                               std::vector<std::string> errors) {
  log::structured(spdlog::level::err, {{"HAVIP_RELOAD", "rejected"}}, message, log::Kind::reload);
  readiness_.reloaded();
  nlohmann::ordered_json answer{{"ok", false}, {"error", message}};
  if (!errors.empty()) answer["errors"] = errors;
  return answer;
}

nlohmann::ordered_json Daemon::reload() {
  // Stopping: the netlink monitors are closed; a reload would reopen them.
  if (stop_deadline_) {
    spdlog::warn("reload ignored: havipd is stopping");
    return {{"ok", false}, {"error", "havipd is stopping"}};
  }
  readiness_.reloading(usec_of(Clock::now()));
  auto next = load_config(config_.path);
  if (!next) {
    std::vector<std::string> errors;
    for (const auto& e : next.error()) {
      errors.push_back(e.to_string());
      spdlog::error("{}", errors.back());
    }
    return reload_rejected(fmt::format("reload rejected: {} has {} error(s); the running "
                                       "configuration stays",
                                       config_.path, next.error().size()),
                           std::move(errors));
  }
  auto discovered = read_discovered(*next);
  if (!discovered) {
    for (const auto& e : discovered.error()) spdlog::error("{}", e);
    return reload_rejected(
        "reload rejected: keepalived.conf cannot be used; the running "
        "configuration stays",
        std::move(discovered.error()));
  }
  if (auto refused = cannot_serve(*next, *discovered))
    return reload_rejected(
        fmt::format("reload rejected: {}; the running configuration stays", *refused));
  bool dir_changed = next->daemon.netns_dir != config_.daemon.netns_dir;
  bool files_changed = next->daemon.state_dir != config_.daemon.state_dir ||
                       next->daemon.state_sync != config_.daemon.state_sync;
  bool control_changed = next->daemon.control_socket != config_.daemon.control_socket ||
                         next->daemon.control_socket_group != config_.daemon.control_socket_group;
  if (files_changed) state_writer_->replace(make_state_files(next->daemon, options_.dry_run));
  std::size_t before = engine_.status().size();
  config_ = std::move(*next);
  textfile_->set_path(options_.dry_run ? "" : config_.daemon.metrics_textfile);
  if (dir_changed) {
    namespaces_->drop_all("left behind by the new netns_dir");
    watch_netns_dir();
  }
  // The client asking for this reload is answered on the old socket first;
  // moving the socket only changes where the next client connects.
  relisten_ = control_changed;
  start_neutron();
  start_keepalived(std::move(*discovered));
  apply_routers();
  // The new directory must hold every known role now, not at the next change.
  if (files_changed) pipeline_->rewrite_state_files();
  if (files_changed && !track_->drained().empty() && !options_.dry_run)
    if (auto saved = save_drained_set(config_.daemon.state_dir, track_->drained()); !saved)
      spdlog::error("drained routers: {}; they stay drained until havipd restarts", saved.error());
  std::size_t routers = engine_.status().size();
  log::structured(spdlog::level::info, {{"HAVIP_RELOAD", "applied"}},
                  fmt::format("configuration reloaded from {}: {} routers (was {})", config_.path,
                              routers, before),
                  log::Kind::reload);
  readiness_.reloaded();
  return {{"ok", true}, {"routers", routers}};
}

std::optional<std::string> Daemon::cannot_serve(const Config& next,
                                                const std::optional<KeepalivedRead>& discovered) {
  if (auto check = check_privileges(privileges_, served(next, discovered)); !check.fatal.empty())
    return check.fatal.front();
  if (options_.dry_run) return std::nullopt;
  // Taken now: the new directories are this havipd's before anything is written there.
  if (auto locked = locks_.hold(lock_targets(next)); !locked) return locked.error();
  return std::nullopt;
}

void Daemon::listen_control() {
  const auto& d = config_.daemon;
  if (options_.dry_run) return;  // a dry run creates no files, the socket included
  if (d.control_socket.empty()) {
    if (control_->listening()) spdlog::info("control socket {} closed", control_->path());
    control_->close();
    return;
  }
  if (control_->listening() && control_->path() == d.control_socket &&
      control_->group() == d.control_socket_group)
    return;
  auto ok = control_->listen(d.control_socket, d.control_socket_group);
  if (!ok) {
    spdlog::error("control socket: {}; havipctl cannot reach this havipd (routers are served "
                  "as usual)",
                  ok.error());
    return;
  }
  spdlog::info("control socket {} (mode 0660{})", d.control_socket,
               d.control_socket_group.empty() ? "" : ", group " + d.control_socket_group);
}

int Daemon::on_signal(sd_event_source*, const signalfd_siginfo* si, void* self) {
  auto* d = static_cast<Daemon*>(self);
  if (si->ssi_signo == SIGHUP) {
    spdlog::info("SIGHUP: reloading {}", d->config_.path);
    [[maybe_unused]] auto answer = d->reload();
    return 0;
  }
  spdlog::info("{}: stopping", strsignal(static_cast<int>(si->ssi_signo)));
  if (!d->stop_deadline_) d->stop();
  return 0;
}

int Daemon::on_post(sd_event_source*, void* self) {
  static_cast<Daemon*>(self)->flush();
  return 0;
}

int Daemon::on_hold_down(sd_event_source*, std::uint64_t, void* self) {
  static_cast<Daemon*>(self)->feed(Tick{});
  return 0;
}

int Daemon::on_retry(sd_event_source*, std::uint64_t, void* self) {
  auto* d = static_cast<Daemon*>(self);
  d->namespaces_->retry(Clock::now());
  d->speakers_->tick(Clock::now());
  return 0;
}

}  // namespace havip
