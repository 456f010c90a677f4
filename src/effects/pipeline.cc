#include "effects/pipeline.h"

#include <algorithm>
#include <set>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "log/logging.h"

namespace havip {

namespace {
// Whether a reloaded router's effects can stay as they are: where its state
// file goes is the state file's business, not a reason to restart radvd.
bool same_effects(RouterConfig a, RouterConfig b) {
  // Neither the state file's directory nor the track file (daemon/track_files.h)
  // is an effect of the pipeline's: a change of them restarts nothing. Nor
  // conntrackd's commands (read at each transition): a Neutron router's
  // conntrackd.conf appearing must not restart its radvd.
  for (RouterConfig* c : {&a, &b}) {
    c->state_dir.clear();
    c->conntrackd.reset();
    c->track_file.clear();
    c->track_grace = c->track_failure_timeout = Millis(0);
    c->track_failure_value = 0;
  }
  return a == b;
}

// A state file write that takes longer is shown as failing (havipctl).
constexpr Millis kStateWriteSlow{1000};

// A state file that could not be written is tried again after 100 ms, doubling to 30 s.
Backoff state_file_backoff() { return Backoff(Millis(100), Millis(30000)); }
}  // namespace

Pipeline::Pipeline(EffectsContext ctx, std::unique_ptr<StateQueue> state_files)
    : ctx_(ctx), state_files_(std::move(state_files)), state_retry_(state_file_backoff()) {}

void Pipeline::configure(const DaemonConfig& daemon, const std::vector<RouterConfig>& routers,
                         const std::function<Role(const std::string&)>& role_of, TimePoint now) {
  std::set<std::string> names;
  for (const auto& r : routers) names.insert(r.name);
  for (auto it = routers_.begin(); it != routers_.end();) {  // removed (or renamed away)
    if (names.contains(it->first)) {
      ++it;
      continue;
    }
    // Not Neutron's: their directory is being removed by Neutron, which a
    // write would race.
    const RouterConfig& old = it->second.effects->config();
    if (it->second.role == Role::primary && old.create_state_dir && !stopping_)
      state_files_->submit(old.state_dir, old.name, Role::backup, false);
    state_retry_.clear(it->first);
    // Retired first: a notification that waited for its conntrackd commands
    // is handed over (HookQueue::cancel()), then forgotten with the router.
    retire(std::move(it->second.effects), now);
    if (ctx_.notifier) ctx_.notifier->forget(it->first);
    it = routers_.erase(it);
  }
  for (const auto& r : routers) {
    auto& entry = routers_[r.name];
    if (entry.effects && same_effects(entry.effects->config(), r)) {
      entry.effects->reconfigured(r);  // the state file's directory, if that changed
      continue;
    }
    if (entry.effects)  // changed: the old one stops (its conntrackd commands finish)
      retire(std::move(entry.effects), now, RouterEffects::Stop::reconfigured);
    entry.role = role_of(r.name);
    entry.effects = std::make_unique<RouterEffects>(ctx_, daemon, r);
    entry.effects->prepare(now);
    // A changed router, or one that takes over another's processes (a
    // renamed router's service), waits until the old processes are gone.
    if (predecessor_of(r)) entry.waiting = entry.role;
  }
  tick(now);
}

void Pipeline::retire(std::unique_ptr<RouterEffects> effects, TimePoint now,
                      RouterEffects::Stop why) {
  effects->stop(now, why);
  retiring_.push_back(std::move(effects));
}

const RouterEffects* Pipeline::predecessor_of(const RouterConfig& r) const {
  for (const auto& old : retiring_)
    if (succeeds(r, old->config())) return old.get();
  return nullptr;
}

// Whether `next` must not run its processes before those of `old` are gone:
// the same router, or one that runs a service of the same command, or radvd
// in the same namespace (two radvd would advertise from one link-local).
bool Pipeline::succeeds(const RouterConfig& next, const RouterConfig& old) {
  if (next.name == old.name) return true;
  if (next.radvd && old.radvd && next.netns == old.netns) return true;
  return std::any_of(next.services.begin(), next.services.end(), [&](const ServiceConfig& s) {
    return std::any_of(old.services.begin(), old.services.end(),
                       [&](const ServiceConfig& o) { return o.command == s.command; });
  });
}

void Pipeline::apply(const RoleChange& c, TimePoint now) {
  auto it = routers_.find(c.router);
  if (it == routers_.end()) {  // removed meanwhile: said, nothing to apply
    ctx_.observer.transition(c);
    return;
  }
  Entry& entry = it->second;
  entry.role = c.to;
  std::uint64_t write = c.to != Role::unknown ? write_state(c.router, c.to) : 0;
  if (!stopping_) {
    if (entry.waiting)
      entry.waiting = c.to;
    else
      entry.effects->enter(c.to, now);
    if (write == 0 && entry.held.empty())
      after_state_file(entry, c.from, c.to);
    else
      entry.held.push_back(Held{c.from, c.to, write});
  }
  ctx_.observer.transition(c);
}

std::uint64_t Pipeline::write_state(const std::string& router, Role role) {
  const RouterConfig& config = routers_.at(router).effects->config();
  state_retry_.attempting(router);  // a retry is not started again until this one is done
  return state_files_->submit(config.state_dir, router, told_role(role), config.create_state_dir);
}

void Pipeline::written(TimePoint now) {
  for (auto& r : state_files_->take()) {
    auto it = routers_.find(r.router);
    if (r.outcome || it == routers_.end()) {  // a removed router's file needs no retry
      state_retry_.clear(r.router);
      if (r.outcome && !*r.outcome && it != routers_.end())
        log::router(spdlog::level::info, r.router, it->second.effects->config().netns,
                    "state file not written: {}/{} is gone (the router is being removed)",
                    r.dir, r.router);
    } else {
      auto delay = state_retry_.failed(r.router, now);
      ctx_.observer.effect_failed({r.router, it->second.effects->config().netns, "state_file",
                                   fmt::format("cannot write state file: {}; retrying in {}",
                                               r.outcome.error(), delay.value_or(Millis(0)))});
    }
    if (it != routers_.end()) state_written(it->second, r.seq);
  }
}

void Pipeline::state_written(Entry& entry, std::uint64_t seq) {
  // In order; one without a write of its own goes with the write before it.
  while (!entry.held.empty() && entry.held.front().state_write <= seq) {
    Held h = entry.held.front();
    entry.held.pop_front();
    after_state_file(entry, h.from, h.to);
  }
}

void Pipeline::after_state_file(Entry& entry, Role from, Role to) {
  entry.effects->written(from, to);
}

void Pipeline::rewrite_state_files() {
  state_retry_ = state_file_backoff();
  for (const auto& [name, entry] : routers_)
    if (entry.role != Role::unknown) write_state(name, entry.role);
}

void Pipeline::gateway_appeared(const std::string& router, TimePoint now) {
  auto it = routers_.find(router);
  if (it != routers_.end() && !it->second.waiting && !stopping_)
    it->second.effects->gateway_appeared(now);
}

void Pipeline::tick(TimePoint now) {
  for (const auto& router : state_retry_.due(now)) {
    auto it = routers_.find(router);
    if (it == routers_.end() || it->second.role == Role::unknown)
      state_retry_.clear(router);
    else
      write_state(router, it->second.role);
  }
  for (auto& r : retiring_) r->tick(now);
  std::erase_if(retiring_, [](const auto& r) { return r->quiet(); });
  for (auto& [name, entry] : routers_) {
    if (entry.waiting && !predecessor_of(entry.effects->config())) {
      if (*entry.waiting != Role::unknown) entry.effects->enter(*entry.waiting, now);
      entry.waiting.reset();
    }
    entry.effects->tick(now);
  }
}

std::optional<TimePoint> Pipeline::deadline() const {
  std::optional<TimePoint> best = state_retry_.next();
  auto consider = [&](const RouterEffects& r) {
    auto t = r.deadline();
    if (t && (!best || *t < *best)) best = t;
  };
  for (const auto& r : retiring_) consider(*r);
  for (const auto& [name, entry] : routers_) consider(*entry.effects);
  return best;
}

void Pipeline::shutdown(TimePoint now) {
  stopping_ = true;
  for (auto& [name, entry] : routers_) {
    entry.waiting.reset();
    entry.held.clear();
    entry.effects->stop(now);
  }
}

bool Pipeline::quiet() const {
  auto q = [](const auto& r) { return r->quiet(); };
  return std::all_of(retiring_.begin(), retiring_.end(), q) &&
         std::all_of(routers_.begin(), routers_.end(),
                     [&](const auto& kv) { return q(kv.second.effects); });
}

std::vector<std::string> Pipeline::unwritten() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : routers_)
    if (state_files_->pending_since(name)) out.push_back(name);
  return out;
}

bool Pipeline::state_file_failing(const std::string& router, TimePoint now) const {
  if (state_retry_.contains(router)) return true;
  auto since = state_files_->pending_since(router);
  return since && now - *since > kStateWriteSlow;
}

const RouterEffects* Pipeline::router(const std::string& name) const {
  auto it = routers_.find(name);
  return it == routers_.end() ? nullptr : it->second.effects.get();
}

}  // namespace havip
