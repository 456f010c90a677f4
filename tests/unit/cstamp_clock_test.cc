#include <gtest/gtest.h>

#include "core/cstamp_clock.h"

namespace havip {
namespace {

using std::chrono::seconds;

constexpr std::uint32_t kWrapCs = 0;  // 2^32 centiseconds: 497 days
// A monotonic "now" far from anything cstamp * 10 ms could be: a host up
// for years, or a time namespace's offset.
const TimePoint kNow = TimePoint(seconds(90'000'000));

// The age havipd gives an address with `cstamp`, seen at `now`.
Millis age(const CstampClock& c, std::uint32_t cstamp, TimePoint now = kNow) {
  return std::chrono::duration_cast<Millis>(now - c.created(cstamp, now));
}

TEST(CstampClock, WithoutAReferenceEveryAddressIsBrandNew) {
  CstampClock c;
  EXPECT_EQ(age(c, 1000), Millis(0));  // the hold-down runs in full
}

TEST(CstampClock, AgeIsTheStampDistanceToTheReferenceMinusTheSlack) {
  CstampClock c;
  c.sample(500'000, kNow);  // "now" in cstamp units: 5000 s since boot
  EXPECT_EQ(age(c, 500'000 - 300), Millis(3000) - CstampClock::kSlack);
  // Time passing after the reference counts too.
  EXPECT_EQ(age(c, 500'000 - 300, kNow + seconds(2)), Millis(5000) - CstampClock::kSlack);
}

TEST(CstampClock, AgesAreRightAcrossTheWrap) {
  CstampClock c;
  c.sample(kWrapCs + 200, kNow);  // taken 2 s after the wrap
  // Created 3 s before the wrap: 5 s old, not 497 days younger or older.
  EXPECT_EQ(age(c, std::uint32_t(kWrapCs - 300)), Millis(5000) - CstampClock::kSlack);
  // Created 1 s after the wrap: 1 s old.
  EXPECT_EQ(age(c, kWrapCs + 100), Millis(1000) - CstampClock::kSlack);
}

TEST(CstampClock, AReferenceBeforeTheWrapServesAddressesCreatedAfterIt) {
  CstampClock c;
  c.sample(std::uint32_t(kWrapCs - 500), kNow);  // 5 s before the wrap
  // Seen 10 s later; created 1 s after the wrap: 4 s old.
  EXPECT_EQ(age(c, kWrapCs + 100, kNow + seconds(10)), Millis(4000) - CstampClock::kSlack);
}

TEST(CstampClock, AnAddressCreatedSinceTheReferenceIsNeverOld) {
  CstampClock c;
  c.sample(1000, kNow);
  // The reference understates the kernel clock (it is a lower bound): an
  // address stamped ahead of it was created after it, just now.
  EXPECT_EQ(age(c, 1050, kNow + Millis(100)), Millis(0));
}

TEST(CstampClock, AgesOlderThan497DaysWrapToYounger) {
  CstampClock c;
  c.sample(1000, kNow);
  // 497 days + 10 s ago has the stamp of 10 s ago: 10 s, younger, never older.
  EXPECT_EQ(age(c, 0), Millis(10'000) - CstampClock::kSlack);
}

TEST(CstampClock, KeepsTheReferenceProvingTheLatestClock) {
  CstampClock c;
  c.sample(1000, kNow + Millis(300));  // received 300 ms after creation
  c.sample(1000, kNow + Millis(30));   // received 30 ms after: better
  c.sample(1000, kNow + Millis(900));  // an update of an older address: worse
  EXPECT_EQ(age(c, 900, kNow + Millis(30)), Millis(1000) - CstampClock::kSlack);
}

TEST(CstampClock, RefusesASampleFarAheadOfTheReference) {
  CstampClock c;
  c.sample(1000, kNow);
  // An old address seen across the wrap would claim a clock 400 days ahead:
  // taking it would make every age 400 days older.
  c.sample(1000 + 400u * 86400u * 100u, kNow + Millis(10));
  EXPECT_EQ(age(c, 900), Millis(1000) - CstampClock::kSlack);
}

TEST(CstampClock, AssumedReferenceUsesTheHostClockMinusTheLag) {
  CstampClock c;
  // havipd in a time namespace whose monotonic clock is 600 days ahead:
  // cstamp counts the host's clock, which reads kNow - 600 days.
  Millis offset = std::chrono::duration_cast<Millis>(std::chrono::hours(24 * 600));
  c.assume(kNow, offset);
  auto host_cs = std::uint32_t(
      std::uint64_t((std::chrono::duration_cast<Millis>(kNow.time_since_epoch()) - offset) /
                    Millis(10)));
  // Created 5 s ago on the host's clock: at least 5 s - 1 s (the assumed lag) old.
  EXPECT_EQ(age(c, host_cs - 500), Millis(4000) - CstampClock::kSlack);
}

TEST(CstampClock, ALiveSampleImprovesOnTheAssumedReference) {
  CstampClock c;
  c.assume(kNow, Millis(0));
  auto now_cs = std::uint32_t(std::uint64_t(kNow.time_since_epoch() / Millis(10)));
  c.sample(now_cs - 20, kNow);  // the real lag is 200 ms, not a second
  EXPECT_EQ(age(c, now_cs - 520), Millis(5000) - CstampClock::kSlack);
}

}  // namespace
}  // namespace havip
