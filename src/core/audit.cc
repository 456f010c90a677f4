#include "core/audit.h"

#include <sys/socket.h>

#include <algorithm>

namespace havip {

namespace {

// The address without its length, for messages: "203.0.113.1".
std::string bare(const IpPrefix& p) {
  std::string s = p.to_string();
  return s.substr(0, s.find('/'));
}

bool same_address(const IpPrefix& a, const IpPrefix& b) {
  return a.family == b.family && a.bytes == b.bytes;
}

std::string address_text(const HeldAddress& a) {
  return "address " + a.prefix.to_string() + " dev " + a.dev;
}

}  // namespace

std::string HeldRoute::to_string() const {
  std::string s = destination.length == 0 ? std::string("default") : destination.to_string();
  if (destination.length == 0 && destination.family == AF_INET6) s += " (IPv6)";
  if (via) s += " via " + bare(*via);
  if (!dev.empty()) s += " dev " + dev;
  if (table != 254) s += " table " + std::to_string(table);
  return s;
}

std::string_view audit_kind_name(AuditFinding::Kind k) {
  return k == AuditFinding::Kind::missing ? "missing" : "held";
}

std::string AuditFinding::to_string() const {
  return (kind == Kind::missing ? "primary is missing " : "backup still holds ") + what;
}

bool same_audit_inputs(const RouterConfig& a, const RouterConfig& b) {
  return a.audit == b.audit && a.netns == b.netns && a.addresses == b.addresses &&
         a.routes == b.routes;
}

bool route_present(const HeldRoute& route, const std::vector<KernelRoute>& routes) {
  return std::any_of(routes.begin(), routes.end(), [&](const KernelRoute& k) {
    if (k.table != route.table || k.destination != route.destination) return false;
    if (!route.via && route.dev.empty()) return true;  // blackhole, or any nexthop
    return std::any_of(k.hops.begin(), k.hops.end(), [&](const KernelRoute::Hop& h) {
      if (route.via && !(h.via && same_address(*h.via, *route.via))) return false;
      return route.dev.empty() || h.dev == route.dev;
    });
  });
}

std::vector<AuditFinding> audit(const RouterConfig& router, Role role, const KernelState& kernel) {
  std::vector<AuditFinding> out;
  if (!router.audit || (role != Role::primary && role != Role::backup)) return out;
  // Primary: every item must be there; backup: none may be.
  bool want = role == Role::primary;
  auto kind = want ? AuditFinding::Kind::missing : AuditFinding::Kind::held;
  for (const auto& a : router.addresses)
    if (a.prefix.family != 0 && !a.dev.empty() &&
        (kernel.has_address && kernel.has_address(a)) != want)
      out.push_back({kind, address_text(a)});
  if (kernel.routes)
    for (const auto& r : router.routes)
      if (route_present(r, *kernel.routes) != want) out.push_back({kind, "route " + r.to_string()});
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<AuditTracker::Change> AuditTracker::update(const std::vector<AuditFinding>& seen,
                                                       TimePoint role_since, Millis grace,
                                                       TimePoint now) {
  std::vector<Change> out;
  for (auto it = seen_.begin(); it != seen_.end();) {
    if (std::find(seen.begin(), seen.end(), it->first) != seen.end()) {
      ++it;
      continue;
    }
    if (it->second.reported) out.push_back({false, it->first});
    it = seen_.erase(it);
  }
  for (const auto& f : seen) {
    auto [it, fresh] = seen_.try_emplace(f, Seen{now});
    Seen& s = it->second;
    if (!s.reported && now - std::max(s.first, role_since) >= grace) {
      s.reported = true;
      out.push_back({true, f});
    }
  }
  return out;
}

std::vector<AuditTracker::Change> AuditTracker::clear() {
  std::vector<Change> out;
  for (const auto& [f, s] : seen_)
    if (s.reported) out.push_back({false, f});
  seen_.clear();
  return out;
}

std::vector<AuditFinding> AuditTracker::reported() const {
  std::vector<AuditFinding> out;
  for (const auto& [f, s] : seen_)
    if (s.reported) out.push_back(f);
  return out;
}

}  // namespace havip
