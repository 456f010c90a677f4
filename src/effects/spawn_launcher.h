// The real Launcher: clone+execve inside the namespace (enter, spawn, leave: a
// child inherits the namespace of the thread that spawns it), a pidfd watched
// by sd-event for the exit, and a pipe for the child's output.
#pragma once

#include <signal.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/unique_fd.h"
#include "effects/process.h"

struct sd_event;
struct sd_event_source;

namespace havip {

class SpawnLauncher final : public Launcher {
 public:
  // `netns_fd(name)` returns a namespace fd to enter (owned by the caller),
  // or -1 when the namespace is not available.
  using NetnsFd = std::function<int(const std::string& netns)>;

  SpawnLauncher(sd_event* loop, int home_netns, NetnsFd netns_fd);
  ~SpawnLauncher() override;

  tl::expected<ProcessId, std::string> start(const ProcessSpec& spec, OnExit on_exit) override;
  void signal(ProcessId id, int sig) override;
  std::size_t running() const { return children_.size(); }
  std::optional<int> pid_of(ProcessId id) const override;

 private:
  struct Child;
  static int on_exit(sd_event_source* s, const siginfo_t* si, void* userdata);
  static int on_output(sd_event_source* s, int fd, std::uint32_t revents, void* userdata);

  sd_event* loop_;
  int home_netns_;
  NetnsFd netns_fd_;
  ProcessId next_id_ = 1;
  std::map<ProcessId, std::unique_ptr<Child>> children_;
};

}  // namespace havip
