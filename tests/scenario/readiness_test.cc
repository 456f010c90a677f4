// Readiness with a recording sd_notify: READY once, STATUS after a burst.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/readiness.h"

namespace havip::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

struct Rig {
  std::vector<std::string> sent;
  Readiness r{[this](const std::string& s) { sent.push_back(s); }};
};

TEST(Readiness, ReadyOnlyOnceEveryNamespaceIsReadAndTheFirstWritesAreDone) {
  Rig rig;
  rig.r.update(RoleCounts{.primary = 1, .unknown = 1}, false, false);  // a namespace not read yet
  rig.r.update({1, 1, 0}, true, true);    // its state files still being written
  EXPECT_THAT(rig.sent, IsEmpty());
  EXPECT_FALSE(rig.r.ready());
  rig.r.update({1, 1, 0}, true, false);
  EXPECT_THAT(rig.sent, ElementsAre("READY=1\nSTATUS=2 routers: 1 primary, 1 backup"));
  EXPECT_TRUE(rig.r.ready());
  EXPECT_FALSE(rig.r.status_due());
}

TEST(Readiness, AStatusChangeIsSentOnceTheBurstIsOver) {
  Rig rig;
  rig.r.update({0, 1, 0}, true, false);
  rig.sent.clear();
  rig.r.update({1, 0, 0}, true, false);
  rig.r.update(RoleCounts{.unknown = 1}, true, false);  // a burst: nothing sent yet
  EXPECT_THAT(rig.sent, IsEmpty());
  EXPECT_TRUE(rig.r.status_due());
  rig.r.idle();
  rig.r.idle();
  EXPECT_THAT(rig.sent, ElementsAre("STATUS=1 router: 0 primary, 0 backup, 1 unknown"));
}

TEST(Readiness, ReloadAndStop) {
  Rig rig;
  rig.r.reloading(1234);
  rig.r.reloaded();
  rig.r.stopping();
  EXPECT_THAT(rig.sent, ElementsAre("RELOADING=1\nMONOTONIC_USEC=1234", "READY=1", "STOPPING=1"));
}

}  // namespace
}  // namespace havip::testing
