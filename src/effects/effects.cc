#include "effects/effects.h"

#include <algorithm>

namespace havip {

namespace {
// Whether a reloaded router's effects can stay as they are: where its state
// file goes is the daemon's business, not a reason to restart radvd.
bool same_effects(RouterConfig a, RouterConfig b) {
  a.state_dir.clear();
  b.state_dir.clear();
  return a == b;
}
}  // namespace

void Effects::configure(const DaemonConfig& daemon, const std::vector<RouterConfig>& routers,
                        const std::function<Role(const std::string&)>& role_of, TimePoint now) {
  std::map<std::string, std::unique_ptr<RouterEffects>> next;
  for (const auto& r : routers) {
    auto it = routers_.find(r.name);
    if (it != routers_.end() && same_effects(it->second->config(), r)) {
      next.emplace(r.name, std::move(it->second));
      routers_.erase(it);
      continue;
    }
    if (it != routers_.end()) {  // changed: the old one stops, the new one waits for it
      it->second->stop(now);
      retiring_.push_back(std::move(it->second));
      routers_.erase(it);
      Role role = role_of(r.name);
      if (role != Role::unknown) waiting_[r.name] = role;
    }
    auto fresh = std::make_unique<RouterEffects>(ctx_, daemon, r);
    fresh->prepare(now);
    next.emplace(r.name, std::move(fresh));
  }
  for (auto& [name, gone] : routers_) {  // removed
    if (ctx_.notifier) ctx_.notifier->forget(name);
    gone->stop(now);
    retiring_.push_back(std::move(gone));
    waiting_.erase(name);
    held_.erase(name);
  }
  routers_ = std::move(next);
  tick(now);
}

void Effects::transition(const RoleChange& c, TimePoint now, std::uint64_t state_write) {
  auto it = routers_.find(c.router);
  if (it == routers_.end()) return;
  if (auto w = waiting_.find(c.router); w != waiting_.end())
    w->second = c.to;
  else
    it->second->enter(c.to, now);
  auto held = held_.find(c.router);
  if (state_write == 0 && held == held_.end()) {
    after_state_file(c.router, c.from, c.to);
    return;
  }
  held_[c.router].push_back(Held{c.from, c.to, state_write});
}

void Effects::state_written(const std::string& router, std::uint64_t seq) {
  auto held = held_.find(router);
  if (held == held_.end()) return;
  auto& queue = held->second;
  // In order; one without a write of its own goes with the write before it.
  while (!queue.empty() && queue.front().state_write <= seq) {
    Held h = queue.front();
    queue.pop_front();
    after_state_file(router, h.from, h.to);
  }
  if (queue.empty()) held_.erase(router);
}

void Effects::after_state_file(const std::string& router, Role from, Role to) {
  auto it = routers_.find(router);
  if (it == routers_.end()) return;
  it->second->hooks(from, to);
  it->second->announce(to);
}

void Effects::gateway_appeared(const std::string& router, TimePoint now) {
  auto it = routers_.find(router);
  if (it != routers_.end() && !waiting_.contains(router)) it->second->gateway_appeared(now);
}

void Effects::tick(TimePoint now) {
  for (auto& r : retiring_) r->tick(now);
  std::erase_if(retiring_, [](const auto& r) { return r->quiet(); });
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    bool predecessor = std::any_of(retiring_.begin(), retiring_.end(), [&](const auto& r) {
      return r->config().name == it->first;
    });
    if (predecessor) {
      ++it;
      continue;
    }
    routers_.at(it->first)->enter(it->second, now);
    it = waiting_.erase(it);
  }
  for (auto& [name, r] : routers_) r->tick(now);
}

std::optional<TimePoint> Effects::deadline() const {
  std::optional<TimePoint> best;
  auto consider = [&](const RouterEffects& r) {
    auto t = r.deadline();
    if (t && (!best || *t < *best)) best = t;
  };
  for (const auto& r : retiring_) consider(*r);
  for (const auto& [name, r] : routers_) consider(*r);
  return best;
}

void Effects::shutdown(TimePoint now) {
  waiting_.clear();
  held_.clear();
  for (auto& [name, r] : routers_) r->stop(now);
}

bool Effects::quiet() const {
  auto q = [](const auto& r) { return r->quiet(); };
  return std::all_of(retiring_.begin(), retiring_.end(), q) &&
         std::all_of(routers_.begin(), routers_.end(), [&](const auto& kv) { return q(kv.second); });
}

const RouterEffects* Effects::router(const std::string& name) const {
  auto it = routers_.find(name);
  return it == routers_.end() ? nullptr : it->second.get();
}

}  // namespace havip
