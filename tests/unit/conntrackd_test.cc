// conntrackd's commands per role (core/conntrackd.h), and which Neutron routers
// run them (neutron/neutron.h): docs/NEUTRON.md "conntrackd".
#include "core/conntrackd.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "neutron/neutron.h"

namespace havip {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr Role P = Role::primary, B = Role::backup, F = Role::fault, U = Role::unknown;

const ConntrackdConfig kConf{"/etc/conntrackd/conntrackd.conf", "/usr/sbin/conntrackd",
                             Millis(5000)};

std::vector<std::string> options(Role from, Role to) {
  std::vector<std::string> out;
  for (const auto& argv : conntrackd_commands(kConf, from, to)) {
    EXPECT_THAT(std::vector(argv.begin(), argv.end() - 1),
                ElementsAre("/usr/sbin/conntrackd", "-C", "/etc/conntrackd/conntrackd.conf"));
    out.push_back(argv.back());
  }
  return out;
}

// Rows: from, to -> the options, in order (Neutron's sync_conntrack).
TEST(ConntrackdCommands, PerTransition) {
  EXPECT_THAT(options(U, P), ElementsAre("-c", "-f", "-R", "-B"));  // the initial state too
  EXPECT_THAT(options(U, B), ElementsAre("-t", "-n"));
  EXPECT_THAT(options(B, P), ElementsAre("-c", "-f", "-R", "-B"));
  EXPECT_THAT(options(P, B), ElementsAre("-t", "-n"));
  EXPECT_THAT(options(P, F), ElementsAre("-t", "-n"));  // Neutron sees backup
  EXPECT_THAT(options(U, F), ElementsAre("-t", "-n"));
  EXPECT_THAT(options(F, P), ElementsAre("-c", "-f", "-R", "-B"));
  EXPECT_THAT(options(B, F), IsEmpty());  // no state Neutron would see
  EXPECT_THAT(options(F, B), IsEmpty());
  EXPECT_THAT(options(P, U), IsEmpty());  // gone: nothing to sync
  EXPECT_THAT(options(B, U), IsEmpty());
}

NeutronHaRouter ha_router() {
  NeutronHaRouter ha;
  ha.ha_interface = "ha-0123456789a";
  ha.signal_vip = *IpPrefix::parse("169.254.0.1/24");
  ha.vrid = 1;
  return ha;
}

TEST(NeutronConntrackd, ARouterWithAConntrackdConfRunsTheCommandsWithIt) {
  NeutronConfig n;
  n.state_path = "/srv/neutron";
  n.conntrackd_binary = "/opt/sbin/conntrackd";
  n.conntrackd_timeout = Millis(1500);
  DaemonConfig d;
  auto r = neutron::router_config(n, d, "r1", ha_router(), "qrouter-r1", std::nullopt, true);
  ASSERT_TRUE(r.conntrackd);
  EXPECT_EQ(*r.conntrackd, (ConntrackdConfig{"/srv/neutron/ha_confs/r1/conntrackd.conf",
                                             "/opt/sbin/conntrackd", Millis(1500)}));
  EXPECT_EQ(neutron::conntrackd_conf(n, "r1"), "/srv/neutron/ha_confs/r1/conntrackd.conf");
  EXPECT_FALSE(neutron::router_config(n, d, "r1", ha_router(), "qrouter-r1", std::nullopt, false)
                   .conntrackd);
  n.conntrackd = false;  // [neutron] conntrackd = false
  EXPECT_FALSE(
      neutron::router_config(n, d, "r1", ha_router(), "qrouter-r1", std::nullopt, true).conntrackd);
}

}  // namespace
}  // namespace havip
