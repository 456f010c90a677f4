#include "effects/supervisor.h"

#include <algorithm>

#include <fmt/chrono.h>
#include <spdlog/spdlog.h>

#include "log/logging.h"

namespace havip {

Supervisor::Supervisor(Launcher& launcher, Observer& observer, ClockFn clock, ProcessSpec spec,
                       SupervisorPolicy policy, std::optional<ProcessSpec> check)
    : launcher_(launcher),
      observer_(observer),
      clock_(std::move(clock)),
      spec_(std::move(spec)),
      policy_(policy),
      check_(std::move(check)),
      self_(std::make_shared<Supervisor*>(this)) {
  // A supervised process that forks into the background is still the same
  // process: it is not started again while what it left behind runs.
  spec_.leftovers = ProcessSpec::Leftovers::follow;
}

Supervisor::~Supervisor() {
  // The owner stops us in order first; this is the last resort.
  if (state_ == State::running || state_ == State::checking || state_ == State::stopping)
    launcher_.signal(pid_, SIGKILL);
}

void Supervisor::want(bool run, TimePoint now) {
  wanted_ = run;
  switch (state_) {
    case State::idle:
      if (run) start(now);
      break;
    case State::checking:
      break;  // exited() starts the command only if it is still wanted then
    case State::running:
      if (!run) {
        launcher_.signal(pid_, policy_.stop_signal);
        state_ = State::stopping;
        due_ = policy_.stop_signal == SIGKILL ? std::nullopt
                                              : std::optional(now + policy_.stop_timeout);
      }
      break;
    case State::backoff:
      if (!run) {
        state_ = State::idle;
        due_.reset();
      }
      break;
    case State::stopping:
      break;  // exited() starts it again if it is wanted by then
  }
}

void Supervisor::precheck(TimePoint now) {
  if (check_ && !checked_ && state_ == State::idle) start(now);
}

void Supervisor::tick(TimePoint now) {
  if (!due_ || *due_ > now) return;
  due_.reset();
  if (state_ == State::backoff) {
    start(now);
  } else if (state_ == State::stopping) {
    log::router(spdlog::level::warn, spec_.router, spec_.netns, "{} did not stop within {}; killing it",
                spec_.what, policy_.stop_timeout);
    launcher_.signal(pid_, SIGKILL);
  }
}

std::optional<TimePoint> Supervisor::deadline() const { return due_; }

std::optional<int> Supervisor::pid() const {
  if (state_ == State::idle || state_ == State::backoff) return std::nullopt;
  return launcher_.pid_of(pid_);
}

std::string_view Supervisor::state_name(State s) {
  switch (s) {
    case State::idle: return "idle";
    case State::checking: return "checking";
    case State::running: return "running";
    case State::stopping: return "stopping";
    case State::backoff: return "backoff";
  }
  return "?";
}

void Supervisor::start(TimePoint now) {
  if (check_ && !checked_) {
    std::weak_ptr<Supervisor*> self = self_;
    auto id = launcher_.start(*check_, [self](ExitStatus st) {
      if (auto p = self.lock()) (*p)->exited(st);
    });
    if (!id) return failed(check_->what + " could not start: " + id.error(), now);
    pid_ = *id;
    state_ = State::checking;
    return;
  }
  start_main(now);
}

void Supervisor::start_main(TimePoint now) {
  std::weak_ptr<Supervisor*> self = self_;
  auto id = launcher_.start(spec_, [self](ExitStatus st) {
    if (auto p = self.lock()) (*p)->exited(st);
  });
  if (!id) return failed(spec_.what + " could not start: " + id.error(), now);
  pid_ = *id;
  state_ = State::running;
  started_ = now;
  log::router(spdlog::level::info, spec_.router, spec_.netns, "{} started", spec_.what);
}

void Supervisor::exited(ExitStatus status) {
  TimePoint now = clock_();
  State was = state_;
  due_.reset();
  if (was == State::stopping) {
    state_ = State::idle;
    report_exit(status, true, fmt::format("{} stopped ({})", spec_.what, status.to_string()));
    if (wanted_) start(now);
    return;
  }
  if (was == State::checking) {
    if (!status.success())
      return failed(fmt::format("{} rejected the configuration ({})", spec_.what,
                                status.to_string()),
                    now);
    checked_ = true;
    if (wanted_) return start_main(now);
    state_ = State::idle;
    return;
  }
  // running: it died on its own.
  if (now - started_ >= policy_.stable_after) failures_ = 0;
  Millis delay = backoff(now);
  report_exit(status, false,
           fmt::format("{} exited unexpectedly ({}); restarting in {}", spec_.what,
                       status.to_string(), delay));
}

void Supervisor::report_exit(ExitStatus status, bool expected, const std::string& message) {
  observer_.child_exited({spec_.router, spec_.netns, spec_.what, status.to_string(), expected,
                          message});
}

void Supervisor::failed(const std::string& why, TimePoint now) {
  std::string effect(effect_of(spec_));
  if (!wanted_) {  // a check ahead of time: reported now, tried again at the start
    state_ = State::idle;
    observer_.effect_failed({spec_.router, spec_.netns, effect, why});
    return;
  }
  Millis delay = backoff(now);
  observer_.effect_failed(
      {spec_.router, spec_.netns, effect, fmt::format("{}; restarting in {}", why, delay)});
}

Millis Supervisor::backoff(TimePoint now) {
  Millis delay = policy_.restart_initial;
  for (unsigned i = 0; i < failures_ && delay < policy_.restart_max; ++i) delay *= 2;
  delay = std::min(delay, policy_.restart_max);
  ++failures_;
  state_ = State::backoff;
  due_ = now + delay;
  return delay;
}

}  // namespace havip
