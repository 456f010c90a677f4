#include "effects/router_effects.h"

#include <spdlog/spdlog.h>

#include <cerrno>

#include "core/conntrackd.h"
#include "core/sysctl_plan.h"
#include "log/logging.h"

namespace havip {

namespace {

constexpr const char* kSysctls = "sysctls";
constexpr const char* kRadvd = "radvd";

ProcessSpec service_spec(const RouterConfig& r, const ServiceConfig& s) {
  return ProcessSpec{r.name, "service " + program_name(s.command[0]), r.netns, s.command,
                     child_environment(r.name, r.netns)};
}

}  // namespace

RouterEffects::RouterEffects(EffectsContext ctx, const DaemonConfig& daemon,
                             const RouterConfig& router)
    : ctx_(ctx),
      config_(router),
      hooks_(ctx.launcher, ctx.observer, ctx.clock, router.name, router.netns, router.hooks),
      retry_(Millis(100), Millis(30000)) {
  if (router.radvd)
    radvd_ = std::make_unique<RadvdEffect>(ctx.launcher, ctx.observer, ctx.files, ctx.clock,
                                           daemon, router);
  for (const auto& s : router.services) {
    SupervisorPolicy policy;
    policy.stop_timeout = s.stop_timeout;
    services_.push_back(std::make_unique<Supervisor>(ctx.launcher, ctx.observer, ctx.clock,
                                                     service_spec(router, s), policy));
  }
}

void RouterEffects::prepare(TimePoint now) {
  if (radvd_) radvd_->precheck(now);
}

void RouterEffects::announce(Role to) {
  // Last: the L3 agent hears of a state once the state file and every other
  // effect are in place (Pipeline calls this once the state file is written).
  if (config_.notify_l3_agent && ctx_.notifier && to != Role::unknown)
    ctx_.notifier->notify(config_.name, told_role(to));
}

void RouterEffects::written(Role from, Role to) {
  auto commands = config_.conntrackd ? conntrackd_commands(*config_.conntrackd, from, to)
                                     : std::vector<std::vector<std::string>>{};
  if (commands.empty()) {
    if (!config_.hooks.empty()) hooks_.transition(from, to);
    announce(to);
    return;
  }
  std::vector<HookQueue::Command> queued;
  for (auto& argv : commands) {
    std::string what = fmt::format("conntrackd {} ({})", argv.back(), role_name(told_role(to)));
    queued.push_back({std::move(what), std::move(argv), config_.conntrackd->timeout});
  }
  hooks_.run("conntrackd", std::move(queued), from, to);
  // Behind the commands (and whatever this router's queue still runs): the
  // agent hears of a state once conntrackd has taken it, as from the incumbent.
  hooks_.then([this, to] { announce(to); });
  if (!config_.hooks.empty()) hooks_.transition(from, to);
}

void RouterEffects::enter(Role role, TimePoint now) {
  role_ = role;
  apply(now);
}

void RouterEffects::stop(TimePoint now, Stop why) {
  role_ = Role::unknown;
  if (why == Stop::reconfigured)
    hooks_.drop_hooks();  // conntrackd's commands and the notification go on
  else
    hooks_.cancel();
  retry_.clear(kSysctls);
  retry_.clear(kRadvd);
  if (radvd_) apply_radvd(now);
  for (auto& s : services_) s->want(false, now);
}

void RouterEffects::apply(TimePoint now) {
  if (!apply_sysctls()) retry_.failed(kSysctls, now);
  if (radvd_ && !apply_radvd(now)) retry_.failed(kRadvd, now);
  for (auto& s : services_) s->want(role_ == Role::primary, now);
}

void RouterEffects::gateway_appeared(TimePoint now) {
  if (role_ != Role::unknown && !apply_sysctls()) retry_.failed(kSysctls, now);
}

bool RouterEffects::apply_sysctls() {
  bool ok = true;
  const std::string gateway = "net/ipv6/conf/" + config_.gateway_interface + "/";
  auto writes = sysctls_for(config_, role_);
  auto results = ctx_.sysctls.set_all(config_.netns, writes);
  bool gateway_missing = false;
  for (std::size_t i = 0; i < writes.size(); ++i) {
    const auto& w = writes[i];
    const auto& r = results[i];
    if (!r && r.error().error == ENOENT && !config_.gateway_interface.empty() &&
        w.path.starts_with(gateway)) {
      // Normal on a Neutron node: the gateway port is plugged later. Its
      // values are written when it appears (GatewayAppeared), no retry needed.
      if (!gateway_missing)
        log::router(spdlog::level::info, config_.name, config_.netns,
                    "gateway interface {} does not exist yet; its sysctls follow when it appears",
                    config_.gateway_interface);
      gateway_missing = true;
      continue;
    }
    if (!r) {
      ctx_.observer.effect_failed({config_.name, config_.netns, "sysctls",
                                   fmt::format("sysctl {}: {}", w.path, r.error().message)});
      ok = false;  // the others are still written
    } else if (*r) {
      log::router(spdlog::level::debug, config_.name, config_.netns, "sysctl {} = {}", w.path,
                  w.value);
    }
  }
  if (ok) retry_.clear(kSysctls);
  return ok;
}

bool RouterEffects::apply_radvd(TimePoint now) {
  auto r = radvd_->role(role_, now);
  if (!r) {
    ctx_.observer.effect_failed({config_.name, config_.netns, "radvd", "radvd: " + r.error()});
    return false;
  }
  retry_.clear(kRadvd);
  return true;
}

void RouterEffects::tick(TimePoint now) {
  for (const auto& key : retry_.due(now)) {
    if (key == kSysctls && !apply_sysctls()) retry_.failed(kSysctls, now);
    if (key == kRadvd && !apply_radvd(now)) retry_.failed(kRadvd, now);
  }
  if (radvd_) radvd_->tick(now);
  for (auto& s : services_) s->tick(now);
  hooks_.tick(now);
}

std::optional<TimePoint> RouterEffects::deadline() const {
  std::optional<TimePoint> best = retry_.next();
  auto consider = [&](std::optional<TimePoint> t) {
    if (t && (!best || *t < *best)) best = t;
  };
  if (radvd_) consider(radvd_->deadline());
  for (const auto& s : services_) consider(s->deadline());
  consider(hooks_.deadline());
  return best;
}

bool RouterEffects::quiet() const {
  if (radvd_ && !radvd_->quiet()) return false;
  for (const auto& s : services_)
    if (!s->quiet()) return false;
  return hooks_.idle();
}

std::vector<std::string> RouterEffects::failing() const {
  std::vector<std::string> out;
  for (const char* k : {kSysctls, kRadvd})
    if (retry_.contains(k)) out.emplace_back(k);
  return out;
}

std::vector<std::string> RouterEffects::unhealthy() const {
  std::vector<std::string> out = failing();
  auto down = [](const Supervisor& s) {
    return s.wanted() && s.state() != Supervisor::State::running;
  };
  if (radvd_ && down(radvd_->supervisor()) && !retry_.contains(kRadvd)) out.emplace_back(kRadvd);
  for (const auto& s : services_)
    if (down(*s)) out.push_back(s->spec().what);
  return out;
}

}  // namespace havip
