#include "effects/effects.h"

#include <algorithm>
#include <set>

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
  std::set<std::string> names;
  for (const auto& r : routers) names.insert(r.name);
  for (auto it = routers_.begin(); it != routers_.end();) {  // removed (or renamed away)
    if (names.contains(it->first)) {
      ++it;
      continue;
    }
    if (ctx_.notifier) ctx_.notifier->forget(it->first);
    it->second->stop(now);
    retiring_.push_back(std::move(it->second));
    waiting_.erase(it->first);
    held_.erase(it->first);
    it = routers_.erase(it);
  }
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
    }
    // A changed router, or one that takes over another's processes (a
    // renamed router's service), waits until the old processes are gone.
    if (predecessor_of(r)) waiting_[r.name] = role_of(r.name);
    auto fresh = std::make_unique<RouterEffects>(ctx_, daemon, r);
    fresh->prepare(now);
    next.emplace(r.name, std::move(fresh));
  }
  routers_ = std::move(next);
  tick(now);
}

const RouterEffects* Effects::predecessor_of(const RouterConfig& r) const {
  for (const auto& old : retiring_)
    if (succeeds(r, old->config())) return old.get();
  return nullptr;
}

// Whether `next` must not run its processes before those of `old` are gone:
// the same router, or one that runs a service of the same command, or radvd
// in the same namespace (two radvd would advertise from one link-local).
bool Effects::succeeds(const RouterConfig& next, const RouterConfig& old) {
  if (next.name == old.name) return true;
  if (next.radvd && old.radvd && next.netns == old.netns) return true;
  return std::any_of(next.services.begin(), next.services.end(), [&](const ServiceConfig& s) {
    return std::any_of(old.services.begin(), old.services.end(),
                       [&](const ServiceConfig& o) { return o.command == s.command; });
  });
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
    auto& r = *routers_.at(it->first);
    if (predecessor_of(r.config())) {
      ++it;
      continue;
    }
    if (it->second != Role::unknown) r.enter(it->second, now);
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
