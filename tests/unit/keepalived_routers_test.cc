// [keepalived] config: how havip.toml's [keepalived] and attached [[router]]
// tables are read, and how keepalived.conf's instances become routers
// (config/keepalived_routers.h). The reader itself: keepalived_reader_test.cc.
#include "config/keepalived_routers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include "config/config_parse.h"

namespace havip {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

IpPrefix prefix(const char* text) { return *IpPrefix::parse(text); }

Config config_of(std::string_view text) {
  auto c = parse_config(text, "havip.toml");
  if (!c) {
    std::string all;
    for (const auto& e : c.error()) all += e.to_string() + "\n";
    ADD_FAILURE() << all;
    return {};
  }
  return *c;
}

std::string errors_of(std::string_view text) {
  auto c = parse_config(text, "havip.toml");
  if (c) {
    ADD_FAILURE() << "accepted";
    return {};
  }
  std::string all;
  for (const auto& e : c.error()) all += e.to_string() + "\n";
  return all;
}

keepalived::Instance instance(std::string name, std::string interface, int vrid,
                              std::vector<keepalived::Address> vips) {
  keepalived::Instance i;
  i.name = std::move(name);
  i.file = "/etc/keepalived/keepalived.conf";
  i.line = 10 * vrid;
  i.interface = std::move(interface);
  i.vrid = vrid;
  i.vips = std::move(vips);
  return i;
}

keepalived::Conf conf_of(std::vector<keepalived::Instance> instances) {
  keepalived::Conf c;
  c.instances = std::move(instances);
  c.files = {"/etc/keepalived/keepalived.conf"};
  return c;
}

tl::expected<KeepalivedRouters, std::vector<std::string>> routers_of(const Config& config,
                                                                     const keepalived::Conf& conf) {
  return keepalived_routers(config, std::vector<keepalived::Conf>{conf});
}

TEST(KeepalivedSection, DefaultsAndKeys) {
  auto c = config_of("[keepalived]\n");
  ASSERT_EQ(c.keepalived.size(), 1u);
  EXPECT_EQ(c.keepalived[0].config, "/etc/keepalived/keepalived.conf");
  EXPECT_EQ(c.keepalived[0].netns, "");
  EXPECT_EQ(c.keepalived[0].track_dir, "/var/lib/havip/track");
  c = config_of(
      "[keepalived]\nconfig = \"/srv/k.conf\"\nnamespace = \"gw1\"\ntrack_dir = \"/run/t\"\n");
  EXPECT_EQ(c.keepalived[0].config, "/srv/k.conf");
  EXPECT_EQ(c.keepalived[0].netns, "gw1");
  EXPECT_EQ(c.keepalived[0].track_dir, "/run/t");
  EXPECT_TRUE(config_of("[daemon]\n").keepalived.empty());
}

TEST(KeepalivedSection, OneKeepalivedPerNamespace) {
  auto c = config_of(R"([[keepalived]]
config = "/srv/a.conf"
namespace = "a"
[[keepalived]]
config = "/srv/b.conf"
namespace = "b"
[[router]]
name = "VI_1"
)");
  ASSERT_EQ(c.keepalived.size(), 2u);
  EXPECT_EQ(c.keepalived[1].config, "/srv/b.conf");
  EXPECT_EQ(c.keepalived[1].netns, "b");
  EXPECT_EQ(c.attached.size(), 1u);
  EXPECT_THAT(errors_of("[[keepalived]]\nconfig = \"/a\"\n[[keepalived]]\nconfig = \"/a\"\n"),
              HasSubstr("keepalived[1].config: keepalived[0] reads /a already"));
}

TEST(KeepalivedSection, Errors) {
  EXPECT_THAT(errors_of("[keepalived]\nconfig = \"k.conf\"\n"),
              HasSubstr("havip.toml:2: keepalived.config: expected an absolute path"));
  EXPECT_THAT(errors_of("[keepalived]\nnamespace = \"a/b\"\n"),
              HasSubstr("havip.toml:2: keepalived.namespace"));
  EXPECT_THAT(errors_of("[keepalived]\nconfg = \"/k\"\n"),
              HasSubstr("havip.toml:2: keepalived.confg: unknown key 'confg'"));
}

TEST(KeepalivedSection, RouterWithoutInterfaceAttaches) {
  auto c = config_of(R"([keepalived]
[daemon]
hold_down_ms = 500
observe_vrrp = true
[[router]]
name = "VI_1"
gateway_interface = "eth1"
[[router.service]]
command = ["/bin/sleep", "1000"]
[[router]]
name = "edge"
interface = "eth0"
vip = "10.0.0.1/24"
)");
  ASSERT_EQ(c.attached.size(), 1u);
  EXPECT_EQ(c.attached[0].name, "VI_1");
  EXPECT_EQ(c.attached[0].gateway_interface, "eth1");
  EXPECT_EQ(c.attached[0].services.size(), 1u);
  EXPECT_EQ(c.attached[0].hold_down, Millis(500));
  EXPECT_TRUE(c.attached[0].observe_vrrp);
  ASSERT_EQ(c.routers.size(), 1u);
  EXPECT_EQ(c.routers[0].name, "edge");
}

TEST(KeepalivedSection, AttachedRouterCannotGiveWhatKeepalivedConfSays) {
  auto e = errors_of(R"([keepalived]
[[router]]
name = "VI_1"
vrid = 7
namespace = "x"
)");
  EXPECT_THAT(e, HasSubstr("havip.toml:4: router[1].vrid: vrid comes from keepalived.conf"));
  EXPECT_THAT(e, HasSubstr("havip.toml:5: router[1].namespace: namespace comes from"));
}

TEST(KeepalivedSection, WithoutKeepalivedTheInterfaceIsRequired) {
  EXPECT_THAT(errors_of("[[router]]\nname = \"VI_1\"\nvip = \"10.0.0.1/24\"\n"),
              HasSubstr("router[1].interface: required key is missing"));
}

TEST(KeepalivedRouters, EveryInstanceIsARouter) {
  auto config = config_of("[keepalived]\n[daemon]\nstate_dir = \"/s\"\nhold_down_ms = 300\n");
  auto i1 = instance("VI_1", "eth0", 51,
                     {{prefix("192.0.2.1/24"), ""}, {prefix("192.0.2.2/32"), "eth1"}});
  i1.priority = 150;
  i1.advert_interval = Millis(1000);
  i1.excluded = {{prefix("fd00::1/64"), ""}};
  i1.sync_group = "G";
  i1.unicast_peers = {prefix("198.51.100.2/32")};
  auto i2 = instance("VI_6", "eth2", 52, {{prefix("fd00:6::1/64"), ""}});
  i2.vmac_interface = "vrrp.52";
  i2.version = 3;
  auto r = routers_of(config, conf_of({i1, i2}));
  ASSERT_TRUE(r) << r.error().front();
  ASSERT_EQ(r->routers.size(), 2u);
  const auto& a = r->routers[0];
  EXPECT_EQ(a.name, "VI_1");
  EXPECT_EQ(a.state_dir, "/s");
  EXPECT_EQ(a.hold_down, Millis(300));
  EXPECT_EQ(a.interface, "eth0");
  EXPECT_EQ(a.vip, prefix("192.0.2.1/24"));
  EXPECT_EQ(a.vrrp.vrid, 51);
  EXPECT_EQ(a.vrrp.priority, 150);
  EXPECT_EQ(a.vrrp.advert_interval, Millis(1000));
  EXPECT_EQ(a.source, "/etc/keepalived/keepalived.conf:510");
  EXPECT_EQ(a.sync_group, "G");
  EXPECT_EQ(a.unicast_peers, std::vector<IpPrefix>{prefix("198.51.100.2/32")});
  EXPECT_THAT(a.addresses, ElementsAre(HeldAddress{prefix("192.0.2.1/24"), "eth0"},
                                       HeldAddress{prefix("192.0.2.2/32"), "eth1"},
                                       HeldAddress{prefix("fd00::1/64"), "eth0"}));
  const auto& b = r->routers[1];
  EXPECT_EQ(b.interface, "vrrp.52") << "with use_vmac the VIPs are on the VMAC interface";
  EXPECT_EQ(b.vip, prefix("fd00:6::1/64"));
  EXPECT_EQ(b.vrrp.version, 3);
  EXPECT_THAT(r->skipped, IsEmpty());
}

TEST(KeepalivedRouters, NamespaceFromTheConfOrHavipToml) {
  auto config = config_of("[keepalived]\nnamespace = \"gw\"\n");
  auto conf = conf_of({instance("VI_1", "eth0", 1, {{prefix("10.0.0.1/24"), ""}})});
  EXPECT_EQ(routers_of(config, conf)->routers[0].netns, "gw");
  conf.net_namespace = "gw";
  EXPECT_EQ(routers_of(config, conf)->routers[0].netns, "gw");
  conf.net_namespace = "other";
  auto r = routers_of(config, conf);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().front(), HasSubstr("sets net_namespace other"));
  config.keepalived[0].netns.clear();
  EXPECT_EQ(routers_of(config, conf)->routers[0].netns, "other");
}

TEST(KeepalivedRouters, AttachedRouterGivesEffectsAndMayChooseTheSignalVip) {
  auto config = config_of(R"([keepalived]
[[router]]
name = "VI_1"
vip = "10.0.1.1/24"
hold_down_ms = 100
gateway_interface = "eth9"
)");
  auto conf = conf_of({instance("VI_1", "eth0", 1,
                                {{prefix("10.0.0.1/24"), ""}, {prefix("10.0.1.1/24"), "eth1"}})});
  auto r = routers_of(config, conf);
  ASSERT_TRUE(r);
  const auto& a = r->routers[0];
  EXPECT_EQ(a.vip, prefix("10.0.1.1/24"));
  EXPECT_EQ(a.interface, "eth1") << "the signal VIP's own device";
  EXPECT_EQ(a.hold_down, Millis(100));
  EXPECT_EQ(a.gateway_interface, "eth9");
  EXPECT_EQ(a.vrrp.vrid, 1);
  EXPECT_THAT(a.addresses, ElementsAre(HeldAddress{prefix("10.0.1.1/24"), "eth1"},
                                       HeldAddress{prefix("10.0.0.1/24"), "eth0"}));
}

TEST(KeepalivedRouters, SetErrors) {
  auto config = config_of(R"([keepalived]
[[router]]
name = "VI_2"
[[router]]
name = "VI_3"
vip = "10.9.9.9/24"
[[router]]
name = "edge"
interface = "eth0"
vip = "10.0.0.1/24"
)");
  auto conf = conf_of({instance("VI_3", "eth0", 3, {{prefix("10.0.3.1/24"), ""}}),
                       instance("edge", "eth0", 4, {{prefix("10.0.4.1/24"), ""}})});
  auto r = routers_of(config, conf);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(),
              ElementsAre(HasSubstr("router VI_2 in havip.toml has no interface, so it attaches "
                                    "to the vrrp_instance of that name, but "
                                    "/etc/keepalived/keepalived.conf has none"),
                          HasSubstr("chooses vip 10.9.9.9/24, which is not in "
                                    "/etc/keepalived/keepalived.conf:30: vrrp_instance VI_3's "
                                    "virtual_ipaddress (10.0.3.1/24)"),
                          HasSubstr("/etc/keepalived/keepalived.conf:40: vrrp_instance edge has "
                                    "the name of router edge in havip.toml")));
}

TEST(KeepalivedRouters, InstancesThatCannotBeServedAreSkippedAndSaid) {
  auto config = config_of("[keepalived]\n");
  auto conf = conf_of({instance("no vips", "eth0", 1, {{prefix("10.0.0.1/24"), ""}}),
                       instance("VI_2", "eth0", 2, {}),
                       instance("VI_3", "eth0", 3, {{prefix("10.0.3.1/24"), ""}})});
  auto r = routers_of(config, conf);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->routers.size(), 1u);
  EXPECT_EQ(r->routers[0].name, "VI_3");
  EXPECT_THAT(r->skipped,
              ElementsAre(HasSubstr(":10: vrrp_instance no vips: the name cannot be a router's"),
                          HasSubstr(":20: vrrp_instance VI_2: no virtual_ipaddress")));
}

TEST(KeepalivedRouters, NamesAreUniqueAcrossKeepalivedConfs) {
  auto config = config_of(R"([[keepalived]]
config = "/a.conf"
namespace = "a"
[[keepalived]]
config = "/b.conf"
namespace = "b"
)");
  auto a = conf_of({instance("VI_1", "eth0", 1, {{prefix("10.0.0.1/24"), ""}})});
  auto b = a;
  b.instances[0].file = "/b.conf";
  auto r = keepalived_routers(config, {a, b});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().front(),
              HasSubstr("/b.conf:10: vrrp_instance VI_1: /etc/keepalived/keepalived.conf:10: "
                        "vrrp_instance VI_1 has the same name"));
  b.instances[0].name = "VI_2";
  r = keepalived_routers(config, {a, b});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->routers[0].netns, "a");
  EXPECT_EQ(r->routers[1].netns, "b");
}

TEST(KeepalivedRouters, TheTrackFileInTrackDirIsHavipds) {
  auto config = config_of(
      "[keepalived]\ntrack_dir = \"/var/lib/havip/track\"\n[daemon]\ntrack_grace_ms = 500\n"
      "[[router]]\nname = \"VI_3\"\ntrack_file = \"/run/own\"\n");
  auto conf = conf_of({instance("VI_1", "eth0", 1, {{prefix("10.0.0.1/24"), ""}}),
                       instance("VI_2", "eth0", 2, {{prefix("10.0.2.1/24"), ""}}),
                       instance("VI_3", "eth0", 3, {{prefix("10.0.3.1/24"), ""}})});
  conf.track_files["other"] = {"other", "/etc/keepalived/flag", 1, false};
  conf.track_files["havip_1"] = {"havip_1", "/var/lib/havip/track/VI_1", 0, false};
  conf.track_files["deeper"] = {"deeper", "/var/lib/havip/track/sub/VI_2", 0, false};
  conf.track_files["havip_3"] = {"havip_3", "/var/lib/havip/track/VI_3", 0, false};
  conf.instances[0].track_files = {{"other", std::nullopt}, {"havip_1", 0}};
  conf.instances[1].track_files = {{"deeper", 0}};
  conf.instances[2].track_files = {{"havip_3", 0}};
  auto r = routers_of(config, conf);
  ASSERT_TRUE(r) << r.error().front();
  EXPECT_EQ(r->routers[0].track_file, "/var/lib/havip/track/VI_1");
  EXPECT_EQ(r->routers[0].track_grace, Millis(500));
  EXPECT_EQ(r->routers[1].track_file, "") << "not in track_dir itself";
  EXPECT_EQ(r->routers[2].track_file, "/run/own") << "the attached router's own";

  conf.instances[1].track_files = {{"havip_1", 0}};
  r = routers_of(config, conf);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().front(),
              HasSubstr("vrrp_instance VI_2: its track_file /var/lib/havip/track/VI_1 is router "
                        "VI_1's as well"));
}

TEST(KeepalivedRouters, AnUnchangedInstanceGivesAnEqualRouter) {
  // Reload and live changes leave a router alone when it compares equal.
  auto config = config_of("[keepalived]\n");
  auto conf = conf_of({instance("VI_1", "eth0", 1, {{prefix("10.0.0.1/24"), ""}}),
                       instance("VI_2", "eth0", 2, {{prefix("10.0.2.1/24"), ""}})});
  auto before = routers_of(config, conf);
  conf.instances[1].priority = 42;
  auto after = routers_of(config, conf);
  EXPECT_EQ(before->routers[0], after->routers[0]);
  EXPECT_NE(before->routers[1], after->routers[1]);
}

}  // namespace
}  // namespace havip
