// Prometheus metrics: the counters havipd keeps and their rendering in the
// text exposition format (version 0.0.4). Hand-written because it is small:
// a few families, no client library needed (DESIGN.md §5).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/types.h"
#include "effects/observer.h"

namespace havip {

// A histogram with fixed upper bounds (seconds).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts, one per bound, then +Inf (== count()).
  std::vector<std::uint64_t> cumulative() const;
  double sum() const { return sum_; }
  std::uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> buckets_;  // per bound, then one for +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

// What is read from elsewhere at render time.
struct MetricsInput {
  struct Router {
    std::string name, netns;
    Role role = Role::unknown;
    std::optional<double> role_since;  // Unix time of the last transition
    std::optional<bool> speaker_up;    // unknown or untracked: no sample
    bool stale_vip = false;
    bool split_brain = false;
    std::vector<std::string> failing;  // effects failing now
    // Routers with a track_file only: drained, or given away for failing effects.
    std::optional<bool> drained, track_failed;
    // Audited routers only (from a keepalived.conf): the findings reported now.
    std::optional<std::size_t> audit_findings;
  };
  std::vector<Router> routers;
  std::uint64_t netlink_resyncs = 0, netlink_messages = 0, netlink_malformed = 0;
  std::size_t namespaces_watched = 0;
};

// Counts what the effects report (the same reports the journal logs), and
// renders the Prometheus text format.
class Metrics final : public Observer {
 public:
  Metrics();

  void transition(const RoleChange& change) override;
  void effect_failed(const EffectFailure& failure) override;
  // Counts unexpected exits only.
  void child_exited(const ChildExit& exit) override;
  // From the first event of a batch to its transition applied.
  void latency(Clock::duration d);
  // Drops the series of routers no longer configured (Neutron routers come
  // and go; their series must not pile up).
  void keep_only(const std::set<std::string>& routers);

  std::string render(const MetricsInput& input, std::string_view version) const;

  const Histogram& latency_histogram() const { return latency_; }

 private:
  std::map<std::pair<std::string, Role>, std::uint64_t> transitions_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> failures_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> exits_;
  Histogram latency_;
};

// A label value escaped for the text format: \ " and newline.
std::string escape_label_value(std::string_view value);
// A sample value: integers as integers, +Inf, otherwise shortest round-trip.
std::string format_sample(double value);

}  // namespace havip
