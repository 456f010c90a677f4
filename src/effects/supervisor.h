// Keeps one process (radvd, a service) running while it is wanted: starts it,
// restarts it with exponential backoff when it dies, stops it with a signal
// and escalates to SIGKILL after a timeout. An optional check command (radvd
// --configtest) must succeed once before the first start.
//
//   state      want(true)         want(false)           exited               tick (due)
//   idle       start              -                     -                    -
//   checking   -                  (the check finishes;  ok: start if wanted  -
//                                 only the command      / else backoff if
//                                 itself is stopped)    wanted, idle if not
//   running    -                  stop signal ->        backoff (restart)    -
//                                 stopping
//   stopping   (restart on exit)  -                     idle, or start if    SIGKILL
//                                                       wanted again
//   backoff    -                  idle                  -                    start
#pragma once

#include <csignal>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/types.h"
#include "effects/observer.h"
#include "effects/process.h"

namespace havip {

struct SupervisorPolicy {
  int stop_signal = SIGTERM;           // SIGKILL for radvd (DESIGN.md §3.7)
  Millis stop_timeout{5000};           // then SIGKILL
  Millis restart_initial{100};         // backoff after an unexpected exit
  Millis restart_max{60000};
  Millis stable_after{10000};          // a run this long resets the backoff
};

class Supervisor {
 public:
  enum class State { idle, checking, running, stopping, backoff };

  using ClockFn = std::function<TimePoint()>;
  Supervisor(Launcher& launcher, Observer& observer, ClockFn clock, ProcessSpec spec,
             SupervisorPolicy policy,
             std::optional<ProcessSpec> check = std::nullopt);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  void want(bool run, TimePoint now);
  // Runs the check now, ahead of the first start, so that a rejected
  // configuration is reported at start-up and the first start is immediate.
  void precheck(TimePoint now);
  void tick(TimePoint now);
  std::optional<TimePoint> deadline() const;

  State state() const { return state_; }
  bool wanted() const { return wanted_; }
  // Nothing of ours is running (safe to remove its files, or to exit).
  bool quiet() const { return state_ == State::idle || state_ == State::backoff; }
  unsigned failures() const { return failures_; }
  // The pid of the process running now (the check, the main process, or one
  // being stopped), if any.
  std::optional<int> pid() const;
  static std::string_view state_name(State s);
  const ProcessSpec& spec() const { return spec_; }

 private:
  void start(TimePoint now);
  void start_main(TimePoint now);
  void exited(ExitStatus status);
  void failed(const std::string& why, TimePoint now);
  // An exit of the process: expected (we stopped it) or not.
  void report_exit(ExitStatus status, bool expected, const std::string& message);
  // Enters backoff after a failure; returns the delay before the next start.
  Millis backoff(TimePoint now);

  Launcher& launcher_;
  Observer& observer_;
  ClockFn clock_;
  ProcessSpec spec_;
  SupervisorPolicy policy_;
  std::optional<ProcessSpec> check_;
  bool checked_ = false;
  bool wanted_ = false;
  State state_ = State::idle;
  ProcessId pid_ = 0;
  TimePoint started_{};
  std::optional<TimePoint> due_;  // backoff restart or SIGKILL escalation
  unsigned failures_ = 0;
  // Exit callbacks may arrive after this object is gone (a reload removed
  // the router while its process was still exiting): they hold this token.
  std::shared_ptr<Supervisor*> self_;
};

}  // namespace havip
