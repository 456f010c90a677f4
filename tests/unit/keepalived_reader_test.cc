// The general keepalived.conf reader (config/keepalived_conf.h): keepalived's
// own samples and Neutron's generated files read into the instances they
// describe; includes, globs and $NAME definitions through a map-backed Io;
// each malformed file gives one error naming the file (the included one
// where the problem is) and the line.
#include <fnmatch.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "config/keepalived_conf.h"

namespace havip::keepalived {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

IpPrefix prefix(const char* text) { return IpPrefix::parse(text).value(); }

std::string test_file(const std::string& rel) {
  const char* dir = getenv("HAVIP_TEST_DIR");
  std::ifstream in(
      std::string(dir ? dir : HAVIP_TEST_DIR_DEFAULT) + "/unit/golden/keepalived/" + rel,
      std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A file system of a few files; glob is fnmatch(3) over their names.
struct FakeFs {
  std::map<std::string, std::string> files;
  std::vector<std::string> read_log;

  Io io() {
    return Io{[this](const std::string& path) -> tl::expected<std::string, std::string> {
                read_log.push_back(path);
                auto it = files.find(path);
                if (it == files.end()) return tl::unexpected(std::string("No such file"));
                if (it->second == "<unreadable>")
                  return tl::unexpected(std::string("Permission denied"));
                return it->second;
              },
              [this](const std::string& pattern) {
                std::vector<std::string> out;
                for (const auto& [name, text] : files)
                  if (fnmatch(pattern.c_str(), name.c_str(), FNM_PATHNAME) == 0)
                    out.push_back(name);
                return out;
              }};
  }
};

tl::expected<Conf, std::string> read(const std::string& text, FakeFs& fs,
                                     const std::string& file = "/etc/keepalived/keepalived.conf") {
  return parse(text, file, fs.io());
}

tl::expected<Conf, std::string> read(const std::string& text) {
  FakeFs fs;
  return read(text, fs);
}

std::string error_of(const std::string& text, FakeFs& fs) {
  auto r = read(text, fs);
  return r ? "(parsed)" : r.error();
}

std::string error_of(const std::string& text) {
  FakeFs fs;
  return error_of(text, fs);
}

// One line per instance, so a failed comparison shows which one differs.
std::string dump(const Conf& c) {
  std::ostringstream s;
  if (!c.net_namespace.empty()) s << "netns " << c.net_namespace << "\n";
  for (const auto& i : c.instances) {
    s << i.name << " if=" << i.interface;
    if (!i.vmac_interface.empty()) s << " vmac=" << i.vmac_interface;
    s << " vrid=" << i.vrid << " prio=" << i.priority << " v" << i.version;
    if (i.advert_interval) s << " advert=" << i.advert_interval->count() << "ms";
    if (!i.state.empty()) s << " " << i.state;
    if (i.nopreempt) s << " nopreempt";
    s << (i.ipv6 ? " ipv6" : " ipv4");
    for (const auto& a : i.vips)
      s << " vip=" << a.prefix.to_string() << (a.dev.empty() ? "" : "@" + a.dev);
    if (!i.excluded.empty()) s << " excluded=" << i.excluded.size();
    if (!i.routes.empty()) s << " routes=" << i.routes.size();
    if (i.unicast_src_ip) s << " src=" << i.unicast_src_ip->to_string();
    for (const auto& p : i.unicast_peers) s << " peer=" << p.to_string();
    if (!i.sync_group.empty()) s << " group=" << i.sync_group;
    for (const auto& [name, weight] : i.track_files)
      s << " track=" << name << (weight ? "/" + std::to_string(*weight) : "");
    s << "\n";
  }
  return s.str();
}

// ---- keepalived's samples ---------------------------------------------------

std::string sample(const std::string& name) {
  auto c = read(test_file("samples/" + name));
  return c ? dump(*c) : c.error();
}

TEST(KeepalivedSamples, Vrrp) {
  EXPECT_EQ(sample("keepalived.conf.vrrp"),
            "VI_1 if=eth0 vrid=51 prio=100 v2 advert=1000ms MASTER ipv4 vip=192.168.200.16/32 "
            "vip=192.168.200.17/32 vip=192.168.200.18/32 vip=192.168.200.18/32\n"
            "VI_2 if=eth0 vrid=50 prio=50 v2 advert=1000ms ipv4 vip=192.168.200.13/32 "
            "vip=192.168.200.14/32 vip=192.168.200.15/32\n"
            "VI_3 if=eth1 vrid=52 prio=100 v2 advert=1000ms MASTER ipv4 vip=192.168.201.13/32 "
            "vip=192.168.201.14/32 vip=192.168.201.15/32\n"
            "VI_4 if=eth1 vrid=53 prio=50 v2 advert=1000ms ipv4 vip=192.168.201.16/32 "
            "vip=192.168.201.17/32 vip=192.168.201.18/32\n");
}

TEST(KeepalivedSamples, Sync) {
  EXPECT_EQ(sample("keepalived.conf.vrrp.sync"),
            "VI_1 if=eth0 vrid=51 prio=100 v2 MASTER ipv4 vip=192.168.200.18/25 group=G1\n"
            "VI_2 if=eth1 vrid=52 prio=100 v2 MASTER ipv4 vip=192.168.201.18/26 group=G1\n"
            "VI_3 if=eth0 vrid=53 prio=100 v2 ipv4 vip=192.168.200.19/27 group=G2\n"
            "VI_4 if=eth1 vrid=54 prio=100 v2 ipv4 vip=192.168.201.19/28 group=G2\n"
            "VI_5 if=eth0 vrid=55 prio=100 v2 MASTER ipv4 vip=192.168.200.20/27 group=G1\n"
            "VI_6 if=eth0 vrid=56 prio=100 v2 MASTER ipv4 vip=192.168.200.21/27 group=G1\n"
            "VI_7 if=eth0 vrid=57 prio=100 v2 MASTER ipv4 vip=192.168.200.22/27 group=G1\n"
            "VI_8 if=eth0 vrid=58 prio=100 v2 MASTER ipv4 vip=192.168.200.23/27 group=G1\n"
            "VI_9 if=eth0 vrid=59 prio=100 v2 MASTER ipv4 vip=192.168.200.24/27 group=G1\n");
}

TEST(KeepalivedSamples, Routes) {
  auto c = read(test_file("samples/keepalived.conf.vrrp.routes"));
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(dump(*c),
            "VI_1 if=eth0 vrid=51 prio=100 v2 MASTER ipv4 vip=192.168.200.16/32 "
            "vip=192.168.200.17/32@eth1 vip=192.168.200.18/32@eth2 routes=7\n");
  const auto& routes = c->instances[0].routes;
  EXPECT_EQ(routes[0].destination, prefix("192.168.109.0/24"));  // after `src ADDR`
  EXPECT_EQ(routes[0].via, prefix("192.168.200.254/32"));
  EXPECT_EQ(routes[0].dev, "eth1");
  EXPECT_EQ(routes[5].destination, prefix("192.168.113.1/32"));  // blackhole
  EXPECT_EQ(routes[6].destination, prefix("0.0.0.0/0"));
  EXPECT_FALSE(routes[6].ipv6_default);
}

TEST(KeepalivedSamples, Scripts) {
  EXPECT_EQ(sample("keepalived.conf.vrrp.scripts"),
            "VI_1 if=eth0 vrid=51 prio=100 v2 advert=1000ms MASTER ipv4 vip=192.168.200.16/32 "
            "vip=192.168.200.17/32 vip=192.168.200.18/32\n"
            "VI_2 if=eth0 vrid=52 prio=150 v2 MASTER ipv4 vip=192.168.200.100/27 group=G1\n"
            "VI_3 if=eth0 vrid=53 prio=150 v2 MASTER ipv4 vip=192.168.200.101/27 group=G1\n");
}

TEST(KeepalivedSamples, ConditionalConfIsRefused) {
  EXPECT_EQ(error_of(test_file("samples/keepalived.conf.conditional_conf")),
            "/etc/keepalived/keepalived.conf:3: '@' line prefixes are not supported (they "
            "depend on keepalived's --config-id)");
}

// ---- Neutron's generated files ------------------------------------------------

TEST(KeepalivedNeutronGoldens, OneInstanceEach) {
  for (const char* name : {"minimal", "ipv4_gateway", "dual_stack", "dual_stack_track",
                           "health_check", "internal_only", "dvr_snat", "hand_edited"}) {
    auto c = read(test_file(std::string(name) + ".conf"));
    ASSERT_TRUE(c) << name << ": " << c.error();
    ASSERT_EQ(c->instances.size(), 1u) << name;
    const auto& i = c->instances[0];
    EXPECT_THAT(i.interface, ::testing::StartsWith("ha-")) << name;
    ASSERT_EQ(i.vips.size(), 1u) << name;
    EXPECT_FALSE(i.ipv6) << name;  // the signal VIP is IPv4
    EXPECT_EQ(c->files, std::vector<std::string>{"/etc/keepalived/keepalived.conf"});
  }
  auto c = read(test_file("dual_stack.conf"));
  ASSERT_TRUE(c) << c.error();
  const auto& i = c->instances[0];
  EXPECT_EQ(i.name, "VR_7");
  EXPECT_EQ(i.vips[0].prefix, prefix("169.254.0.7/24"));
  EXPECT_EQ(i.excluded.size(), 9u);
  ASSERT_FALSE(i.routes.empty());
  EXPECT_TRUE(
      std::any_of(i.routes.begin(), i.routes.end(), [](const Route& r) { return r.ipv6_default; }));
}

// ---- includes and globs -----------------------------------------------------

std::string inst(const std::string& name, int vrid, const std::string& extra = "") {
  return "vrrp_instance " + name +
         " {\n"                // 1
         "  interface eth0\n"  // 2
         "  virtual_router_id " +
         std::to_string(vrid) + "\n" +  // 3
         extra +                        // 4…
         "}\n";
}

TEST(KeepalivedIncludes, RelativeGlobsAndNesting) {
  FakeFs fs;
  fs.files["/etc/keepalived/conf.d/b.conf"] = inst("B", 2);
  fs.files["/etc/keepalived/conf.d/a.conf"] = inst("A", 1) + "include sub/*.conf\n";
  fs.files["/etc/keepalived/conf.d/sub/c.conf"] = inst("C", 3);
  fs.files["/etc/keepalived/conf.d/x.txt"] = "garbage {";
  auto c = read("global_defs {\n net_namespace blue\n}\ninclude conf.d/*.conf\n" + inst("M", 9) +
                    "include /etc/keepalived/none/*.conf\n",
                fs);
  ASSERT_TRUE(c) << c.error();
  std::vector<std::string> names;
  for (const auto& i : c->instances) names.push_back(i.name);
  EXPECT_THAT(names, ElementsAre("A", "C", "B", "M"));  // where each include stands
  EXPECT_EQ(c->net_namespace, "blue");
  EXPECT_THAT(c->files,
              ElementsAre("/etc/keepalived/keepalived.conf", "/etc/keepalived/conf.d/a.conf",
                          "/etc/keepalived/conf.d/b.conf", "/etc/keepalived/conf.d/sub/c.conf"));
  // Relative to the including file's directory; a pattern matching nothing
  // is skipped (as keepalived does) but watched.
  EXPECT_THAT(c->patterns,
              ElementsAre("/etc/keepalived/conf.d/*.conf", "/etc/keepalived/conf.d/sub/*.conf",
                          "/etc/keepalived/none/*.conf"));
  EXPECT_EQ(c->instances[1].file, "/etc/keepalived/conf.d/sub/c.conf");
  EXPECT_EQ(c->instances[1].line, 1);
}

TEST(KeepalivedIncludes, IncludeInsideABlock) {
  FakeFs fs;
  fs.files["/etc/keepalived/vips.conf"] = "10.0.0.1/24\n10.0.0.2/24 dev eth0\n";
  auto c = read(inst("A", 1, "  virtual_ipaddress {\n    include vips.conf\n  }\n"), fs);
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->instances[0].vips.size(), 2u);
  EXPECT_EQ(c->instances[0].vips[1].dev, "eth0");
}

TEST(KeepalivedIncludes, ErrorsNameTheIncludedFile) {
  FakeFs fs;
  fs.files["/etc/keepalived/conf.d/a.conf"] = "\n\n" + inst("A", 1, "  priority 300\n");
  EXPECT_EQ(error_of("include conf.d/a.conf\n", fs),
            "/etc/keepalived/conf.d/a.conf:6: priority must be 1..255");
  fs.files["/etc/keepalived/conf.d/a.conf"] = "vrrp_instance A {\n interface eth0\n";
  EXPECT_EQ(error_of("include conf.d/a.conf\n", fs),
            "/etc/keepalived/conf.d/a.conf:1: '{' is never closed");
  fs.files["/etc/keepalived/conf.d/a.conf"] = "}\n";
  EXPECT_EQ(error_of("\ninclude conf.d/a.conf\n", fs),
            "/etc/keepalived/conf.d/a.conf:1: '}' without a matching '{'");
}

TEST(KeepalivedIncludes, UnreadableCycleAndBounds) {
  FakeFs fs;
  fs.files["/etc/keepalived/secret.conf"] = "<unreadable>";
  EXPECT_EQ(error_of("\ninclude secret.conf\n", fs),
            "/etc/keepalived/keepalived.conf:2: cannot read included file "
            "'/etc/keepalived/secret.conf': Permission denied");
  FakeFs cycle;
  cycle.files["/etc/keepalived/a.conf"] = "include b.conf\n";
  cycle.files["/etc/keepalived/b.conf"] = "\ninclude a.conf\n";
  EXPECT_EQ(error_of("include a.conf\n", cycle),
            "/etc/keepalived/b.conf:2: include cycle: '/etc/keepalived/a.conf' is already "
            "being read");
  FakeFs self;
  EXPECT_EQ(error_of("include keepalived.conf\n", self),
            "(parsed)");  // the fake has no such file: nothing matches, skipped
  self.files["/etc/keepalived/keepalived.conf"] = "";
  EXPECT_THAT(error_of("include keepalived.conf\n", self), HasSubstr(":1: include cycle"));
  FakeFs deep;
  for (int i = 0; i < 10; ++i)
    deep.files["/d/" + std::to_string(i) + ".conf"] =
        "include " + std::to_string(i + 1) + ".conf\n";
  EXPECT_EQ(error_of("include /d/0.conf\n", deep), "/d/7.conf:1: includes nested deeper than 8");
  FakeFs many;
  for (int i = 0; i < 1001; ++i) many.files["/m/" + std::to_string(1000 + i) + ".conf"] = "";
  EXPECT_EQ(error_of("include /m/*.conf\n", many),
            "/etc/keepalived/keepalived.conf:1: more than 1000 files included");
  FakeFs big;
  big.files["/b.conf"] = std::string((std::size_t{1} << 20) + 1, '\n');
  EXPECT_EQ(error_of("include /b.conf\n", big), "/b.conf:1048577: the file is larger than 1 MiB");
}

TEST(KeepalivedIncludes, VariantsThatRequireAMatch) {
  FakeFs fs;
  EXPECT_EQ(error_of("includer /none/*.conf\n", fs), "(parsed)");
  EXPECT_EQ(error_of("includea /none/*.conf\n", fs),
            "/etc/keepalived/keepalived.conf:1: includea '/none/*.conf' matches no file");
  EXPECT_EQ(error_of("include\n", fs), "(parsed)");  // `include` alone is a keyword, skipped
  EXPECT_EQ(error_of("include    # nothing\n", fs), "(parsed)");
}

// ---- $NAME definitions and what is refused ---------------------------------------

TEST(KeepalivedDefinitions, Substitution) {
  FakeFs fs;
  fs.files["/etc/keepalived/x.conf"] = inst("X", 7);
  auto c = read(
      "$IF=eth3\n$VRID=42\n$DIR=/etc/keepalived\n"
      "vrrp_instance A {\n interface $IF\n virtual_router_id ${VRID}\n"
      " virtual_ipaddress {\n  10.0.0.1/24 dev $IF # a comment\n }\n}\n"
      "include ${DIR}/x.conf\n"  // `$DIR/` would stay as written: a name ends at a blank, , or )

      "$IF=eth4\n" +
          inst("B", 42) + "vrrp_instance C {\n interface $IF$_HASH {\n virtual_router_id 5\n}\n",
      fs);
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->instances.size(), 4u);
  EXPECT_EQ(c->instances[0].interface, "eth3");
  EXPECT_EQ(c->instances[0].vrid, 42);
  EXPECT_EQ(c->instances[0].vips[0].dev, "eth3");
  EXPECT_EQ(c->instances[1].name, "X");
  EXPECT_EQ(c->instances[3].name, "C");  // `$IF$_HASH {`: "eth4# {", a comment once substituted
  EXPECT_EQ(c->instances[3].interface, "eth4");
}

TEST(KeepalivedDefinitions, Refused) {
  EXPECT_EQ(error_of("\n@main priority 100\n"),
            "/etc/keepalived/keepalived.conf:2: '@' line prefixes are not supported (they "
            "depend on keepalived's --config-id)");
  EXPECT_EQ(error_of("$X=@^backup\n$X priority 1\n"),
            "/etc/keepalived/keepalived.conf:2: '@' line prefixes are not supported (they "
            "depend on keepalived's --config-id)");
  EXPECT_EQ(error_of("~SEQ(ID, 1, 3) vrrp_instance A$ID {\n"),
            "/etc/keepalived/keepalived.conf:1: ~SEQ and ~LST are not supported");
  EXPECT_EQ(error_of("$M=a \\\n b\n"),
            "/etc/keepalived/keepalived.conf:1: multi-line definitions ('\\' at the end of "
            "$M=…) are not supported");
  EXPECT_EQ(error_of("$A=$A $A\n$A\n"),
            "/etc/keepalived/keepalived.conf:2: the line is longer than 64 KiB after $NAME "
            "substitution");
  EXPECT_EQ(error_of("$A=$B\n$B=$A\n$A\n"),
            "/etc/keepalived/keepalived.conf:3: $NAME substitutions nest deeper than 16 (does a "
            "definition use itself?)");
  EXPECT_EQ(error_of("x $_RANDOM\n"),
            "/etc/keepalived/keepalived.conf:1: $_RANDOM is not supported");
  // Unknown names stay as written (keepalived leaves them too).
  EXPECT_EQ(error_of("x $UNKNOWN ${ALSO}\n"), "(parsed)");
}

// ---- instances ------------------------------------------------------------------

TEST(KeepalivedInstances, Ipv6UnicastVmacTrackFiles) {
  auto c = read(
      "global_defs {\n vrrp_version 3\n}\n"
      "track_file havip_a {\n file /run/havip/a.track\n weight -50 reverse\n init_file 0\n}\n"
      "vrrp_track_file old_name {\n file \"/run/havip/b track\"\n}\n"
      "vrrp_instance V6 {\n interface eth1\n use_vmac\n virtual_router_id 12\n"
      " advert_int 0.5\n state BACKUP\n nopreempt\n"
      " virtual_ipaddress {\n  fd00::1/64\n  fe80::1\n }\n"
      " unicast_src_ip fd00::2\n unicast_peer {\n  fd00::3 min_ttl 250 max_ttl 255\n  fd00::4\n }\n"
      " track_file {\n  havip_a weight 10 reverse\n  old_name\n }\n}\n"
      "vrrp_instance N6 {\n interface eth1\n use_vmac vmac6 02:00:5e:00:01:0c\n"
      " virtual_router_id 12\n native_ipv6\n version 2\n}\n"
      "vrrp_instance V4 {\n interface eth1\n use_vmac 02:00:5e:00:01:0d\n"
      " virtual_router_id 12\n virtual_ipaddress {\n  10.0.0.1/24\n }\n}\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(dump(*c),
            "V6 if=eth1 vmac=vrrp.12 vrid=12 prio=0 v3 advert=500ms BACKUP nopreempt ipv6 "
            "vip=fd00::1/64 vip=fe80::1/128 src=fd00::2/128 peer=fd00::3/128 peer=fd00::4/128 "
            "track=havip_a/10 track=old_name\n"
            "N6 if=eth1 vmac=vmac6 vrid=12 prio=0 v3 ipv6\n"
            "V4 if=eth1 vmac=vrrp.12 vrid=12 prio=0 v3 ipv4 vip=10.0.0.1/24\n");
  EXPECT_EQ(c->instances[0].vip_interface(), "vrrp.12");
  ASSERT_EQ(c->track_files.size(), 2u);
  EXPECT_EQ(c->track_files.at("havip_a"), (TrackFile{"havip_a", "/run/havip/a.track", -50, true}));
  EXPECT_EQ(c->track_files.at("old_name").path, "/run/havip/b track");
  EXPECT_EQ(c->track_files.at("old_name").weight, 1);
}

TEST(KeepalivedInstances, NoVipsIsNotAnError) {
  auto c = read(inst("A", 1));
  ASSERT_TRUE(c) << c.error();
  EXPECT_TRUE(c->instances[0].vips.empty());
  EXPECT_EQ(c->instances[0].vips_line, 0);
}

TEST(KeepalivedInstances, SyncGroups) {
  auto c = read("vrrp_sync_group G {\n group {\n  A B\n }\n notify_master /x\n}\n" + inst("A", 1) +
                inst("B", 2) + inst("C", 3));
  ASSERT_TRUE(c) << c.error();
  EXPECT_THAT(c->sync_groups.at("G"), ElementsAre("A", "B"));
  EXPECT_EQ(c->instances[1].sync_group, "G");
  EXPECT_EQ(c->instances[2].sync_group, "");
  EXPECT_EQ(error_of("vrrp_sync_group G {\n group {\n  A\n  Z\n }\n}\n" + inst("A", 1)),
            "/etc/keepalived/keepalived.conf:4: vrrp_sync_group G names no vrrp_instance 'Z'");
  EXPECT_EQ(error_of("vrrp_sync_group G {\n group {\n  A\n }\n}\n"
                     "vrrp_sync_group H {\n group {\n  A\n }\n}\n" +
                     inst("A", 1)),
            "/etc/keepalived/keepalived.conf:8: vrrp_instance A is already in vrrp_sync_group G");
}

// ---- errors -----------------------------------------------------------------------

TEST(KeepalivedErrors, Instances) {
  const std::string f = "/etc/keepalived/keepalived.conf:";
  EXPECT_EQ(error_of(inst("A", 1) + inst("A", 2)),
            f + "5: vrrp_instance A is defined twice (first at " + f + "1)");
  EXPECT_EQ(error_of("vrrp_instance {\n}\n"), f + "1: vrrp_instance needs a name");
  EXPECT_EQ(error_of(inst("A", 1, " interface " + std::string(16, 'e') + "\n")),
            f + "4: interface name '" + std::string(16, 'e') + "' is longer than 15 bytes");
  EXPECT_EQ(error_of(inst("A", 1, " state MAIN\n")), f + "4: state must be MASTER or BACKUP");
  EXPECT_EQ(error_of("global_defs {\n vrrp_version 4\n}\n"), f + "2: vrrp_version must be 2 or 3");
  EXPECT_EQ(error_of(inst("A", 1, " unicast_peer {\n  10.0.0.1/24\n }\n")),
            f + "5: malformed address '10.0.0.1/24' in unicast_peer");
  EXPECT_EQ(error_of(inst("A", 1, " unicast_src_ip x\n")), f + "4: malformed unicast_src_ip 'x'");
  EXPECT_EQ(error_of(inst("A", 1, " track_file {\n  nope\n }\n")),
            f + "5: vrrp_instance A tracks an undefined track_file 'nope'");
  EXPECT_EQ(error_of(inst("A", 1, " track_file {\n  t weight 255\n }\n")),
            f + "5: track_file weight must be -254..254");
  EXPECT_EQ(error_of("track_file t {\n weight 5\n}\n"), f + "1: track_file t has no file");
}

TEST(KeepalivedErrors, DuplicateVrid) {
  const std::string f = "/etc/keepalived/keepalived.conf:";
  EXPECT_EQ(error_of(inst("A", 1) + inst("B", 1)),
            f +
                "5: vrrp_instance B uses virtual_router_id 1 on eth0 (IPv4) like vrrp_instance "
                "A (" +
                f + "1)");
  // Another family, another interface, unicast to other peers: keepalived runs them.
  EXPECT_EQ(error_of(inst("A", 1) + inst("B", 1, " native_ipv6\n")), "(parsed)");
  EXPECT_EQ(
      error_of(inst("A", 1) + "vrrp_instance B {\n interface eth1\n virtual_router_id 1\n}\n"),
      "(parsed)");
  std::string uni = " unicast_src_ip 10.0.0.1\n unicast_peer {\n  10.0.0.2\n }\n";
  EXPECT_EQ(error_of(inst("A", 1, uni) +
                     inst("B", 1, " unicast_src_ip 10.0.0.1\n unicast_peer {\n  10.0.0.3\n }\n")),
            "(parsed)");
  EXPECT_THAT(error_of(inst("A", 1, uni) + inst("B", 1, uni)),
              HasSubstr(":9: vrrp_instance B uses virtual_router_id 1"));
}

TEST(KeepalivedErrors, Lexical) {
  const std::string f = "/etc/keepalived/keepalived.conf:";
  EXPECT_EQ(error_of("a {\n b \"c\n}\n"), f + "2: unterminated '\"'");
  EXPECT_EQ(error_of("a {\n"), f + "1: '{' is never closed");
  EXPECT_EQ(error_of("}\n"), f + "1: '}' without a matching '{'");
  // `\#` is not a comment; `"…"` keeps braces and comment signs.
  auto c = read("vrrp_instance \"A {#}\" {\n interface eth\\#0\n virtual_router_id 1\n}\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->instances[0].name, "A {#}");
  EXPECT_EQ(c->instances[0].interface, "eth#0");
}
}  // namespace
}  // namespace havip::keepalived
