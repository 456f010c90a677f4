// The real Launcher: clone+execve inside the namespace (enter, spawn, leave: a
// child inherits the namespace of the thread that spawns it), a pidfd watched
// by sd-event for the exit, and a pipe for the child's output.
//
// No child outlives its role. havipd is a child subreaper, so whatever a
// child leaves behind (a service that daemonizes, a hook's `cmd &`, a shell
// wrapper's grandchild) is re-parented to havipd rather than to init. Each
// started process is a *unit*: its main process and every process it left
// behind, found in /proc when the main process or one of the unit exits, on
// SIGCHLD and before each signal, and attributed by session or process group,
// else by HAVIP_ROUTER in its environment, else to the unit whose process just
// exited. A unit's processes are signalled together; it has exited when all
// of them have. Why not cgroups: they would need a delegated cgroup v2
// subtree (Delegate=yes and no ProtectControlGroups= under systemd; nothing
// without systemd, in containers or on cgroup v1 hosts), while a subreaper
// works wherever havipd runs. What it cannot do: follow a process after
// havipd itself was killed with SIGKILL (then systemd's KillMode= stops the
// rest of the unit's cgroup).
#pragma once

#include <signal.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "core/unique_fd.h"
#include "effects/observer.h"
#include "effects/process.h"

struct sd_event;
struct sd_event_source;
struct signalfd_siginfo;

namespace havip {

class SpawnLauncher final : public Launcher {
 public:
  // `netns_fd(name)` returns a namespace fd to enter (owned by the caller),
  // or -1 when the namespace is not available.
  using NetnsFd = std::function<int(const std::string& netns)>;

  // Makes havipd a child subreaper.
  SpawnLauncher(sd_event* loop, Observer& observer, int home_netns, NetnsFd netns_fd);
  ~SpawnLauncher() override;

  tl::expected<ProcessId, std::string> start(const ProcessSpec& spec, OnExit on_exit) override;
  void signal(ProcessId id, int sig) override;
  std::size_t running() const { return units_.size(); }
  std::optional<int> pid_of(ProcessId id) const override;

  // Bytes read from a child's output per wake-up: a child that writes as
  // fast as it can gets this much of the loop's time, then waits its turn.
  static constexpr std::size_t kReadSlice = 64 * 1024;

 private:
  struct Unit;
  struct Adopted;
  static int on_exit(sd_event_source* s, const siginfo_t* si, void* userdata);
  static int on_adopted_exit(sd_event_source* s, const siginfo_t* si, void* userdata);
  static int on_output(sd_event_source* s, int fd, std::uint32_t revents, void* userdata);
  static int on_throttle_end(sd_event_source* s, std::uint64_t usec, void* userdata);
  static int on_sigchld(sd_event_source* s, const signalfd_siginfo* si, void* userdata);

  // Finds the processes re-parented to havipd and gives each to its unit;
  // `context`: the unit one of whose processes just exited, if any.
  void adopt_orphans(Unit* context);
  Unit* owner_of(pid_t pid, Unit* context);
  void adopt(Unit& unit, pid_t pid);
  void orphan_without_unit(pid_t pid);
  void main_exited(Unit& unit, ExitStatus status);
  // Looks at /proc once the pending exits are dispatched.
  void look_soon();
  static int on_look(sd_event_source* s, void* userdata);
  // `context`: the unit that just lost a process, when known.
  void look(Unit* context);
  // A unit lost a process: what it left behind is killed or followed, or,
  // when nothing of it is left, its exit is reported.
  void settle(Unit& unit);
  // The unit's last process is gone: its exit is reported and it is removed.
  void finish(Unit& unit);
  void kill_everything();

  sd_event* loop_;
  int home_netns_;
  NetnsFd netns_fd_;
  Observer& observer_;
  pid_t self_;        // havipd: a child whose parent is not this any more stops
  UniqueFd devnull_;  // the children's stdin
  ProcessId next_id_ = 1;
  std::map<ProcessId, std::unique_ptr<Unit>> units_;
  std::map<pid_t, ProcessId> pids_;  // every known process of a unit
  std::map<pid_t, std::unique_ptr<Adopted>> strays_;  // left behind, no unit: being killed
  std::set<ProcessId> lost_;  // units that lost a process since the last look
  sd_event_source* sigchld_ = nullptr;
  sd_event_source* look_ = nullptr;
};

}  // namespace havip
