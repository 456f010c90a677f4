// neutron-keepalived-state-change-shim: what the Neutron L3 agent runs as
// `neutron-keepalived-state-change` once `havipctl neutron takeover` diverted
// the real monitor (havipd does the monitor's work for every router). It only
// has to look like a healthy monitor to the agent's process monitor
// (neutron/agent/linux/external_process.py, ProcessManager.active): a process
// whose pid is in the --pid_file the agent gave and whose /proc/PID/cmdline
// holds "<router_id>.monitor" (the pid file's name has it). So, like the
// monitor it stands in for (neutron/agent/linux/daemon.py, Daemon):
//   * it keeps its argv untouched;
//   * it takes an exclusive flock on the pid file (a second one for the same
//     router refuses, as the incumbent does), daemonizes by a double fork (the
//     agent's execute() waits for the command to exit), writes its pid with no
//     newline, drops to --user/--group;
//   * it sleeps until SIGTERM or SIGINT, then removes the pid file and exits 0.
// It uses nothing but libc: no Python, no shell, no sleeping child.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace {

// --name=VALUE or --name VALUE (oslo.config accepts both).
std::optional<std::string> option(int argc, char** argv, std::string_view name) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.size() > name.size() && a.substr(0, name.size()) == name && a[name.size()] == '=')
      return std::string(a.substr(name.size() + 1));
    if (a == name && i + 1 < argc) return std::string(argv[i + 1]);
  }
  return std::nullopt;
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// A user or group as the agent gives it (its euid/egid) or as a name.
std::optional<uid_t> user_id(const std::string& s) {
  if (all_digits(s)) return static_cast<uid_t>(std::strtoul(s.c_str(), nullptr, 10));
  if (const passwd* p = ::getpwnam(s.c_str())) return p->pw_uid;
  return std::nullopt;
}
std::optional<gid_t> group_id(const std::string& s) {
  if (all_digits(s)) return static_cast<gid_t>(std::strtoul(s.c_str(), nullptr, 10));
  if (const group* g = ::getgrnam(s.c_str())) return g->gr_gid;
  return std::nullopt;
}

int fail(const char* what, const std::string& arg) {
  std::fprintf(stderr, "neutron-keepalived-state-change (havip shim): %s%s%s\n", what,
               arg.empty() ? "" : ": ", arg.c_str());
  return 1;
}

void fork_and_leave_parent() {
  pid_t pid = ::fork();
  if (pid < 0) std::_Exit(1);
  if (pid > 0) std::_Exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  auto pid_file = option(argc, argv, "--pid_file");
  if (!pid_file || pid_file->empty()) return fail("no --pid_file given", "");
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  if (auto u = option(argc, argv, "--user"); u && !u->empty() && !(uid = user_id(*u)))
    return fail("no such user", *u);
  if (auto g = option(argc, argv, "--group"); g && !g->empty() && !(gid = group_id(*g)))
    return fail("no such group", *g);

  // Run as root in a directory the neutron user owns: a symlink or a FIFO
  // planted as the pid file is refused, not written through or waited on.
  int fd = ::open(pid_file->c_str(), O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
  if (fd < 0) return fail("cannot open the pid file", *pid_file + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    return fail("the pid file is not a regular file", *pid_file);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0)
    return fail("already running (the pid file is locked)", *pid_file);

  // The signals wait in the mask from here on: none is lost between the
  // pid file and sigwait.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  ::signal(SIGHUP, SIG_IGN);

  fork_and_leave_parent();
  ::setsid();
  fork_and_leave_parent();
  if (::chdir("/") != 0) std::_Exit(1);
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO) ::close(null);
  }

  std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != ssize_t(pid.size()) ||
      ::fsync(fd) != 0) {
    ::unlink(pid_file->c_str());
    return 1;
  }
  if (::geteuid() == 0 && (uid || gid)) {
    if (::setgroups(0, nullptr) != 0 || (gid && ::setgid(*gid) != 0) ||
        (uid && ::setuid(*uid) != 0)) {
      ::unlink(pid_file->c_str());
      return 1;
    }
  }

  int sig = 0;
  while (sigwait(&stop, &sig) != 0) {
  }
  ::unlink(pid_file->c_str());
  return 0;
}
