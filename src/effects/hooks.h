// Hooks of one router: run once per applied transition, strictly in order,
// one at a time, each with a timeout after which its process group is killed.
// The same queue runs the router's conntrackd commands (core/conntrackd.h) and
// holds what must follow them (the L3 agent's notification: then()).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/types.h"
#include "effects/observer.h"
#include "effects/process.h"

namespace havip {

class HookQueue {
 public:
  using ClockFn = std::function<TimePoint()>;
  HookQueue(Launcher& launcher, Observer& observer, ClockFn clock, std::string router,
            std::string netns, std::vector<HookConfig> hooks);
  ~HookQueue();
  HookQueue(const HookQueue&) = delete;
  HookQueue& operator=(const HookQueue&) = delete;

  // Queues every hook for the transition from -> to.
  void transition(Role from, Role to);
  // Queues commands for the transition from -> to, each named `what` in the
  // log; a failure is reported as the effect `effect` ("conntrackd").
  struct Command {
    std::string what;
    std::vector<std::string> argv;
    Millis timeout;
  };
  void run(const std::string& effect, std::vector<Command> commands, Role from, Role to);
  // Calls `fn` once everything queued before it has finished (or at once).
  void then(std::function<void()> fn);
  void tick(TimePoint now);
  std::optional<TimePoint> deadline() const;
  // Shutdown: queued hooks are dropped (and logged), a running one is killed;
  // what waited for them with then() is called now.
  void cancel();
  // A router's configuration changed: its hooks are dropped and a running one
  // killed as by cancel(), but the commands queued with run() (the
  // transition's conntrackd commands) still run to their end, and what waits
  // for them with then() is called when they are done.
  void drop_hooks();
  bool idle() const { return !running_ && queue_.empty(); }
  std::size_t queued() const { return queue_.size(); }

  // The environment a hook gets: nothing inherited.
  static std::vector<std::string> environment(const std::string& router, const std::string& netns,
                                              Role from, Role to);

 private:
  struct Job {
    ProcessSpec spec;
    Millis timeout;
    std::string effect = "hook";  // as reported when it fails
    std::function<void()> call;   // then(): called when reached, nothing runs
  };
  void next();
  void done(ExitStatus status);
  void kill_running(const char* why);  // SIGKILL to the running job, said with `why`

  Launcher& launcher_;
  Observer& observer_;
  ClockFn clock_;
  std::string router_, netns_;
  std::vector<HookConfig> hooks_;
  std::deque<Job> queue_;
  std::optional<Job> running_;
  ProcessId pid_ = 0;
  std::optional<TimePoint> kill_at_;
  bool timed_out_ = false;  // the running one was killed for its timeout
  std::shared_ptr<HookQueue*> self_;
};

}  // namespace havip
