// The decision core driven by events, with a fake clock. Each row is one
// behaviour: given these steps, these transitions (and only these) happen.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "scenario/scenario.h"

namespace havip::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

struct Row {
  const char* what;
  const char* steps;
  std::vector<std::string> transitions;
};

void check(const std::vector<Row>& rows, Millis hold_down = Millis(2000)) {
  for (const auto& row : rows) {
    Scenario s(hold_down);
    EXPECT_EQ(s.run(row.steps), row.transitions) << row.what << "\n  steps: " << row.steps;
  }
}

// Neutron's hold-down (ha.py enqueue_state_change; its unit tests pin
// [primary] -> 1 applied, [backup] -> 1, [primary, backup] -> 0,
// [backup, primary] -> 2), expressed as VIP events.
TEST(HoldDown, NeutronMatrix) {
  check({
      {"[primary]: VIP added, applied after the hold-down",
       "@0 boot; @10 +vip; @2009; @2010", {"r1 unknown->backup", "r1 backup->primary"}},
      {"[backup]: VIP removed, applied at once",
       "@0 boot vip age=5000; @10 -vip", {"r1 unknown->primary", "r1 primary->backup"}},
      {"[primary, backup] within the hold-down: nothing applied",
       "@0 boot; @10 +vip; @1000 -vip; @5000", {"r1 unknown->backup"}},
      {"[backup, primary]: both applied",
       "@0 boot vip age=5000; @10 -vip; @20 +vip; @2020",
       {"r1 unknown->primary", "r1 primary->backup", "r1 backup->primary"}},
      {"[primary, backup] before any decision still records backup",
       "@0 boot vip age=100; @500 -vip", {"r1 unknown->backup"}},
      {"a flap within the hold-down restarts it",
       "@0 boot; @10 +vip; @1000 -vip; @1500 +vip; @3499; @3500",
       {"r1 unknown->backup", "r1 backup->primary"}},
  });
}

TEST(HoldDown, ZeroAppliesAtOnce) {
  check({{"hold-down 0", "@0 boot; @1 +vip; @2 -vip",
          {"r1 unknown->backup", "r1 backup->primary", "r1 primary->backup"}}},
        Millis(0));
}

TEST(StartUp, DecidesFromTheDump) {
  check({
      {"no VIP: backup at once", "@0 boot", {"r1 unknown->backup"}},
      {"VIP older than the hold-down: primary at once (restart causes no outage)",
       "@0 boot vip age=2000", {"r1 unknown->primary"}},
      {"young VIP: primary once the hold-down has passed since its creation",
       "@0 boot vip age=500; @1499; @1500", {"r1 unknown->primary"}},
      {"young VIP: nothing decided before then", "@0 boot vip age=500; @1499", {}},
      {"events before the dump ends decide nothing", "@0 +vip; @5000", {}},
  });
}

TEST(Presence, OnlyAUsableVipOnTheConfiguredInterfaceCounts) {
  check({
      {"tentative IPv6-style VIP is not present", "@0 boot; @1 +vip tentative; @9000",
       {"r1 unknown->backup"}},
      {"DAD failed is not present", "@0 boot; @1 +vip dadfailed; @9000", {"r1 unknown->backup"}},
      {"tentative, then DAD done: hold-down counts from when it became usable",
       "@0 boot; @1 +vip tentative; @1000 +vip; @2999; @3000",
       {"r1 unknown->backup", "r1 backup->primary"}},
      {"VIP on another interface", "@0 boot; link 3 eth0; @1 +vip if=3; @9000",
       {"r1 unknown->backup"}},
      {"same address, other prefix length", "@0 boot; @1 +vip len=32; @9000",
       {"r1 unknown->backup"}},
      {"refresh of a present VIP is not a transition",
       "@0 boot vip age=9000; @10 +vip; @20 +vip; @9000", {"r1 unknown->primary"}},
      {"VIP in another namespace does not count", "@0 boot; boot ns2; @1 +vip ns2; @9000",
       {"r1 unknown->backup", "r2 unknown->backup", "r2 backup->primary"}},
  });
}

TEST(Links, RenamesAndIfindexChanges) {
  check({
      {"HA interface renamed away: VIP no longer counts",
       "@0 boot vip age=9000; @10 link 2 ha-old", {"r1 unknown->primary", "r1 primary->backup"}},
      {"another interface renamed to the HA name brings its VIP",
       "@0 boot; link 7 tmp; @1 +vip if=7; @10 link 7 ha-r1; @2010",
       {"r1 unknown->backup", "r1 backup->primary"}},
      {"HA interface re-created with a new ifindex",
       "@0 boot vip age=9000; @10 unlink 2; link 9 ha-r1; @20 +vip if=9; @2020",
       {"r1 unknown->primary", "r1 primary->backup", "r1 backup->primary"}},
      {"address event before its link is known", "@0 boot; @1 +vip if=5; link 5 ha-r1; @2001",
       {"r1 unknown->backup", "r1 backup->primary"}},
  });
}

TEST(Resync, ARedumpRepairsLostEvents) {
  check({
      {"a VIP deletion lost in an overrun is found by the re-dump",
       "@0 boot vip age=9000; @10 resync", {"r1 unknown->primary", "r1 primary->backup"}},
      {"a VIP addition lost in an overrun is found by the re-dump",
       "@0 boot; @10 resync vip age=5; @2005", {"r1 unknown->backup", "r1 backup->primary"}},
      {"a re-dump that confirms the truth changes nothing",
       "@0 boot vip age=9000; @10 resync vip age=9010", {"r1 unknown->primary"}},
  });
}

TEST(Namespaces, GoneAndBack) {
  check({
      {"namespace deleted: its routers become unknown, others untouched",
       "@0 boot vip age=9000; boot ns2; @10 gone ns1",
       {"r1 unknown->primary", "r2 unknown->backup", "r1 primary->unknown"}},
      {"a pending primary is dropped with its namespace", "@0 boot; @10 +vip; @20 gone; @5000",
       {"r1 unknown->backup", "r1 backup->unknown"}},
      {"namespace re-created: decided again from its dump",
       "@0 boot; @10 gone; @20 boot vip age=9000",
       {"r1 unknown->backup", "r1 backup->unknown", "r1 unknown->primary"}},
  });
}

TEST(Reasons, TransitionsSayWhy) {
  Scenario s;
  s.run("@0 boot; @10 +vip; @2010; @3000 -vip; gone");
  EXPECT_THAT(s.log(),
              ElementsAre("r1: unknown -> backup (no vip 169.254.0.1/24 on ha-r1 in ns1)",
                          "r1: backup -> primary (vip 169.254.0.1/24 on ha-r1 in ns1)",
                          "r1: primary -> backup (no vip 169.254.0.1/24 on ha-r1 in ns1)",
                          "r1: backup -> unknown (namespace ns1 gone: deleted)"));
}

TEST(Deadline, TheDaemonTimerFollowsThePendingHoldDown) {
  Scenario s;
  s.run("@0 boot; @10 +vip");
  ASSERT_TRUE(s.engine().next_deadline());
  EXPECT_EQ(*s.engine().next_deadline() - s.now(), Millis(2000));
  s.run("@20 -vip");
  EXPECT_FALSE(s.engine().next_deadline());
}

TEST(Reconfigure, UnchangedRoutersAreUntouched) {
  Scenario s;
  s.run("@0 boot vip age=9000; boot ns2");
  auto& e = s.engine();
  // Same r1, r2 with another VIP (absent: was backup, stays backup), new r3 in ns1.
  auto actions = e.reconfigure({router("r1", "ns1", "ha-r1", "169.254.0.1/24"),
                                router("r2", "ns2", "ha-r2", "169.254.0.9/24"),
                                router("r3", "ns1", "ha-r1", "169.254.0.1/24", Millis(0))},
                               s.now());
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(std::get<RoleChange>(actions[0]).router, "r3");
  EXPECT_EQ(std::get<RoleChange>(actions[0]).to, Role::primary);
  EXPECT_EQ(e.role_of("r1"), Role::primary);
  EXPECT_EQ(e.role_of("r2"), Role::backup);
}

TEST(Reconfigure, ChangedRouterStartsFromItsOldRole) {
  Scenario s;
  s.run("@0 boot vip age=9000");
  // r1 now watches a VIP that is absent: primary -> backup, a real transition.
  auto actions =
      s.engine().reconfigure({router("r1", "ns1", "ha-r1", "169.254.0.7/24")}, s.now());
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(std::get<RoleChange>(actions[0]).from, Role::primary);
  EXPECT_EQ(std::get<RoleChange>(actions[0]).to, Role::backup);
  EXPECT_EQ(s.engine().namespaces(), (std::set<std::string>{"ns1"}));
}

TEST(Reconfigure, RemovedRoutersAndNamespacesAreForgotten) {
  Scenario s;
  s.run("@0 boot; boot ns2");
  auto actions = s.engine().reconfigure({router("r1", "ns1", "ha-r1", "169.254.0.1/24")}, s.now());
  EXPECT_THAT(actions, IsEmpty());
  EXPECT_FALSE(s.engine().role_of("r2"));
  EXPECT_FALSE(s.engine().synced("ns2"));
}

TEST(Counts, SummariseRoles) {
  Scenario s;
  s.run("@0 boot vip age=9000");
  auto c = s.engine().counts();
  EXPECT_EQ(c.primary, 1u);
  EXPECT_EQ(c.backup, 0u);
  EXPECT_EQ(c.unknown, 1u);
}

}  // namespace
}  // namespace havip::testing

namespace havip::testing {
namespace {

TEST(Reconfigure, RouterMovedToANamespaceNotReadYetBecomesUnknown) {
  Scenario s;
  s.run("@0 boot vip age=9000");
  auto actions =
      s.engine().reconfigure({router("r1", "ns9", "ha-r1", "169.254.0.1/24")}, s.now());
  ASSERT_EQ(actions.size(), 1u);
  const auto& c = std::get<RoleChange>(actions[0]);
  EXPECT_EQ(c.from, Role::primary);
  EXPECT_EQ(c.to, Role::unknown);
  EXPECT_EQ(c.reason, "namespace ns9 not read yet");
}

}  // namespace
}  // namespace havip::testing

namespace havip::testing {
namespace {

TEST(Gateway, AGatewayInterfaceAppearingAfterADecisionIsAnnounced) {
  auto r1 = router("r1", "ns1", "ha-r1", "169.254.0.1/24");
  r1.gateway_interface = "qg-r1";
  Scenario s({r1});
  EXPECT_EQ(s.run("@0 link 5 qg-r1"), std::vector<std::string>{});  // nothing decided yet
  EXPECT_EQ(s.run("@1 boot vip age=9000"), std::vector<std::string>{"r1 unknown->primary"});
  EXPECT_EQ(s.run("@2 unlink 5; link 6 qg-r1"), std::vector<std::string>{"r1 gateway appeared"});
  EXPECT_EQ(s.run("@3 link 6 qg-r1"), std::vector<std::string>{});  // a mere update
  EXPECT_EQ(s.run("@4 link 7 tmp; link 7 qg-r1"),
            std::vector<std::string>{"r1 gateway appeared"});  // renamed into place
}

}  // namespace
}  // namespace havip::testing
