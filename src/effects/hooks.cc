#include "effects/hooks.h"

#include <fmt/chrono.h>
#include <spdlog/spdlog.h>

#include <csignal>

#include "log/logging.h"

namespace havip {

HookQueue::HookQueue(Launcher& launcher, Observer& observer, ClockFn clock, std::string router,
                     std::string netns, std::vector<HookConfig> hooks)
    : launcher_(launcher),
      observer_(observer),
      clock_(std::move(clock)),
      router_(std::move(router)),
      netns_(std::move(netns)),
      hooks_(std::move(hooks)),
      self_(std::make_shared<HookQueue*>(this)) {}

HookQueue::~HookQueue() {
  if (running_) launcher_.signal(pid_, SIGKILL);
}

std::vector<std::string> HookQueue::environment(const std::string& router,
                                                const std::string& netns, Role from, Role to) {
  return child_environment(router, netns,
                           {"HAVIP_ROLE=" + std::string(role_name(to)),
                            "HAVIP_PREVIOUS_ROLE=" + std::string(role_name(from))});
}

void HookQueue::transition(Role from, Role to) {
  auto env = environment(router_, netns_, from, to);
  for (const auto& h : hooks_) {
    ProcessSpec spec{router_, "hook " + program_name(h.command[0]) + " (" +
                                  std::string(role_name(to)) + ")",
                     netns_, h.command, env};
    queue_.push_back(Job{std::move(spec), h.timeout, "hook", nullptr});
  }
  if (!running_) next();
}

void HookQueue::run(const std::string& effect, std::vector<Command> commands, Role from, Role to) {
  auto env = environment(router_, netns_, from, to);
  for (auto& c : commands)
    queue_.push_back(Job{ProcessSpec{router_, std::move(c.what), netns_, std::move(c.argv), env},
                         c.timeout, effect, nullptr});
  if (!running_) next();
}

void HookQueue::then(std::function<void()> fn) {
  queue_.push_back(Job{ProcessSpec{}, Millis(0), "", std::move(fn)});
  if (!running_) next();
}

void HookQueue::next() {
  while (!running_ && !queue_.empty()) {
    Job job = std::move(queue_.front());
    queue_.pop_front();
    if (job.call) {
      job.call();
      continue;
    }
    std::weak_ptr<HookQueue*> self = self_;
    auto id = launcher_.start(job.spec, [self](ExitStatus st) {
      if (auto p = self.lock()) (*p)->done(st);
    });
    if (!id) {
      observer_.effect_failed({router_, netns_, job.effect,
                               fmt::format("{} could not start: {}", job.spec.what, id.error())});
      continue;  // the next hook still runs: one broken hook must not block the others
    }
    pid_ = *id;
    kill_at_ = clock_() + job.timeout;  // from its own start, not the batch's
    running_ = std::move(job);
  }
}

void HookQueue::done(ExitStatus status) {
  if (status.success())
    log::router(spdlog::level::info, router_, netns_, "{} finished: {}", running_->spec.what,
                status.to_string());
  else if (timed_out_)  // the timeout was the failure, reported and counted once
    log::router(spdlog::level::warn, router_, netns_, "{} finished: {}", running_->spec.what,
                status.to_string());
  else
    observer_.effect_failed(
        {router_, netns_, running_->effect,
         fmt::format("{} finished: {}", running_->spec.what, status.to_string())});
  running_.reset();
  kill_at_.reset();
  timed_out_ = false;
  // The next hook's timeout counts from the moment it is started.
  next();
}

void HookQueue::tick(TimePoint now) {
  if (!running_ || !kill_at_ || *kill_at_ > now) return;
  observer_.effect_failed({router_, netns_, running_->effect,
                           fmt::format("{} timed out after {}; killing its process group",
                                       running_->spec.what, running_->timeout)});
  launcher_.signal(pid_, SIGKILL);
  kill_at_.reset();  // done() follows when the kill is seen
  timed_out_ = true;
}

std::optional<TimePoint> HookQueue::deadline() const { return kill_at_; }

void HookQueue::kill_running(const char* why) {
  log::router(spdlog::level::warn, router_, netns_, "{} killed: {}", running_->spec.what, why);
  launcher_.signal(pid_, SIGKILL);
  kill_at_.reset();  // done() follows when the kill is seen
}

void HookQueue::cancel() {
  if (running_) kill_running("stopping");
  auto jobs = std::move(queue_);
  queue_.clear();
  for (auto& job : jobs)
    if (job.call)
      job.call();  // e.g. the notification: the state it tells is written
    else
      log::router(spdlog::level::warn, router_, netns_, "{} not run: stopping", job.spec.what);
}

void HookQueue::drop_hooks() {
  if (running_ && running_->effect == "hook") kill_running("reconfigured");  // done() goes on
  std::deque<Job> kept;
  for (auto& job : queue_)
    if (job.call || job.effect != "hook")
      kept.push_back(std::move(job));
    else
      log::router(spdlog::level::warn, router_, netns_, "{} not run: reconfigured", job.spec.what);
  queue_ = std::move(kept);
}

}  // namespace havip
