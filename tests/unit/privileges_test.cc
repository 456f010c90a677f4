#include <gtest/gtest.h>

#include <linux/capability.h>

#include "core/privileges.h"

namespace havip {
namespace {

Privileges without(std::initializer_list<int> caps, bool root = true) {
  Privileges p;
  p.root = root;
  for (int c : caps) p.effective &= ~(1ULL << c);
  return p;
}

RouterConfig router(std::string name, std::string netns) {
  RouterConfig r;
  r.name = std::move(name);
  r.netns = std::move(netns);
  return r;
}

TEST(Privileges, ParsesCapEff) {
  EXPECT_EQ(parse_cap_eff("Name:\thavipd\nCapInh:\t0000000000000000\nCapEff:\t000001ffffdfffff\n"),
            0x000001ffffdfffffULL);
  EXPECT_EQ(parse_cap_eff("Name:\thavipd\n"), std::nullopt);
  EXPECT_EQ(parse_cap_eff("XCapEff:\t1\n"), std::nullopt);
}

TEST(Privileges, NoCapSysAdminIsFatalOnlyForRoutersInNamedNamespaces) {
  Config c;
  c.routers = {router("host", ""), router("r1", "ns1")};
  auto check = check_privileges(without({CAP_SYS_ADMIN}), c);
  ASSERT_EQ(check.fatal.size(), 1U);
  EXPECT_NE(check.fatal[0].find("CAP_SYS_ADMIN is missing"), std::string::npos);
  EXPECT_NE(check.fatal[0].find("r1 (in ns1)"), std::string::npos);
  EXPECT_EQ(check.fatal[0].find("host"), std::string::npos);

  c.routers = {router("host", "")};
  EXPECT_TRUE(check_privileges(without({CAP_SYS_ADMIN}), c).fatal.empty());
  c.neutron = NeutronConfig{};
  EXPECT_EQ(check_privileges(without({CAP_SYS_ADMIN}), c).fatal.size(), 1U);
}

TEST(Privileges, ListsAFewRoutersThenCounts) {
  Config c;
  for (int i = 0; i < 5; ++i) c.routers.push_back(router("r" + std::to_string(i), "ns"));
  auto check = check_privileges(without({CAP_SYS_ADMIN}), c);
  EXPECT_NE(check.fatal[0].find("r0 (in ns), r1 (in ns), r2 (in ns) and 2 more"),
            std::string::npos);
}

TEST(Privileges, RadvdCapabilitiesAreWarnedOnlyWhenARouterRunsRadvd) {
  Config c;
  c.routers = {router("r1", "ns")};
  auto none = without({CAP_NET_RAW, CAP_SETUID, CAP_KILL});
  EXPECT_TRUE(check_privileges(none, c).warnings.empty());
  c.routers[0].radvd = RadvdConfig{};
  EXPECT_EQ(check_privileges(none, c).warnings.size(), 1U);  // CAP_NET_RAW
  c.routers[0].radvd->user = "radvd";
  auto w = check_privileges(none, c).warnings;
  ASSERT_EQ(w.size(), 3U);
  EXPECT_NE(w[2].find("CAP_KILL is missing"), std::string::npos);
}

TEST(Privileges, NotRootIsSaidUnlessCapNetAdminCoversTheSysctls) {
  Config c;
  EXPECT_EQ(check_privileges(without({}, false), c).warnings.size(), 0U);
  auto w = check_privileges(without({CAP_NET_ADMIN}, false), c).warnings;
  ASSERT_EQ(w.size(), 2U);
  EXPECT_NE(w[1].find("not running as root"), std::string::npos);
}

TEST(Privileges, AllCapabilitiesSayNothing) {
  Config c;
  c.routers = {router("r1", "ns")};
  c.routers[0].radvd = RadvdConfig{};
  c.neutron = NeutronConfig{};
  auto check = check_privileges(Privileges{}, c);
  EXPECT_TRUE(check.fatal.empty());
  EXPECT_TRUE(check.warnings.empty());
}

}  // namespace
}  // namespace havip
