// Neutron's keepalived.conf: each golden file (tests/unit/golden/keepalived/)
// parses into the router it describes; each malformed file gives one error
// naming its line; what keepalived tolerates, the parser tolerates.
//
// The goldens other than hand_edited.conf were written by Neutron's own
// generator (Debian 12, neutron 21.0.0: neutron.agent.linux.keepalived driven
// as agent/l3/ha_router.py drives it), so they are byte for byte what an L3
// agent writes, including the missing final newline.
#include "neutron/keepalived_conf.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

namespace havip {
namespace {

using ::testing::HasSubstr;

constexpr const char* kHa = "ha-5f3c2a1b-9d";
constexpr const char* kQg = "qg-8e1f0c2d-4a";
constexpr const char* kQr = "qr-1a2b3c4d-5e";
constexpr const char* kQr2 = "qr-6f7e8d9c-0b";
constexpr const char* kSg = "sg-3d4e5f60-71";

IpPrefix prefix(const char* text) { return IpPrefix::parse(text).value(); }

// One field per line, so a failed comparison shows which field differs.
std::string dump(const NeutronHaRouter& r) {
  std::ostringstream s;
  s << "ha_interface " << r.ha_interface << "\nsignal_vip " << r.signal_vip.to_string() << "\nvrid "
    << r.vrid << "\ngateway_interface " << r.gateway_interface << "\nipv6_default_route "
    << r.ipv6_default_route << "\npriority " << r.priority << "\nversion " << r.version
    << "\nadvert_interval "
    << (r.advert_interval ? std::to_string(r.advert_interval->count()) : "-") << "\n";
  for (const auto& [address, dev] : r.excluded)
    s << "excluded " << address.to_string() << " dev " << dev << "\n";
  for (const auto& route : r.routes) s << "route " << route.to_string() << "\n";
  return s.str();
}

std::string golden_path(const std::string& name) {
  const char* dir = getenv("HAVIP_TEST_DIR");
  return std::string(dir ? dir : HAVIP_TEST_DIR_DEFAULT) + "/unit/golden/keepalived/" + name +
         ".conf";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

HeldRoute route(const char* destination, const char* via, std::string dev) {
  return HeldRoute{prefix(destination), via ? std::optional(prefix(via)) : std::nullopt,
                   std::move(dev), 254};
}

// The default route via 203.0.113.1 most samples have.
std::vector<HeldRoute> gateway_route() { return {route("0.0.0.0/0", "203.0.113.1/32", kQg)}; }

NeutronHaRouter router(int vrid, std::string gateway, bool ipv6_default,
                       std::vector<std::pair<IpPrefix, std::string>> excluded,
                       std::vector<HeldRoute> routes = {}) {
  NeutronHaRouter r;
  r.ha_interface = kHa;
  r.signal_vip = prefix(("169.254.0." + std::to_string(vrid) + "/24").c_str());
  r.vrid = vrid;
  r.gateway_interface = std::move(gateway);
  r.ipv6_default_route = ipv6_default;
  r.excluded = std::move(excluded);
  r.routes = std::move(routes);
  r.priority = 50;                   // as Neutron writes every instance
  r.advert_interval = Millis(2000);  // advert_int 2 (ha_vrrp_advert_int)
  return r;
}

struct GoldenCase {
  std::string name;
  NeutronHaRouter expected;
};

void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.name; }

std::vector<GoldenCase> golden_cases() {
  // Neutron sorts virtual_ipaddress_excluded by the address's text.
  std::vector<std::pair<IpPrefix, std::string>> dual = {
      {prefix("10.0.0.1/24"), kQr},
      {prefix("2001:db8:100::10/64"), kQg},
      {prefix("203.0.113.10/24"), kQg},
      {prefix("203.0.113.25/32"), kQg},
      {prefix("fd00:1::1/64"), kQr},
      {prefix("fd00:2::1/64"), kQr2},
      {prefix("fe80::f816:3eff:fe11:2233/64"), kQg},
      {prefix("fe80::f816:3eff:fe44:5566/64"), kQr},
      {prefix("fe80::f816:3eff:fe77:8899/64"), kQr2},
  };
  std::vector<std::pair<IpPrefix, std::string>> internal = {
      {prefix("10.0.0.1/24"), kQr},
      {prefix("fd00:1::1/64"), kQr},
      {prefix("fd00:2::1/64"), kQr2},
      {prefix("fe80::f816:3eff:fe44:5566/64"), kQr},
      {prefix("fe80::f816:3eff:fe77:8899/64"), kQr2},
  };
  std::vector<std::pair<IpPrefix, std::string>> health = {
      {prefix("10.0.0.1/24"), kQr},
      {prefix("203.0.113.10/24"), kQg},
      {prefix("203.0.113.25/32"), kQg},
      {prefix("fd00:1::1/64"), kQr},
      {prefix("fd00:2::1/64"), kQr2},
      {prefix("fe80::f816:3eff:fe44:5566/64"), kQr},
      {prefix("fe80::f816:3eff:fe77:8899/64"), kQr2},
  };

  NeutronHaRouter hand;
  hand.ha_interface = "ha-0123456789a";
  hand.signal_vip = prefix("169.254.0.9/32");  // written without /LEN
  hand.vrid = 9;
  hand.gateway_interface = "qg-0123456789a";
  hand.ipv6_default_route = true;  // `default via fe80::1`
  hand.excluded = {
      {prefix("198.51.100.20/24"), "qg-0123456789a"},
      {prefix("2001:db8:5::1/64"), "qr-0123456789b"},
      {prefix("fe80::1:2/64"), "qr-0123456789b"},
      {prefix("192.0.2.9/32"), "ha-0123456789a"},  // no dev: the instance's interface
  };
  hand.routes = {route("::/0", "fe80::1/128", "qg-0123456789a"),
                 route("0.0.0.0/0", "198.51.100.1/32", "qg-0123456789a")};
  std::vector<HeldRoute> dual_routes = {
      route("198.51.100.1/32", nullptr, kQg), route("0.0.0.0/0", "198.51.100.1/32", kQg),
      route("::/0", "fe80::1/128", kQg), route("10.20.0.0/16", "10.0.0.254/32", ""),
      route("192.0.2.0/24", nullptr, kQg)};

  return {
      {"minimal", router(1, "", false, {})},
      {"ipv4_gateway", router(3, kQg, false,
                              {{prefix("10.0.0.1/24"), kQr},
                               {prefix("203.0.113.10/24"), kQg},
                               {prefix("203.0.113.25/32"), kQg},
                               {prefix("fe80::f816:3eff:fe44:5566/64"), kQr}},
                              gateway_route())},
      {"dual_stack", router(7, kQg, true, dual, dual_routes)},
      {"dual_stack_track", router(7, kQg, true, dual, dual_routes)},
      {"health_check", router(12, kQg, false, health, gateway_route())},
      {"internal_only", router(254, "", false, internal)},
      {"dvr_snat", router(42, kQg, false,
                          {{prefix("10.0.0.5/24"), kSg},
                           {prefix("203.0.113.10/24"), kQg},
                           {prefix("203.0.113.25/32"), kQg},
                           {prefix("fd00:1::5/64"), kSg}},
                          gateway_route())},
      {"hand_edited", hand},
  };
}

class KeepalivedGolden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(KeepalivedGolden, ParsesIntoTheRouter) {
  const auto& c = GetParam();
  std::string text = read_file(golden_path(c.name));
  ASSERT_FALSE(text.empty()) << golden_path(c.name) << " is missing or empty";
  auto parsed = parse_neutron_keepalived_conf(text);
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(dump(*parsed), dump(c.expected));
  EXPECT_EQ(*parsed, c.expected);
}

INSTANTIATE_TEST_SUITE_P(Samples, KeepalivedGolden, ::testing::ValuesIn(golden_cases()),
                         [](const auto& param_info) { return param_info.param.name; });

// ---- small files, built from one template -------------------------------

// An instance as Neutron writes it, with `body` in place of its addresses.
std::string instance(const std::string& body) {
  return "vrrp_instance VR_1 {\n"          // 1
         "    state BACKUP\n"              // 2
         "    interface ha-1\n"            // 3
         "    virtual_router_id 1\n"       // 4
         "    virtual_ipaddress {\n"       // 5
         "        169.254.0.1/24 dev ha-1\n"  // 6
         "    }\n" +                       // 7
         body +                            // 8…
         "}\n";
}

tl::expected<NeutronHaRouter, std::string> parse(const std::string& text) {
  return parse_neutron_keepalived_conf(text);
}

std::string error_of(const std::string& text) {
  auto r = parse(text);
  return r ? "(parsed)" : r.error();
}

TEST(KeepalivedConf, VrrpSettings) {
  auto r = parse(instance("    priority 150\n    advert_int 0.5\n    version 3\n"));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->priority, 150);
  EXPECT_EQ(r->advert_interval, Millis(500));
  EXPECT_EQ(r->version, 3);
  EXPECT_EQ(error_of(instance("    advert_int 0.001\n")),
            "keepalived.conf:8: advert_int must be seconds from 0.01 to 255");
  EXPECT_EQ(error_of(instance("    advert_int 256\n")),
            "keepalived.conf:8: advert_int must be seconds from 0.01 to 255");
  EXPECT_EQ(error_of(instance("    priority 0\n")), "keepalived.conf:8: priority must be 1..255");
  EXPECT_EQ(error_of(instance("    version 1\n")),
            "keepalived.conf:8: version must be 2 or 3");
}

TEST(KeepalivedConf, MinimalInstance) {
  auto r = parse(instance(""));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->ha_interface, "ha-1");
  EXPECT_EQ(r->signal_vip, prefix("169.254.0.1/24"));
  EXPECT_EQ(r->vrid, 1);
  EXPECT_EQ(r->gateway_interface, "");
  EXPECT_FALSE(r->ipv6_default_route);
  EXPECT_TRUE(r->excluded.empty());
}

// ---- errors, each with its line ------------------------------------------

TEST(KeepalivedConfErrors, NoInstance) {
  EXPECT_EQ(error_of(""), "keepalived.conf:1: no vrrp_instance in the file");
  EXPECT_EQ(error_of("global_defs {\n    router_id neutron\n}\n"),
            "keepalived.conf:3: no vrrp_instance in the file");
  // A vrrp_instance inside another block is not an instance.
  EXPECT_EQ(error_of("x {\n vrrp_instance A {\n }\n}"),
            "keepalived.conf:4: no vrrp_instance in the file");
}

TEST(KeepalivedConfErrors, TwoInstances) {
  EXPECT_EQ(
      error_of(instance("") + "vrrp_instance VR_2 {\n interface ha-2\n virtual_router_id 2\n}\n"),
      "keepalived.conf:9: expected one vrrp_instance (Neutron writes one per router)");
}

TEST(KeepalivedConfErrors, InstanceWithoutBlock) {
  EXPECT_EQ(error_of("vrrp_instance VR_1\n"),
            "keepalived.conf:1: vrrp_instance without a '{' block");
}

TEST(KeepalivedConfErrors, NoInterface) {
  EXPECT_EQ(error_of("global_defs {\n}\nvrrp_instance VR_1 {\n virtual_router_id 1\n"
                     " virtual_ipaddress {\n  169.254.0.1/24\n }\n}\n"),
            "keepalived.conf:3: vrrp_instance VR_1 has no interface");
  EXPECT_EQ(error_of("vrrp_instance VR_1 {\n interface\n}\n"),
            "keepalived.conf:2: interface needs a device name");
}

TEST(KeepalivedConfErrors, VirtualRouterId) {
  EXPECT_EQ(error_of("vrrp_instance VR_1 {\n interface ha-1\n virtual_ipaddress {\n"
                     "  169.254.0.1/24\n }\n}\n"),
            "keepalived.conf:1: vrrp_instance VR_1 has no virtual_router_id");
  for (const char* bad : {"0", "256", "-1", "7x", "", "99999999999"}) {
    std::string text = std::string("vrrp_instance V {\n virtual_router_id \"") + bad + "\"\n}\n";
    EXPECT_EQ(error_of(text), std::string("keepalived.conf:2: virtual_router_id must be "
                                          "1..255, got '") + bad + "'")
        << bad;
  }
  EXPECT_EQ(error_of("vrrp_instance V {\n virtual_router_id\n}\n"),
            "keepalived.conf:2: virtual_router_id must be 1..255, got nothing");
}

TEST(KeepalivedConfErrors, VirtualIpaddressMissing) {
  EXPECT_EQ(error_of("vrrp_instance VR_1 {\n interface ha-1\n virtual_router_id 1\n}\n"),
            "keepalived.conf:1: vrrp_instance has no virtual_ipaddress: Neutron puts exactly "
            "one signal VIP in virtual_ipaddress");
}

TEST(KeepalivedConfErrors, VirtualIpaddressEmpty) {
  EXPECT_EQ(error_of("vrrp_instance VR_1 {\n interface ha-1\n virtual_router_id 1\n"
                     " virtual_ipaddress {\n   # nothing\n }\n}\n"),
            "keepalived.conf:4: virtual_ipaddress is empty: Neutron puts exactly one signal "
            "VIP in virtual_ipaddress");
}

TEST(KeepalivedConfErrors, VirtualIpaddressWithoutBlock) {
  EXPECT_EQ(error_of("vrrp_instance VR_1 {\n virtual_ipaddress 169.254.0.1/24\n}\n"),
            "keepalived.conf:2: virtual_ipaddress without a '{' block");
}

TEST(KeepalivedConfErrors, TwoSignalVips) {
  EXPECT_EQ(error_of("vrrp_instance VR_1 {\n interface ha-1\n virtual_router_id 1\n"
                     " virtual_ipaddress {\n  169.254.0.1/24 dev ha-1\n"
                     "  169.254.0.2/24 dev ha-1\n }\n}\n"),
            "keepalived.conf:6: more than one address in virtual_ipaddress: Neutron puts "
            "exactly one signal VIP in virtual_ipaddress");
  // keepalived appends a second virtual_ipaddress block to the first.
  EXPECT_THAT(error_of(instance("    virtual_ipaddress {\n 10.0.0.1/24\n }\n")),
              HasSubstr("keepalived.conf:9: more than one address"));
}

TEST(KeepalivedConfErrors, MalformedAddresses) {
  EXPECT_EQ(error_of("vrrp_instance VR_1 {\n virtual_ipaddress {\n  169.254.0.300/24 dev ha-1\n"
                     " }\n}\n"),
            "keepalived.conf:3: malformed address '169.254.0.300/24' in virtual_ipaddress");
  EXPECT_EQ(error_of(instance("    virtual_ipaddress_excluded {\n        10.0.0.1/33 dev qr-1\n"
                              "    }\n")),
            "keepalived.conf:9: malformed address '10.0.0.1/33' in virtual_ipaddress_excluded");
  EXPECT_EQ(error_of(instance("    virtual_ipaddress_excluded {\n        fd00::1/ dev qr-1\n"
                              "    }\n")),
            "keepalived.conf:9: malformed address 'fd00::1/' in virtual_ipaddress_excluded");
  EXPECT_EQ(error_of(instance("    virtual_ipaddress_excluded {\n        dev qr-1\n    }\n")),
            "keepalived.conf:9: malformed address 'dev' in virtual_ipaddress_excluded");
  EXPECT_EQ(error_of(instance("    virtual_ipaddress_excluded {\n        10.0.0.1/24 dev\n"
                              "    }\n")),
            "keepalived.conf:9: dev needs a value");
}

TEST(KeepalivedConfErrors, MalformedRoutes) {
  EXPECT_EQ(error_of(instance("    virtual_routes {\n        10.0.0.0/8 via 10.0.0.x\n    }\n")),
            "keepalived.conf:9: malformed route nexthop '10.0.0.x'");
  EXPECT_EQ(error_of(instance("    virtual_routes {\n        foo via 10.0.0.1\n    }\n")),
            "keepalived.conf:9: malformed route destination 'foo'");
  EXPECT_EQ(error_of(instance("    virtual_routes {\n        blackhole\n    }\n")),
            "keepalived.conf:9: route without a destination in virtual_routes");
  EXPECT_EQ(error_of(instance("    virtual_routes {\n        ::/0 via\n    }\n")),
            "keepalived.conf:9: via needs a nexthop");
  EXPECT_EQ(error_of(instance("    virtual_routes {\n        ::/0 dev\n    }\n")),
            "keepalived.conf:9: dev needs a value");
}

TEST(KeepalivedConfErrors, SignalVipOnAnotherDevice) {
  EXPECT_EQ(error_of("vrrp_instance VR_1 {\n interface ha-1\n virtual_router_id 1\n"
                     " virtual_ipaddress {\n  169.254.0.1/24 dev qg-1\n }\n}\n"),
            "keepalived.conf:5: the signal VIP is on 'qg-1', not on the instance's interface "
            "'ha-1'");
}

TEST(KeepalivedConfErrors, UnbalancedBraces) {
  EXPECT_EQ(error_of("global_defs {\n}\n}\n"), "keepalived.conf:3: '}' without a matching '{'");
  EXPECT_EQ(error_of(instance("") + "}\n"), "keepalived.conf:9: '}' without a matching '{'");
  // At the end of the file the innermost open block is reported.
  EXPECT_EQ(error_of("vrrp_instance VR_1 {\n interface ha-1\n track_interface {\n  ha-1\n"),
            "keepalived.conf:3: '{' is never closed");
  EXPECT_EQ(error_of("vrrp_instance VR_1 {\n interface ha-1\n"),
            "keepalived.conf:1: '{' is never closed");
  EXPECT_EQ(error_of(instance("    virtual_routes {\n        ::/0 dev qg-1 {\n    }\n")),
            "keepalived.conf:9: unexpected '{' in virtual_routes");
}

TEST(KeepalivedConfErrors, UnterminatedQuote) {
  EXPECT_EQ(error_of("vrrp_script s {\n  script \"/bin/true\n}\n"),
            "keepalived.conf:2: unterminated '\"'");
}

TEST(KeepalivedConfErrors, NulByte) {
  std::string text = instance("");
  text[text.find("169.254.0.1/24") + 14] = '\0';  // "169.254.0.1/24\0dev": no sneaking past
  EXPECT_EQ(error_of(text), "keepalived.conf:6: NUL byte in the file");
}

// ---- limits (the parser is fuzzed) ----------------------------------------

TEST(KeepalivedConfLimits, LongWord) {
  EXPECT_EQ(error_of("\n\nvrrp_instance " + std::string(1025, 'x') + " {\n}\n"),
            "keepalived.conf:3: word longer than 1024 bytes");
  EXPECT_EQ(error_of("x \"" + std::string(2000, 'y') + "\"\n"),
            "keepalived.conf:1: word longer than 1024 bytes");
  // 1024 is still a word; comments have no limit.
  EXPECT_EQ(error_of(std::string(1024, 'x') + " # " + std::string(5000, 'c') + "\n"),
            "keepalived.conf:1: no vrrp_instance in the file");
}

TEST(KeepalivedConfLimits, LargeInput) {
  std::string big = instance("");
  while (big.size() <= (std::size_t{1} << 20)) big += "# padding padding padding\n";
  EXPECT_THAT(error_of(big), HasSubstr(": the file is larger than 1 MiB"));
  EXPECT_THAT(error_of(big), ::testing::StartsWith("keepalived.conf:"));
  // Just under the cap is fine.
  std::string fits = instance("");
  fits += std::string((std::size_t{1} << 20) - fits.size(), '\n');
  EXPECT_TRUE(parse(fits)) << error_of(fits);
}

TEST(KeepalivedConfLimits, Nesting) {
  auto nested = [](int depth) {
    std::string s;
    for (int i = 0; i < depth; ++i) s += "a {\n";
    for (int i = 0; i < depth; ++i) s += "}\n";
    return s;
  };
  EXPECT_TRUE(parse(nested(16) + instance(""))) << "16 levels are allowed";
  EXPECT_EQ(error_of(nested(17)), "keepalived.conf:17: blocks nested deeper than 16");
  EXPECT_EQ(error_of(std::string(100000, '{')), "keepalived.conf:1: blocks nested deeper than 16");
}

// ---- tolerance: what keepalived reads, the parser reads -------------------

TEST(KeepalivedConfTolerant, CommentsWhitespaceAndCrlf) {
  std::string text =
      "# written by hand\r\n"
      "! another comment\r\n"
      "vrrp_instance   VR_5{\t# a comment after a brace\r\n"
      "\tinterface\tha-5   ! trailing\r\n"
      "\r\n"
      "    virtual_router_id 5#comment glued to a word\r\n"
      "  virtual_ipaddress {169.254.0.5/24 dev ha-5}\r\n"
      "}";
  auto r = parse(text);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->ha_interface, "ha-5");
  EXPECT_EQ(r->vrid, 5);
  EXPECT_EQ(r->signal_vip, prefix("169.254.0.5/24"));
}

TEST(KeepalivedConfTolerant, BlockOpenedOnTheNextLine) {
  auto r = parse("vrrp_instance VR_5\n\n{\n interface ha-5\n virtual_router_id 5\n"
                 " virtual_ipaddress\n {\n  169.254.0.5/24\n }\n}\n");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->signal_vip, prefix("169.254.0.5/24"));
}

TEST(KeepalivedConfTolerant, UnknownStatementsAndBlocks) {
  auto r = parse(
      "global_defs {\n notification_email {\n  a@b\n }\n vrrp_instance X {\n }\n}\n"
      "vrrp_script s {\n script \"/bin/sh -c '{ exit 0; }' # not a comment\"\n}\n"
      "virtual_server 10.0.0.1 80 { real_server 10.0.0.2 80 { TCP_CHECK { } } }\n"
      "{ anonymous }\n" +
      instance("    track_script {\n        s\n    }\n    unicast_peer {\n 1.2.3.4\n }\n"
               "    some_future_keyword with words\n    interface_extra { interface qg-x }\n"));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->ha_interface, "ha-1");
  EXPECT_EQ(r->gateway_interface, "");
}

// Neutron never writes an include: one in its file is refused, not skipped
// (the general reader would follow it; Neutron mode reads one file).
TEST(KeepalivedConfErrors, IncludeRefused) {
  EXPECT_EQ(error_of("include /etc/keepalived/other.conf\n" + instance("")),
            "keepalived.conf:1: cannot read included file '/etc/keepalived/other.conf': "
            "Neutron's keepalived.conf has no includes");
}

TEST(KeepalivedConfTolerant, StatementsInAnyOrder) {
  auto r = parse("vrrp_instance VR_1 {\n virtual_ipaddress {\n  169.254.0.1/24 dev ha-1\n }\n"
                 " virtual_ipaddress_excluded {\n  10.0.0.1/24\n }\n"
                 " virtual_router_id 1\n interface ha-1\n}\n");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->ha_interface, "ha-1");
  ASSERT_EQ(r->excluded.size(), 1u);
  EXPECT_EQ(r->excluded[0].second, "ha-1");  // no dev: keepalived uses the interface
}

TEST(KeepalivedConfTolerant, AddressesWithoutLength) {
  auto r = parse("vrrp_instance VR_1 {\n interface ha-1\n virtual_router_id 1\n"
                 " virtual_ipaddress {\n  fe80::a9fe:1\n }\n"
                 " virtual_ipaddress_excluded {\n  203.0.113.7 dev qg-1\n  2001:db8::7 dev qg-1\n"
                 " }\n}\n");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->signal_vip, prefix("fe80::a9fe:1/128"));
  ASSERT_EQ(r->excluded.size(), 2u);
  EXPECT_EQ(r->excluded[0].first, prefix("203.0.113.7/32"));
  EXPECT_EQ(r->excluded[1].first, prefix("2001:db8::7/128"));
}

TEST(KeepalivedConfTolerant, AddressOptions) {
  auto r = parse(instance(
      "    virtual_ipaddress_excluded {\n"
      "        10.0.0.1/24 brd 10.0.0.255 label qr-1:0 dev qr-1 scope global no_track\n"
      "        10.0.1.1/24 dev qr-2 home -nodad noprefixroute autojoin peer 10.0.1.2\n"
      "    }\n"));
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->excluded.size(), 2u);
  EXPECT_EQ(r->excluded[0].second, "qr-1");
  EXPECT_EQ(r->excluded[1].second, "qr-2");
}

// ---- gateway_interface and ipv6_default_route ---------------------------

NeutronHaRouter routes(const std::string& body) {
  auto r = parse(instance("    virtual_routes {\n" + body + "    }\n"));
  EXPECT_TRUE(r) << r.error();
  return r.value_or(NeutronHaRouter{});
}

TEST(KeepalivedConfRoutes, Ipv6DefaultRoute) {
  EXPECT_TRUE(routes("::/0 via fe80::1 dev qg-1\n").ipv6_default_route);
  EXPECT_TRUE(routes("::0/0 via 2001:db8::1 dev qg-1 no_track\n").ipv6_default_route);
  EXPECT_TRUE(routes("default via fe80::1 dev qg-1\n").ipv6_default_route);
  EXPECT_TRUE(routes("default6 via fe80::1 dev qg-1\n").ipv6_default_route);
  EXPECT_TRUE(routes("any via inet6 fe80::1 dev qg-1\n").ipv6_default_route);
  EXPECT_TRUE(routes("::/0 dev qg-1\n").ipv6_default_route);  // on-link default
  EXPECT_TRUE(routes("src 2001:db8::2 to ::/0 via fe80::1 dev qg-1\n").ipv6_default_route);

  EXPECT_FALSE(routes("0.0.0.0/0 via 203.0.113.1 dev qg-1\n").ipv6_default_route);
  EXPECT_FALSE(routes("default via 203.0.113.1 dev qg-1\n").ipv6_default_route);
  EXPECT_FALSE(routes("2001:db8::/32 via fe80::1 dev qg-1\n").ipv6_default_route);
  EXPECT_FALSE(routes("fd00::/64 via fe80::1\n").ipv6_default_route);
}

TEST(KeepalivedConfRoutes, GatewayInterface) {
  EXPECT_EQ(routes("0.0.0.0/0 via 203.0.113.1 dev qg-1\n").gateway_interface, "qg-1");
  EXPECT_EQ(routes("10.1.0.0/16 via 10.0.0.254\n").gateway_interface, "");
  EXPECT_EQ(routes("10.1.0.0/16 dev qr-1\n203.0.113.1 dev qg-2 scope link\n").gateway_interface,
            "qg-2");
  EXPECT_EQ(routes("10.6.0.0/16 nexthop via 10.0.0.1 dev qr-1 weight 2 "
                   "nexthop via 10.0.0.3 dev qg-3\n")
                .gateway_interface,
            "qg-3");
  EXPECT_EQ(routes("10.6.0.0/16 via 10.0.0.1 oif qg-4\n").gateway_interface, "qg-4");
  // A value that merely looks like a device is not one.
  EXPECT_EQ(routes("10.6.0.0/16 via 10.0.0.1 label qg-5 dev qr-1\n").gateway_interface, "");

  // The routes win over virtual_ipaddress_excluded (Neutron names one qg- in both).
  auto r = parse(instance("    virtual_ipaddress_excluded {\n        10.0.0.1/24 dev qg-a\n"
                          "    }\n    virtual_routes {\n        ::/0 via fe80::1 dev qg-b\n"
                          "    }\n"));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->gateway_interface, "qg-b");
  r = parse(instance("    virtual_ipaddress_excluded {\n        10.0.0.1/24 dev qr-a\n"
                     "        10.0.0.2/24 dev qg-a\n        10.0.0.3/24 dev qg-b\n    }\n"));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->gateway_interface, "qg-a");
}

TEST(KeepalivedConfRoutes, NeutronRouteShapes) {
  // Every shape KeepalivedVirtualRoute.build_config produces.
  auto r = routes(
      "        198.51.100.1 dev qg-1 scope link no_track\n"
      "        0.0.0.0/0 via 198.51.100.1 dev qg-1 no_track\n"
      "        ::/0 via fe80::1 dev qg-1 no_track\n"
      "        10.20.0.0/16 via 10.0.0.254 no_track\n"
      "        192.0.2.0/24 dev qg-1 scope link\n"
      "        blackhole 10.3.0.0/16\n"
      "        0.0.0.0/0 gw 192.168.0.1 table 100\n");
  EXPECT_TRUE(r.ipv6_default_route);
  EXPECT_EQ(r.gateway_interface, "qg-1");
}

}  // namespace
}  // namespace havip
