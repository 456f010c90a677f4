#include "report/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace havip {

namespace {

// From 50 µs (the event→state-file path) to 1 s (a mass failover's tail).
const std::vector<double> kLatencyBounds = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                            0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                            0.5,     1.0};

constexpr Role kRoles[] = {Role::primary, Role::backup, Role::fault, Role::unknown};

class Writer {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  // labels: name/value pairs
  void sample(std::string_view name,
              std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
              double value) {
    out_ += name;
    if (labels.size() != 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [k, v] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += fmt::format("{}=\"{}\"", k, escape_label_value(v));
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += format_sample(value);
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

template <class Map>
void prune(Map& m, const std::set<std::string>& keep) {
  std::erase_if(m, [&](const auto& kv) { return !keep.contains(kv.first.first); });
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);  // le: value <= bound
  ++buckets_[static_cast<std::size_t>(it - bounds_.begin())];
  sum_ += value;
  ++count_;
}

std::vector<std::uint64_t> Histogram::cumulative() const {
  std::vector<std::uint64_t> out(buckets_.size());
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) out[i] = total += buckets_[i];
  return out;
}

Metrics::Metrics() : latency_(kLatencyBounds) {}

void Metrics::transition(const RoleChange& c) { ++transitions_[{c.router, c.to}]; }

void Metrics::effect_failed(const EffectFailure& f) { ++failures_[{f.router, f.effect}]; }

void Metrics::child_exited(const ChildExit& e) {
  if (!e.expected) ++exits_[{e.router, e.child}];
}

void Metrics::latency(Clock::duration d) {
  latency_.observe(std::chrono::duration<double>(d).count());
}

void Metrics::keep_only(const std::set<std::string>& routers) {
  prune(transitions_, routers);
  prune(failures_, routers);
  prune(exits_, routers);
}

std::string Metrics::render(const MetricsInput& in, std::string_view version) const {
  Writer w;
  w.family("havip_build_info", "gauge", "havipd's version; always 1");
  w.sample("havip_build_info", {{"version", version}}, 1);

  w.family(
      "havip_router_role", "gauge",
      "1 for the role each router is in now (primary, backup, fault or unknown), 0 for the others");
  for (const auto& r : in.routers)
    for (Role role : kRoles)
      w.sample("havip_router_role",
               {{"router", r.name}, {"namespace", r.netns}, {"role", role_name(role)}},
               r.role == role ? 1 : 0);

  w.family("havip_router_role_since_seconds", "gauge",
           "Unix time each router entered its current role (its last transition)");
  for (const auto& r : in.routers)
    if (r.role_since)
      w.sample("havip_router_role_since_seconds", {{"router", r.name}}, *r.role_since);

  w.family("havip_router_speaker_up", "gauge",
           "1 while the keepalived VRRP process behind the router runs, 0 when it is not running");
  for (const auto& r : in.routers)
    if (r.speaker_up)
      w.sample("havip_router_speaker_up", {{"router", r.name}}, *r.speaker_up ? 1 : 0);

  w.family("havip_router_stale_vip", "gauge",
           "1 while this host holds the router's VIP although its keepalived is not running");
  for (const auto& r : in.routers)
    w.sample("havip_router_stale_vip", {{"router", r.name}}, r.stale_vip ? 1 : 0);

  w.family("havip_router_split_brain", "gauge",
           "1 while another host advertises as VRRP master for a router this host is primary "
           "for (or with other settings)");
  for (const auto& r : in.routers)
    w.sample("havip_router_split_brain", {{"router", r.name}}, r.split_brain ? 1 : 0);

  w.family("havip_router_effect_failing", "gauge",
           "1 for each effect of a router that is failing now (waiting for a retry)");
  for (const auto& r : in.routers)
    for (const auto& e : r.failing)
      w.sample("havip_router_effect_failing", {{"router", r.name}, {"effect", e}}, 1);

  w.family("havip_router_drained", "gauge",
           "1 while the router is drained (havipctl drain): its track_file holds the failure "
           "value; routers with a track_file only");
  for (const auto& r : in.routers)
    if (r.drained) w.sample("havip_router_drained", {{"router", r.name}}, *r.drained ? 1 : 0);

  w.family("havip_router_track_failed", "gauge",
           "1 while the router's track_file holds the failure value because its effects failed "
           "on the primary; routers with a track_file only");
  for (const auto& r : in.routers)
    if (r.track_failed)
      w.sample("havip_router_track_failed", {{"router", r.name}}, *r.track_failed ? 1 : 0);

  w.family("havip_router_audit_findings", "gauge",
           "Differences between what keepalived was told to hold and what the kernel has, for "
           "longer than audit_grace_ms: a primary missing an address or route, a backup still "
           "holding one; routers read from a keepalived.conf only");
  for (const auto& r : in.routers)
    if (r.audit_findings)
      w.sample("havip_router_audit_findings", {{"router", r.name}},
               static_cast<double>(*r.audit_findings));

  w.family("havip_transitions_total", "counter",
           "Role changes applied, by router and the role entered");
  for (const auto& [key, n] : transitions_)
    w.sample("havip_transitions_total", {{"router", key.first}, {"role", role_name(key.second)}},
             static_cast<double>(n));

  w.family("havip_effect_failures_total", "counter",
           "Effects that failed (state_file, sysctls, radvd, service, hook, notify), by router");
  for (const auto& [key, n] : failures_)
    w.sample("havip_effect_failures_total", {{"router", key.first}, {"effect", key.second}},
             static_cast<double>(n));

  w.family("havip_child_exits_total", "counter",
           "Unexpected exits of radvd and services (each is restarted with backoff), by router");
  for (const auto& [key, n] : exits_)
    w.sample("havip_child_exits_total", {{"router", key.first}, {"what", key.second}},
             static_cast<double>(n));

  w.family("havip_netlink_resyncs_total", "counter",
           "Netlink state re-read after a receive buffer overrun or an interrupted dump");
  w.sample("havip_netlink_resyncs_total", {}, static_cast<double>(in.netlink_resyncs));
  w.family("havip_netlink_messages_total", "counter", "Link and address messages decoded");
  w.sample("havip_netlink_messages_total", {}, static_cast<double>(in.netlink_messages));
  w.family("havip_netlink_malformed_total", "counter", "Netlink messages skipped as malformed");
  w.sample("havip_netlink_malformed_total", {}, static_cast<double>(in.netlink_malformed));

  w.family("havip_namespaces_watched", "gauge", "Network namespaces watched over netlink");
  w.sample("havip_namespaces_watched", {}, static_cast<double>(in.namespaces_watched));

  w.family("havip_event_to_effect_seconds", "histogram",
           "From the netlink message (or the hold-down expiry) to the transition's "
           "synchronous effects done");
  auto cumulative = latency_.cumulative();
  for (std::size_t i = 0; i < latency_.bounds().size(); ++i) {
    std::string le = format_sample(latency_.bounds()[i]);
    w.sample("havip_event_to_effect_seconds_bucket", {{"le", le}},
             static_cast<double>(cumulative[i]));
  }
  w.sample("havip_event_to_effect_seconds_bucket", {{"le", "+Inf"}},
           static_cast<double>(cumulative.back()));
  w.sample("havip_event_to_effect_seconds_sum", {}, latency_.sum());
  w.sample("havip_event_to_effect_seconds_count", {}, static_cast<double>(latency_.count()));
  return w.take();
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_sample(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  if (value == std::floor(value) && std::fabs(value) < 1e15)
    return fmt::format("{}", static_cast<long long>(value));
  return fmt::format("{}", value);  // fmt prints the shortest round-trip form
}

}  // namespace havip
