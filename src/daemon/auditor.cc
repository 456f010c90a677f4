#include "daemon/auditor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "log/logging.h"

namespace havip {

namespace {
constexpr Millis kSlot{100};
}  // namespace

void Auditor::configure(const DaemonConfig& daemon, const std::vector<RouterConfig>& routers,
                        TimePoint now) {
  interval_ = daemon.audit_interval;
  grace_ = daemon.audit_grace;
  std::map<std::string, const RouterConfig*> next;
  if (interval_.count() > 0)
    for (const auto& r : routers)
      if (r.audit) next[r.name] = &r;
  for (auto it = routers_.begin(); it != routers_.end();) {
    auto n = next.find(it->first);
    if (n == next.end()) {
      say(it->second, it->second.tracker.clear());
      it = routers_.erase(it);
      continue;
    }
    if (!same_audit_inputs(it->second.config, *n->second)) {  // what it should hold changed
      say(it->second, it->second.tracker.clear());
      it->second.reported.clear();
      it->second.role_since = now;
    }
    it->second.config = *n->second;
    ++it;
  }
  for (const auto& [name, r] : next)
    if (!routers_.contains(name)) {
      Entry e;
      e.config = *r;
      e.role_since = now;
      routers_.emplace(name, std::move(e));
    }
  // The namespaces: those that stay keep their time; new ones are spread
  // over one interval.
  std::map<std::string, Namespace> namespaces;
  for (const auto& [name, e] : routers_) namespaces[e.config.netns].routers.push_back(name);
  std::size_t fresh = 0;
  for (const auto& [netns, ns] : namespaces) fresh += !namespaces_.contains(netns);
  std::size_t i = 0;
  for (auto& [netns, ns] : namespaces) {
    if (auto old = namespaces_.find(netns); old != namespaces_.end()) {
      ns.due = old->second.due;
      ns.route_error_said = old->second.route_error_said;
    } else {
      // In slots of 100 ms: the namespaces of a slot share one wake-up
      // (1,000 namespaces every 10 s: 10 wake-ups a second, not 100).
      auto offset = std::chrono::duration_cast<Millis>(interval_ * static_cast<double>(i++) /
                                                       static_cast<double>(fresh));
      ns.due = now + offset / kSlot * kSlot;
    }
  }
  namespaces_ = std::move(namespaces);
}

void Auditor::role_changed(const std::string& router, TimePoint now) {
  if (auto it = routers_.find(router); it != routers_.end()) it->second.role_since = now;
}

void Auditor::tick(TimePoint now) {
  for (auto& [netns, ns] : namespaces_) {
    if (ns.due > now) continue;
    check(netns, ns, now);
    // The next comparison one interval later, not earlier than now (a loop
    // that was busy does not make up for lost time with a burst).
    ns.due = std::max(ns.due + interval_, now);
  }
}

std::optional<TimePoint> Auditor::deadline() const {
  std::optional<TimePoint> best;
  for (const auto& [netns, ns] : namespaces_)
    if (!best || ns.due < *best) best = ns.due;
  return best;
}

const std::vector<AuditFinding>* Auditor::findings(const std::string& router) const {
  auto it = routers_.find(router);
  return it == routers_.end() ? nullptr : &it->second.reported;
}

void Auditor::check(const std::string& netns, Namespace& ns, TimePoint now) {
  const NetnsView* view = io_.view(netns);
  // The routes, once for the namespace, if a router there compares them
  // now (primary or backup, with virtual_routes).
  bool want_routes = false;
  for (const auto& name : ns.routers) {
    const Entry& e = routers_.at(name);
    Role role = io_.role(name);
    want_routes |= !e.config.routes.empty() && (role == Role::primary || role == Role::backup);
  }
  std::optional<std::vector<KernelRoute>> routes;
  if (view && want_routes) {
    auto read = io_.routes(netns, *view);
    if (read) {
      routes = std::move(*read);
      ns.route_error_said = false;
    } else if (!ns.route_error_said) {  // once per episode; the addresses are still compared
      ns.route_error_said = true;
      log::structured(spdlog::level::warn, {{"HAVIP_NAMESPACE", netns}},
                      fmt::format("audit: cannot read the routes of {}: {}",
                                  netns.empty() ? "the host namespace" : netns, read.error()));
    }
  }
  for (const auto& name : ns.routers)
    check(routers_.at(name), view, routes ? &*routes : nullptr, now);
}

void Auditor::check(Entry& e, const NetnsView* view, const std::vector<KernelRoute>* routes,
                    TimePoint now) {
  const RouterConfig& c = e.config;
  Role role = io_.role(c.name);
  if (role != e.last_role) {  // a change the daemon did not tell (a reload, a restart)
    e.last_role = role;
    e.role_since = std::max(e.role_since, now - interval_);
  }
  if (!view || (role != Role::primary && role != Role::backup)) {
    say(e, e.tracker.clear());
    e.reported.clear();
    return;
  }
  KernelState kernel;
  kernel.has_address = [&](const HeldAddress& a) { return view->on_interface(a.prefix, a.dev); };
  kernel.routes = routes;
  auto seen = audit(c, role, kernel);
  if (!routes) {  // not read this time: what was reported of the routes stays as it was
    auto kind = role == Role::primary ? AuditFinding::Kind::missing : AuditFinding::Kind::held;
    for (const auto& f : e.tracker.reported())
      if (f.what.starts_with("route ") && f.kind == kind) seen.push_back(f);
  }
  auto changes = e.tracker.update(seen, e.role_since, grace_, now);
  say(e, changes);
  e.reported = e.tracker.reported();
}

void Auditor::say(const Entry& e, const std::vector<AuditTracker::Change>& changes) {
  const RouterConfig& c = e.config;
  for (const auto& ch : changes) {
    const AuditFinding& f = ch.finding;
    std::string message =
        ch.reported ? fmt::format("{}: audit: {} (for {} s; keepalived was told to {} it)", c.name,
                                  f.to_string(), grace_.count() / 1000,
                                  f.kind == AuditFinding::Kind::missing ? "hold" : "release")
                    : fmt::format("{}: audit: no longer: {}", c.name, f.to_string());
    log::structured(ch.reported ? spdlog::level::warn : spdlog::level::info,
                    {{"HAVIP_ROUTER", c.name},
                     {"HAVIP_NAMESPACE", c.netns},
                     {"HAVIP_AUDIT", ch.reported ? std::string(audit_kind_name(f.kind)) : "ok"},
                     {"HAVIP_AUDIT_WHAT", f.what}},
                    message, log::Kind::audit);
  }
}

}  // namespace havip
