#include <gtest/gtest.h>

#include "core/backoff.h"

namespace havip {
namespace {

const TimePoint t0 = TimePoint(std::chrono::hours(1));

TEST(Backoff, DoublesUpToTheCap) {
  Backoff b(Millis(100), Millis(350));
  EXPECT_EQ(b.failed("r1", t0), Millis(100));
  EXPECT_EQ(b.failed("r1", t0), Millis(200));
  EXPECT_EQ(b.failed("r1", t0), Millis(350));
  EXPECT_EQ(b.failed("r1", t0), Millis(350));
}

TEST(Backoff, DueAndNextFollowTheEarliestKey) {
  Backoff b(Millis(10), Millis(1000));
  b.failed("a", t0);
  b.failed("b", t0 - Millis(5));
  EXPECT_EQ(b.next(), t0 + Millis(5));
  EXPECT_EQ(b.due(t0 + Millis(5)), std::vector<std::string>{"b"});
  EXPECT_EQ(b.due(t0 + Millis(10)), (std::vector<std::string>{"a", "b"}));
  b.clear("b");
  EXPECT_EQ(b.next(), t0 + Millis(10));
  EXPECT_FALSE(b.contains("b"));
}

TEST(Backoff, GivesUpAfterMaxAttemptsAndStartsOverAfterClear) {
  Backoff b(Millis(10), Millis(1000), 2);
  EXPECT_TRUE(b.failed("ns", t0));
  EXPECT_TRUE(b.failed("ns", t0));
  EXPECT_FALSE(b.failed("ns", t0));
  EXPECT_FALSE(b.contains("ns"));
  EXPECT_EQ(b.failed("ns", t0), Millis(10));
}

TEST(Backoff, AnAttemptUnderWayIsNeitherDueNorNextUntilItEnds) {
  Backoff b(Millis(10), Millis(1000));
  b.failed("a", t0);
  b.failed("b", t0);
  b.attempting("a");
  b.attempting("unknown key");  // nothing to wait for
  EXPECT_EQ(b.due(t0 + Millis(10)), std::vector<std::string>{"b"});
  EXPECT_TRUE(b.contains("a"));  // still failing
  b.clear("b");
  EXPECT_EQ(b.next(), std::nullopt);
  EXPECT_EQ(b.failed("a", t0 + Millis(10)), Millis(20));  // the backoff goes on
  EXPECT_EQ(b.next(), t0 + Millis(30));
  EXPECT_FALSE(b.contains("unknown key"));
}

}  // namespace
}  // namespace havip
