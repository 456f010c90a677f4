// The audit (core/audit.h): what a primary lacks and a backup still holds,
// how routes are matched, the grace period; the keepalived.conf side (routes
// with tables, Neutron's files) and the [daemon] keys.
#include "core/audit.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "config/keepalived_conf.h"
#include "config/keepalived_routers.h"
#include "config_test_util.h"
#include "neutron/keepalived_conf.h"

namespace havip {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

using namespace config_test;  // NOLINT: config_of, errors_of, IsError

IpPrefix P(const char* s) { return *IpPrefix::parse(s); }

RouterConfig neutron_like() {
  RouterConfig r;
  r.name = "r1";
  r.audit = true;
  r.interface = "ha-1";
  r.vip = P("169.254.0.1/24");
  r.addresses = {
      {P("169.254.0.1/24"), "ha-1"}, {P("203.0.113.5/24"), "qg-1"}, {P("10.0.0.1/24"), "qr-1"}};
  r.routes = {{P("0.0.0.0/0"), P("203.0.113.1/32"), "qg-1", 254}};
  return r;
}

// A kernel that holds `addresses` ("ADDR/LEN dev") and `routes`.
struct Kernel {
  std::set<std::pair<std::string, std::string>> addresses;  // (address without length, dev)
  std::vector<KernelRoute> routes;
  KernelState state() const {
    KernelState k;
    k.has_address = [this](const HeldAddress& a) {
      std::string s = a.prefix.to_string();
      return addresses.contains({s.substr(0, s.find('/')), a.dev});
    };
    k.routes = &routes;
    return k;
  }
};

Kernel full() {
  Kernel k;
  k.addresses = {{"169.254.0.1", "ha-1"}, {"203.0.113.5", "qg-1"}, {"10.0.0.1", "qr-1"}};
  k.routes = {{254, P("0.0.0.0/0"), {{P("203.0.113.1/32"), "qg-1"}}},
              {254, P("203.0.113.0/24"), {{std::nullopt, "qg-1"}}}};
  return k;
}

std::vector<std::string> texts(const std::vector<AuditFinding>& fs) {
  std::vector<std::string> out;
  for (const auto& f : fs) out.push_back(f.to_string());
  return out;
}

TEST(Audit, APrimaryHoldingEverythingHasNoFinding) {
  auto k = full();
  EXPECT_THAT(audit(neutron_like(), Role::primary, k.state()), IsEmpty());
}

TEST(Audit, APrimaryMissingTheGatewayAddressAndDefaultRoute) {
  auto k = full();
  k.addresses.erase({"203.0.113.5", "qg-1"});
  k.routes.erase(k.routes.begin());
  EXPECT_THAT(texts(audit(neutron_like(), Role::primary, k.state())),
              ElementsAre("primary is missing address 203.0.113.5/24 dev qg-1",
                          "primary is missing route default via 203.0.113.1 dev qg-1"));
}

TEST(Audit, AnAddressOnAnotherInterfaceIsMissing) {
  auto k = full();
  k.addresses.erase({"10.0.0.1", "qr-1"});
  k.addresses.insert({"10.0.0.1", "qr-2"});
  EXPECT_THAT(texts(audit(neutron_like(), Role::primary, k.state())),
              ElementsAre("primary is missing address 10.0.0.1/24 dev qr-1"));
}

TEST(Audit, ABackupHoldingNothingHasNoFinding) {
  Kernel k;
  EXPECT_THAT(audit(neutron_like(), Role::backup, k.state()), IsEmpty());
}

TEST(Audit, ABackupStillHoldingAnAddressAndARoute) {
  Kernel k;
  k.addresses = {{"10.0.0.1", "qr-1"}};
  k.routes = {{254, P("0.0.0.0/0"), {{P("203.0.113.1/32"), "qg-1"}}}};
  EXPECT_THAT(texts(audit(neutron_like(), Role::backup, k.state())),
              ElementsAre("backup still holds address 10.0.0.1/24 dev qr-1",
                          "backup still holds route default via 203.0.113.1 dev qg-1"));
}

TEST(Audit, FaultUnknownAndUnauditedRoutersAreNotCompared) {
  Kernel k;
  EXPECT_THAT(audit(neutron_like(), Role::fault, k.state()), IsEmpty());
  EXPECT_THAT(audit(neutron_like(), Role::unknown, k.state()), IsEmpty());
  auto r = neutron_like();
  r.audit = false;
  EXPECT_THAT(audit(r, Role::primary, k.state()), IsEmpty());
}

TEST(Audit, RoutesNotReadAreNotCompared) {
  auto k = full();
  k.routes.clear();
  KernelState s = k.state();
  s.routes = nullptr;
  EXPECT_THAT(audit(neutron_like(), Role::primary, s), IsEmpty());
}

TEST(Audit, RouteMatching) {
  std::vector<KernelRoute> kernel = {
      {254, P("0.0.0.0/0"), {{P("198.51.100.1/32"), "eth0"}, {P("203.0.113.1/32"), "qg-1"}}},
      {100, P("10.9.0.0/16"), {{std::nullopt, "qr-1"}}},
      {254, P("192.0.2.0/24"), {}},  // blackhole
      {254, P("::/0"), {{P("2001:db8::1/128"), "qg-1"}}}};
  // A multipath route: any of its hops.
  EXPECT_TRUE(route_present({P("0.0.0.0/0"), P("203.0.113.1/32"), "qg-1", 254}, kernel));
  EXPECT_TRUE(route_present({P("0.0.0.0/0"), P("203.0.113.1/32"), "", 254}, kernel));
  // Gateway and device on the same hop.
  EXPECT_FALSE(route_present({P("0.0.0.0/0"), P("203.0.113.1/32"), "eth0", 254}, kernel));
  EXPECT_FALSE(route_present({P("0.0.0.0/0"), P("203.0.113.9/32"), "qg-1", 254}, kernel));
  // The table counts.
  EXPECT_TRUE(route_present({P("10.9.0.0/16"), std::nullopt, "qr-1", 100}, kernel));
  EXPECT_FALSE(route_present({P("10.9.0.0/16"), std::nullopt, "qr-1", 254}, kernel));
  // Exact destination, not a covering route.
  EXPECT_FALSE(route_present({P("10.9.1.0/24"), std::nullopt, "", 100}, kernel));
  EXPECT_TRUE(route_present({P("192.0.2.0/24"), std::nullopt, "", 254}, kernel));
  EXPECT_TRUE(route_present({P("::/0"), P("2001:db8::1/128"), "qg-1", 254}, kernel));
  EXPECT_FALSE(route_present({P("::/0"), P("2001:db8::1/128"), "qg-1", 254}, {}));
}

TEST(Audit, RouteText) {
  EXPECT_EQ((HeldRoute{P("0.0.0.0/0"), P("203.0.113.1/32"), "qg-1", 254}.to_string()),
            "default via 203.0.113.1 dev qg-1");
  EXPECT_EQ((HeldRoute{P("::/0"), P("fe80::1/128"), "qg-1", 254}.to_string()),
            "default (IPv6) via fe80::1 dev qg-1");
  EXPECT_EQ((HeldRoute{P("10.9.0.0/16"), std::nullopt, "", 100}.to_string()),
            "10.9.0.0/16 table 100");
}

// ---- AuditTracker

TimePoint T(int ms) { return TimePoint{} + Millis(ms); }

TEST(Audit, OnlyTheNamespaceAddressesAndRoutesStartTheAuditOver) {
  RouterConfig a = neutron_like();
  RouterConfig b = a;
  b.conntrackd = ConntrackdConfig{"/var/lib/neutron/ha_confs/r1/conntrackd.conf"};
  b.radvd = RadvdConfig{};
  b.vrrp.priority = 50;
  EXPECT_TRUE(same_audit_inputs(a, b));  // its findings and their grace are kept
  b = a;
  b.routes[0].via = P("203.0.113.254/32");
  EXPECT_FALSE(same_audit_inputs(a, b));
  b = a;
  b.addresses.pop_back();
  EXPECT_FALSE(same_audit_inputs(a, b));
  b = a;
  b.netns = "qrouter-2";
  EXPECT_FALSE(same_audit_inputs(a, b));
  b = a;
  b.audit = false;
  EXPECT_FALSE(same_audit_inputs(a, b));
}

TEST(AuditTracker, AFindingIsReportedOnceItLastedTheGrace) {
  AuditTracker t;
  AuditFinding f{AuditFinding::Kind::missing, "route default"};
  EXPECT_THAT(t.update({f}, T(0), Millis(10000), T(1000)), IsEmpty());
  EXPECT_THAT(t.update({f}, T(0), Millis(10000), T(10999)), IsEmpty());
  auto changes = t.update({f}, T(0), Millis(10000), T(11000));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_TRUE(changes[0].reported);
  EXPECT_THAT(t.reported(), ElementsAre(f));
  EXPECT_THAT(t.update({f}, T(0), Millis(10000), T(20000)), IsEmpty());  // said once
  changes = t.update({}, T(0), Millis(10000), T(21000));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].reported);
  EXPECT_THAT(t.reported(), IsEmpty());
}

TEST(AuditTracker, AGapStartsTheGraceAgain) {
  AuditTracker t;
  AuditFinding f{AuditFinding::Kind::held, "address 10.0.0.1/24 dev qr-1"};
  t.update({f}, T(0), Millis(10000), T(0));
  t.update({}, T(0), Millis(10000), T(5000));  // keepalived settling: gone again
  EXPECT_THAT(t.update({f}, T(0), Millis(10000), T(12000)), IsEmpty());
  EXPECT_EQ(t.update({f}, T(0), Millis(10000), T(22000)).size(), 1u);
}

TEST(AuditTracker, TheGraceRunsFromTheRoleChange) {
  AuditTracker t;
  AuditFinding f{AuditFinding::Kind::missing, "address 203.0.113.5/24 dev qg-1"};
  t.update({f}, T(0), Millis(10000), T(0));
  // The router became primary at 8 s: the finding seen since 0 waits until 18 s.
  EXPECT_THAT(t.update({f}, T(8000), Millis(10000), T(12000)), IsEmpty());
  EXPECT_EQ(t.update({f}, T(8000), Millis(10000), T(18000)).size(), 1u);
}

TEST(AuditTracker, ClearReportsWhatWasReported) {
  AuditTracker t;
  AuditFinding a{AuditFinding::Kind::missing, "a"}, b{AuditFinding::Kind::missing, "b"};
  t.update({a}, T(0), Millis(0), T(0));
  t.update({a, b}, T(0), Millis(1000), T(500));  // b not reported yet
  auto changes = t.clear();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].finding, a);
  EXPECT_FALSE(changes[0].reported);
}

// ---- what the routers are told to hold

keepalived::Io no_files() {
  return {[](const std::string& p) -> tl::expected<std::string, std::string> {
            return tl::unexpected("no " + p);
          },
          [](const std::string&) { return std::vector<std::string>{}; }};
}

TEST(AuditRoutes, FromAKeepalivedConf) {
  auto conf = keepalived::parse(R"(
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  virtual_ipaddress {
    192.0.2.10/24
  }
  virtual_ipaddress_excluded {
    198.51.100.10/24 dev eth1
  }
  virtual_routes {
    default via 192.0.2.1 dev eth0
    10.1.0.0/16 via 198.51.100.1 table 100
    blackhole 10.2.0.0/16
    10.3.0.0/16 dev eth1 table custom
    default via 2001:db8::1 dev eth0
  }
}
)",
                                "/etc/keepalived/keepalived.conf", no_files());
  ASSERT_TRUE(conf) << conf.error();
  Config c = config_of("[keepalived]\n");
  auto routers = keepalived_routers(c, {*conf});
  ASSERT_TRUE(routers);
  ASSERT_EQ(routers->routers.size(), 1u);
  const auto& r = routers->routers[0];
  EXPECT_TRUE(r.audit);
  std::vector<std::string> routes;
  for (const auto& h : r.routes) routes.push_back(h.to_string());
  // The route in a table known only by name is left out: it cannot be looked for.
  EXPECT_THAT(routes, ElementsAre("default via 192.0.2.1 dev eth0",
                                  "10.1.0.0/16 via 198.51.100.1 table 100", "10.2.0.0/16",
                                  "default (IPv6) via 2001:db8::1 dev eth0"));
  ASSERT_EQ(r.addresses.size(), 2u);
  EXPECT_EQ(r.addresses[1], (HeldAddress{P("198.51.100.10/24"), "eth1"}));
}

TEST(AuditRoutes, FromNeutronsKeepalivedConf) {
  auto ha = parse_neutron_keepalived_conf(R"(
vrrp_instance VR_1 {
    state BACKUP
    interface ha-8d2a1f3e-7b
    virtual_router_id 1
    priority 50
    nopreempt
    advert_int 2
    virtual_ipaddress {
        169.254.0.1/24 dev ha-8d2a1f3e-7b
    }
    virtual_ipaddress_excluded {
        203.0.113.5/24 dev qg-1
    }
    virtual_routes {
        0.0.0.0/0 via 203.0.113.1 dev qg-1 protocol static
    }
}
)");
  ASSERT_TRUE(ha) << ha.error();
  ASSERT_EQ(ha->routes.size(), 1u);
  EXPECT_EQ(ha->routes[0].to_string(), "default via 203.0.113.1 dev qg-1");
}

TEST(AuditConfig, DaemonKeys) {
  Config d = config_of("");
  EXPECT_EQ(d.daemon.audit_interval, Millis(10000));
  EXPECT_EQ(d.daemon.audit_grace, Millis(10000));
  Config c = config_of("[daemon]\naudit_interval_ms = 0\naudit_grace_ms = 30000\n");
  EXPECT_EQ(c.daemon.audit_interval, Millis(0));
  EXPECT_EQ(c.daemon.audit_grace, Millis(30000));
  EXPECT_THAT(errors_of("[daemon]\naudit_interval_ms = 500\n"),
              ElementsAre(IsError(2, "daemon.audit_interval_ms", "1000 to 3600000")));
}

}  // namespace
}  // namespace havip
