#include <gtest/gtest.h>

#include "core/cstamp_clock.h"

namespace havip {
namespace {

// cstamp 1000 = 10 s after boot on the kernel's clock.
constexpr std::uint32_t kStamp = 1000;
const TimePoint kRaw = TimePoint(std::chrono::seconds(10));

TEST(CstampClock, AssumesAConservativeLagUntilItHasASample) {
  CstampClock c;
  EXPECT_EQ(c.created(kStamp), kRaw + Millis(1000));
}

TEST(CstampClock, LearnsTheSmallestLagFromLiveEvents) {
  CstampClock c;
  c.sample(kStamp, kRaw + Millis(300));  // received 35 ms after creation
  c.sample(kStamp, kRaw + Millis(265));  // received at once
  c.sample(kStamp, kRaw + Millis(900));  // an update of an older address
  EXPECT_EQ(c.lag(), Millis(275));
  EXPECT_EQ(c.created(kStamp + 100), kRaw + Millis(1000) + Millis(275));
}

TEST(CstampClock, IgnoresUpdatesOfOldAddresses) {
  CstampClock c;
  c.sample(kStamp, kRaw + Millis(3'600'000));
  EXPECT_EQ(c.lag(), CstampClock::kAssumedLag);
}

}  // namespace
}  // namespace havip
