// The configuration file: what is accepted, and the precise error for what is not.
#include "core/config_parse.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <ostream>
#include <string>

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

constexpr const char* kFile = "test.toml";

// Tests write their TOML as R"( on its own line; dropping that first newline
// makes line 1 the first line you read, so line numbers match the text.
std::string_view toml_text(std::string_view text) {
  if (text.starts_with('\n')) text.remove_prefix(1);
  return text;
}

std::string describe(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.to_string() + "\n";
  return out;
}

Config config_of(std::string_view text) {
  auto result = parse_config(toml_text(text), kFile);
  if (!result) {
    ADD_FAILURE() << "unexpected errors:\n" << describe(result.error());
    return {};
  }
  return *result;
}

std::vector<ConfigError> errors_of(std::string_view text) {
  auto result = parse_config(toml_text(text), kFile);
  if (result) {
    ADD_FAILURE() << "expected errors, but the config was accepted";
    return {};
  }
  return result.error();
}

auto IsError(int line, const std::string& key, const std::string& message_part) {
  return AllOf(Field("file", &ConfigError::file, kFile), Field("line", &ConfigError::line, line),
               Field("key", &ConfigError::key, key),
               Field("message", &ConfigError::message, HasSubstr(message_part)));
}

IpPrefix prefix(const char* text) { return IpPrefix::parse(text).value(); }

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
  EXPECT_EQ(c.routers[0], (RouterConfig{"edge1", "qrouter-1", "ha-edge1",
                                        prefix("169.254.0.1/24"), Millis(1500)}));
  EXPECT_EQ(c.routers[1], (RouterConfig{"edge2", "qrouter-2", "ha-edge2",
                                        prefix("169.254.0.2/24"), Millis(0)}));
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

[neutron]
state_path = "/var/lib/neutron"
)"),
              ElementsAre(IsError(4, "neutron",
                                  "unknown table 'neutron' (not supported in this version)")));
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

TEST(ConfigErrors, PlannedRouterKeyIsNotSupportedYet) {
  EXPECT_THAT(errors_of(R"(
[[router]]
name = "edge1"
interface = "ha-edge1"
vip = "169.254.0.1/24"
gateway_interface = "qg-edge1"
)"),
              ElementsAre(IsError(5, "router[1].gateway_interface",
                                  "unknown key 'gateway_interface' (not supported in this version)")));
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

[neutron]
)"),
              ElementsAre(IsError(2, "daemon.state_sync", "got \"sometimes\""),
                          IsError(3, "daemon.hold_down", "did you mean 'hold_down_ms'?"),
                          IsError(6, "router[1].name", "got \"edge/1\""),
                          IsError(8, "router[1].vip", "got \"169.254.0.1\""),
                          IsError(10, "router[2].name", "required key is missing"),
                          IsError(13, "router[2].hold_down_ms", "expected an integer"),
                          IsError(15, "neutron", "unknown table 'neutron'")));
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

// ---- the name rules, shared with other parsers ----

TEST(NameRules, RouterName) {
  EXPECT_TRUE(valid_router_name("edge1"));
  EXPECT_TRUE(valid_router_name("a.b_c-D9"));
  EXPECT_TRUE(valid_router_name("..."));
  EXPECT_TRUE(valid_router_name(std::string(64, 'x')));
  EXPECT_FALSE(valid_router_name(""));
  EXPECT_FALSE(valid_router_name("."));
  EXPECT_FALSE(valid_router_name(".."));
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

}  // namespace
}  // namespace havip
