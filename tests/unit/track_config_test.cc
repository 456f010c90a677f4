// havip.toml's track keys: track_file per router, the timing and value in
// [daemon] (defaults) and per router, and their errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config_parse.h"
#include "config_test_util.h"

namespace havip {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;

using namespace config_test;  // NOLINT: config_of, errors_of, IsError

TEST(TrackConfig, DefaultsWithoutATrackFile) {
  Config c = config_of(R"(
[[router]]
name = "r1"
interface = "ha-r1"
vip = "169.254.0.1/24"
)");
  ASSERT_EQ(c.routers.size(), 1u);
  const auto& r = c.routers[0];
  EXPECT_EQ(r.track_file, "");
  EXPECT_EQ(r.track_grace, Millis(10000));
  EXPECT_EQ(r.track_failure_timeout, Millis(60000));
  EXPECT_EQ(r.track_failure_value, -254);
}

TEST(TrackConfig, DaemonDefaultsAndPerRouterValuesResolveLikeHoldDown) {
  Config c = config_of(R"(
[[router]]
name = "r1"
interface = "ha-r1"
vip = "169.254.0.1/24"
track_file = "/run/havip/r1.track"
track_grace_ms = 2000
track_failure_timeout_ms = 0
track_failure_value = 1

[[router]]
name = "r2"
interface = "ha-r2"
vip = "169.254.0.2/24"
track_file = "/run/havip/r2.track"

[daemon]
track_grace_ms = 5000
track_failure_timeout_ms = 120000
track_failure_value = -100
)");
  ASSERT_EQ(c.routers.size(), 2u);
  EXPECT_EQ(c.routers[0].track_file, "/run/havip/r1.track");
  EXPECT_EQ(c.routers[0].track_grace, Millis(2000));
  EXPECT_EQ(c.routers[0].track_failure_timeout, Millis(0));
  EXPECT_EQ(c.routers[0].track_failure_value, 1);
  EXPECT_EQ(c.routers[1].track_grace, Millis(5000));
  EXPECT_EQ(c.routers[1].track_failure_timeout, Millis(120000));
  EXPECT_EQ(c.routers[1].track_failure_value, -100);
  EXPECT_EQ(c.daemon.track_grace, Millis(5000));
}

TEST(TrackConfig, TwoRoutersMayNotShareATrackFile) {
  EXPECT_THAT(errors_of(R"(
[[router]]
name = "a"
interface = "ha-a"
vip = "169.254.0.1/24"
track_file = "/run/havip/shared"

[[router]]
name = "b"
interface = "ha-b"
vip = "169.254.0.2/24"
track_file = "/run/havip/shared"
)"),
              ElementsAre(IsError(11, "router[2].track_file",
                                  R"(track_file "/run/havip/shared" of router "b" is already )"
                                  R"(written for router "a" (router[1], line 5))")));
}

TEST(TrackConfig, ATrackFileIsAnAbsolutePathOfAFile) {
  for (const char* bad : {"relative/r1.track", "/run/havip/", "/run/havip/..", "/run/.", ""}) {
    std::string text = std::string(R"(
[[router]]
name = "r1"
interface = "ha-r1"
vip = "169.254.0.1/24"
track_file = ")") + bad +
                       "\"\n";
    EXPECT_THAT(errors_of(text), ElementsAre(IsError(5, "router[1].track_file",
                                                     "expected an absolute path of a file")))
        << bad;
  }
}

TEST(TrackConfig, ValuesOutOfRangeAndZeroAreRefused) {
  EXPECT_THAT(
      errors_of(R"(
[daemon]
track_grace_ms = -1
track_failure_timeout_ms = 86400001
track_failure_value = 0

[[router]]
name = "r1"
interface = "ha-r1"
vip = "169.254.0.1/24"
track_failure_value = 2147483648
track_grace_ms = "10s"
)"),
      ElementsAre(IsError(2, "daemon.track_grace_ms", "from 0 to 3600000, got -1"),
                  IsError(3, "daemon.track_failure_timeout_ms", "from 0 to 86400000, got 86400001"),
                  IsError(4, "daemon.track_failure_value",
                          "expected a non-zero integer: 0 is the value of a healthy"),
                  IsError(10, "router[1].track_failure_value",
                          "from -2147483647 to 2147483647, got 2147483648"),
                  IsError(11, "router[1].track_grace_ms", "expected an integer, got a string")));
}

TEST(TrackConfig, AMisspelledKeyGetsASuggestion) {
  EXPECT_THAT(errors_of(R"(
[[router]]
name = "r1"
interface = "ha-r1"
vip = "169.254.0.1/24"
trackfile = "/run/havip/r1.track"
)"),
              ElementsAre(IsError(5, "router[1].trackfile", "did you mean 'track_file'?")));
}

}  // namespace
}  // namespace havip
