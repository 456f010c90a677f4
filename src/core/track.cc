#include "core/track.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace havip {

namespace {

// "10 s", "0.5 s": how long, as a log line says it.
std::string seconds(Millis d) {
  if (d.count() % 1000 == 0) return fmt::format("{} s", d.count() / 1000);
  return fmt::format("{:g} s", static_cast<double>(d.count()) / 1000);
}

bool reached(const std::optional<TimePoint>& since, Millis d, TimePoint now) {
  return since && now - *since >= d;
}

void earliest(std::optional<TimePoint>& best, const std::optional<TimePoint>& since, Millis d) {
  if (!since) return;
  TimePoint t = *since + d;
  if (!best || t < *best) best = t;
}

}  // namespace

std::string_view track_state_name(TrackVerdict::State s) {
  switch (s) {
    case TrackVerdict::State::ok:
      return "ok";
    case TrackVerdict::State::failed:
      return "failed";
    case TrackVerdict::State::drained:
      return "drained";
  }
  return "?";
}

const TrackVerdict& TrackDecision::update(const RouterConfig& router, Role role,
                                          const std::vector<std::string>& unhealthy, bool drained,
                                          TimePoint now) {
  bool trouble = role == Role::primary && !unhealthy.empty();
  if (trouble) effects_ = unhealthy;
  settle(router, role, trouble, now);
  TrackVerdict v;
  if (drained) {
    v.state = TrackVerdict::State::drained;
    v.value = router.track_failure_value;
    v.reason = "drained";
  } else if (failed_) {
    v.state = TrackVerdict::State::failed;
    v.value = router.track_failure_value;
    v.effects = effects_;
    v.reason = fmt::format("{} failing for {} on the primary", fmt::join(effects_, ", "),
                           seconds(router.track_grace));
  } else {
    v.reason = verdict_.state == TrackVerdict::State::drained ? "undrained" : ok_reason_;
  }
  verdict_ = std::move(v);
  return verdict_;
}

void TrackDecision::settle(const RouterConfig& router, Role role, bool trouble, TimePoint now) {
  const bool primary = role == Role::primary;
  const Millis grace = router.track_grace;
  if (!failed_) {
    if (!primary) {  // a backup's effects do not run: nothing of theirs counts
      failing_since_.reset();
      healthy_since_.reset();
    } else if (trouble) {
      if (!failing_since_) failing_since_ = now;
      healthy_since_.reset();
    } else if (failing_since_) {
      if (!healthy_since_) healthy_since_ = now;
      if (reached(healthy_since_, grace, now)) {  // the episode is over
        failing_since_.reset();
        healthy_since_.reset();
      }
    }
    if (primary && reached(failing_since_, grace, now)) {
      failed_ = true;
      healthy_since_.reset();
      left_primary_.reset();
      if (!trouble) healthy_since_ = now;  // a crash loop caught while running
    }
  } else if (primary) {
    left_primary_.reset();
    if (trouble) {
      healthy_since_.reset();
    } else {
      if (!healthy_since_) healthy_since_ = now;
      if (reached(healthy_since_, grace, now)) {
        failed_ = false;
        failing_since_.reset();
        healthy_since_.reset();
        ok_reason_ = fmt::format("healthy again for {} on the primary", seconds(grace));
      }
    }
  } else {
    healthy_since_.reset();
    if (!left_primary_) left_primary_ = now;
    if (reached(left_primary_, router.track_failure_timeout, now)) {
      failed_ = false;
      failing_since_.reset();
      left_primary_.reset();
      ok_reason_ = fmt::format("not primary for {} (track_failure_timeout): given back to VRRP",
                               seconds(router.track_failure_timeout));
    }
  }
  deadline_.reset();
  if (!failed_ && primary) earliest(deadline_, failing_since_, grace);
  earliest(deadline_, healthy_since_, grace);
  if (failed_ && !primary) earliest(deadline_, left_primary_, router.track_failure_timeout);
}

}  // namespace havip
