#include "effects/spawn_launcher.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "log/logging.h"
#include "effects/child_output.h"
#include "effects/proc_children.h"
#include "netns/netns.h"

namespace havip {

namespace {
constexpr auto kThrottlePause = std::chrono::milliseconds(100);

// Watches the exit of the process `pidfd` refers to (taking the fd, also on failure).
sd_event_source* watch_exit_pidfd(sd_event* loop, int pidfd, sd_event_child_handler_t handler,
                                  void* userdata) {
  if (pidfd < 0) return nullptr;
  sd_event_source* source = nullptr;
  if (sd_event_add_child_pidfd(loop, &source, pidfd, WEXITED, handler, userdata) < 0) {
    ::close(pidfd);
    return nullptr;
  }
  sd_event_source_set_child_pidfd_own(source, true);
  return source;
}

sd_event_source* watch_exit(sd_event* loop, pid_t pid, sd_event_child_handler_t handler,
                            void* userdata) {
  return watch_exit_pidfd(loop, static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)), handler,
                          userdata);
}

// Sends `sig` through the pidfd (no pid reuse) and to the process group the
// process leads, if it leads one.
// The process itself first: kill(-pgid) succeeds as soon as one process of
// the group got the signal, so a leader we may not signal (a radvd that
// dropped to its user, without CAP_KILL) would go unnoticed. Returns the
// errno of that first signal (0: sent, or the process is gone).
int signal_process(sd_event_source* exit_source, pid_t pid, int sig) {
  int pidfd = exit_source ? sd_event_source_get_child_pidfd(exit_source) : -1;
  long r = pidfd >= 0 ? ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) : ::kill(pid, sig);
  int err = r != 0 && errno != ESRCH ? errno : 0;
  // Not reaped yet (we reap in the exit callbacks), so the group id cannot
  // have been reused; ESRCH when it leads no group.
  ::kill(-pid, sig);
  return err;
}

std::string comm_of(pid_t pid) {
  char buf[64] = {};
  UniqueFd fd(::open(fmt::format("/proc/{}/comm", pid).c_str(), O_RDONLY | O_CLOEXEC));
  ssize_t n = fd ? ::read(fd.get(), buf, sizeof buf - 1) : -1;
  std::string_view s(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
  while (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  return escape_output(s);
}
}  // namespace

// A process a unit left behind, re-parented to havipd.
struct SpawnLauncher::Adopted {
  SpawnLauncher* owner;
  pid_t pid;
  ProcessId unit;  // 0: a stray, being killed
  sd_event_source* exit_source = nullptr;
  ~Adopted() { sd_event_source_disable_unref(exit_source); }
};

struct SpawnLauncher::Unit {
  SpawnLauncher* owner;
  ProcessId id;
  pid_t pid;  // the main process
  ProcessSpec spec;
  OnExit on_exit;
  UniqueFd output;
  sd_event_source* exit_source = nullptr;
  sd_event_source* output_source = nullptr;
  sd_event_source* throttle = nullptr;
  ChildOutput log;
  std::optional<ExitStatus> main_status;  // set once the main process has exited
  std::map<pid_t, std::unique_ptr<Adopted>> adopted;
  int last_signal = 0;  // what its processes were last sent: a late orphan gets it too
  bool reported = false;  // on_exit called (Leftovers::kill reports at the main's exit)
  bool detached = false;  // Leftovers::follow: its main exited, what it left runs on

  Unit(SpawnLauncher* o, ProcessId i, pid_t p, const ProcessSpec& s, OnExit e, UniqueFd out)
      : owner(o), id(i), pid(p), spec(s), on_exit(std::move(e)), output(std::move(out)),
        log([this](std::string_view line) { log_line(line); }) {}
  ~Unit() {
    sd_event_source_disable_unref(throttle);
    sd_event_source_disable_unref(output_source);
    sd_event_source_disable_unref(exit_source);
  }
  void log_line(std::string_view line) const {
    log::structured(spdlog::level::info,
                    {{"HAVIP_ROUTER", spec.router},
                     {"HAVIP_NAMESPACE", spec.netns},
                     {"HAVIP_CHILD", spec.what}},
                    fmt::format("{}: {}: {}", spec.router, spec.what, line));
  }
  // Reads one slice of what the child wrote; false at end of file (or when
  // nothing can be read any more).
  bool read_slice() {
    std::array<char, 16 * 1024> buf;
    std::size_t total = 0;
    auto now = Clock::now();
    while (total < kReadSlice) {
      ssize_t n = ::read(output.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return n < 0 && errno == EAGAIN;
      total += static_cast<std::size_t>(n);
      log.feed(std::string_view(buf.data(), static_cast<std::size_t>(n)), now);
    }
    return true;
  }
  bool alive() const { return !main_status || !adopted.empty(); }
  std::string describe_pids() const {
    std::string out;
    for (const auto& [left, a] : adopted)
      out += fmt::format("{}{} ({})", out.empty() ? "" : ", ", left, comm_of(left));
    return out;
  }
};


namespace {

std::vector<char*> c_strings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

struct SpawnArgs {
  char* const* argv;
  char* const* envp;
  int out;
  int devnull;
  pid_t parent;
  int error;  // set by the child when it cannot exec (shared memory: CLONE_VM)
};

// The child between clone and execve: only async-signal-safe calls. It gets
// stdin from /dev/null, stdout and stderr on `out`, no other descriptor, an
// empty signal mask (havipd installs no handlers, so dispositions are the
// defaults), a session of its own (so a timeout can kill its whole process
// group), and SIGKILL when havipd dies, however it dies: a radvd must never
// outlive the daemon that decides where it may run.
int child_main(void* p) {
  auto* a = static_cast<SpawnArgs*>(p);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != a->parent) {
    a->error = errno != 0 ? errno : ESRCH;
    ::_exit(127);
  }
  ::setsid();
  if (::dup2(a->devnull, 0) < 0 || ::dup2(a->out, 1) < 0 || ::dup2(a->out, 2) < 0) {
    a->error = errno;
    ::_exit(127);
  }
  ::close_range(3, ~0U, 0);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(a->argv[0], a->argv, a->envp);
  a->error = errno;
  ::_exit(127);
}

// clone(CLONE_VM|CLONE_VFORK), as posix_spawn does internally — but
// posix_spawn cannot set a parent-death signal. The pidfd comes with the
// clone (CLONE_PIDFD: no pidfd_open on the way to exec). `devnull` is the
// launcher's /dev/null. Returns 0 or an errno.
// Only the event loop's thread spawns, so one stack will do.
int spawn(pid_t* pid, UniqueFd* pidfd, const ProcessSpec& spec, int out, int devnull,
          pid_t self) {
  alignas(16) static char stack[64 * 1024];
  auto argv = c_strings(spec.argv);
  auto envp = c_strings(spec.env);
  SpawnArgs args{argv.data(), envp.data(), out, devnull, self, 0};
  int fd = -1;
  *pid = ::clone(child_main, stack + sizeof stack, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD,
                 &args, &fd);
  if (*pid < 0) return errno;
  *pidfd = UniqueFd(fd);
  if (args.error != 0) {  // it has exited already (vfork: we resume after exec or exit)
    ::waitpid(*pid, nullptr, 0);
    pidfd->reset();
    return args.error;
  }
  return 0;
}

}  // namespace

std::string ExitStatus::to_string() const {
  if (signal != 0) {
    const char* name = sigabbrev_np(signal);
    return fmt::format("killed by SIG{}", name ? name : std::to_string(signal));
  }
  return fmt::format("exit code {}", code);
}

SpawnLauncher::SpawnLauncher(sd_event* loop, Observer& observer, int home_netns, NetnsFd netns_fd)
    : loop_(loop),
      home_netns_(home_netns),
      netns_fd_(std::move(netns_fd)),
      observer_(observer),
      self_(::getpid()),
      devnull_(::open("/dev/null", O_RDONLY | O_CLOEXEC)) {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    spdlog::warn("cannot become a child subreaper ({}): a process a child leaves behind "
                 "will not be stopped with it",
                 std::strerror(errno));
  // An orphan that exits before anything else made us look for it would
  // stay a zombie: SIGCHLD (blocked by the daemon) makes us look.
  // (It only schedules a look; its priority stays the default: sd-event's
  // per-priority signal data of a re-prioritized signal source leaks.)
  sd_event_add_signal(loop_, &sigchld_, SIGCHLD, on_sigchld, this);
}

SpawnLauncher::~SpawnLauncher() {
  // The child sources first: while one is online, sd-event keeps SIGCHLD in
  // its signal data, which then outlives the loop (LeakSanitizer saw it).
  kill_everything();
  sd_event_source_disable_unref(look_);
  sd_event_source_disable_unref(sigchld_);
}

// Effects stop their children in order before this; whatever is left must
// not outlive havipd as an orphan: every unit, and every child of havipd
// found in /proc (a process left behind that was never attributed).
void SpawnLauncher::kill_everything() {
  for (auto& [id, u] : units_) {
    if (!u->main_status) signal_process(u->exit_source, u->pid, SIGKILL);
    for (auto& [pid, a] : u->adopted) signal_process(a->exit_source, pid, SIGKILL);
  }
  for (auto& [pid, a] : strays_) ::kill(pid, SIGKILL);
  // Bounded: each round kills what is left and reaps it; a child forking as
  // fast as it can is in a group we kill as a whole.
  for (int round = 0; round < 8; ++round) {
    auto kids = proc::children();
    if (kids.empty()) break;
    for (pid_t pid : kids) {
      ::kill(pid, SIGKILL);
      ::kill(-pid, SIGKILL);
    }
    for (pid_t pid : kids) ::waitpid(pid, nullptr, 0);
  }
  units_.clear();
  strays_.clear();
  pids_.clear();
}

tl::expected<ProcessId, std::string> SpawnLauncher::start(const ProcessSpec& spec,
                                                          OnExit exit_fn) {
  if (spec.argv.empty()) return tl::unexpected(std::string("empty command"));
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return tl::unexpected(fmt::format("pipe: {}", std::strerror(errno)));
  UniqueFd read_end(pipefd[0]), write_end(pipefd[1]);
  // Opened once (the children's stdin); again here only if that failed.
  UniqueFd own_devnull;
  int devnull = devnull_.get();
  if (devnull < 0) {
    own_devnull = UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!own_devnull) return tl::unexpected(fmt::format("/dev/null: {}", std::strerror(errno)));
    devnull = own_devnull.get();
  }
  pid_t pid = 0;
  UniqueFd pidfd;
  auto run = [&] { return spawn(&pid, &pidfd, spec, write_end.get(), devnull, self_); };
  int r = 0;
  if (spec.netns.empty()) {
    r = run();
  } else {
    int fd = netns_fd_(spec.netns);
    if (fd < 0) return tl::unexpected("namespace " + spec.netns + " is not available");
    auto in = netns::run_in(fd, home_netns_, run);
    if (!in) return tl::unexpected(in.error());
    r = *in;
  }
  if (r != 0) return tl::unexpected(fmt::format("{}: {}", spec.argv[0], std::strerror(r)));
  write_end.reset();
  ::fcntl(read_end.get(), F_SETFL, O_NONBLOCK);

  auto unit = std::make_unique<Unit>(this, next_id_++, pid, spec, std::move(exit_fn),
                                     std::move(read_end));
  unit->exit_source = watch_exit_pidfd(loop_, pidfd.release(), on_exit, unit.get());
  if (!unit->exit_source) {
    // Cannot watch it, so it must not run unwatched.
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return tl::unexpected(std::string("cannot watch the child process"));
  }
  sd_event_add_io(loop_, &unit->output_source, unit->output.get(), EPOLLIN, on_output,
                  unit.get());
  // After the kernel, the timers and havipctl: a child's output waits.
  sd_event_source_set_priority(unit->output_source, SD_EVENT_PRIORITY_NORMAL + 10);
  ProcessId id = unit->id;
  log::router(spdlog::level::debug, spec.router, spec.netns, "{} started (pid {})", spec.what, pid);
  pids_[pid] = id;
  units_.emplace(id, std::move(unit));
  return id;
}

void SpawnLauncher::signal(ProcessId id, int sig) {
  auto it = units_.find(id);
  if (it == units_.end()) return;
  Unit& u = *it->second;
  u.last_signal = sig;
  // A main process we may not signal is said, not silently left running (it
  // would keep advertising on a backup).
  if (!u.main_status)
    if (int err = signal_process(u.exit_source, u.pid, sig); err != 0)
      observer_.effect_failed({u.spec.router, u.spec.netns, std::string(effect_of(u.spec)),
                               fmt::format("cannot send SIG{} to {} (pid {}): {}",
                                           sigabbrev_np(sig), u.spec.what, u.pid,
                                           std::strerror(err))});
  for (auto& [pid, a] : u.adopted) signal_process(a->exit_source, pid, sig);
}

std::optional<int> SpawnLauncher::pid_of(ProcessId id) const {
  auto it = units_.find(id);
  if (it == units_.end()) return std::nullopt;
  const Unit& u = *it->second;
  if (!u.main_status) return u.pid;
  if (!u.adopted.empty()) return u.adopted.begin()->first;
  return std::nullopt;
}

int SpawnLauncher::on_output(sd_event_source* s, int, std::uint32_t, void* userdata) {
  auto* u = static_cast<Unit*>(userdata);
  if (!u->read_slice()) {  // end of file
    sd_event_source_set_enabled(s, SD_EVENT_OFF);
    u->log.finish();
    return 0;
  }
  // Over its log budget: read it more slowly (it blocks on a full pipe
  // meanwhile) instead of spending the loop on output nobody will see.
  if (u->log.throttled(Clock::now())) {
    sd_event_source_set_enabled(s, SD_EVENT_OFF);
    if (!u->throttle)
      sd_event_add_time_relative(u->owner->loop_, &u->throttle, CLOCK_MONOTONIC,
                                 std::chrono::microseconds(kThrottlePause).count(), 0,
                                 on_throttle_end, u);
    else {
      sd_event_source_set_time_relative(u->throttle,
                                        std::chrono::microseconds(kThrottlePause).count());
      sd_event_source_set_enabled(u->throttle, SD_EVENT_ONESHOT);
    }
  }
  return 0;
}

int SpawnLauncher::on_throttle_end(sd_event_source*, std::uint64_t, void* userdata) {
  auto* u = static_cast<Unit*>(userdata);
  sd_event_source_set_enabled(u->output_source, SD_EVENT_ON);
  return 0;
}

int SpawnLauncher::on_exit(sd_event_source*, const siginfo_t* si, void* userdata) {
  auto* u = static_cast<Unit*>(userdata);
  ExitStatus status;
  if (si->si_code == CLD_EXITED)
    status.code = si->si_status;
  else
    status.signal = si->si_status;
  u->owner->main_exited(*u, status);
  return 0;
}

void SpawnLauncher::main_exited(Unit& u, ExitStatus status) {
  u.main_status = status;
  lost_.insert(u.id);
  // Exited on its own (it may have daemonized): look now, while what it left
  // behind can only be its own. Stopped by us: once for the whole wave of
  // exits (a mass failover kills a radvd per router), what is found gets
  // the unit's signal anyway.
  if (u.last_signal == 0)
    look(&u);
  else
    look_soon();
}

void SpawnLauncher::look_soon() {
  if (!look_) {
    sd_event_add_defer(loop_, &look_, on_look, this);
    // After the exits that are pending (they run at the normal priority):
    // one look at /proc for a whole wave of exits.
    sd_event_source_set_priority(look_, SD_EVENT_PRIORITY_NORMAL + 1);
  }
  sd_event_source_set_enabled(look_, SD_EVENT_ONESHOT);
}

int SpawnLauncher::on_look(sd_event_source*, void* userdata) {
  static_cast<SpawnLauncher*>(userdata)->look(nullptr);
  return 0;
}

// What the processes that exited left behind is re-parented to us by now
// (the kernel does that before it tells the parent): each is given to its
// unit; then each unit that lost a process is settled.
void SpawnLauncher::look(Unit* context) {
  auto lost = std::move(lost_);
  lost_.clear();
  if (!context && lost.size() == 1)
    if (auto it = units_.find(*lost.begin()); it != units_.end()) context = it->second.get();
  adopt_orphans(context);
  for (ProcessId id : lost)
    if (auto it = units_.find(id); it != units_.end()) settle(*it->second);
}

void SpawnLauncher::settle(Unit& u) {
  if (!u.main_status) return;
  if (u.adopted.empty()) {
    if (u.detached)
      log::router(spdlog::level::info, u.spec.router, u.spec.netns,
                  "{}: the last process it left behind is gone", u.spec.what);
    return finish(u);
  }
  if (u.detached || u.reported) return;  // said already
  auto n = u.adopted.size();
  if (u.spec.leftovers == ProcessSpec::Leftovers::kill) {
    log::router(spdlog::level::warn, u.spec.router, u.spec.netns,
                "{} left {} process{} behind: {}; killing {}", u.spec.what, n,
                n == 1 ? "" : "es", u.describe_pids(), n == 1 ? "it" : "them");
    signal(u.id, SIGKILL);
    u.reported = true;
    if (auto callback = std::move(u.on_exit)) callback(*u.main_status);  // may start the next hook
    return;
  }
  u.detached = true;
  log::structured(spdlog::level::warn,
                  {{"HAVIP_ROUTER", u.spec.router},
                   {"HAVIP_NAMESPACE", u.spec.netns},
                   {"HAVIP_CHILD", u.spec.what}},
                  fmt::format("{}: {} forked into the background ({}; left running: {}); "
                              "followed as {}: not started again while {} run{}, stopped with "
                              "{} (run it in the foreground to have it supervised)",
                              u.spec.router, u.spec.what, u.main_status->to_string(),
                              u.describe_pids(), u.spec.what, n == 1 ? "it" : "they",
                              n == 1 ? "s" : "", n == 1 ? "it" : "them"));
}

void SpawnLauncher::finish(Unit& u) {
  if (u.output_source && sd_event_source_get_enabled(u.output_source, nullptr) > 0)
    u.read_slice();  // the last of its output, bounded: a writer may still hold the pipe
  u.log.finish();
  // The main pid stays known until here: what it left behind may be in its
  // session or group (the kernel does not reuse a pid that names one).
  if (auto it = pids_.find(u.pid); it != pids_.end() && it->second == u.id) pids_.erase(it);
  auto node = units_.extract(u.id);  // keep it alive for the call
  auto callback = std::move(u.on_exit);
  ExitStatus status = u.main_status.value_or(ExitStatus{});
  bool reported = u.reported;
  node.mapped().reset();
  if (callback && !reported) callback(status);
}

int SpawnLauncher::on_sigchld(sd_event_source*, const signalfd_siginfo*, void* userdata) {
  static_cast<SpawnLauncher*>(userdata)->look_soon();
  return 0;
}

void SpawnLauncher::adopt_orphans(Unit* context) {
  for (pid_t pid : proc::children()) {
    if (pids_.contains(pid) || strays_.contains(pid)) continue;
    if (Unit* u = owner_of(pid, context))
      adopt(*u, pid);
    else
      orphan_without_unit(pid);
  }
}

// Whose is `pid`: the unit whose process leads its session or its group (a
// `cmd &` of a hook, a service's worker), else the unit of its router
// (HAVIP_ROUTER in its environment: it double-forked into a session of its
// own) that just lost a process, or any of that router's, else the unit that
// just lost a process.
SpawnLauncher::Unit* SpawnLauncher::owner_of(pid_t pid, Unit* context) {
  auto ids = proc::ids(pid);
  if (ids) {
    for (pid_t leader : {ids->sid, ids->pgid})
      if (auto it = pids_.find(leader); it != pids_.end()) return units_.at(it->second).get();
  }
  // An orphan caught in the middle of its exec (`setsid -f cmd`: re-parented
  // to us the moment setsid exits) shows an empty environment for a moment;
  // read as "no router", it went to whichever unit had just lost a process —
  // another router's, when two exit together. A few reads, a millisecond
  // apart, see its new image (an exited one stays empty: not waited for).
  auto text = proc::environ(pid);
  for (int tries = 0; text && text->empty() && ids && ids->state != 'Z' && tries < 20; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    text = proc::environ(pid);
    ids = proc::ids(pid);
  }
  if (auto router = text ? proc::parse_environ(*text, "HAVIP_ROUTER") : std::nullopt) {
    if (context && context->spec.router == *router) return context;
    for (auto& [id, u] : units_)
      if (u->spec.router == *router) return u.get();
  }
  return context;
}

void SpawnLauncher::adopt(Unit& u, pid_t pid) {
  auto a = std::make_unique<Adopted>(Adopted{this, pid, u.id});
  a->exit_source = watch_exit(loop_, pid, on_adopted_exit, a.get());
  if (!a->exit_source) {
    // Gone already (the pidfd could not be opened) or unwatchable: the
    // kill and a blocking reap are all that is left.
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return;
  }
  log::router(spdlog::level::debug, u.spec.router, u.spec.netns, "{}: pid {} ({}) left behind",
              u.spec.what, pid, comm_of(pid));
  pids_[pid] = u.id;
  auto& slot = u.adopted[pid] = std::move(a);
  if (u.last_signal != 0) signal_process(slot->exit_source, pid, u.last_signal);
}

void SpawnLauncher::orphan_without_unit(pid_t pid) {
  // Only our children's descendants can be re-parented to us, but this one
  // cannot be tied to a router any more: it runs for no role.
  spdlog::warn("pid {} ({}) was left behind by a process havipd started, for no router it "
               "can name; killing it",
               pid, comm_of(pid));
  auto a = std::make_unique<Adopted>(Adopted{this, pid, 0});
  a->exit_source = watch_exit(loop_, pid, on_adopted_exit, a.get());
  ::kill(pid, SIGKILL);
  ::kill(-pid, SIGKILL);
  if (!a->exit_source) {
    ::waitpid(pid, nullptr, 0);
    return;
  }
  strays_[pid] = std::move(a);
}

int SpawnLauncher::on_adopted_exit(sd_event_source*, const siginfo_t*, void* userdata) {
  auto* a = static_cast<Adopted*>(userdata);
  SpawnLauncher* self = a->owner;
  pid_t pid = a->pid;
  ProcessId id = a->unit;
  self->pids_.erase(pid);
  if (id == 0) {
    self->strays_.erase(pid);  // destroys `a`
  } else {
    self->units_.at(id)->adopted.erase(pid);  // destroys `a`
    self->lost_.insert(id);
  }
  self->look_soon();  // its own children are ours now
  return 0;
}

}  // namespace havip
