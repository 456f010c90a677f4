#include "core/engine.h"

#include <algorithm>

namespace havip {

namespace {

std::string vip_on(const RouterConfig& c) {
  return "vip " + c.vip.to_string() + " on " + c.interface + " " + c.where();
}


RoleChange change(const RouterConfig& c, Transition t, std::string reason) {
  return RoleChange{c.name, t.from, t.to, std::move(reason), c.netns, c.interface};
}

}  // namespace

std::string RouterConfig::where() const {
  return netns.empty() ? "in the host namespace" : "in " + netns;
}

Engine::Engine(std::vector<RouterConfig> routers) {
  routers_.reserve(routers.size());
  for (auto& c : routers) {
    Millis hold = c.hold_down;
    routers_.push_back(Router{std::move(c), RoleMachine(hold)});
  }
  index();
}

void Engine::index() {
  by_netns_.clear();
  by_name_.clear();
  for (std::size_t i = 0; i < routers_.size(); ++i) {
    by_netns_[routers_[i].config.netns].push_back(i);
    by_name_[routers_[i].config.name] = i;
  }
}

const RouterConfig* Engine::router(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &routers_[it->second].config;
}

std::optional<Role> Engine::role_of(const std::string& router) const {
  auto it = by_name_.find(router);
  if (it == by_name_.end()) return std::nullopt;
  return routers_[it->second].machine.role();
}

std::vector<Action> Engine::handle(const Event& event, TimePoint now) {
  std::vector<Action> out;
  std::visit([&](const auto& e) { on(e, now, out); }, event);
  return out;
}

void Engine::evaluate_one(Router& r, const NetnsView& view, TimePoint now,
                          std::vector<Action>& out) {
  auto since = view.present_since(r.config.vip, r.config.interface);
  auto t = r.machine.observe(since, now);
  if (!t) return;
  out.push_back(change(r.config, *t, since ? vip_on(r.config) : "no " + vip_on(r.config)));
}

template <typename Pick>
void Engine::evaluate(const std::string& netns, TimePoint now, std::vector<Action>& out,
                      Pick pick) {
  auto view = views_.find(netns);
  auto idx = by_netns_.find(netns);
  if (view == views_.end() || !view->second.synced() || idx == by_netns_.end()) return;
  for (auto i : idx->second)
    if (pick(routers_[i].config)) evaluate_one(routers_[i], view->second, now, out);
}

void Engine::on(const SyncStart& e, TimePoint, std::vector<Action>&) {
  views_[e.netns].begin_sync();
}

void Engine::on(const SyncEnd& e, TimePoint now, std::vector<Action>& out) {
  views_[e.netns].end_sync();
  evaluate(e.netns, now, out, [](const RouterConfig&) { return true; });
}

void Engine::on(const NetnsGone& e, TimePoint, std::vector<Action>& out) {
  views_.erase(e.netns);
  auto idx = by_netns_.find(e.netns);
  if (idx == by_netns_.end()) return;
  for (auto i : idx->second) {
    auto& r = routers_[i];
    if (auto t = r.machine.forget())
      out.push_back(change(r.config, *t, "namespace " + e.netns + " gone: " + e.reason));
  }
}

void Engine::on(const LinkEvent& e, TimePoint now, std::vector<Action>& out) {
  auto& view = views_[e.netns];
  std::string old = view.apply(e.link);
  const std::string& now_name = e.link.name;
  evaluate(e.netns, now, out, [&](const RouterConfig& c) {
    return c.interface == old || c.interface == now_name;
  });
  if (e.link.removed || now_name.empty() || now_name == old) return;
  auto idx = by_netns_.find(e.netns);
  if (idx == by_netns_.end()) return;
  for (auto i : idx->second) {
    const auto& r = routers_[i];
    if (r.config.gateway_interface == now_name && r.machine.role() != Role::unknown)
      out.push_back(GatewayAppeared{r.config.name});
  }
}

void Engine::on(const AddrEvent& e, TimePoint now, std::vector<Action>& out) {
  views_[e.netns].apply(e.addr, e.created, now);
  evaluate(e.netns, now, out, [&](const RouterConfig& c) { return c.vip == e.addr.prefix; });
}

void Engine::on(const Tick&, TimePoint now, std::vector<Action>& out) {
  for (auto& r : routers_) {
    if (auto t = r.machine.expire(now)) out.push_back(change(r.config, *t, vip_on(r.config)));
  }
}

std::vector<Action> Engine::reconfigure(std::vector<RouterConfig> routers, TimePoint now) {
  std::unordered_map<std::string, Router*> old;
  for (auto& r : routers_) old.emplace(r.config.name, &r);
  std::vector<Router> next;
  next.reserve(routers.size());
  std::vector<std::size_t> changed;
  for (auto& c : routers) {
    auto it = old.find(c.name);
    if (it != old.end() && it->second->config == c) {
      next.push_back(std::move(*it->second));
      continue;
    }
    Role start = it == old.end() ? Role::unknown : it->second->machine.role();
    Millis hold = c.hold_down;
    changed.push_back(next.size());
    next.push_back(Router{std::move(c), RoleMachine(hold, start)});
  }
  routers_ = std::move(next);
  index();
  // Namespaces no router lives in any more are forgotten.
  std::erase_if(views_, [&](const auto& kv) { return !by_netns_.contains(kv.first); });
  std::vector<Action> out;
  for (auto i : changed) {
    auto& r = routers_[i];
    auto view = views_.find(r.config.netns);
    if (view != views_.end() && view->second.synced()) {
      evaluate_one(r, view->second, now, out);
    } else if (auto t = r.machine.forget()) {
      // Its namespace is not watched yet: nothing is known until its dump.
      out.push_back(change(r.config, *t, "namespace " + r.config.netns + " not read yet"));
    }
  }
  return out;
}

std::optional<TimePoint> Engine::next_deadline() const {
  std::optional<TimePoint> best;
  for (const auto& r : routers_) {
    auto d = r.machine.deadline();
    if (d && (!best || *d < *best)) best = d;
  }
  return best;
}

std::set<std::string> Engine::namespaces() const {
  std::set<std::string> out;
  for (const auto& [ns, _] : by_netns_) out.insert(ns);
  return out;
}

bool Engine::synced(const std::string& netns) const {
  auto it = views_.find(netns);
  return it != views_.end() && it->second.synced();
}

std::vector<RouterStatus> Engine::status() const {
  std::vector<RouterStatus> out;
  out.reserve(routers_.size());
  for (const auto& r : routers_)
    out.push_back({r.config.name, r.config.netns, r.machine.role(), r.machine.deadline()});
  return out;
}

RoleCounts Engine::counts() const {
  RoleCounts c;
  for (const auto& r : routers_) {
    switch (r.machine.role()) {
      case Role::primary: ++c.primary; break;
      case Role::backup: ++c.backup; break;
      case Role::unknown: ++c.unknown; break;
    }
  }
  return c;
}

}  // namespace havip
