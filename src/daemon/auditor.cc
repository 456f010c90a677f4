#include "daemon/auditor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "log/logging.h"

namespace havip {

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
    if (!(it->second.config == *n->second)) {  // what it should hold changed: start over
      say(it->second, it->second.tracker.clear());
      it->second.reported.clear();
      it->second.config = *n->second;
      it->second.role_since = now;
    }
    next.erase(n);
    ++it;
  }
  // New routers: their first comparisons spread over one interval.
  std::size_t i = 0, count = next.size();
  for (const auto& [name, r] : next) {
    Entry e;
    e.config = *r;
    e.role_since = now;
    e.due = now + std::chrono::duration_cast<Millis>(
                      interval_ * static_cast<double>(i++) /
                      static_cast<double>(std::max<std::size_t>(count, 1)));
    routers_.emplace(name, std::move(e));
  }
}

void Auditor::role_changed(const std::string& router, TimePoint now) {
  if (auto it = routers_.find(router); it != routers_.end()) it->second.role_since = now;
}

void Auditor::tick(TimePoint now) {
  for (auto& [name, e] : routers_) {
    if (e.due > now) continue;
    check(e, now);
    // The next comparison one interval later, not earlier than now (a loop
    // that was busy does not make up for lost time with a burst).
    e.due = std::max(e.due + interval_, now);
  }
}

std::optional<TimePoint> Auditor::deadline() const {
  std::optional<TimePoint> best;
  for (const auto& [name, e] : routers_)
    if (!best || e.due < *best) best = e.due;
  return best;
}

const std::vector<AuditFinding>* Auditor::findings(const std::string& router) const {
  auto it = routers_.find(router);
  return it == routers_.end() ? nullptr : &it->second.reported;
}

void Auditor::check(Entry& e, TimePoint now) {
  const RouterConfig& c = e.config;
  Role role = io_.role(c.name);
  if (role != e.last_role) {  // a change the daemon did not tell (a reload, a restart)
    e.last_role = role;
    e.role_since = std::max(e.role_since, now - interval_);
  }
  const NetnsView* view = io_.view(c.netns);
  if (!view || (role != Role::primary && role != Role::backup)) {
    say(e, e.tracker.clear());
    e.reported.clear();
    return;
  }
  std::optional<std::vector<KernelRoute>> routes;
  if (!c.routes.empty()) {
    auto read = io_.routes(c.netns, *view);
    if (read) {
      routes = std::move(*read);
      e.route_error_said = false;
    } else if (!e.route_error_said) {  // once per episode; the addresses are still compared
      e.route_error_said = true;
      log::router(spdlog::level::warn, c.name, c.netns, "audit: cannot read the routes: {}",
                  read.error());
    }
  }
  KernelState kernel;
  kernel.has_address = [&](const HeldAddress& a) { return view->on_interface(a.prefix, a.dev); };
  kernel.routes = routes ? &*routes : nullptr;
  auto seen = audit(c, role, kernel);
  if (!routes)  // not read this time: keep what was seen of the routes as it was
    for (const auto& f : e.tracker.reported())
      if (f.what.starts_with("route ") &&
          f.kind ==
              (role == Role::primary ? AuditFinding::Kind::missing : AuditFinding::Kind::held))
        seen.push_back(f);
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
