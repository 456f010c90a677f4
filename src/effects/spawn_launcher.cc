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
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon/logging.h"
#include "netns/netns.h"

namespace havip {

struct SpawnLauncher::Child {
  SpawnLauncher* owner;
  ProcessId id;
  pid_t pid;
  ProcessSpec spec;
  OnExit on_exit;
  UniqueFd output;
  sd_event_source* exit_source = nullptr;
  sd_event_source* output_source = nullptr;
  std::string partial;  // output not yet ended by a newline

  ~Child() {
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
  // Reads what the child wrote; returns false at end of file.
  bool drain() {
    std::array<char, 4096> buf;
    for (;;) {
      ssize_t n = ::read(output.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return n < 0 && errno == EAGAIN;
      partial.append(buf.data(), static_cast<std::size_t>(n));
      std::size_t nl;
      while ((nl = partial.find('\n')) != std::string::npos) {
        log_line(std::string_view(partial).substr(0, nl));
        partial.erase(0, nl + 1);
      }
      if (partial.size() > 4096) {  // a runaway line is logged in pieces
        log_line(partial);
        partial.clear();
      }
    }
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
// posix_spawn cannot set a parent-death signal. Returns 0 or an errno.
int spawn(pid_t* pid, const ProcessSpec& spec, int out) {
  alignas(16) static char stack[64 * 1024];  // the daemon is single-threaded
  auto argv = c_strings(spec.argv);
  auto envp = c_strings(spec.env);
  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!devnull) return errno;
  SpawnArgs args{argv.data(), envp.data(), out, devnull.get(), ::getpid(), 0};
  *pid = ::clone(child_main, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  if (*pid < 0) return errno;
  if (args.error != 0) {  // it has exited already (vfork: we resume after exec or exit)
    ::waitpid(*pid, nullptr, 0);
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

SpawnLauncher::SpawnLauncher(sd_event* loop, int home_netns, NetnsFd netns_fd)
    : loop_(loop), home_netns_(home_netns), netns_fd_(std::move(netns_fd)) {}

SpawnLauncher::~SpawnLauncher() {
  // Effects stop their children in order before this; whatever is left must
  // not outlive havipd as an orphan.
  for (auto& [id, c] : children_) {
    ::kill(-c->pid, SIGKILL);
    ::waitpid(c->pid, nullptr, 0);
  }
}

tl::expected<ProcessId, std::string> SpawnLauncher::start(const ProcessSpec& spec,
                                                          OnExit exit_fn) {
  if (spec.argv.empty()) return tl::unexpected(std::string("empty command"));
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return tl::unexpected(fmt::format("pipe: {}", std::strerror(errno)));
  UniqueFd read_end(pipefd[0]), write_end(pipefd[1]);
  pid_t pid = 0;
  int r = 0;
  if (spec.netns.empty()) {
    r = spawn(&pid, spec, write_end.get());
  } else {
    int fd = netns_fd_(spec.netns);
    if (fd < 0) return tl::unexpected("namespace " + spec.netns + " is not available");
    auto in = netns::run_in(fd, home_netns_, [&] { return spawn(&pid, spec, write_end.get()); });
    if (!in) return tl::unexpected(in.error());
    r = *in;
  }
  if (r != 0) return tl::unexpected(fmt::format("{}: {}", spec.argv[0], std::strerror(r)));
  write_end.reset();
  ::fcntl(read_end.get(), F_SETFL, O_NONBLOCK);

  auto child = std::make_unique<Child>();
  child->owner = this;
  child->id = next_id_++;
  child->pid = pid;
  child->spec = spec;
  child->on_exit = std::move(exit_fn);
  child->output = std::move(read_end);
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0 ||
      sd_event_add_child_pidfd(loop_, &child->exit_source, pidfd, WEXITED, on_exit, child.get()) < 0) {
    // Cannot watch it, so it must not run unwatched.
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    if (pidfd >= 0) ::close(pidfd);
    return tl::unexpected(std::string("cannot watch the child process"));
  }
  sd_event_source_set_child_pidfd_own(child->exit_source, true);
  sd_event_add_io(loop_, &child->output_source, child->output.get(), EPOLLIN, on_output,
                  child.get());
  ProcessId id = child->id;
  log::router(spdlog::level::debug, spec.router, spec.netns, "{} started (pid {})", spec.what, pid);
  children_.emplace(id, std::move(child));
  return id;
}

void SpawnLauncher::signal(ProcessId id, int sig) {
  auto it = children_.find(id);
  if (it == children_.end()) return;
  const Child& c = *it->second;
  // The leader through its pidfd first: kill(-pgid) succeeds as soon as one
  // process of the group got the signal, so a leader we may not signal (a
  // radvd that dropped to its user, without CAP_KILL) would go unnoticed
  // and keep advertising on a backup.
  int pidfd = sd_event_source_get_child_pidfd(c.exit_source);
  if (pidfd >= 0 && ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) != 0 &&
      errno != ESRCH) {
    log::effect_failure(c.spec.router, c.spec.netns, effect_of(c.spec),
                        fmt::format("cannot send SIG{} to {} (pid {}): {}", sigabbrev_np(sig),
                                    c.spec.what, c.pid, std::strerror(errno)));
  }
  // Not reaped yet (we reap in on_exit), so the group id cannot be reused.
  ::kill(-c.pid, sig);
}

std::optional<int> SpawnLauncher::pid_of(ProcessId id) const {
  auto it = children_.find(id);
  if (it == children_.end()) return std::nullopt;
  return it->second->pid;
}

int SpawnLauncher::on_output(sd_event_source* s, int, std::uint32_t, void* userdata) {
  auto* c = static_cast<Child*>(userdata);
  if (!c->drain()) sd_event_source_set_enabled(s, SD_EVENT_OFF);  // end of file
  return 0;
}

int SpawnLauncher::on_exit(sd_event_source*, const siginfo_t* si, void* userdata) {
  auto* c = static_cast<Child*>(userdata);
  c->drain();
  if (!c->partial.empty()) c->log_line(c->partial);
  ExitStatus status;
  if (si->si_code == CLD_EXITED)
    status.code = si->si_status;
  else
    status.signal = si->si_status;
  auto* owner = c->owner;
  auto node = owner->children_.extract(c->id);  // keep it alive for the call
  auto callback = std::move(c->on_exit);
  node.mapped().reset();
  if (callback) callback(status);
  return 0;
}

}  // namespace havip
