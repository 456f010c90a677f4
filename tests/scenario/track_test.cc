// The track file's decision (core/track.h) as a table: given the router's
// role, its failing effects and drain over time, the value keepalived reads.
#include "core/track.h"

#include <gtest/gtest.h>

namespace havip::testing {
namespace {

constexpr int kFail = -254;

struct Row {
  int at_ms;  // since the start
  Role role;
  std::vector<std::string> unhealthy;  // RouterEffects::unhealthy() then
  bool drained;
  int value;  // what the file must hold
  TrackVerdict::State state;
};

using S = TrackVerdict::State;
const Role P = Role::primary, B = Role::backup;
const std::vector<std::string> ok{}, radvd{"radvd"};

RouterConfig tracked() {
  RouterConfig r;
  r.name = "r1";
  r.track_file = "/run/havip/r1.track";
  r.track_grace = Millis(10000);
  r.track_failure_timeout = Millis(60000);
  r.track_failure_value = kFail;
  return r;
}

void play(const std::vector<Row>& rows, const RouterConfig& r = tracked()) {
  TrackDecision d;
  const TimePoint t0 = TimePoint(std::chrono::hours(1));
  for (const auto& row : rows) {
    const auto& v = d.update(r, row.role, row.unhealthy, row.drained, t0 + Millis(row.at_ms));
    EXPECT_EQ(v.value, row.value) << "at " << row.at_ms << " ms: " << v.reason;
    EXPECT_EQ(v.state, row.state) << "at " << row.at_ms << " ms: " << v.reason;
  }
}

TEST(Track, AnEffectFailingOnThePrimaryForTheGraceGivesTheRouterAway) {
  play({
      {0, P, ok, false, 0, S::ok},
      {1000, P, radvd, false, 0, S::ok},   // the episode starts
      {10999, P, radvd, false, 0, S::ok},  // not yet the grace
      {11000, P, radvd, false, kFail, S::failed},
      {20000, P, radvd, false, kFail, S::failed},
  });
}

TEST(Track, TheReasonNamesTheEffectsAndTheGrace) {
  TrackDecision d;
  auto r = tracked();
  TimePoint t0{};
  d.update(r, P, {"radvd", "service haproxy"}, false, t0);
  const auto& v = d.update(r, P, {"radvd", "service haproxy"}, false, t0 + Millis(10000));
  EXPECT_EQ(v.reason, "radvd, service haproxy failing for 10 s on the primary");
  EXPECT_EQ(v.effects, (std::vector<std::string>{"radvd", "service haproxy"}));
}

TEST(Track, ARecoveryWithinTheGraceWritesNothing) {
  play({
      {0, P, radvd, false, 0, S::ok},
      {5000, P, ok, false, 0, S::ok},
      {15001, P, ok, false, 0, S::ok},     // healthy for the grace: the episode is over
      {16000, P, radvd, false, 0, S::ok},  // a new one starts here …
      {25999, P, radvd, false, 0, S::ok},
      {26000, P, radvd, false, kFail, S::failed},  // … and counts from there
  });
}

TEST(Track, ACrashLoopCountsAsFailingFromItsFirstFailure) {
  // radvd runs 0.1 s, backs off, runs again: healthy for a moment each time.
  std::vector<Row> rows;
  for (int t = 0; t < 10000; t += 200) {
    rows.push_back({t, P, radvd, false, 0, S::ok});
    rows.push_back({t + 100, P, ok, false, 0, S::ok});
  }
  rows.push_back({10000, P, radvd, false, kFail, S::failed});
  play(rows);
}

TEST(Track, TheGraceRunningOutWhileTheLoopRunsStillFails) {
  play({
      {0, P, radvd, false, 0, S::ok},
      {9900, P, ok, false, 0, S::ok},           // running again, briefly
      {10000, P, ok, false, kFail, S::failed},  // the deadline: the episode is 10 s old
      {19999, P, ok, false, kFail, S::failed},
      {20000, P, ok, false, 0, S::ok},  // healthy for the grace on the primary: cleared
  });
}

TEST(Track, ItStaysAfterLeavingPrimaryForTheFailureTimeoutThenIsGivenBack) {
  play({
      {0, P, radvd, false, 0, S::ok},
      {10000, P, radvd, false, kFail, S::failed},
      {10500, B, ok, false, kFail, S::failed},  // keepalived gave it away
      {70499, B, ok, false, kFail, S::failed},
      {70500, B, ok, false, 0, S::ok},  // track_failure_timeout after leaving primary
      // Back on this host and still broken: moved again after the grace.
      {80000, P, radvd, false, 0, S::ok},
      {90000, P, radvd, false, kFail, S::failed},
  });
}

TEST(Track, ClearedWhileStillPrimaryOnceHealthyForTheGrace) {
  // No peer took it (a single host): radvd is fixed, the file clears.
  play({
      {0, P, radvd, false, 0, S::ok},
      {10000, P, radvd, false, kFail, S::failed},
      {30000, P, ok, false, kFail, S::failed},
      {35000, P, radvd, false, kFail, S::failed},  // failed again: the count restarts
      {36000, P, ok, false, kFail, S::failed},
      {45999, P, ok, false, kFail, S::failed},
      {46000, P, ok, false, 0, S::ok},
  });
}

TEST(Track, ABackupNeverWritesTheFailureValueForItsEffects) {
  play({
      {0, B, radvd, false, 0, S::ok},
      {60000, B, radvd, false, 0, S::ok},
      {60001, Role::fault, radvd, false, 0, S::ok},
      {120000, Role::unknown, radvd, false, 0, S::ok},
  });
}

TEST(Track, LeavingPrimaryBeforeTheGraceEndsTheEpisode) {
  play({
      {0, P, radvd, false, 0, S::ok},
      {9000, B, ok, false, 0, S::ok},
      {9500, P, radvd, false, 0, S::ok},  // counts from here, not from 0
      {18000, P, radvd, false, 0, S::ok},
      {19500, P, radvd, false, kFail, S::failed},
  });
}

TEST(Track, DrainedHoldsTheFailureValueWhateverTheRoleUntilUndrained) {
  play({
      {0, P, ok, true, kFail, S::drained},
      {100, B, ok, true, kFail, S::drained},
      {200000, B, ok, true, kFail, S::drained},  // no timeout for a drain
      {200001, B, ok, false, 0, S::ok},
  });
}

TEST(Track, UndrainingAFailedRouterLeavesItFailed) {
  play({
      {0, P, radvd, false, 0, S::ok},
      {5000, P, radvd, true, kFail, S::drained},
      {10000, P, radvd, true, kFail, S::drained},  // failed meanwhile, hidden by the drain
      {11000, P, radvd, false, kFail, S::failed},
  });
}

TEST(Track, TheUndrainedReasonIsSaid) {
  TrackDecision d;
  auto r = tracked();
  d.update(r, B, ok, true, TimePoint{});
  EXPECT_EQ(d.update(r, B, ok, false, TimePoint{}).reason, "undrained");
}

TEST(Track, TheDeadlineIsWhenTheVerdictWouldChange) {
  TrackDecision d;
  auto r = tracked();
  TimePoint t0 = TimePoint(std::chrono::hours(1));
  d.update(r, P, ok, false, t0);
  EXPECT_FALSE(d.deadline());
  d.update(r, P, radvd, false, t0);
  EXPECT_EQ(d.deadline(), t0 + Millis(10000));  // the grace
  d.update(r, P, radvd, false, t0 + Millis(10000));
  EXPECT_FALSE(d.deadline());  // failed, still failing: nothing runs out
  d.update(r, B, ok, false, t0 + Millis(11000));
  EXPECT_EQ(d.deadline(), t0 + Millis(71000));  // the failure timeout
}

TEST(Track, TheFailureValueIsTheRoutersOwn) {
  auto r = tracked();
  r.track_failure_value = 1;
  r.track_grace = Millis(0);
  play({{0, P, radvd, false, 1, S::failed}}, r);
}

}  // namespace
}  // namespace havip::testing
