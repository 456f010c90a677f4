// The configuration file: what is accepted, and the precise error for what is not.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <ostream>
#include <string>

#include "config/config_parse.h"
#include "config_test_util.h"
#include "daemon/config_file.h"

namespace havip {

// So that a failing expectation prints the error the way a user sees it.
void PrintTo(const ConfigError& e, std::ostream* os) { *os << e.to_string(); }

namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

using namespace config_test;  // NOLINT: the helpers every test here uses

IpPrefix prefix(const char* text) { return IpPrefix::parse(text).value(); }

// A router as a test expects it: what identifies it is given, every other
// field keeps its default (a braced list would have to name them all).
RouterConfig signal_router(const char* name, const char* netns, const char* ifname,
                           const char* vip, Millis hold_down,
                           const char* state_dir = "/var/lib/havip") {
  RouterConfig r;
  r.name = name;
  r.state_dir = state_dir;
  r.netns = netns;
  r.interface = ifname;
  r.vip = prefix(vip);
  r.hold_down = hold_down;
  r.addresses = {HeldAddress{r.vip, r.interface}};  // what a stale VIP's release removes
  return r;
}

// ---- accepted configurations ----

TEST(Config, EmptyFileGivesDefaultsAndNoRouters) {
  Config c = config_of("");
  EXPECT_EQ(c.path, kFile);
  EXPECT_EQ(c.daemon, DaemonConfig{});
  EXPECT_EQ(c.daemon.state_dir, "/var/lib/havip");
  EXPECT_EQ(c.daemon.hold_down, Millis(2000));
  EXPECT_EQ(c.daemon.netns_dir, "/run/netns");
  EXPECT_EQ(c.daemon.netlink_receive_buffer, 4 * 1024 * 1024);
  EXPECT_EQ(c.daemon.state_sync, StateSync::deferred);
  EXPECT_EQ(c.daemon.run_dir, "/run/havip");
  EXPECT_EQ(c.daemon.radvd_binary, "/usr/sbin/radvd");
  EXPECT_THAT(c.routers, IsEmpty());
}

TEST(Config, MinimalRouterLivesInTheHostNamespaceWithTheDaemonHoldDown) {
  Config c = config_of(R"(
[[router]]
name = "edge1"
interface = "ha-edge1"
vip = "169.254.0.1/24"
)");
  ASSERT_EQ(c.routers.size(), 1u);
  const RouterConfig& r = c.routers[0];
  EXPECT_EQ(r.name, "edge1");
  EXPECT_EQ(r.netns, "");
  EXPECT_EQ(r.interface, "ha-edge1");
  EXPECT_EQ(r.vip, prefix("169.254.0.1/24"));
  EXPECT_EQ(r.hold_down, Millis(2000));
  EXPECT_EQ(r.gateway_interface, "");
  EXPECT_FALSE(r.ipv6_gateway);
  EXPECT_THAT(r.sysctls, IsEmpty());
  EXPECT_EQ(r.radvd, std::nullopt);
  EXPECT_THAT(r.services, IsEmpty());
  EXPECT_THAT(r.hooks, IsEmpty());
}

TEST(Config, FullConfigSetsEveryKey) {
  Config c = config_of(R"(
[daemon]
state_dir = "/srv/havip"
hold_down_ms = 1500
netns_dir = "/var/run/netns"
netlink_receive_buffer = 8388608
state_sync = "inline"

[[router]]
name = "edge1"
namespace = "qrouter-1"
interface = "ha-edge1"
vip = "169.254.0.1/24"

[[router]]
name = "edge2"
namespace = "qrouter-2"
interface = "ha-edge2"
vip = "169.254.0.2/24"
hold_down_ms = 0
)");
  EXPECT_EQ(c.daemon.state_dir, "/srv/havip");
  EXPECT_EQ(c.daemon.hold_down, Millis(1500));
  EXPECT_EQ(c.daemon.netns_dir, "/var/run/netns");
  EXPECT_EQ(c.daemon.netlink_receive_buffer, 8388608);
  EXPECT_EQ(c.daemon.state_sync, StateSync::inline_);
  ASSERT_EQ(c.routers.size(), 2u);
  EXPECT_EQ(c.routers[0],
            signal_router("edge1", "qrouter-1", "ha-edge1", "169.254.0.1/24", Millis(1500),
                          "/srv/havip"));
  EXPECT_EQ(c.routers[1], signal_router("edge2", "qrouter-2", "ha-edge2", "169.254.0.2/24",
                                        Millis(0), "/srv/havip"));
}

TEST(Config, StateSyncAcceptsEachMode) {
  EXPECT_EQ(config_of("daemon.state_sync = \"deferred\"").daemon.state_sync, StateSync::deferred);
  EXPECT_EQ(config_of("daemon.state_sync = \"inline\"").daemon.state_sync, StateSync::inline_);
  EXPECT_EQ(config_of("daemon.state_sync = \"off\"").daemon.state_sync, StateSync::off);
}

TEST(Config, Ipv6Vip) {
  Config c = config_of(R"(
[[router]]
name = "v6"
interface = "ha-v6"
vip = "fd00::1/64"
)");
  ASSERT_EQ(c.routers.size(), 1u);
  EXPECT_EQ(c.routers[0].vip.family, AF_INET6);
  EXPECT_EQ(c.routers[0].vip.to_string(), "fd00::1/64");
}

TEST(Config, EmptyNamespaceMeansTheHostNamespace) {
  Config c = config_of(R"(
[[router]]
name = "host"
namespace = ""
interface = "eth0"
vip = "10.0.0.1/32"
)");
  ASSERT_EQ(c.routers.size(), 1u);
  EXPECT_EQ(c.routers[0].netns, "");
}

TEST(Config, PerRouterHoldDownOverridesTheDaemonsWhereverDaemonIsWritten) {
  // [daemon] after the routers: the default is resolved regardless of order.
  Config c = config_of(R"(
[[router]]
name = "fast"
interface = "ha-fast"
vip = "169.254.0.1/24"
hold_down_ms = 500

[[router]]
name = "default"
interface = "ha-default"
vip = "169.254.0.2/24"

[daemon]
hold_down_ms = 3000
)");
  ASSERT_EQ(c.routers.size(), 2u);
  EXPECT_EQ(c.routers[0].hold_down, Millis(500));
  EXPECT_EQ(c.routers[1].hold_down, Millis(3000));
}

TEST(Config, RangeLimitsAreInclusive) {
  Config c = config_of(R"(
[daemon]
hold_down_ms = 3600000
netlink_receive_buffer = 4096
)");
  EXPECT_EQ(c.daemon.hold_down, Millis(3600000));
  EXPECT_EQ(c.daemon.netlink_receive_buffer, 4096);
  EXPECT_EQ(config_of("daemon.netlink_receive_buffer = 1073741824").daemon.netlink_receive_buffer,
            1073741824);
}

TEST(Config, SameVipOnDifferentInterfacesOrNamespacesIsFine) {
  Config c = config_of(R"(
[[router]]
name = "a"
namespace = "ns1"
interface = "ha"
vip = "169.254.0.1/24"

[[router]]
name = "b"
namespace = "ns2"
interface = "ha"
vip = "169.254.0.1/24"

[[router]]
name = "c"
namespace = "ns1"
interface = "ha2"
vip = "169.254.0.1/24"
)");
  EXPECT_EQ(c.routers.size(), 3u);
}

TEST(Config, EmptyRouterArrayIsZeroRouters) {
  EXPECT_THAT(config_of("router = []").routers, IsEmpty());
}

// ---- rejected configurations ----

TEST(ConfigErrors, SyntaxErrorHasItsLineAndNoKey) {
  auto errors = errors_of(R"(
[[router]]
name = "edge1
interface = "ha-edge1"
)");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, kFile);
  EXPECT_EQ(errors[0].line, 2);
  EXPECT_EQ(errors[0].key, "");
  EXPECT_THAT(errors[0].to_string(), HasSubstr("test.toml:2: "));
}

TEST(ConfigErrors, UnknownKeySuggestsTheKeyWithItsUnit) {
  EXPECT_THAT(errors_of(R"(
[daemon]
hold_down = 2000
)"),
              ElementsAre(IsError(2, "daemon.hold_down",
                                  "unknown key 'hold_down' (did you mean 'hold_down_ms'?)")));
}

TEST(ConfigErrors, UnknownKeySuggestsTheClosestSpelling) {
  EXPECT_THAT(errors_of(R"(
[[router]]
name = "edge1"
interface = "ha-edge1"
vip = "169.254.0.1/24"
namspace = "edge1"
)"),
              ElementsAre(IsError(5, "router[1].namspace",
                                  "unknown key 'namspace' (did you mean 'namespace'?)")));
}

TEST(ConfigErrors, UnknownKeyFarFromAnyKnownKeyHasNoSuggestion) {
  auto errors = errors_of(R"(
[daemon]
colour = "blue"
)");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "unknown key 'colour'");
}

TEST(ConfigErrors, UnknownTopLevelTable) {
  EXPECT_THAT(errors_of(R"(
[daemon]
hold_down_ms = 2000

[nuetron]
state_path = "/var/lib/neutron"
)"),
              ElementsAre(IsError(4, "nuetron",
                                  "unknown table 'nuetron' (did you mean 'neutron'?)")));
}

TEST(Config, NeutronTable) {
  Config c = config_of(R"(
[neutron]
state_path = "/srv/neutron"
manage_ipv6 = true
radvd_user = "neutron"
)");
  ASSERT_TRUE(c.neutron);
  NeutronConfig want;
  want.state_path = "/srv/neutron";
  want.manage_ipv6 = true;
  want.radvd_user = "neutron";
  EXPECT_EQ(*c.neutron, want);
  EXPECT_FALSE(config_of("[daemon]\n").neutron);
  EXPECT_EQ(*config_of("[neutron]\n").neutron, NeutronConfig{});
}

TEST(Config, NeutronConntrackd) {
  NeutronConfig n = *config_of("[neutron]\n").neutron;
  EXPECT_TRUE(n.conntrackd);  // follows the agent: routers with a conntrackd.conf
  EXPECT_EQ(n.conntrackd_binary, "/usr/sbin/conntrackd");
  EXPECT_EQ(n.conntrackd_timeout, Millis(5000));
  n = *config_of(R"(
[neutron]
conntrackd = false
conntrackd_binary = "/opt/sbin/conntrackd"
conntrackd_timeout_ms = 2500
)")
           .neutron;
  EXPECT_FALSE(n.conntrackd);
  EXPECT_EQ(n.conntrackd_binary, "/opt/sbin/conntrackd");
  EXPECT_EQ(n.conntrackd_timeout, Millis(2500));
  EXPECT_THAT(errors_of(R"(
[neutron]
conntrackd = "yes"
conntrackd_binary = "conntrackd"
conntrackd_timeout_ms = 0
)"),
              ElementsAre(IsError(2, "neutron.conntrackd", "expected a boolean"),
                          IsError(3, "neutron.conntrackd_binary", "expected an absolute path"),
                          IsError(4, "neutron.conntrackd_timeout_ms",
                                  "expected an integer from 1 to 3600000, got 0")));
}

TEST(ConfigErrors, NeutronTable) {
  EXPECT_THAT(errors_of(R"(
[neutron]
state_path = "var/lib/neutron"
manage_ipv6 = "yes"
)"),
              ElementsAre(IsError(2, "neutron.state_path", "expected an absolute path"),
                          IsError(3, "neutron.manage_ipv6", "expected a boolean")));
}

TEST(ConfigErrors, MisspelledTopLevelTableGetsASuggestion) {
  EXPECT_THAT(errors_of(R"(
[deamon]
hold_down_ms = 2000
)"),
              ElementsAre(IsError(1, "deamon", "unknown table 'deamon' (did you mean 'daemon'?)")));
}

TEST(ConfigErrors, UnknownTopLevelKey) {
  EXPECT_THAT(errors_of("verbose = true"),
              ElementsAre(IsError(1, "verbose", "unknown key 'verbose'")));
}

TEST(ConfigErrors, ControlSocketMustFitASocketAddress) {
  std::string long_path = "/run/" + std::string(103, 'x');  // 108 bytes
  EXPECT_THAT(errors_of("[daemon]\ncontrol_socket = \"" + long_path + "\"\n"),
              ElementsAre(IsError(2, "daemon.control_socket",
                                  "at most 107 bytes")));
  EXPECT_THAT(errors_of("[daemon]\ncontrol_socket = \"havipd.sock\"\n"),
              ElementsAre(IsError(2, "daemon.control_socket", "absolute path")));
  EXPECT_THAT(errors_of("[daemon]\ncontrol_socket_group = \"-x\"\n"),
              ElementsAre(IsError(2, "daemon.control_socket_group", "group name")));
  EXPECT_THAT(errors_of("[daemon]\nmetrics_textfile = \"havip.prom\"\n"),
              ElementsAre(IsError(2, "daemon.metrics_textfile", "absolute path")));
}

TEST(Config, ControlSocketAndMetricsKeys) {
  auto defaults = config_of("");
  EXPECT_EQ(defaults.daemon.control_socket, "/run/havip/havipd.sock");
  EXPECT_EQ(defaults.daemon.control_socket_group, "");
  EXPECT_EQ(defaults.daemon.metrics_textfile, "");
  auto c = config_of(R"(
[daemon]
control_socket = ""
control_socket_group = "havip"
metrics_textfile = "/var/lib/prometheus/node-exporter/havip.prom"
)");
  EXPECT_EQ(c.daemon.control_socket, "");
  EXPECT_EQ(c.daemon.control_socket_group, "havip");
  EXPECT_EQ(c.daemon.metrics_textfile, "/var/lib/prometheus/node-exporter/havip.prom");
}

TEST(ConfigErrors, WrongTypeSaysWhatWasExpectedAndWhatWasFound) {
  EXPECT_THAT(errors_of(R"(
[daemon]
hold_down_ms = "2s"
state_dir = 5
netlink_receive_buffer = 1.5
)"),
              ElementsAre(IsError(2, "daemon.hold_down_ms", "expected an integer, got a string"),
                          IsError(3, "daemon.state_dir", "expected a string, got an integer"),
                          IsError(4, "daemon.netlink_receive_buffer",
                                  "expected an integer, got a float")));
}

TEST(ConfigErrors, WrongTypeOfVipAndName) {
  EXPECT_THAT(errors_of(R"(
[[router]]
name = ["edge1"]
interface = "ha-edge1"
vip = 24
)"),
              ElementsAre(IsError(2, "router[1].name", "expected a string, got an array"),
                          IsError(4, "router[1].vip", "expected a string, got an integer")));
}

TEST(ConfigErrors, RouterMustBeAnArrayOfTables) {
  EXPECT_THAT(errors_of(R"(
[router]
name = "edge1"
)"),
              ElementsAre(IsError(1, "router",
                                  "expected an array of tables ([[router]]), got a table")));
}

TEST(ConfigErrors, DaemonMustBeATable) {
  EXPECT_THAT(errors_of("daemon = 1"),
              ElementsAre(IsError(1, "daemon", "expected a table, got an integer")));
}

TEST(ConfigErrors, OutOfRangeIntegers) {
  EXPECT_THAT(
      errors_of(R"(
[daemon]
hold_down_ms = -1
netlink_receive_buffer = 1024

[[router]]
name = "edge1"
interface = "ha-edge1"
vip = "169.254.0.1/24"
hold_down_ms = 3600001
)"),
      ElementsAre(
          IsError(2, "daemon.hold_down_ms", "expected an integer from 0 to 3600000, got -1"),
          IsError(3, "daemon.netlink_receive_buffer",
                  "expected an integer from 4096 to 1073741824, got 1024"),
          IsError(9, "router[1].hold_down_ms",
                  "expected an integer from 0 to 3600000, got 3600001")));
}

TEST(ConfigErrors, StateSyncMustBeAKnownMode) {
  EXPECT_THAT(errors_of("daemon.state_sync = \"always\""),
              ElementsAre(IsError(1, "daemon.state_sync",
                                  R"(expected "deferred", "inline" or "off", got "always")")));
}

TEST(ConfigErrors, DirectoriesMustBeAbsolute) {
  EXPECT_THAT(errors_of(R"(
[daemon]
state_dir = "var/lib/havip"
netns_dir = ""
)"),
              ElementsAre(IsError(2, "daemon.state_dir",
                                  R"(expected an absolute path, got "var/lib/havip")"),
                          IsError(3, "daemon.netns_dir", R"(expected an absolute path, got "")")));
}

TEST(ConfigErrors, MissingRequiredKeysPointAtTheRouterHeader) {
  EXPECT_THAT(errors_of(R"(
[daemon]

[[router]]
name = "edge1"
)"),
              ElementsAre(IsError(3, "router[1].interface", "required key is missing"),
                          IsError(3, "router[1].vip", "required key is missing")));
}

TEST(ConfigErrors, MissingName) {
  EXPECT_THAT(errors_of(R"(
[[router]]
interface = "ha-edge1"
vip = "169.254.0.1/24"
)"),
              ElementsAre(IsError(1, "router[1].name", "required key is missing")));
}

TEST(ConfigErrors, VipWithoutPrefixLength) {
  EXPECT_THAT(errors_of(R"(
[[router]]
name = "edge1"
interface = "ha-edge1"
vip = "169.254.0.1"
)"),
              ElementsAre(IsError(4, "router[1].vip",
                                  R"(expected an address with prefix length like )"
                                  R"("169.254.0.1/24" or "fd00::1/64", got "169.254.0.1")")));
}

TEST(ConfigErrors, VipWithBadAddressOrLength) {
  EXPECT_THAT(errors_of(R"(
[[router]]
name = "a"
interface = "ha-a"
vip = "fd00::1/129"

[[router]]
name = "b"
interface = "ha-b"
vip = "edge1/24"
)"),
              ElementsAre(IsError(4, "router[1].vip", R"(got "fd00::1/129")"),
                          IsError(9, "router[2].vip", R"(got "edge1/24")")));
}

// Three routers per test: the name under test is the only thing wrong with each.
std::string router(const std::string& name, const std::string& netns, const std::string& ifname,
                   const std::string& vip) {
  return "[[router]]\nname = \"" + name + "\"\nnamespace = \"" + netns + "\"\ninterface = \"" +
         ifname + "\"\nvip = \"" + vip + "\"\n";
}

TEST(ConfigErrors, InvalidRouterNames) {
  std::string long_name(65, 'r');
  EXPECT_THAT(errors_of(router("a/b", "ns", "ha1", "169.254.0.1/24") +
                        router("..", "ns", "ha2", "169.254.0.1/24") +
                        router(long_name, "ns", "ha3", "169.254.0.1/24")),
              ElementsAre(IsError(2, "router[1].name", R"(got "a/b")"),
                          IsError(7, "router[2].name", R"(expected a router name of 1 to 64)"),
                          IsError(12, "router[3].name", "got \"" + long_name + "\"")));
  EXPECT_EQ(config_of(router(std::string(64, 'r'), "", "ha", "169.254.0.1/24")).routers.size(), 1u);
}

TEST(ConfigErrors, InvalidNamespaceNames) {
  EXPECT_THAT(errors_of(router("a", "x/y", "ha", "169.254.0.1/24") +
                        router("b", "..", "ha", "169.254.0.1/24") +
                        router("c", "has space", "ha", "169.254.0.1/24")),
              ElementsAre(IsError(3, "router[1].namespace", R"(got "x/y")"),
                          IsError(8, "router[2].namespace", R"(expected a namespace name)"),
                          IsError(13, "router[3].namespace", R"(got "has space")")));
}

TEST(ConfigErrors, InvalidInterfaceNames) {
  EXPECT_THAT(errors_of(router("a", "", "sixteen-chars-xx", "169.254.0.1/24") +
                        router("b", "", "eth0:1", "169.254.0.1/24") +
                        router("c", "", "a/b", "169.254.0.1/24")),
              ElementsAre(IsError(4, "router[1].interface",
                                  R"(expected an interface name of 1 to 15 characters)"),
                          IsError(9, "router[2].interface", R"(got "eth0:1")"),
                          IsError(14, "router[3].interface", R"(got "a/b")")));
  EXPECT_EQ(config_of(router("a", "", "fifteen-chars-x", "169.254.0.1/24")).routers.size(), 1u);
}

TEST(ConfigErrors, ControlCharactersAreEscapedInMessages) {
  auto errors = errors_of(router("a\\u001b[2J", "", "ha", "169.254.0.1/24"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0].message, HasSubstr(R"(got "a\x1b[2J")"));
}

TEST(ConfigErrors, DuplicateRouterNameNamesBothRouters) {
  EXPECT_THAT(errors_of(R"(
[[router]]
name = "edge1"
interface = "ha-1"
vip = "169.254.0.1/24"

[[router]]
name = "edge1"
interface = "ha-2"
vip = "169.254.0.2/24"
)"),
              ElementsAre(IsError(7, "router[2].name",
                                  R"(router name "edge1" is already used by router[1] (line 2))")));
}

TEST(ConfigErrors, DuplicateVipNamesBothRouters) {
  EXPECT_THAT(errors_of(R"(
[[router]]
name = "a"
namespace = "ns"
interface = "ha"
vip = "169.254.0.1/24"

[[router]]
name = "b"
namespace = "ns"
interface = "ha"
vip = "169.254.0.1/24"
)"),
              ElementsAre(IsError(11, "router[2].vip",
                                  R"(router "b" has the same namespace, interface and vip as )"
                                  R"(router "a" (router[1], line 5))")));
}

TEST(ConfigErrors, SeveralErrorsAreAllReportedInLineOrder) {
  EXPECT_THAT(errors_of(R"(
[daemon]
state_sync = "sometimes"
hold_down = 5

[[router]]
name = "edge/1"
interface = "ha-edge1"
vip = "169.254.0.1"

[[router]]
interface = "ha-edge2"
vip = "169.254.0.2/24"
hold_down_ms = "fast"

[neutorn]
)"),
              ElementsAre(IsError(2, "daemon.state_sync", "got \"sometimes\""),
                          IsError(3, "daemon.hold_down", "did you mean 'hold_down_ms'?"),
                          IsError(6, "router[1].name", "got \"edge/1\""),
                          IsError(8, "router[1].vip", "got \"169.254.0.1\""),
                          IsError(10, "router[2].name", "required key is missing"),
                          IsError(13, "router[2].hold_down_ms", "expected an integer"),
                          IsError(15, "neutorn", "unknown table 'neutorn'")));
}

// ---- what a router does on a change of role ----

// The smallest router, on lines 1 to 4, then `rest` from line 5 on.
std::string edge1(std::string_view rest) {
  return "[[router]]\nname = \"edge1\"\ninterface = \"ha-edge1\"\nvip = \"169.254.0.1/24\"\n" +
         std::string(toml_text(rest));
}

TEST(Config, FullConfigSetsEveryEffectKey) {
  Config c = config_of(R"(
[daemon]
run_dir = "/run/havip-test"
radvd_binary = "/opt/radvd/sbin/radvd"

[[router]]
name = "edge1"
namespace = "qrouter-1"
interface = "ha-edge1"
vip = "169.254.0.1/24"
gateway_interface = "qg-edge1"
ipv6_gateway = true

[[router.sysctl]]
key = "net.ipv4.conf.all.arp_ignore"
primary = "1"
backup = "0"

[[router.sysctl]]
key = "net/ipv4/conf/eth0.100/arp_announce"
primary = 2

[router.radvd]
user = "radvd"

[[router.radvd.interface]]
name = "qr-edge1"
prefixes = [{ prefix = "fd00:1::/64", mode = "slaac" },
            { prefix = "fd00:2::/64", mode = "dhcpv6-stateless" },
            { prefix = "fd00:3::/64", mode = "dhcpv6-stateful" }]
rdnss = ["fd00:1::53", "fd00:1::54", "fd00:1::55"]
mtu = 1450
min_interval = 10
max_interval = 40
routes = ["fe80::a9fe:a9fe/128", "fd00:9::/48"]

[[router.radvd.interface]]
name = "qr-edge1b"
prefixes = [{ prefix = "fd00:4::/64" }]

[[router.service]]
command = ["/usr/sbin/haproxy", "-Ws", "-f", "/etc/havip/edge1-metadata.cfg"]
stop_timeout_ms = 0

[[router.service]]
command = ["/usr/sbin/conntrackd"]

[[router.hook]]
command = ["/usr/local/lib/havip/notify", "--router", "edge1", ""]
timeout_ms = 1

[[router.hook]]
command = ["/usr/local/lib/havip/log"]
)");
  EXPECT_EQ(c.daemon.run_dir, "/run/havip-test");
  EXPECT_EQ(c.daemon.radvd_binary, "/opt/radvd/sbin/radvd");

  RouterConfig want = signal_router("edge1", "qrouter-1", "ha-edge1", "169.254.0.1/24",
                                    Millis(2000));
  want.gateway_interface = "qg-edge1";
  want.ipv6_gateway = true;
  want.sysctls = {{"net.ipv4.conf.all.arp_ignore", "1", "0"},
                  {"net/ipv4/conf/eth0.100/arp_announce", "2", ""}};
  RadvdInterface full;
  full.name = "qr-edge1";
  full.prefixes = {{prefix("fd00:1::/64"), PrefixMode::slaac},
                   {prefix("fd00:2::/64"), PrefixMode::dhcpv6_stateless},
                   {prefix("fd00:3::/64"), PrefixMode::dhcpv6_stateful}};
  full.rdnss = {"fd00:1::53", "fd00:1::54", "fd00:1::55"};
  full.mtu = 1450;
  full.min_interval = 10;
  full.max_interval = 40;
  full.routes = {prefix("fe80::a9fe:a9fe/128"), prefix("fd00:9::/48")};
  RadvdInterface defaults;
  defaults.name = "qr-edge1b";
  defaults.prefixes = {{prefix("fd00:4::/64"), PrefixMode::slaac}};
  want.radvd = RadvdConfig{};
  want.radvd->interfaces = {full, defaults};
  want.radvd->user = "radvd";
  want.services = {
      {{"/usr/sbin/haproxy", "-Ws", "-f", "/etc/havip/edge1-metadata.cfg"}, Millis(0)},
      {{"/usr/sbin/conntrackd"}, Millis(5000)}};
  want.hooks = {{{"/usr/local/lib/havip/notify", "--router", "edge1", ""}, Millis(1)},
                {{"/usr/local/lib/havip/log"}, Millis(10000)}};
  ASSERT_EQ(c.routers.size(), 1u);
  EXPECT_EQ(c.routers[0], want);
}

TEST(Config, RadvdInterfaceDefaults) {
  Config c = config_of(edge1(R"(
[[router.radvd.interface]]  # line 5
name = "qr-edge1"
)"));
  ASSERT_EQ(c.routers.size(), 1u);
  ASSERT_TRUE(c.routers[0].radvd.has_value());
  const RadvdConfig& radvd = *c.routers[0].radvd;
  EXPECT_EQ(radvd.config_file, "");
  EXPECT_EQ(radvd.user, "");
  ASSERT_EQ(radvd.interfaces.size(), 1u);
  const RadvdInterface& i = radvd.interfaces[0];
  EXPECT_EQ(i.name, "qr-edge1");
  EXPECT_THAT(i.prefixes, IsEmpty());
  EXPECT_THAT(i.rdnss, IsEmpty());
  EXPECT_EQ(i.mtu, std::nullopt);
  EXPECT_EQ(i.min_interval, 30);
  EXPECT_EQ(i.max_interval, 100);
  EXPECT_THAT(i.routes, IsEmpty());
}

TEST(Config, RadvdConfigFileIsTakenInsteadOfInterfaces) {
  Config c = config_of(edge1(R"(
[router.radvd]  # line 5
config_file = "/etc/havip/edge1-radvd.conf"
)"));
  ASSERT_EQ(c.routers.size(), 1u);
  RadvdConfig want;
  want.config_file = "/etc/havip/edge1-radvd.conf";
  EXPECT_EQ(c.routers[0].radvd, want);
}

// A radvd interface block of five lines with the numbers under test.
std::string radvd_numbers(const std::string& name, int mtu, int min_interval, int max_interval) {
  return "[[router.radvd.interface]]\nname = \"" + name + "\"\nmtu = " + std::to_string(mtu) +
         "\nmin_interval = " + std::to_string(min_interval) +
         "\nmax_interval = " + std::to_string(max_interval) + "\n";
}

TEST(Config, RadvdNumberLimitsAreInclusive) {
  // 3 <= 0.75 * 4: the smallest pair radvd accepts.
  Config c = config_of(edge1("") + radvd_numbers("qr-a", 68, 3, 4) +
                       radvd_numbers("qr-b", 65535, 1350, 1800));
  ASSERT_EQ(c.routers.size(), 1u);
  const auto& interfaces = c.routers[0].radvd.value().interfaces;
  ASSERT_EQ(interfaces.size(), 2u);
  EXPECT_EQ(interfaces[0].min_interval, 3);
  EXPECT_EQ(interfaces[0].max_interval, 4);
  EXPECT_EQ(interfaces[0].mtu, 68);
  EXPECT_EQ(interfaces[1].min_interval, 1350);
  EXPECT_EQ(interfaces[1].max_interval, 1800);
  EXPECT_EQ(interfaces[1].mtu, 65535);
}

TEST(Config, SysctlKeysDottedOrAsPathsBelowProcSys) {
  Config c = config_of(edge1(R"(
[[router.sysctl]]  # line 5
key = "net.ipv6.conf.qg-edge1.accept_ra"
backup = "0"

[[router.sysctl]]
key = "net/ipv6/conf/qg-edge1:x/forwarding"
primary = -1

[[router.sysctl]]
key = "net.ipv4.tcp_rmem"
primary = "4096\t87380\t6291456"
)"));
  ASSERT_EQ(c.routers.size(), 1u);
  EXPECT_THAT(c.routers[0].sysctls,
              ElementsAre(SysctlSetting{"net.ipv6.conf.qg-edge1.accept_ra", "", "0"},
                          SysctlSetting{"net/ipv6/conf/qg-edge1:x/forwarding", "-1", ""},
                          SysctlSetting{"net.ipv4.tcp_rmem", "4096\t87380\t6291456", ""}));
}

TEST(Config, EmptyEffectArraysAreNone) {
  Config c = config_of(edge1(R"(
sysctl = []  # line 5
service = []
hook = []
)"));
  ASSERT_EQ(c.routers.size(), 1u);
  EXPECT_EQ(c.routers[0],
            signal_router("edge1", "", "ha-edge1", "169.254.0.1/24", Millis(2000)));
}

TEST(ConfigErrors, EffectKeysOfTheWrongKindOrSpelling) {
  EXPECT_THAT(errors_of(R"(
[daemon]
run_dir = "run/havip"
radvd_binary = "radvd"

[[router]]
name = "edge1"
interface = "ha-edge1"
vip = "169.254.0.1/24"
gateway_interface = "qg:edge1"
ipv6_gateway = "no"
services = []
radvd = []
hook = { command = ["/bin/true"] }
)"),
              ElementsAre(IsError(2, "daemon.run_dir",
                                  R"(expected an absolute path, got "run/havip")"),
                          IsError(3, "daemon.radvd_binary",
                                  R"(expected an absolute path, got "radvd")"),
                          IsError(9, "router[1].gateway_interface",
                                  R"(expected an interface name of 1 to 15 characters)"),
                          IsError(10, "router[1].ipv6_gateway",
                                  "expected a boolean, got a string"),
                          IsError(11, "router[1].services",
                                  "unknown key 'services' (did you mean 'service'?)"),
                          IsError(12, "router[1].radvd", "expected a table, got an array"),
                          IsError(13, "router[1].hook",
                                  "expected an array of tables ([[router.hook]]), got a table")));
}

TEST(ConfigErrors, Ipv6GatewayNeedsAGatewayInterface) {
  EXPECT_THAT(errors_of(edge1(R"(
ipv6_gateway = true  # line 5
)")),
              ElementsAre(IsError(5, "router[1].ipv6_gateway",
                                  "ipv6_gateway needs a gateway_interface")));
}

TEST(ConfigErrors, PathsAndArgumentsMustNotHoldNulBytes) {
  EXPECT_THAT(errors_of(R"(
[daemon]
run_dir = "/run/hav\u0000ip"

[[router]]
name = "edge1"
interface = "ha-edge1"
vip = "169.254.0.1/24"

[[router.service]]
command = ["/usr/sbin/haproxy", "-f", "/etc/x\u0000.cfg"]
)"),
              ElementsAre(IsError(2, "daemon.run_dir",
                                  R"(expected an absolute path, got "/run/hav\x00ip")"),
                          IsError(10, "router[1].service[1].command[3]",
                                  R"(expected an argument without NUL bytes, )"
                                  R"(got "/etc/x\x00.cfg")")));
}

// ---- [[router.sysctl]] ----

TEST(ConfigErrors, SysctlKeyAndValues) {
  EXPECT_THAT(errors_of(edge1(R"(
[[router.sysctl]]  # line 5
primary = true
backup = "0\n"
value = "1"
)")),
              ElementsAre(IsError(5, "router[1].sysctl[1].key", "required key is missing"),
                          IsError(6, "router[1].sysctl[1].primary",
                                  "expected a string or an integer, got a boolean"),
                          IsError(7, "router[1].sysctl[1].backup",
                                  R"(expected a value without control characters )"
                                  R"((tabs are fine), got "0\x0a")"),
                          IsError(8, "router[1].sysctl[1].value", "unknown key 'value'")));
}

TEST(ConfigErrors, SysctlNeedsAValueForOneRoleAtLeast) {
  EXPECT_THAT(errors_of(edge1(R"(
[[router.sysctl]]  # line 5
key = "net.ipv4.ip_forward"
)")),
              ElementsAre(IsError(5, "router[1].sysctl[1]",
                                  "a sysctl needs a value for primary, backup or both")));
}

TEST(ConfigErrors, SysctlKeysMustBeNetworkSysctlsWrittenCleanly) {
  const std::string net =
      R"(expected a network sysctl, "net.*" or "net/*" (only those belong to a network )"
      "namespace; others would change the whole host), got ";
  const std::string path =
      "expected a path below /proc/sys without a leading '/' or empty, '.' or '..' components, "
      "got ";
  const std::string dotted = "expected a dotted sysctl name without empty components, got ";
  const std::string chars =
      R"(expected a sysctl name of A-Z a-z 0-9 _ - . / : like "net.ipv4.conf.all.arp_ignore", )"
      "got ";
  struct Case {
    std::string written;  // TOML string content
    std::string message;
  };
  const Case cases[] = {
      {"kernel.panic", net + R"("kernel.panic")"},
      {"vm/swappiness", net + R"("vm/swappiness")"},
      {"/proc/sys/net/ipv4/ip_forward", path + R"("/proc/sys/net/ipv4/ip_forward")"},
      {"net/ipv4//ip_forward", path + R"("net/ipv4//ip_forward")"},
      {"net/ipv4/conf/../all", path + R"("net/ipv4/conf/../all")"},
      {"net/ipv4/./ip_forward", path + R"("net/ipv4/./ip_forward")"},
      {"net..ipv4.ip_forward", dotted + R"("net..ipv4.ip_forward")"},
      {"net.ipv4.ip_forward.", dotted + R"("net.ipv4.ip_forward.")"},
      {"net.ipv4.conf.eth 0.rp_filter", chars + R"("net.ipv4.conf.eth 0.rp_filter")"},
      {"", chars + R"("")"},
      {R"(net.ipv4.ip_forward\n)", chars + R"("net.ipv4.ip_forward\x0a")"},
  };
  for (const auto& [written, message] : cases) {
    SCOPED_TRACE(written);
    EXPECT_THAT(errors_of(edge1("[[router.sysctl]]\nkey = \"" + written + "\"\nprimary = \"1\"\n")),
                ElementsAre(IsError(6, "router[1].sysctl[1].key", message)));
  }
}

// ---- [router.radvd] ----

TEST(ConfigErrors, RadvdNeedsAnInterfaceOrAConfigFile) {
  EXPECT_THAT(errors_of(edge1(R"(
[router.radvd]  # line 5
user = "radvd"
interface = []
)")),
              ElementsAre(IsError(5, "router[1].radvd",
                                  "radvd needs an interface ([[router.radvd.interface]]) or a "
                                  "config_file")));
}

TEST(ConfigErrors, RadvdConfigFileExcludesInterfaces) {
  EXPECT_THAT(errors_of(edge1(R"(
[router.radvd]  # line 5
config_file = "/etc/havip/edge1-radvd.conf"

[[router.radvd.interface]]
name = "qr-edge1"
)")),
              ElementsAre(IsError(6, "router[1].radvd.config_file",
                                  "a config_file is used as it is: give either it or "
                                  "[[router.radvd.interface]] blocks, not both")));
}

TEST(ConfigErrors, RadvdTableKeys) {
  EXPECT_THAT(errors_of(edge1(R"(
[router.radvd]  # line 5
config_file = "radvd.conf"
user = "-radvd"
interfaces = []
)")),
              ElementsAre(IsError(6, "router[1].radvd.config_file",
                                  R"(expected an absolute path, got "radvd.conf")"),
                          IsError(7, "router[1].radvd.user",
                                  R"(expected a user name of 1 to 32 characters from )"
                                  R"(A-Z a-z 0-9 _ . - (not starting with '-'), got "-radvd")"),
                          IsError(8, "router[1].radvd.interfaces",
                                  "unknown key 'interfaces' (did you mean 'interface'?)")));
}

TEST(ConfigErrors, RadvdInterfaceNames) {
  EXPECT_THAT(errors_of(edge1(R"(
[[router.radvd.interface]]  # line 5
mtu = 1500

[[router.radvd.interface]]
name = "qr/edge1"
)")),
              ElementsAre(IsError(5, "router[1].radvd.interface[1].name",
                                  "required key is missing"),
                          IsError(9, "router[1].radvd.interface[2].name",
                                  R"(expected an interface name of 1 to 15 characters without )"
                                  R"('/', ':' or whitespace (not "." or ".."), got "qr/edge1")")));
}

TEST(ConfigErrors, RadvdInterfaceNamesRadvdCannotParseOrGivenTwice) {
  EXPECT_THAT(errors_of(edge1(R"(
[[router.radvd.interface]]  # line 5
name = "qr-a"

[[router.radvd.interface]]
name = "prefix"

[[router.radvd.interface]]
name = "qr{x"

[[router.radvd.interface]]
name = "qr-a"
)")),
              ElementsAre(IsError(8, "router[1].radvd.interface[2]",
                                  R"(radvd.conf cannot name an interface "prefix")"),
                          IsError(11, "router[1].radvd.interface[3]",
                                  R"(radvd.conf cannot name an interface "qr{x")"),
                          IsError(14, "router[1].radvd.interface[4]",
                                  R"(interface "qr-a" is given twice)")));
}

TEST(ConfigErrors, RadvdPrefixes) {
  EXPECT_THAT(
      errors_of(edge1(R"(
[[router.radvd.interface]]  # line 5
name = "qr-a"
prefixes = [{ prefix = "10.0.0.0/24" }, { prefix = "fd00:1::" }, { mode = "slaac" },
            { prefix = "fd00:2::/64", mode = "stateless", autonomous = true }, "fd00:3::/64"]

[[router.radvd.interface]]
name = "qr-b"
prefixes = { prefix = "fd00:4::/64" }
)")),
      ElementsAre(
          IsError(7, "router[1].radvd.interface[1].prefixes[1].prefix",
                  R"(expected an IPv6 prefix like "fd00:1::/64", got "10.0.0.0/24")"),
          IsError(7, "router[1].radvd.interface[1].prefixes[2].prefix", R"(got "fd00:1::")"),
          IsError(7, "router[1].radvd.interface[1].prefixes[3].prefix", "required key is missing"),
          IsError(8, "router[1].radvd.interface[1].prefixes[4].autonomous",
                  "unknown key 'autonomous'"),
          IsError(8, "router[1].radvd.interface[1].prefixes[4].mode",
                  R"(expected "slaac", "dhcpv6-stateless" or "dhcpv6-stateful", got "stateless")"),
          IsError(8, "router[1].radvd.interface[1].prefixes[5]", "expected a table, got a string"),
          IsError(12, "router[1].radvd.interface[2].prefixes",
                  R"(expected an array of tables ([{ prefix = "fd00:1::/64", mode = "slaac" }]), )"
                  R"(got a table)")));
}

TEST(ConfigErrors, RadvdRdnssAndRoutes) {
  EXPECT_THAT(errors_of(edge1(R"(
[[router.radvd.interface]]  # line 5
name = "qr-a"
rdnss = ["fd00::53", "10.0.0.53", 53]
routes = ["fe80::a9fe:a9fe", "169.254.169.254/32"]

[[router.radvd.interface]]
name = "qr-b"
rdnss = ["fd00::1", "fd00::2", "fd00::3", "fd00::4"]
routes = "fd00::/8"
)")),
              ElementsAre(IsError(7, "router[1].radvd.interface[1].rdnss[2]",
                                  R"(expected an IPv6 address like "fd00:1::53", got "10.0.0.53")"),
                          IsError(7, "router[1].radvd.interface[1].rdnss[3]",
                                  "expected a string, got an integer"),
                          IsError(8, "router[1].radvd.interface[1].routes[1]",
                                  R"(expected an IPv6 prefix like "fd00:1::/64", )"
                                  R"(got "fe80::a9fe:a9fe")"),
                          IsError(8, "router[1].radvd.interface[1].routes[2]",
                                  R"(got "169.254.169.254/32")"),
                          IsError(12, "router[1].radvd.interface[2].rdnss",
                                  "radvd advertises at most 3 RDNSS servers (Neutron's "
                                  "limit), got 4"),
                          IsError(13, "router[1].radvd.interface[2].routes",
                                  "expected an array, got a string")));
}

TEST(ConfigErrors, RadvdNumbersOutOfRange) {
  // Interface 1 on lines 5 to 9, interface 2 on lines 10 to 14.
  EXPECT_THAT(errors_of(edge1("") + radvd_numbers("qr-a", 67, 2, 1801) +
                        radvd_numbers("qr-b", 65536, 1351, 3)),
              ElementsAre(IsError(7, "router[1].radvd.interface[1].mtu",
                                  "expected an integer from 68 to 65535, got 67"),
                          IsError(8, "router[1].radvd.interface[1].min_interval",
                                  "expected an integer from 3 to 1350, got 2"),
                          IsError(9, "router[1].radvd.interface[1].max_interval",
                                  "expected an integer from 4 to 1800, got 1801"),
                          IsError(12, "router[1].radvd.interface[2].mtu",
                                  "expected an integer from 68 to 65535, got 65536"),
                          IsError(13, "router[1].radvd.interface[2].min_interval",
                                  "expected an integer from 3 to 1350, got 1351"),
                          IsError(14, "router[1].radvd.interface[2].max_interval",
                                  "expected an integer from 4 to 1800, got 3")));
}

TEST(ConfigErrors, RadvdMinIntervalAtMostThreeQuartersOfMax) {
  EXPECT_THAT(errors_of(edge1(R"(
[[router.radvd.interface]]  # line 5
name = "qr-a"
min_interval = 76
max_interval = 100

[[router.radvd.interface]]
name = "qr-b"
max_interval = 39
)")),
              ElementsAre(IsError(7, "router[1].radvd.interface[1].min_interval",
                                  "min_interval (76 s) must be at most 0.75 * max_interval "
                                  "(100 s): radvd refuses a MinRtrAdvInterval above 0.75 * "
                                  "MaxRtrAdvInterval"),
                          IsError(12, "router[1].radvd.interface[2].max_interval",
                                  "min_interval (30 s) must be at most 0.75 * "
                                  "max_interval (39 s)")));
}

// ---- [[router.service]] and [[router.hook]] ----

TEST(ConfigErrors, CommandsAreAbsoluteArgvArrays) {
  EXPECT_THAT(errors_of(edge1(R"(
[[router.service]]  # line 5
stop_timeout_ms = 1000

[[router.service]]
command = []

[[router.service]]
command = ["haproxy", "-f", "/etc/havip/x.cfg"]

[[router.hook]]
command = "/usr/local/lib/havip/notify --router edge1"

[[router.hook]]
command = ["/usr/local/lib/havip/notify", 1]
)")),
              ElementsAre(IsError(5, "router[1].service[1].command", "required key is missing"),
                          IsError(9, "router[1].service[2].command",
                                  "expected the program and its arguments, got an empty array"),
                          IsError(12, "router[1].service[3].command[1]",
                                  R"(expected the program as an absolute path (commands run )"
                                  R"(without a shell or a PATH lookup), got "haproxy")"),
                          IsError(15, "router[1].hook[1].command",
                                  "expected an array, got a string"),
                          IsError(18, "router[1].hook[2].command[2]",
                                  "expected a string, got an integer")));
}

TEST(Config, RouterConntrackd) {
  EXPECT_FALSE(config_of(edge1("")).routers[0].conntrackd);
  Config c = config_of(edge1(R"(
conntrackd = { config = "/etc/conntrackd/conntrackd.conf" }
)"));
  EXPECT_EQ(c.routers[0].conntrackd, (ConntrackdConfig{"/etc/conntrackd/conntrackd.conf",
                                                       "/usr/sbin/conntrackd", Millis(5000)}));
  c = config_of(edge1(R"(
[router.conntrackd]
config = "/etc/conntrackd/edge1.conf"
binary = "/opt/sbin/conntrackd"
timeout_ms = 1500
)"));
  EXPECT_EQ(c.routers[0].conntrackd,
            (ConntrackdConfig{"/etc/conntrackd/edge1.conf", "/opt/sbin/conntrackd", Millis(1500)}));
}

TEST(ConfigErrors, RouterConntrackd) {
  EXPECT_THAT(errors_of(edge1(R"(
[router.conntrackd]  # line 5
binary = "conntrackd"
timeout_ms = 0
command = ["/usr/sbin/conntrackd"]
)")),
              ElementsAre(IsError(5, "router[1].conntrackd.config", "required key is missing"),
                          IsError(6, "router[1].conntrackd.binary", "expected an absolute path"),
                          IsError(7, "router[1].conntrackd.timeout_ms",
                                  "expected an integer from 1 to 3600000, got 0"),
                          IsError(8, "router[1].conntrackd.command", "unknown key 'command'")));
}

TEST(ConfigErrors, ServiceAndHookTimeouts) {
  EXPECT_THAT(errors_of(edge1(R"(
[[router.service]]  # line 5
command = ["/usr/sbin/haproxy"]
stop_timeout_ms = 600001
timeout_ms = 5

[[router.hook]]
command = ["/usr/local/lib/havip/notify"]
timeout_ms = 0

[[router.hook]]
command = ["/usr/local/lib/havip/notify"]
timeout_ms = 3600001
timeout = 5
)")),
              ElementsAre(IsError(7, "router[1].service[1].stop_timeout_ms",
                                  "expected an integer from 0 to 600000, got 600001"),
                          IsError(8, "router[1].service[1].timeout_ms", "unknown key 'timeout_ms'"),
                          IsError(12, "router[1].hook[1].timeout_ms",
                                  "expected an integer from 1 to 3600000, got 0"),
                          IsError(16, "router[1].hook[2].timeout_ms",
                                  "expected an integer from 1 to 3600000, got 3600001"),
                          IsError(17, "router[1].hook[2].timeout",
                                  "unknown key 'timeout' (did you mean 'timeout_ms'?)")));
}

TEST(ConfigErrors, RouterArrayElementsMustBeTables) {
  EXPECT_THAT(errors_of("router = [1]"),
              ElementsAre(IsError(1, "router[1]", "expected a table, got an integer")));
}

// ---- the error text and the file ----

TEST(ConfigErrorText, DropsTheLineAndKeyWhenUnknown) {
  EXPECT_EQ((ConfigError{"f.toml", 3, "router[1].vip", "bad"}).to_string(),
            "f.toml:3: router[1].vip: bad");
  EXPECT_EQ((ConfigError{"f.toml", 0, "router[1].vip", "bad"}).to_string(),
            "f.toml: router[1].vip: bad");
  EXPECT_EQ((ConfigError{"f.toml", 3, "", "bad"}).to_string(), "f.toml:3: bad");
  EXPECT_EQ((ConfigError{"f.toml", 0, "", "bad"}).to_string(), "f.toml: bad");
}

class LoadConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/havip-config-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    unlink((dir_ + "/havip.toml").c_str());
    rmdir(dir_.c_str());
  }
  std::string dir_;
};

TEST_F(LoadConfig, ReadsAFile) {
  std::string path = dir_ + "/havip.toml";
  std::ofstream(path) << "[[router]]\nname = \"a\"\ninterface = \"ha\"\nvip = \"fd00::1/64\"\n";
  auto result = load_config(path);
  ASSERT_TRUE(result) << describe(result.error());
  EXPECT_EQ(result->path, path);
  ASSERT_EQ(result->routers.size(), 1u);
  EXPECT_EQ(result->routers[0].name, "a");
}

TEST_F(LoadConfig, ErrorsNameTheFile) {
  std::string path = dir_ + "/havip.toml";
  std::ofstream(path) << "[daemon]\nhold_down_ms = \"2s\"\n";
  auto result = load_config(path);
  ASSERT_FALSE(result);
  ASSERT_EQ(result.error().size(), 1u);
  EXPECT_EQ(result.error()[0].to_string(),
            path + ":2: daemon.hold_down_ms: expected an integer, got a string");
}

TEST_F(LoadConfig, MissingFileIsOneError) {
  std::string path = dir_ + "/absent.toml";
  auto result = load_config(path);
  ASSERT_FALSE(result);
  ASSERT_EQ(result.error().size(), 1u);
  EXPECT_EQ(result.error()[0].to_string(), path + ": cannot open: No such file or directory");
}

TEST_F(LoadConfig, DirectoryIsOneError) {
  auto result = load_config(dir_);
  ASSERT_FALSE(result);
  ASSERT_EQ(result.error().size(), 1u);
  EXPECT_THAT(result.error()[0].message, HasSubstr("Is a directory"));
}

TEST_F(LoadConfig, AFileOthersCouldWriteIsRefused) {
  std::string path = dir_ + "/havip.toml";
  std::ofstream(path) << "";
  ASSERT_EQ(chmod(path.c_str(), 0666), 0);
  auto result = load_config(path);
  ASSERT_FALSE(result);
  ASSERT_EQ(result.error().size(), 1u);
  EXPECT_THAT(result.error()[0].to_string(),
              HasSubstr(path + ": is writable by every user (mode 0666); refusing it"));
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  EXPECT_TRUE(load_config(path));
}

TEST(ConfigOwner, OnlyRootOrOurselvesMayWriteIt) {
  // uid, gid, mode, our uid, our gid
  EXPECT_EQ(unsafe_config_owner(0, 0, 0100644, 0, 0), std::nullopt);
  EXPECT_EQ(unsafe_config_owner(0, 0, 0100664, 0, 0), std::nullopt);      // root's group
  EXPECT_EQ(unsafe_config_owner(1000, 1000, 0100600, 1000, 1000), std::nullopt);  // our own
  EXPECT_EQ(unsafe_config_owner(0, 50, 0100640, 0, 0), std::nullopt);     // group may read
  EXPECT_THAT(unsafe_config_owner(1000, 0, 0100644, 0, 0).value_or(""),
              HasSubstr("is owned by uid 1000, not by root"));
  EXPECT_THAT(unsafe_config_owner(0, 0, 0100646, 0, 0).value_or(""),
              HasSubstr("writable by every user (mode 0646)"));
  EXPECT_THAT(unsafe_config_owner(0, 50, 0100664, 0, 0).value_or(""),
              HasSubstr("writable by group 50 (mode 0664)"));
}

// ---- the name rules, shared with other parsers ----

TEST(NameRules, RouterName) {
  EXPECT_TRUE(valid_router_name("edge1"));
  EXPECT_TRUE(valid_router_name("a.b_c-D9"));
  EXPECT_TRUE(valid_router_name("..."));
  EXPECT_TRUE(valid_router_name(std::string(64, 'x')));
  EXPECT_FALSE(valid_router_name(""));
  EXPECT_FALSE(valid_router_name("."));
  EXPECT_FALSE(valid_router_name(".."));
  EXPECT_FALSE(valid_router_name(".havipd.lock"));  // the instance lock's file
  EXPECT_FALSE(valid_router_name(std::string(65, 'x')));
  EXPECT_FALSE(valid_router_name("a/b"));
  EXPECT_FALSE(valid_router_name("a b"));
  EXPECT_FALSE(valid_router_name("caf\xc3\xa9"));
}

TEST(NameRules, NetnsName) {
  EXPECT_TRUE(valid_netns_name("qrouter-6b8c5b1e-1d2f-4a3b-9c8d-0e1f2a3b4c5d"));
  EXPECT_TRUE(valid_netns_name("a:b@c"));
  EXPECT_TRUE(valid_netns_name(std::string(255, 'n')));
  EXPECT_FALSE(valid_netns_name(""));
  EXPECT_FALSE(valid_netns_name("."));
  EXPECT_FALSE(valid_netns_name(".."));
  EXPECT_FALSE(valid_netns_name(std::string(256, 'n')));
  EXPECT_FALSE(valid_netns_name("a/b"));
  EXPECT_FALSE(valid_netns_name("a b"));
  EXPECT_FALSE(valid_netns_name("a\tb"));
  EXPECT_FALSE(valid_netns_name("caf\xc3\xa9"));
}

TEST(NameRules, InterfaceName) {
  EXPECT_TRUE(valid_interface_name("ha-edge1"));
  EXPECT_TRUE(valid_interface_name("eth0.100"));
  EXPECT_TRUE(valid_interface_name(std::string(15, 'i')));
  EXPECT_FALSE(valid_interface_name(""));
  EXPECT_FALSE(valid_interface_name("."));
  EXPECT_FALSE(valid_interface_name(".."));
  EXPECT_FALSE(valid_interface_name(std::string(16, 'i')));
  EXPECT_FALSE(valid_interface_name("a/b"));
  EXPECT_FALSE(valid_interface_name("eth0:1"));
  EXPECT_FALSE(valid_interface_name("a b"));
  EXPECT_FALSE(valid_interface_name("a\nb"));
  EXPECT_FALSE(valid_interface_name(std::string_view("a\0b", 3)));
}

TEST(Config, KeepalivedKeys) {
  auto c = config_of(R"(
[daemon]
on_stale_vip = "report"
observe_vrrp = true
track_speaker = false

[[router]]
name = "edge1"
interface = "ha-edge1"
vip = "169.254.0.1/24"
vrid = 51
vrrp_version = 3
advert_interval_ms = 500
priority = 150
track_speaker = true
speaker_pid_file = "/run/keepalived/vrrp.pid"
addresses = ["203.0.113.10/24 dev qg-edge1", "fd00::1/64", "169.254.0.1/24"]

[[router]]
name = "edge2"
interface = "ha-edge2"
vip = "169.254.0.2/24"
observe_vrrp = false
vrid = 52
)");
  ASSERT_EQ(c.routers.size(), 2u);
  const RouterConfig& r = c.routers[0];
  EXPECT_EQ(c.daemon.on_stale_vip, StaleVip::report);
  EXPECT_EQ(r.on_stale_vip, StaleVip::report);
  EXPECT_EQ(r.vrrp, (VrrpConfig{51, 3, Millis(500), 150}));
  EXPECT_TRUE(r.observe_vrrp);   // [daemon]'s
  EXPECT_TRUE(r.track_speaker);  // its own
  EXPECT_EQ(r.speaker_pid_file, "/run/keepalived/vrrp.pid");
  // The signal VIP first (once), an address without a device on the interface.
  EXPECT_THAT(r.addresses, ElementsAre(HeldAddress{prefix("169.254.0.1/24"), "ha-edge1"},
                                       HeldAddress{prefix("203.0.113.10/24"), "qg-edge1"},
                                       HeldAddress{prefix("fd00::1/64"), "ha-edge1"}));
  EXPECT_FALSE(c.routers[1].observe_vrrp);
  EXPECT_FALSE(c.routers[1].track_speaker);  // [daemon]'s
}

TEST(Config, KeepalivedDefaults) {
  auto c = config_of(R"(
[[router]]
name = "edge1"
interface = "ha-edge1"
vip = "169.254.0.1/24"
)");
  ASSERT_EQ(c.routers.size(), 1u);
  EXPECT_EQ(c.routers[0].on_stale_vip, StaleVip::release);
  EXPECT_FALSE(c.routers[0].observe_vrrp);
  EXPECT_TRUE(c.routers[0].track_speaker);
  EXPECT_EQ(c.routers[0].vrrp, VrrpConfig{});
  // Unknown priority: the master-down interval takes the longest skew.
  EXPECT_EQ(VrrpConfig{}.master_down(), Millis(4000));
  EXPECT_EQ((VrrpConfig{1, 2, Millis(1000), 128}).master_down(), Millis(3500));
}

TEST(ConfigErrors, ObserveVrrpNeedsAVrid) {
  EXPECT_THAT(
      errors_of(R"(
[[router]]
name = "edge1"
interface = "ha-edge1"
vip = "169.254.0.1/24"
observe_vrrp = true
)"),
      ElementsAre(IsError(5, "router[1].observe_vrrp", "observe_vrrp needs the router's vrid")));
}

TEST(ConfigErrors, KeepalivedKeys) {
  EXPECT_THAT(
      errors_of(R"(
daemon.on_stale_vip = "remove"

[[router]]
name = "edge1"
interface = "ha-edge1"
vip = "169.254.0.1/24"
vrid = 0
vrrp_version = 4
advert_interval_ms = 1500
observe_vrrp = true
addresses = ["10.0.0.1/24 on eth0"]
speaker_pid_file = "vrrp.pid"
)"),
      ElementsAre(
          IsError(1, "daemon.on_stale_vip", R"(expected "release" or "report", got "remove")"),
          IsError(7, "router[1].vrid", "expected an integer from 1 to 255, got 0"),
          IsError(8, "router[1].vrrp_version", "expected an integer from 2 to 3, got 4"),
          IsError(9, "router[1].advert_interval_ms",
                  "VRRPv2 adverts are sent every whole second; got 1500 ms"),
          IsError(11, "router[1].addresses[1]", "ADDR/LEN dev IFNAME"),
          IsError(12, "router[1].speaker_pid_file", "an absolute path")));
}

}  // namespace
}  // namespace havip
