// Helpers of the benchmark driver: clocks, percentiles, child processes,
// /proc sampling and the state-file watch. Nothing here knows about netlink.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/unique_fd.h"

namespace bench {

using havip::UniqueFd;

// CLOCK_MONOTONIC in nanoseconds: the clock every timestamp here uses.
std::int64_t now_ns();
void sleep_us(std::int64_t us);

// p50/p90/p99/max of samples in microseconds (nearest rank).
struct Summary {
  std::size_t n = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};
Summary summarize(std::vector<double> samples_us);

// One line of the figures table: section, metric, value, goal, verdict.
// Printed tab-separated on stdout with a "ROW" tag so bench/run can collect them.
void row(const std::string& section, const std::string& metric, const std::string& value,
         const std::string& goal = "", const std::string& verdict = "");
std::string fmt_us(double us);         // "123 µs" or "1.23 ms"
std::string fmt_summary(const Summary& s);  // "p50 … / p90 … / p99 … / max …"
std::string verdict(bool ok);          // "ok" or "MISS"

// A child started by us; stopped by PID only.
struct Child {
  pid_t pid = -1;
  // SIGTERM, then SIGKILL after `grace_ms`; returns how long it took to exit (ms).
  double stop(int grace_ms = 5000);
  Child() = default;
  Child(Child&& o) noexcept : pid(o.pid) { o.pid = -1; }
  Child& operator=(Child&& o) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();
};

// fork + exec argv with extra environment entries; stdout and stderr go to log_path.
// The child gets SIGTERM should the driver die first.
Child spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
            const std::string& log_path);

// The sd_notify(3) protocol from the receiving end: a datagram socket at `path`.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path);
  const std::string& path() const { return path_; }
  // Waits for a datagram containing READY=1; returns its arrival time (ns) or nullopt.
  std::optional<std::int64_t> wait_ready(int timeout_ms);
  // Reads what is queued without blocking (a daemon's sd_notify blocks once
  // the queue is full, so whoever holds the socket must keep reading it, as
  // systemd does). Returns the number of datagrams read.
  int drain();
  int fd() const { return fd_.get(); }
  long received() const { return received_; }

 private:
  std::string path_;
  UniqueFd fd_;
  long received_ = 0;
};

// What /proc says about one process (or a process tree, summed).
struct ProcSample {
  long rss_kb = 0, hwm_kb = 0, pss_kb = 0, anon_kb = 0, file_kb = 0;
  long voluntary = 0, involuntary = 0;  // context switches
  std::int64_t cpu_ns = 0;              // time on CPU (schedstat)
  int processes = 0;
  int fds = 0;
};
ProcSample sample(pid_t pid);
ProcSample sample_tree(pid_t root);  // root and all its descendants
// True when every thread of pid sleeps in epoll/poll/select or on a futex (the loop is
// idle and no helper thread is at work).
bool idle_in_poll(pid_t pid);

// inotify on state directories: reports "state" being renamed into place
// (IN_MOVED_TO, havipd) or rewritten in place (IN_CLOSE_WRITE, the incumbent).
class StateWatch {
 public:
  StateWatch();
  bool add(const std::string& dir, int key);  // key is handed back on events
  // Also keeps `n` drained while waiting.
  void drain_also(NotifySocket* n) { notify_ = n; }
  // Waits up to timeout_ms for events; calls on_event(key, t_ns) for each.
  // Returns the number of events seen (0 on timeout).
  int wait(int timeout_ms, const std::function<void(int key, std::int64_t t)>& on_event);
  int fd() const { return fd_.get(); }  // readable when events are queued (for one's own poll)

 private:
  UniqueFd fd_;
  std::map<int, int> keys_;  // watch descriptor -> key
  NotifySocket* notify_ = nullptr;
};

// Counts entries created or removed in a directory (e.g. /run/netns) while
// it lives: wake-ups a namespace watcher cannot avoid.
class DirChurn {
 public:
  explicit DirChurn(const std::string& dir);
  long count();  // events so far

 private:
  UniqueFd fd_;
  long seen_ = 0;
};

std::optional<std::string> read_file(const std::string& path);
bool write_file(const std::string& path, const std::string& text);

}  // namespace bench
