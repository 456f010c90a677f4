// TrackFiles (daemon/track_files.h) with a recording write: what is written
// when, drain and undrain, removal, and failed writes.
#include "daemon/track_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "scenario/fakes.h"
#include "scenario/scenario.h"

namespace havip::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

RouterConfig tracked(const std::string& name) {
  auto r = router(name, "", "ha-" + name, "169.254.0.1/24");
  r.track_file = "/run/havip/" + name + ".track";
  r.track_grace = Millis(10000);
  r.track_failure_timeout = Millis(60000);
  return r;
}

struct Rig {
  std::vector<std::string> writes;  // "PATH VALUE"
  std::set<std::string> broken;     // paths whose write fails
  FakeObserver observer;
  TrackFiles track{[this](const std::string& path, const std::string& content) {
                     if (broken.contains(path))
                       return tl::expected<void, std::string>(tl::unexpect,
                                                              "Read-only file system");
                     writes.push_back(path + " " + content.substr(0, content.size() - 1));
                     return tl::expected<void, std::string>();
                   },
                   observer};
  std::map<std::string, Role> roles;
  std::map<std::string, std::vector<std::string>> unhealthy;
  TimePoint t0 = TimePoint(std::chrono::hours(1));

  explicit Rig(std::vector<RouterConfig> routers) { track.configure(routers); }
  void at(int ms) {
    track.update(TrackFiles::Inputs{[this](const std::string& r) { return roles[r]; },
                                    [this](const std::string& r) { return unhealthy[r]; }},
                 t0 + Millis(ms));
  }
  std::vector<std::string> take() { return std::exchange(writes, {}); }
};

TEST(TrackFiles, EveryTrackFileIsWrittenOnceAtStartThenOnlyOnAChange) {
  auto plain = router("r3", "", "ha-r3", "169.254.0.3/24");  // no track_file: nothing
  Rig rig({tracked("r1"), tracked("r2"), plain});
  rig.at(0);
  EXPECT_THAT(rig.take(), ElementsAre("/run/havip/r1.track 0", "/run/havip/r2.track 0"));
  rig.roles["r1"] = Role::primary;
  rig.at(100);
  EXPECT_THAT(rig.take(), IsEmpty());
  rig.unhealthy["r1"] = {"radvd"};
  rig.at(200);
  EXPECT_THAT(rig.take(), IsEmpty());
  EXPECT_EQ(rig.track.deadline(), rig.t0 + Millis(10200));
  rig.at(10200);
  EXPECT_THAT(rig.take(), ElementsAre("/run/havip/r1.track -254"));
  EXPECT_EQ(rig.track.verdict("r1")->reason, "radvd failing for 10 s on the primary");
  EXPECT_EQ(rig.track.verdict("r3"), nullptr);
}

TEST(TrackFiles, AFailedWriteIsReportedRetriedWithBackoffAndHoldsUpNoOtherRouter) {
  Rig rig({tracked("r1"), tracked("r2")});
  rig.broken.insert("/run/havip/r1.track");
  rig.at(0);
  EXPECT_THAT(rig.take(), ElementsAre("/run/havip/r2.track 0"));
  EXPECT_TRUE(rig.track.write_failing("r1"));
  EXPECT_THAT(rig.observer.take(),
              ElementsAre(HasSubstr("r1 track_file: track file /run/havip/r1.track cannot be "
                                    "written (Read-only file system)")));
  rig.at(50);  // not due yet
  EXPECT_THAT(rig.take(), IsEmpty());
  EXPECT_THAT(rig.observer.take(), IsEmpty());
  rig.broken.clear();
  rig.at(100);
  EXPECT_THAT(rig.take(), ElementsAre("/run/havip/r1.track 0"));
  EXPECT_FALSE(rig.track.write_failing("r1"));
}

TEST(TrackFiles, DrainWritesTheFailureValueUndrainZero) {
  Rig rig({tracked("r1"), tracked("r2")});
  rig.at(0);
  rig.take();
  auto change = rig.track.drain({"r1"});
  ASSERT_TRUE(change) << change.error();
  EXPECT_THAT(change->routers, ElementsAre("r1"));
  rig.track.set_drained(change->next);
  rig.at(1);
  EXPECT_THAT(rig.take(), ElementsAre("/run/havip/r1.track -254"));
  EXPECT_EQ(rig.track.verdict("r1")->state, TrackVerdict::State::drained);
  auto back = rig.track.undrain({});
  ASSERT_TRUE(back);
  EXPECT_THAT(back->routers, ElementsAre("r1"));
  EXPECT_THAT(back->next, IsEmpty());
  rig.track.set_drained(back->next);
  rig.at(2);
  EXPECT_THAT(rig.take(), ElementsAre("/run/havip/r1.track 0"));
}

TEST(TrackFiles, DrainingAllTakesTheTrackedRoutersAndSaysWhichAreSkipped) {
  Rig rig({tracked("r1"), router("r2", "", "ha-r2", "169.254.0.2/24"), tracked("r3")});
  auto change = rig.track.drain({});
  ASSERT_TRUE(change);
  EXPECT_THAT(change->routers, ElementsAre("r1", "r3"));
  EXPECT_THAT(change->skipped, ElementsAre("r2"));
  EXPECT_EQ(change->next, (std::set<std::string>{"r1", "r3"}));
}

TEST(TrackFiles, DrainRefusesUnknownRoutersAndThoseWithoutATrackFile) {
  Rig rig({tracked("r1"), router("r2", "", "ha-r2", "169.254.0.2/24")});
  EXPECT_EQ(rig.track.drain({"r1", "nope", "gone"}).error(), "unknown routers: nope, gone");
  EXPECT_EQ(rig.track.drain({"r2"}).error(),
            "router r2 has no track_file: havipd cannot move it; see track_file in "
            "havip.toml(5)");
  EXPECT_EQ(rig.track.undrain({"nope"}).error(), "unknown router: nope");
  Rig none({router("r2", "", "ha-r2", "169.254.0.2/24")});
  EXPECT_THAT(none.track.drain({}).error(), HasSubstr("no router has a track_file"));
}

TEST(TrackFiles, ADrainedNameNotConfiguredIsKeptAndCanBeUndrained) {
  // Read at start before Neutron or keepalived.conf named it.
  Rig rig({tracked("r1")});
  rig.track.set_drained({"later"});
  rig.at(0);
  EXPECT_THAT(rig.take(), ElementsAre("/run/havip/r1.track 0"));
  auto back = rig.track.undrain({"later"});
  ASSERT_TRUE(back);
  EXPECT_THAT(back->next, IsEmpty());
}

TEST(TrackFiles, ARemovedRouterLeavesItsFileAtZero) {
  Rig rig({tracked("r1"), tracked("r2")});
  rig.track.set_drained({"r1", "r2"});
  rig.at(0);
  rig.take();
  rig.track.configure({tracked("r2")});
  EXPECT_THAT(rig.take(), ElementsAre("/run/havip/r1.track 0"));
  auto moved = tracked("r2");
  moved.track_file = "/run/keepalived/r2.track";
  rig.track.configure({moved});
  EXPECT_THAT(rig.take(), ElementsAre("/run/havip/r2.track 0"));
  rig.at(1);  // the new file gets its value
  EXPECT_THAT(rig.take(), ElementsAre("/run/keepalived/r2.track -254"));
}

}  // namespace
}  // namespace havip::testing
