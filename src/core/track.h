// Feedback into VRRP: the value a router's keepalived track_file must hold
// (DESIGN.md §3.14). Pure: the daemon (daemon/track_files.h) feeds it the
// router's role, the effects failing now and whether it is drained, at every
// flush, and writes what it says.
//
//   state    input                                         next     file
//   ok       primary, an effect failing                    failing  0 (the episode starts)
//   failing  healthy for `grace` (or not primary)          ok       0
//   failing  primary, episode `grace` old                  failed   failure value
//   failed   primary, healthy for `grace`                  ok       0 (no peer took it)
//   failed   not primary for `failure_timeout`             ok       0 (given back to VRRP)
//   any      drained                                       drained  failure value
//   drained  undrained                                     ok       0 (the above apply again)
//
// An episode is not over when the effects are healthy for a moment: it ends
// only after `grace` without a failure, so a crash loop (running 0.1 s,
// backoff, running …) counts as failing from its first failure. A backup
// never writes the failure value for its effects: none of them runs there.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/types.h"

namespace havip {

struct TrackVerdict {
  enum class State { ok, failed, drained };
  State state = State::ok;
  int value = 0;       // what the file holds: 0, or the router's failure value
  std::string reason;  // "radvd failing for 10 s on the primary", "drained"
  // The effects that made it fail (failed only).
  std::vector<std::string> effects;
  bool operator==(const TrackVerdict&) const = default;
};

std::string_view track_state_name(TrackVerdict::State s);

class TrackDecision {
 public:
  // The verdict for `router` now. `unhealthy`: the effects failing now
  // (RouterEffects::unhealthy()); they count only while `role` is primary.
  const TrackVerdict& update(const RouterConfig& router, Role role,
                             const std::vector<std::string>& unhealthy, bool drained,
                             TimePoint now);
  const TrackVerdict& verdict() const { return verdict_; }
  // When the verdict may change with the same inputs (a grace or the
  // failure timeout running out).
  std::optional<TimePoint> deadline() const { return deadline_; }

 private:
  void settle(const RouterConfig& router, Role role, bool trouble, TimePoint now);

  std::optional<TimePoint> failing_since_;  // the episode, on the primary
  std::optional<TimePoint> healthy_since_;  // within an episode, or while failed
  std::optional<TimePoint> left_primary_;   // failed, and no longer primary
  bool failed_ = false;
  std::vector<std::string> effects_;   // the latest that failed in this episode
  std::string ok_reason_ = "healthy";  // why the file holds 0
  TrackVerdict verdict_;
  std::optional<TimePoint> deadline_;
};

}  // namespace havip
