#include "daemon/daemon.h"

#include <malloc.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include <fcntl.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/config_parse.h"
#include "ctl/protocol.h"
#include "effects/atomic_file.h"
#include "havip_build.h"
#include "core/privileges.h"
#include "daemon/cstamp_reference.h"
#include "daemon/dry_run.h"
#include "daemon/instance_lock.h"
#include "daemon/logging.h"
#include "core/neutron.h"
#include "effects/l3_agent_notifier.h"
#include "effects/spawn_launcher.h"
#include "netns/netns.h"
#include "netns/netns_watch.h"

namespace havip {

namespace {

std::unique_ptr<StateFiles> make_state_files(const DaemonConfig& d, bool dry_run) {
  if (dry_run) return dry_run_state_files();
  return std::make_unique<FsStateFiles>(d.state_sync);
}

// The dry run's writes only log, and the log is the loop thread's.
std::unique_ptr<StateWriter> make_state_writer(const DaemonConfig& d, bool dry_run) {
  return std::make_unique<StateWriter>(
      make_state_files(d, dry_run),
      dry_run ? StateWriter::Mode::inline_ : StateWriter::Mode::threaded);
}

// A state file write that takes longer is shown as failing (havipctl).
constexpr Millis kStateWriteSlow{1000};

std::uint64_t usec_of(TimePoint t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  return us < 0 ? 0 : static_cast<std::uint64_t>(us);
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

std::string netns_label(const std::string& netns) {
  return netns.empty() ? "the host namespace" : "namespace " + netns;
}

}  // namespace

Daemon::Daemon(Config config, DaemonOptions options)
    : config_(std::move(config)),
      options_(options),
      engine_(config_.routers),
      state_writer_(make_state_writer(config_.daemon, options.dry_run)),
      netns_retry_(Millis(10), Millis(2000), 12),
      state_retry_(Millis(100), Millis(30000)) {}

Daemon::~Daemon() {
  log::set_event_hook(nullptr);
  control_.reset();
  effects_.reset();
  notifier_.target.reset();
  launcher_.reset();  // kills whatever child is left: nothing is orphaned
  monitors_.clear();
  netns_dir_.reset();
  for (auto* s : {post_, idle_, hold_down_timer_, retry_timer_, metrics_timer_, state_io_})
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
  state_written();  // their results, failures included, are logged
  if (!written) {
    std::vector<std::string> left;
    for (const auto& router : engine_.status())
      if (state_writer_->pending_since(router.name)) left.push_back(router.name);
    spdlog::error("stopping although the state files of {} router(s) are still being written "
                  "(the disk does not answer): {}",
                  left.size(), fmt::join(left, ", "));
  }
  control_.reset();
  if (!config_.daemon.metrics_textfile.empty() && !options_.dry_run) write_metrics_file();
  effects_.reset();
  launcher_.reset();
  monitors_.clear();
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
  privileges_ = read_privileges();
  auto check = check_privileges(privileges_, config_);
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
  sd_event_add_io(loop_, &state_io_, state_writer_->fd(), EPOLLIN, on_state_written, this);
  sd_event_add_time(loop_, &metrics_timer_, CLOCK_MONOTONIC, 0, 0, on_metrics_timer, this);
  sd_event_source_set_enabled(metrics_timer_, SD_EVENT_OFF);
  log::set_event_hook([this](log::Kind k, std::span<const log::Field> f) { counted(k, f); });
  auto home = netns::open_current();
  if (!home) {
    spdlog::error("cannot open the current network namespace: {}", home.error());
    return false;
  }
  home_ns_ = std::move(*home);
  auto ns_fd = [this](const std::string& ns) { return netns_fd(ns); };
  if (options_.dry_run) {
    launcher_ = dry_run_launcher(loop_);
    sysctls_ = dry_run_sysctls();
    run_files_ = dry_run_files();
  } else {
    launcher_ = std::make_unique<SpawnLauncher>(loop_, home_ns_.get(), ns_fd);
    sysctls_ = std::make_unique<ProcSysctls>(home_ns_.get(), ns_fd);
    run_files_ = std::make_unique<FsRunFiles>();
  }
  effects_ = std::make_unique<Effects>(
      EffectsContext{*launcher_, *sysctls_, *run_files_, [] { return Clock::now(); }, &notifier_});
  watch_netns_dir();
  control_ = std::make_unique<ControlServer>(
      loop_, ControlServer::Handlers{[this] { return status_json(); },
                                     [this] { return metrics_text(); },
                                     [this] { return reload(); }});
  listen_control();
  spdlog::info("havipd starting: {} routers, state in {}{}", config_.routers.size(),
               config_.daemon.state_dir, options_.dry_run ? ", dry run" : "");
  start_neutron();
  apply_routers();
  flush();  // with nothing to watch, this is already READY
  return true;
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
      notifier_.target =
          std::make_unique<L3AgentNotifier>(loop_, socket, [] { return Clock::now(); });
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

std::vector<RouterConfig> Daemon::all_routers() {
  auto all = config_.routers;
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
  auto leaving = primaries_leaving(routers);
  auto actions = engine_.reconfigure(routers, now);
  for (const auto& r : leaving) state_writer_->submit(r.state_dir, r.name, Role::backup, false);
  pending_.insert(pending_.end(), actions.begin(), actions.end());
  effects_->configure(config_.daemon, routers, [&](const std::string& name) {
    return engine_.role_of(name).value_or(Role::unknown);
  }, now);
  std::set<std::string> names;
  for (const auto& r : routers) names.insert(r.name);
  metrics_.keep_only(names);
  std::erase_if(last_, [&](const auto& kv) { return !names.contains(kv.first); });
  metrics_changed();
  want_namespaces();
}

// Routers about to be removed (or renamed) while primary, whose state file
// havipd writes: it must not go on saying primary for a router nobody serves
// (its radvd and services are stopped). Not Neutron's: their directory is
// being removed by Neutron, which a write would race.
std::vector<RouterConfig> Daemon::primaries_leaving(const std::vector<RouterConfig>& next) const {
  std::set<std::string> staying;
  for (const auto& r : next) staying.insert(r.name);
  std::vector<RouterConfig> out;
  for (const auto& st : engine_.status()) {
    const RouterConfig* r = engine_.router(st.name);
    if (!staying.contains(st.name) && r && r->create_state_dir && st.role == Role::primary)
      out.push_back(*r);
  }
  return out;
}

void Daemon::watch_netns_dir() {
  netns_dir_ = std::make_unique<NetnsDirWatch>(
      loop_, config_.daemon.netns_dir,
      [this](const std::vector<netns::NetnsChange>& changes) { netns_dir_changed(changes); },
      [this] { netns_dir_rescanned(); });
  if (auto ok = netns_dir_->start(); !ok)
    spdlog::error("{}; namespaces created later will not be noticed", ok.error());
}

void Daemon::want_namespaces() {
  auto wanted = engine_.namespaces();
  std::erase_if(monitors_, [&](const auto& kv) { return !wanted.contains(kv.first); });
  for (const auto& ns : wanted)
    if (!monitors_.contains(ns)) try_open(ns);
}

void Daemon::try_open(const std::string& ns) {
  struct stat st {};
  std::string path = config_.daemon.netns_dir + "/" + ns;
  if (!ns.empty() && ::stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    netns_retry_.clear(ns);
    spdlog::info("{} does not exist yet; its routers stay unknown until it appears",
                 netns_label(ns));
    return;
  }
  auto fd = ns.empty() ? tl::expected<UniqueFd, std::string>(UniqueFd(::dup(home_ns_.get())))
                       : netns::open_named(config_.daemon.netns_dir, ns);
  tl::expected<void, std::string> started = tl::unexpected(fd ? "" : fd.error());
  std::unique_ptr<NetnsMonitor> mon;
  if (fd) {
    mon = std::make_unique<NetnsMonitor>(
        loop_, ns, std::move(*fd), home_ns_.get(), config_.daemon.netlink_receive_buffer,
        [this, ns](Event&& e) {
          // A monitor that cannot re-open its socket reports its namespace
          // gone; it is destroyed after this dispatch and retried later.
          if (std::holds_alternative<NetnsGone>(e)) dead_monitors_.insert(ns);
          feed(std::move(e));
        },
        counters_, cstamps_);
    started = mon->start();
  }
  if (!started) {
    auto delay = netns_retry_.failed(ns, Clock::now());
    if (delay)
      spdlog::debug("{}: {}; retrying in {}", netns_label(ns), started.error(), *delay);
    else
      spdlog::error("{}: {}; giving up until it is re-created", netns_label(ns), started.error());
    return;
  }
  netns_retry_.clear(ns);
  dead_monitors_.erase(ns);
  monitors_[ns] = std::move(mon);
  spdlog::info("watching {}", netns_label(ns));
}

void Daemon::drop(const std::string& ns, const std::string& reason) {
  netns_retry_.clear(ns);
  dead_monitors_.erase(ns);
  if (monitors_.erase(ns) == 0) return;
  log::structured(spdlog::level::warn, {{"HAVIP_NAMESPACE", ns}},
                  fmt::format("{} {}; its routers are now unknown", netns_label(ns), reason),
                  log::Kind::netns_gone);
  feed(NetnsGone{ns, reason});
}

void Daemon::feed(Event&& event) {
  if (!batch_start_) batch_start_ = Clock::now();
  auto actions = engine_.handle(event, Clock::now());
  pending_.insert(pending_.end(), std::make_move_iterator(actions.begin()),
                  std::make_move_iterator(actions.end()));
}

void Daemon::flush() {
  for (const auto& ns : dead_monitors_) {
    monitors_.erase(ns);
    if (auto delay = netns_retry_.failed(ns, Clock::now()))
      spdlog::info("{}: trying again in {}", netns_label(ns), *delay);
  }
  dead_monitors_.clear();
  if (relisten_) {
    relisten_ = false;
    listen_control();
  }
  auto actions = std::move(pending_);
  pending_.clear();
  for (const auto& a : actions) std::visit([&](const auto& x) { apply(x); }, a);
  batch_start_.reset();
  auto now = Clock::now();
  effects_->tick(now);
  arm(hold_down_timer_, engine_.next_deadline());
  std::optional<TimePoint> wake;
  for (auto t : {netns_retry_.next(), state_retry_.next(), effects_->deadline(), stop_deadline_})
    if (t && (!wake || *t < *wake)) wake = t;
  arm(retry_timer_, wake);
  report();
  if (status_dirty_ || !actions.empty()) sd_event_source_set_enabled(idle_, SD_EVENT_ONESHOT);
  if (stop_deadline_ && (effects_->quiet() || now >= *stop_deadline_)) sd_event_exit(loop_, 0);
}

void Daemon::apply(const GatewayAppeared& g) {
  const RouterConfig* config = engine_.router(g.router);
  log::router(spdlog::level::info, g.router, config ? config->netns : "",
              "gateway interface appeared; writing its sysctls");
  effects_->gateway_appeared(g.router, Clock::now());
}

int Daemon::netns_fd(const std::string& netns) const {
  if (netns.empty()) return home_ns_.get();
  auto it = monitors_.find(netns);
  return it == monitors_.end() ? -1 : it->second->ns_fd();
}

void Daemon::stop() {
  // Services get their stop timeout (then SIGKILL); one more second to reap.
  Millis grace(1000);
  for (const auto& r : config_.routers)
    for (const auto& svc : r.services) grace = std::max(grace, svc.stop_timeout + Millis(1000));
  sd_notify(0, "STOPPING=1");
  auto now = Clock::now();
  stop_deadline_ = now + grace;
  effects_->shutdown(now);
  // Stop listening to the kernel: during a flap storm the netlink sockets
  // never run dry, and draining them would hold up the exit for as long as
  // the storm lasts. What was read is still applied; the next start dumps
  // the kernel's state anyway.
  monitors_.clear();
  dead_monitors_.clear();
  if (netns_dir_) netns_dir_->stop();
}

void Daemon::apply(const RoleChange& c) {
  std::uint64_t write = c.to != Role::unknown ? write_state(c.router, c.to) : 0;
  auto level = c.to == Role::unknown ? spdlog::level::warn : spdlog::level::info;
  log::structured(level,
                  {{"HAVIP_ROUTER", c.router},
                   {"HAVIP_NAMESPACE", c.netns},
                   {"HAVIP_INTERFACE", c.interface},
                   {"HAVIP_ROLE", std::string(role_name(c.to))},
                   {"HAVIP_PREVIOUS_ROLE", std::string(role_name(c.from))},
                   {"HAVIP_REASON", c.reason}},
                  fmt::format("{}: {} -> {} ({})", c.router, role_name(c.from),
                              role_name(c.to), c.reason),
                  log::Kind::transition);
  if (!stop_deadline_) effects_->transition(c, Clock::now(), write);
  // The synchronous effects are done: the state file handed to the writer,
  // sysctls set, radvd started or killed (hooks and the L3 agent's
  // notification follow the state file).
  if (batch_start_) metrics_.latency(Clock::now() - *batch_start_);
  metrics_.transition(c.router, c.to);
  auto wall = std::chrono::system_clock::now();
  auto& last = last_[c.router];
  last.time = wall;
  last.reason = c.reason;
  ++last.count;
  metrics_changed();
  if (control_ && control_->watchers() > 0)
    control_->broadcast(ctl::to_line(ctl::transition_json(
        {wall, c.router, c.netns, c.interface, c.from, c.to, c.reason})));
}

std::uint64_t Daemon::write_state(const std::string& router, Role role) {
  const RouterConfig* config = engine_.router(router);
  if (!config) return 0;  // removed meanwhile
  state_retry_.attempting(router);  // a retry is not started again until this one is done
  return state_writer_->submit(config->state_dir, router, role, config->create_state_dir);
}

int Daemon::on_state_written(sd_event_source*, int, std::uint32_t, void* self) {
  static_cast<Daemon*>(self)->state_written();
  return 0;
}

void Daemon::state_written() {
  for (auto& r : state_writer_->take()) {
    const RouterConfig* config = engine_.router(r.router);
    if (r.outcome || !config) {  // a removed router's file needs no retry
      state_retry_.clear(r.router);
      if (r.outcome && !*r.outcome && config)
        log::router(spdlog::level::info, r.router, config->netns,
                    "state file not written: {}/{} is gone (the router is being removed)",
                    r.dir, r.router);
    } else {
      auto delay = state_retry_.failed(r.router, Clock::now());
      log::effect_failure(r.router, config->netns, "state_file",
                          fmt::format("cannot write state file: {}; retrying in {}",
                                      r.outcome.error(), delay.value_or(Millis(0))));
    }
    effects_->state_written(r.router, r.seq);
  }
}

bool Daemon::state_file_failing(const std::string& router, TimePoint now) const {
  if (state_retry_.contains(router)) return true;
  auto since = state_writer_->pending_since(router);
  return since && now - *since > kStateWriteSlow;
}

void Daemon::retry_due() {
  auto now = Clock::now();
  for (const auto& ns : netns_retry_.due(now)) try_open(ns);
  for (const auto& router : state_retry_.due(now)) {
    auto role = engine_.role_of(router);
    if (!role || *role == Role::unknown) {
      state_retry_.clear(router);
      continue;
    }
    write_state(router, *role);
  }
}

void Daemon::arm(sd_event_source* timer, std::optional<TimePoint> at) {
  if (!at) {
    sd_event_source_set_enabled(timer, SD_EVENT_OFF);
    return;
  }
  sd_event_source_set_time(timer, usec_of(*at));
  sd_event_source_set_enabled(timer, SD_EVENT_ONESHOT);
}

void Daemon::report() {
  auto c = engine_.counts();
  std::string status = fmt::format("{} router{}: {} primary, {} backup", c.total(),
                                   c.total() == 1 ? "" : "s", c.primary, c.backup);
  if (c.unknown) status += fmt::format(", {} unknown", c.unknown);
  if (!ready_) {
    for (const auto& [ns, mon] : monitors_)
      if (!engine_.synced(ns)) return;
    // Ready means the state files say what the kernel says: the first
    // writes are done (or failed and being retried).
    if (state_writer_->busy()) return;
    ready_ = true;
    spdlog::info("ready: {}", status);
    sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str());
  } else if (status != last_status_) {
    status_dirty_ = true;  // sent by on_idle: not once per transition of a burst
  }
  last_status_ = status;
}

int Daemon::on_idle(sd_event_source*, void* self) {
  auto* d = static_cast<Daemon*>(self);
  // A burst (a mass failover: a thousand notifications in flight at once)
  // leaves freed heap behind; give it back to the system once it is over.
  ::malloc_trim(0);
  if (d->status_dirty_) {
    d->status_dirty_ = false;
    sd_notifyf(0, "STATUS=%s", d->last_status_.c_str());
  }
  return 0;
}

nlohmann::ordered_json Daemon::reload() {
  // Stopping: the netlink monitors are closed; a reload would reopen them.
  if (stop_deadline_) {
    spdlog::warn("reload ignored: havipd is stopping");
    return {{"ok", false}, {"error", "havipd is stopping"}};
  }
  sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
             static_cast<unsigned long long>(usec_of(Clock::now())));
  auto next = load_config(config_.path);
  if (!next) {
    std::vector<std::string> errors;
    for (const auto& e : next.error()) {
      errors.push_back(e.to_string());
      spdlog::error("{}", errors.back());
    }
    std::string message = fmt::format("reload rejected: {} has {} error(s); the running "
                                      "configuration stays",
                                      config_.path, next.error().size());
    log::structured(spdlog::level::err, {{"HAVIP_RELOAD", "rejected"}}, message, log::Kind::reload);
    sd_notify(0, "READY=1");
    return {{"ok", false}, {"error", message}, {"errors", errors}};
  }
  if (auto refused = cannot_serve(*next)) {
    std::string message =
        fmt::format("reload rejected: {}; the running configuration stays", *refused);
    log::structured(spdlog::level::err, {{"HAVIP_RELOAD", "rejected"}}, message, log::Kind::reload);
    sd_notify(0, "READY=1");
    return {{"ok", false}, {"error", message}};
  }
  bool dir_changed = next->daemon.netns_dir != config_.daemon.netns_dir;
  bool files_changed = next->daemon.state_dir != config_.daemon.state_dir ||
                       next->daemon.state_sync != config_.daemon.state_sync;
  bool control_changed = next->daemon.control_socket != config_.daemon.control_socket ||
                         next->daemon.control_socket_group != config_.daemon.control_socket_group;
  if (files_changed) state_writer_->replace(make_state_files(next->daemon, options_.dry_run));
  std::size_t before = config_.routers.size();
  config_ = std::move(*next);
  if (dir_changed) {
    std::vector<std::string> names;
    for (const auto& [ns, mon] : monitors_) names.push_back(ns);
    for (const auto& ns : names) drop(ns, "left behind by the new netns_dir");
    watch_netns_dir();
  }
  // The client asking for this reload is answered on the old socket first;
  // moving the socket only changes where the next client connects.
  relisten_ = control_changed;
  start_neutron();
  apply_routers();
  if (files_changed) {
    // The new directory must hold every known role now, not at the next change.
    state_retry_ = Backoff(Millis(100), Millis(30000));
    for (const auto& r : engine_.status())
      if (r.role != Role::unknown) write_state(r.name, r.role);
  }
  std::size_t routers = engine_.status().size();
  log::structured(spdlog::level::info, {{"HAVIP_RELOAD", "applied"}},
                  fmt::format("configuration reloaded from {}: {} routers (was {})",
                              config_.path, config_.routers.size(), before),
                  log::Kind::reload);
  sd_notify(0, "READY=1");
  return {{"ok", true}, {"routers", routers}};
}

std::optional<std::string> Daemon::cannot_serve(const Config& next) {
  if (auto check = check_privileges(privileges_, next); !check.fatal.empty())
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

nlohmann::ordered_json Daemon::status_json() const {
  ctl::Status s;
  s.version = HAVIP_VERSION;
  s.pid = static_cast<int>(::getpid());
  s.ready = ready_;
  for (const auto& [ns, mon] : monitors_) s.namespaces.push_back(ns);
  auto now = Clock::now();
  for (const auto& r : engine_.status()) {
    ctl::RouterStatus out;
    out.name = r.name;
    out.netns = r.netns;
    out.role = r.role;
    if (const RouterConfig* config = engine_.router(r.name)) out.interface = config->interface;
    if (r.pending_until)
      out.pending_s = std::chrono::duration<double>(*r.pending_until - now).count();
    if (auto it = last_.find(r.name); it != last_.end()) {
      out.since = it->second.time;
      out.reason = it->second.reason;
      out.transitions = it->second.count;
    }
    if (const RouterEffects* fx = effects_->router(r.name)) {
      auto child = [](const Supervisor& sup) {
        return ctl::ChildStatus{sup.spec().what, sup.pid(),
                                std::string(Supervisor::state_name(sup.state()))};
      };
      if (fx->radvd()) out.children.push_back(child(fx->radvd()->supervisor()));
      for (const auto& svc : fx->services()) out.children.push_back(child(*svc));
      out.failing = fx->failing();
    }
    if (state_file_failing(r.name, now)) out.failing.insert(out.failing.begin(), "state_file");
    s.routers.push_back(std::move(out));
  }
  return ctl::status_json(s);
}

std::string Daemon::metrics_text() const {
  MetricsInput in;
  for (const auto& r : engine_.status()) in.routers.push_back({r.name, r.netns, r.role});
  in.netlink_resyncs = counters_.resyncs;
  in.netlink_messages = counters_.messages;
  in.netlink_malformed = counters_.malformed;
  in.namespaces_watched = monitors_.size();
  return metrics_.render(in, HAVIP_VERSION);
}

void Daemon::counted(log::Kind kind, std::span<const log::Field> fields) {
  std::string router(log::field(fields, "HAVIP_ROUTER"));
  if (kind == log::Kind::effect_failure) {
    metrics_.effect_failure(router, std::string(log::field(fields, "HAVIP_EFFECT")));
    metrics_changed();
  } else if (kind == log::Kind::child_exit && log::field(fields, "HAVIP_EXPECTED") == "no") {
    metrics_.child_exit(router, std::string(log::field(fields, "HAVIP_CHILD")));
    metrics_changed();
  }
}

// The textfile is rewritten after changes, at most once a second (a mass
// failover is one write, not a thousand), and every minute regardless so
// its mtime shows havipd alive.
void Daemon::metrics_changed() {
  if (config_.daemon.metrics_textfile.empty() || options_.dry_run || !metrics_timer_) return;
  auto now = Clock::now();
  TimePoint at = metrics_written_ ? std::max(now, *metrics_written_ + std::chrono::seconds(1)) : now;
  uint64_t when = 0;
  int enabled = SD_EVENT_OFF;
  sd_event_source_get_enabled(metrics_timer_, &enabled);
  sd_event_source_get_time(metrics_timer_, &when);
  if (enabled != SD_EVENT_OFF && when <= usec_of(at)) return;
  arm(metrics_timer_, at);
}

void Daemon::write_metrics_file() {
  const std::string& path = config_.daemon.metrics_textfile;
  auto slash = path.rfind('/');
  std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  std::string name = path.substr(slash + 1);
  metrics_written_ = Clock::now();
  UniqueFd d(::open(dir.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  tl::expected<Written, std::string> ok =
      d ? write_atomic(d.get(), dir, name, metrics_text(), false)
        : tl::expected<Written, std::string>(
              tl::unexpected(fmt::format("{}: {}", dir, std::strerror(errno))));
  if (!ok) spdlog::warn("metrics textfile: {}; trying again in a minute", ok.error());
}

int Daemon::on_metrics_timer(sd_event_source*, std::uint64_t, void* self) {
  auto* d = static_cast<Daemon*>(self);
  if (d->config_.daemon.metrics_textfile.empty()) return 0;
  d->write_metrics_file();
  d->arm(d->metrics_timer_, Clock::now() + std::chrono::seconds(60));
  return 0;
}

void Daemon::netns_dir_changed(const std::vector<netns::NetnsChange>& changes) {
  if (neutron_)
    for (const auto& ch : changes) neutron_->netns_changed(ch.name);
  auto wanted = engine_.namespaces();
  for (const auto& ch : changes) {
    if (!wanted.contains(ch.name)) continue;
    if (!ch.appeared) {
      drop(ch.name, "was deleted");
    } else if (!monitors_.contains(ch.name)) {
      netns_retry_.clear(ch.name);
      spdlog::info("{} appeared", netns_label(ch.name));
      try_open(ch.name);
    }
  }
}

// After the directory was replaced or inotify lost events: every wanted
// namespace is looked up again, whatever the events said.
void Daemon::netns_dir_rescanned() {
  for (const auto& ns : engine_.namespaces()) {
    struct stat st {};
    bool exists = ns.empty() || ::stat((config_.daemon.netns_dir + "/" + ns).c_str(), &st) == 0;
    if (!exists) drop(ns, "was deleted");
    else if (!monitors_.contains(ns)) try_open(ns);
  }
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
  static_cast<Daemon*>(self)->retry_due();
  return 0;
}

}  // namespace havip
