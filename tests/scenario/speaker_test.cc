// keepalived's liveness and the other hosts' adverts, as rows: the role
// `fault`, stale VIPs and split brain (docs/STATES.md, "keepalived and its
// peers"). The router r1 has VRID 1, adverts every second and no known
// priority, so its master-down interval is 3 s + a 1 s skew.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "scenario/scenario.h"

namespace havip::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

struct Row {
  const char* what;
  const char* steps;
  std::vector<std::string> out;
};

Scenario make(const std::function<void(RouterConfig&)>& tweak) {
  auto r1 = router("r1", "ns1", "ha-r1", "169.254.0.1/24");
  tweak(r1);
  return Scenario({r1, router("r2", "ns2", "ha-r2", "169.254.0.1/24")});
}

void check(
    const std::vector<Row>& rows,
    const std::function<void(RouterConfig&)>& tweak = [](RouterConfig&) {}) {
  for (const auto& row : rows) {
    Scenario s = make(tweak);
    EXPECT_EQ(s.run(row.steps), row.out) << row.what << "\n  steps: " << row.steps;
  }
}

constexpr const char* kPrimary = "@0 boot vip age=5000; speaker up";

TEST(Speaker, AStaleVipIsAFaultOnceAPeerAdvertises) {
  check({
      {"keepalived killed, the peer takes over: fault, addresses released",
       "@0 boot vip age=5000; speaker up; @100 speaker down; @3500 advert; -vip",
       {"r1 unknown->primary", "r1 speaker down", "r1 listen if=2", "r1 primary->fault",
        "r1 release", "r1 unlisten"}},
      {"nobody else advertises: still primary, flagged stale after 3 adverts + skew",
       "@0 boot vip age=5000; speaker up; @100 speaker down; @4099; @4100",
       {"r1 unknown->primary", "r1 speaker down", "r1 listen if=2", "r1 stale-vip on"}},
      {"a peer that comes later still takes over; the stale flag ends with the release",
       "@0 boot vip age=5000; speaker up; @100 speaker down; @4100; @9000 advert; -vip",
       {"r1 unknown->primary", "r1 speaker down", "r1 listen if=2", "r1 stale-vip on",
        "r1 primary->fault", "r1 release", "r1 stale-vip off", "r1 unlisten"}},
      {"an advert from before keepalived died says nothing about now",
       "@0 boot vip age=5000; speaker up; @50 advert; @100 speaker down",
       {"r1 unknown->primary", "r1 speaker down", "r1 listen if=2"}},
      {"a master giving up (priority 0) is not a master",
       "@0 boot vip age=5000; speaker up; @100 speaker down; @200 advert prio=0",
       {"r1 unknown->primary", "r1 speaker down", "r1 listen if=2"}},
      {"another VRID, or another interface, is another router",
       "@0 boot vip age=5000; speaker up; @100 speaker down; @200 advert vrid=2; advert if=7",
       {"r1 unknown->primary", "r1 speaker down", "r1 listen if=2"}},
      {"this host's own address is not a peer",
       "@0 boot vip age=5000; addr 10.0.0.1; speaker up; @100 speaker down; @200 advert "
       "from=10.0.0.1",
       {"r1 unknown->primary", "r1 speaker down", "r1 listen if=2"}},
      {"a backup whose keepalived died holds nothing: nothing to read, no fault",
       "@0 boot; speaker up; @100 speaker down; @200 advert",
       {"r1 unknown->backup", "r1 speaker down"}},
      {"a pending primary whose keepalived dies is a fault once a peer advertises",
       "@0 boot; speaker up; @10 +vip; @100 speaker down; @200 advert",
       {"r1 unknown->backup", "r1 speaker down", "r1 listen if=2", "r1 backup->fault",
        "r1 release"}},
  });
}

TEST(Speaker, KeepalivedBackAfterAFault) {
  check({
      {"the VIP released: backup",
       "@0 boot vip age=5000; speaker up; @100 speaker down; @3500 advert; -vip; @6000 speaker "
       "up",
       {"r1 unknown->primary", "r1 speaker down", "r1 listen if=2", "r1 primary->fault",
        "r1 release", "r1 unlisten", "r1 speaker back", "r1 fault->backup"}},
  });
  check(
      {
          {"report: the VIP kept is stale; when keepalived is back, it counts from then",
           "@0 boot vip age=5000; speaker up; @100 speaker down; @3500 advert; @6000 speaker up;"
           " @7999; @8000",
           {"r1 unknown->primary", "r1 speaker down", "r1 listen if=2", "r1 primary->fault",
            "r1 stale-vip on", "r1 speaker back", "r1 stale-vip off", "r1 unlisten",
            "r1 fault->primary"}},
      },
      [](RouterConfig& c) { c.on_stale_vip = StaleVip::report; });
}

TEST(Speaker, WithoutAVridNothingIsReadButStaleIsStillSeen) {
  check({{"no vrid",
          "@0 boot vip age=5000; speaker up; @100 speaker down; @4100",
          {"r1 unknown->primary", "r1 speaker down", "r1 stale-vip on"}}},
        [](RouterConfig& c) { c.vrrp.vrid = 0; });
}

TEST(Speaker, UntrackedIgnoresTheSpeaker) {
  check({{"track_speaker = false",
          "@0 boot vip age=5000; speaker down; @100 advert; @5000",
          {"r1 unknown->primary"}}},
        [](RouterConfig& c) { c.track_speaker = false; });
}

TEST(Speaker, SaysWhatHappened) {
  Scenario s = make([](RouterConfig&) {});
  s.run("@0 boot vip age=5000; speaker up; @100 speaker down; @3500 advert");
  EXPECT_THAT(s.log(), Contains(HasSubstr(
                           "r1: primary -> fault (keepalived (pid 100) was killed and 10.0.0.2 "
                           "advertises as master for VRID 1 (priority 100))")));
  EXPECT_THAT(s.alerts(), Contains("r1: keepalived (pid 100) was killed"));
}

void observing(RouterConfig& c) {
  c.observe_vrrp = true;
  c.vrrp.advert_interval = Millis(1000);
}

TEST(SplitBrain, APeerMasterForThreeIntervalsWhileThisHostIsPrimary) {
  check(
      {
          {"observe_vrrp reads adverts from the start",
           "@0 boot",
           {"r1 unknown->backup", "r1 listen if=2"}},
          {"adverts for 3 intervals, 2 of them while primary: split brain; they stop: over "
           "a minute later",
           "@0 boot vip age=5000; @1000 advert; @2000 advert; @3000 advert; @3999 advert; "
           "@4000 advert; @63999; @64000",
           {"r1 unknown->primary", "r1 listen if=2", "r1 split-brain on", "r1 split-brain off"}},
          {"masters taking turns (keepalived's timers): the run counts from the peer's first "
           "advert",
           "@0 boot; @100 +vip; @200 advert; @1200 advert; @2100; @2200 advert; @3200 advert",
           {"r1 unknown->backup", "r1 listen if=2", "r1 backup->primary", "r1 split-brain on"}},
          {"no longer primary: over at once",
           "@0 boot vip age=5000; @1000 advert; @2000 advert; @3000 advert; @4000 advert; "
           "@4500 -vip",
           {"r1 unknown->primary", "r1 listen if=2", "r1 split-brain on", "r1 primary->backup",
            "r1 split-brain off"}},
          {"a normal failover (the peer stops within an interval) is not split brain",
           "@0 boot; @100 +vip; @2100; @2500 advert; @9000",
           {"r1 unknown->backup", "r1 listen if=2", "r1 backup->primary"}},
          {"a backup hearing the master is how VRRP works",
           "@0 boot; @1000 advert; @2000 advert; @3000 advert; @4000 advert; @5000 advert",
           {"r1 unknown->backup", "r1 listen if=2"}},
          {"other settings are reported at once, backup or not",
           "@0 boot; @1000 advert int=2000",
           {"r1 unknown->backup", "r1 listen if=2", "r1 split-brain on"}},
      },
      observing);
}

TEST(SplitBrain, MismatchesAreNamed) {
  Scenario s = make(observing);
  s.run("@0 boot; @1000 advert int=2000 ver=3 vip=169.254.0.9");
  EXPECT_THAT(s.alerts(),
              Contains("r1: 10.0.0.2 advertises VRID 1 with other settings: VRRP version 3, here "
                       "2; advert interval 2000 ms, here 1000 ms; addresses [169.254.0.9] "
                       "without 169.254.0.1"));
}

}  // namespace
}  // namespace havip::testing
