// Starting child processes (radvd, services, hooks) inside a router's
// namespace, and learning when they exit. Behind an interface so that the
// supervision logic is tested with a recording fake and a fake clock.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace havip {

struct ProcessSpec {
  std::string router;  // for log lines and fields
  std::string what;    // "radvd", "service haproxy", "hook notify": for log lines
  std::string netns;   // "" = havipd's own namespace
  std::vector<std::string> argv;  // argv[0] is an absolute path; no shell
  std::vector<std::string> env;   // the whole environment, "KEY=value"
  // What becomes of the processes it leaves behind when it exits (a hook's
  // `cmd &`, a service that forks into the background): `kill`ed at once (a
  // hook, a check: one-shot commands), or `follow`ed as the same process
  // until they are gone too (a supervised service or radvd that daemonized:
  // it is not started again while they run, and is stopped with them).
  enum class Leftovers { kill, follow };
  Leftovers leftovers = Leftovers::kill;
  bool operator==(const ProcessSpec&) const = default;
};

struct ExitStatus {
  int code = 0;    // exit code when signal == 0
  int signal = 0;  // the signal that ended it, or 0
  bool success() const { return signal == 0 && code == 0; }
  std::string to_string() const;  // "exit code 1", "killed by SIGKILL"
  bool operator==(const ExitStatus&) const = default;
};

using ProcessId = std::uint64_t;  // the launcher's handle, never reused

// The environment every child gets — nothing of havipd's is inherited — plus
// `extra` ("KEY=value"): PATH, HAVIP_ROUTER, HAVIP_NAMESPACE, extra.
std::vector<std::string> child_environment(const std::string& router, const std::string& netns,
                                           std::vector<std::string> extra = {});
// The effect a process belongs to, as HAVIP_EFFECT and the metrics name it:
// "radvd", "hook" or "service" (from ProcessSpec::what).
std::string_view effect_of(const ProcessSpec& spec);
// "/usr/sbin/haproxy" -> "haproxy": how log lines name a command.
std::string program_name(const std::string& path);

class Launcher {
 public:
  using OnExit = std::function<void(ExitStatus)>;
  virtual ~Launcher() = default;
  // Starts the process in its own session (process group) with stdin from
  // /dev/null and stdout/stderr logged line by line. `on_exit` is called once,
  // from the event loop, never from inside start() or signal(): when the
  // process exits (Leftovers::kill: what it left behind is killed) or, with
  // Leftovers::follow, once it and every process it left behind are gone.
  virtual tl::expected<ProcessId, std::string> start(const ProcessSpec& spec, OnExit on_exit) = 0;
  // Sends `sig` to the process's whole group and to every process it left
  // behind (and to those it leaves behind later); a no-op once all are gone.
  virtual void signal(ProcessId id, int sig) = 0;
  // The operating system's pid of a running process (for havipctl status);
  // nullopt once it has exited, or for launchers without real processes.
  virtual std::optional<int> pid_of(ProcessId) const { return std::nullopt; }
};

}  // namespace havip
