// The effect pipeline driven by applied transitions, with recording fakes and
// a fake clock: each test reads "given these transitions, this happened, in order".
#include "effects/pipeline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "effects/hooks.h"
#include "scenario/fakes.h"
#include "scenario/scenario.h"

namespace havip::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr Role P = Role::primary, B = Role::backup, U = Role::unknown;

RouterConfig gateway_router(std::string name, bool ipv6_gateway = false) {
  auto r = router(name, "ns-" + name, "ha-" + name, "169.254.0.1/24");
  r.gateway_interface = "qg-" + name;
  r.ipv6_gateway = ipv6_gateway;
  return r;
}

RouterConfig radvd_router(std::string name) {
  auto r = router(name, "ns-" + name, "ha-" + name, "169.254.0.1/24");
  RadvdInterface qr;
  qr.name = "qr-" + name;
  qr.prefixes.push_back({*IpPrefix::parse("fd00:1::/64"), PrefixMode::slaac});
  r.radvd = RadvdConfig{};
  r.radvd->interfaces = {qr};
  return r;
}

// A Neutron-mode router with a gateway and one hook ("notify").
RouterConfig notifying_router(std::string name) {
  auto r = gateway_router(std::move(name));
  r.notify_l3_agent = true;
  r.hooks = {{{"/usr/local/bin/notify"}, Millis(1000)}};
  return r;
}

struct Rig {
  Journal journal;
  FakeLauncher launcher{journal};
  FakeSysctls sysctls{journal};
  FakeFiles files{journal};
  FakeNotifier notifier{journal};
  TimePoint t0 = TimePoint(std::chrono::hours(1));
  TimePoint now = t0;
  FakeObserver observer;
  FakeStateQueue* state_files = new FakeStateQueue;  // owned by the pipeline
  Pipeline pipeline{
      EffectsContext{launcher, sysctls, files, [this] { return now; }, observer, &notifier},
      std::unique_ptr<StateQueue>(state_files)};
  DaemonConfig daemon;

  explicit Rig(std::vector<RouterConfig> routers) { configure(std::move(routers)); }
  void configure(std::vector<RouterConfig> routers, Role current = U) {
    pipeline.configure(daemon, routers, [&](const std::string&) { return current; }, now);
  }
  // A transition applied; its state file is written at once unless
  // state_files->hold is set (then written() says when).
  void role(const std::string& r, Role from, Role to) {
    pipeline.apply(RoleChange{r, from, to, "test", "", ""}, now);
    pipeline.written(now);
    pipeline.tick(now);
  }
  // The held state file writes of `r` up to number `seq` are done.
  void written(const std::string& r, std::uint64_t seq, std::string error = "") {
    state_files->complete(r, seq, std::move(error));
    pipeline.written(now);
    pipeline.tick(now);
  }
  void at(int ms) {
    now = t0 + Millis(ms);
    pipeline.tick(now);
  }
  Journal take() { return std::exchange(journal, {}); }
};

// --- sysctls: Neutron's matrix ------------------------------------------

TEST(Sysctls, PrimaryWithoutIpv6GatewayAcceptsRasAndForwards) {
  Rig rig({gateway_router("r1")});
  rig.role("r1", U, P);
  EXPECT_THAT(rig.take(), ElementsAre("sysctl ns-r1 net/ipv6/conf/all/forwarding = 1",
                                      "sysctl ns-r1 net/ipv6/conf/qg-r1/accept_ra = 2",
                                      "sysctl ns-r1 net/ipv6/conf/qg-r1/forwarding = 1"));
}

TEST(Sysctls, PrimaryWithStaticIpv6GatewayIgnoresRas) {
  Rig rig({gateway_router("r1", true)});
  rig.role("r1", U, P);
  EXPECT_EQ(rig.sysctls.get("ns-r1", "net/ipv6/conf/qg-r1/accept_ra"), "0");
  EXPECT_EQ(rig.sysctls.get("ns-r1", "net/ipv6/conf/qg-r1/forwarding"), "1");
  EXPECT_EQ(rig.sysctls.get("ns-r1", "net/ipv6/conf/all/forwarding"), "1");
}

TEST(Sysctls, BackupStopsRasAndForwardingOnTheGatewayOnly) {
  Rig rig({gateway_router("r1")});
  rig.role("r1", U, B);
  EXPECT_THAT(rig.take(), ElementsAre("sysctl ns-r1 net/ipv6/conf/qg-r1/accept_ra = 0",
                                      "sysctl ns-r1 net/ipv6/conf/qg-r1/forwarding = 0"));
  EXPECT_EQ(rig.sysctls.get("ns-r1", "net/ipv6/conf/all/forwarding"), "");  // untouched
}

TEST(Sysctls, BackupThatWasPrimaryLeavesAllForwardingOn) {
  Rig rig({gateway_router("r1")});
  rig.role("r1", U, P);
  rig.take();
  rig.role("r1", P, B);
  EXPECT_THAT(rig.take(), ElementsAre("sysctl ns-r1 net/ipv6/conf/qg-r1/accept_ra = 0",
                                      "sysctl ns-r1 net/ipv6/conf/qg-r1/forwarding = 0"));
  // Turning it off would make the kernel send MLD reports (Neutron #1667756).
  EXPECT_EQ(rig.sysctls.get("ns-r1", "net/ipv6/conf/all/forwarding"), "1");
}

TEST(Sysctls, GatewayAddedAfterTheTransitionGetsItsValues) {
  Rig rig({gateway_router("r1")});
  rig.role("r1", U, P);
  rig.take();
  // The interface was re-created: its fresh sysctls are the kernel's defaults.
  rig.sysctls.set("ns-r1", "net/ipv6/conf/qg-r1/accept_ra", "1");
  rig.sysctls.set("ns-r1", "net/ipv6/conf/qg-r1/forwarding", "0");
  rig.take();
  rig.pipeline.gateway_appeared("r1", rig.now);
  EXPECT_THAT(rig.take(), ElementsAre("sysctl ns-r1 net/ipv6/conf/qg-r1/accept_ra = 2",
                                      "sysctl ns-r1 net/ipv6/conf/qg-r1/forwarding = 1"));
}

TEST(Sysctls, AGatewayInterfaceNotThereYetIsNotAFailureToRetry) {
  Rig rig({gateway_router("r1")});
  rig.sysctls.missing_interface("qg-r1", true);
  rig.role("r1", U, P);
  EXPECT_THAT(rig.take(), ElementsAre("sysctl ns-r1 net/ipv6/conf/all/forwarding = 1"));
  EXPECT_THAT(rig.pipeline.router("r1")->failing(), IsEmpty());
  EXPECT_EQ(rig.pipeline.deadline(), std::nullopt);
  rig.sysctls.missing_interface("qg-r1", false);  // plugged: the engine says GatewayAppeared
  rig.pipeline.gateway_appeared("r1", rig.now);
  EXPECT_THAT(rig.take(), ElementsAre("sysctl ns-r1 net/ipv6/conf/qg-r1/accept_ra = 2",
                                      "sysctl ns-r1 net/ipv6/conf/qg-r1/forwarding = 1"));
}

TEST(Sysctls, ExtraPerRoleSettingsFollowTheMatrix) {
  auto r = gateway_router("r1");
  r.sysctls = {{"net.ipv4.conf.all.arp_ignore", "1", "0"}, {"net/ipv4/conf/eth0.5/rp_filter", "", "2"}};
  Rig rig({r});
  rig.role("r1", U, P);
  EXPECT_EQ(rig.sysctls.get("ns-r1", "net/ipv4/conf/all/arp_ignore"), "1");
  EXPECT_EQ(rig.sysctls.get("ns-r1", "net/ipv4/conf/eth0.5/rp_filter"), "");
  rig.role("r1", P, B);
  EXPECT_EQ(rig.sysctls.get("ns-r1", "net/ipv4/conf/all/arp_ignore"), "0");
  EXPECT_EQ(rig.sysctls.get("ns-r1", "net/ipv4/conf/eth0.5/rp_filter"), "2");
}

TEST(Sysctls, AFailureIsRetriedWithBackoffWithoutHoldingUpAnotherRouter) {
  Rig rig({gateway_router("r1"), gateway_router("r2")});
  rig.sysctls.fail("net/ipv6/conf/qg-r1/accept_ra", true);
  rig.role("r1", U, P);
  rig.role("r2", U, P);
  EXPECT_EQ(rig.sysctls.get("ns-r2", "net/ipv6/conf/qg-r2/accept_ra"), "2");
  EXPECT_EQ(rig.sysctls.get("ns-r1", "net/ipv6/conf/qg-r1/forwarding"), "1");  // the rest is written
  EXPECT_THAT(rig.pipeline.router("r1")->failing(), ElementsAre("sysctls"));
  EXPECT_EQ(rig.pipeline.deadline(), rig.now + Millis(100));
  rig.at(100);  // fails again: next try 200 ms later
  EXPECT_EQ(rig.pipeline.deadline(), rig.t0 + Millis(300));
  rig.sysctls.fail("net/ipv6/conf/qg-r1/accept_ra", false);
  rig.at(300);
  EXPECT_EQ(rig.sysctls.get("ns-r1", "net/ipv6/conf/qg-r1/accept_ra"), "2");
  EXPECT_THAT(rig.pipeline.router("r1")->failing(), IsEmpty());
  EXPECT_EQ(rig.pipeline.deadline(), std::nullopt);
}

// --- radvd -----------------------------------------------------------------

// Most tests start once the configtest, run when the router is configured, passed.
void checked(Rig& rig, const std::string& router = "r1") {
  rig.launcher.exit(router, "radvd --configtest");
  rig.take();
}

TEST(Radvd, CheckedWhenConfiguredThenStartedAtOnceOnPrimary) {
  Rig rig({radvd_router("r1")});
  EXPECT_THAT(rig.take(), ElementsAre("write /run/havip/r1/radvd.check.conf",
                                      "start r1 radvd --configtest"));
  checked(rig);
  rig.role("r1", U, P);
  EXPECT_THAT(rig.take(), ElementsAre("write /run/havip/r1/radvd.conf", "start r1 radvd"));
  EXPECT_THAT(rig.launcher.spec("r1", "radvd").argv,
              ElementsAre("/usr/sbin/radvd", "--nodaemon", "--config", "/run/havip/r1/radvd.conf",
                          "--pidfile", "/run/havip/r1/radvd.pid", "--logmethod", "stderr"));
  EXPECT_EQ(rig.launcher.spec("r1", "radvd").netns, "ns-r1");
}

TEST(Radvd, APrimaryDuringTheCheckStartsRadvdWhenItPasses) {
  Rig rig({radvd_router("r1")});
  rig.role("r1", U, P);
  EXPECT_FALSE(rig.launcher.running("r1", "radvd"));
  rig.launcher.exit("r1", "radvd --configtest");
  EXPECT_TRUE(rig.launcher.running("r1", "radvd"));
}

TEST(Radvd, KilledAndItsFilesRemovedOnBackup) {
  Rig rig({radvd_router("r1")});
  checked(rig);
  rig.role("r1", U, P);
  rig.take();
  rig.role("r1", P, B);
  EXPECT_THAT(rig.take(), ElementsAre("signal r1 radvd SIGKILL", "remove /run/havip/r1/radvd.conf"));
  rig.launcher.exit("r1", "radvd", {0, SIGKILL});
  EXPECT_TRUE(rig.pipeline.quiet());
}

TEST(Radvd, NeverRunsOnABackupEvenAcrossAFastFlap) {
  Rig rig({radvd_router("r1")});
  rig.take();
  rig.role("r1", U, P);
  rig.role("r1", P, B);  // before the configtest finished
  rig.launcher.exit("r1", "radvd --configtest");
  EXPECT_FALSE(rig.launcher.running("r1", "radvd"));
  EXPECT_THAT(rig.take(), ElementsAre("write /run/havip/r1/radvd.conf",
                                      "remove /run/havip/r1/radvd.conf",
                                      "exit r1 radvd --configtest (exit code 0)"));
}

TEST(Radvd, ANewRadvdWaitsUntilTheKilledOneIsGone) {
  Rig rig({radvd_router("r1")});
  checked(rig);
  rig.role("r1", U, P);
  rig.role("r1", P, B);
  rig.role("r1", B, P);
  rig.take();
  EXPECT_TRUE(rig.launcher.running("r1", "radvd"));  // the old one, still dying
  rig.launcher.exit("r1", "radvd", {0, SIGKILL});
  // Checked once: the restart does not run the configtest again.
  EXPECT_THAT(rig.take(), ElementsAre("exit r1 radvd (killed by SIGKILL)", "start r1 radvd"));
}

TEST(Radvd, RespawnedWithExponentialBackoffWhilePrimary) {
  Rig rig({radvd_router("r1")});
  checked(rig);
  rig.role("r1", U, P);
  rig.launcher.exit("r1", "radvd", {1, 0});
  rig.take();
  rig.at(99);
  EXPECT_FALSE(rig.launcher.running("r1", "radvd"));
  rig.at(100);
  EXPECT_TRUE(rig.launcher.running("r1", "radvd"));
  rig.launcher.exit("r1", "radvd", {1, 0});
  rig.at(299);
  EXPECT_FALSE(rig.launcher.running("r1", "radvd"));
  rig.at(300);
  EXPECT_TRUE(rig.launcher.running("r1", "radvd"));
  // A run of 10 s counts as stable: the next crash restarts after 100 ms again.
  rig.at(10300);
  rig.launcher.exit("r1", "radvd", {1, 0});
  rig.at(10399);
  EXPECT_FALSE(rig.launcher.running("r1", "radvd"));
  rig.at(10400);
  EXPECT_TRUE(rig.launcher.running("r1", "radvd"));
}

TEST(Radvd, BackoffStopsWhenTheRouterBecomesBackup) {
  Rig rig({radvd_router("r1")});
  checked(rig);
  rig.role("r1", U, P);
  rig.launcher.exit("r1", "radvd", {1, 0});
  rig.role("r1", P, B);
  rig.at(60000);
  EXPECT_FALSE(rig.launcher.running("r1", "radvd"));
  EXPECT_TRUE(rig.pipeline.quiet());
}

TEST(Radvd, ARejectedConfigIsReportedAtOnceAndRetriedWithBackoffWhilePrimary) {
  Rig rig({radvd_router("r1")});
  rig.launcher.exit("r1", "radvd --configtest", {1, 0});  // reported before any transition
  EXPECT_EQ(rig.pipeline.deadline(), std::nullopt);
  rig.role("r1", U, P);  // checked again, still rejected
  rig.launcher.exit("r1", "radvd --configtest", {1, 0});
  EXPECT_FALSE(rig.launcher.running("r1", "radvd"));
  rig.at(99);
  EXPECT_FALSE(rig.launcher.running("r1", "radvd --configtest"));
  rig.at(100);
  EXPECT_TRUE(rig.launcher.running("r1", "radvd --configtest"));
}

TEST(Radvd, AMissingBinaryIsAnErrorRetriedWithBackoff) {
  Rig rig({});
  rig.launcher.fail_exec("/usr/sbin/radvd");
  rig.configure({radvd_router("r1")});
  EXPECT_EQ(rig.pipeline.deadline(), std::nullopt);
  rig.role("r1", U, P);
  EXPECT_FALSE(rig.launcher.running("r1", "radvd --configtest"));
  EXPECT_EQ(rig.pipeline.deadline(), rig.now + Millis(100));
}

TEST(Radvd, AGivenConfigFileIsUsedAsItIsAndNeverRemoved) {
  auto r = radvd_router("r1");
  r.radvd->interfaces.clear();
  r.radvd->config_file = "/etc/havip/r1-radvd.conf";
  Rig rig({r});
  EXPECT_EQ(rig.launcher.spec("r1", "radvd --configtest").argv[3], "/etc/havip/r1-radvd.conf");
  checked(rig);
  rig.role("r1", U, P);
  EXPECT_EQ(rig.launcher.spec("r1", "radvd").argv[3], "/etc/havip/r1-radvd.conf");
  rig.role("r1", P, B);
  EXPECT_FALSE(rig.files.exists("/etc/havip/r1-radvd.conf"));
  for (const auto& line : rig.take()) EXPECT_EQ(line.find("write"), std::string::npos) << line;
}

// --- health on the primary (what the track file follows: core/track.h) --------

TEST(Unhealthy, RadvdWantedButNotRunningIsUnhealthyOnlyOnThePrimary) {
  auto r = radvd_router("r1");
  r.services = {{{"/usr/sbin/haproxy"}, Millis(5000)}};
  Rig rig({r});
  checked(rig);
  const RouterEffects& fx = *rig.pipeline.router("r1");
  rig.role("r1", U, B);
  EXPECT_THAT(fx.unhealthy(), IsEmpty());  // nothing is wanted on a backup
  rig.role("r1", B, P);
  EXPECT_THAT(fx.unhealthy(), IsEmpty());  // radvd and haproxy run
  rig.launcher.exit("r1", "radvd", {1, 0});
  EXPECT_THAT(fx.unhealthy(), ElementsAre("radvd"));  // in its restart backoff
  rig.launcher.exit("r1", "service haproxy", {1, 0});
  EXPECT_THAT(fx.unhealthy(), ElementsAre("radvd", "service haproxy"));
  rig.at(1000);  // both restarted
  EXPECT_THAT(fx.unhealthy(), IsEmpty());
}

TEST(Unhealthy, AFailingSysctlIsUnhealthy) {
  Rig rig({gateway_router("r1")});
  rig.sysctls.fail("net/ipv6/conf/qg-r1/forwarding", true);
  rig.role("r1", U, P);
  EXPECT_THAT(rig.pipeline.router("r1")->unhealthy(), ElementsAre("sysctls"));
}

// --- services ----------------------------------------------------------------

TEST(Services, RunWhilePrimaryStoppedWithTermThenKill) {
  auto r = router("r1", "ns-r1", "ha-r1", "169.254.0.1/24");
  r.services = {{{"/usr/sbin/haproxy", "-f", "/etc/havip/r1.cfg"}, Millis(5000)}};
  Rig rig({r});
  rig.role("r1", U, B);
  EXPECT_FALSE(rig.launcher.running("r1", "service haproxy"));
  rig.role("r1", B, P);
  EXPECT_TRUE(rig.launcher.running("r1", "service haproxy"));
  rig.take();
  rig.role("r1", P, B);
  EXPECT_THAT(rig.take(), ElementsAre("signal r1 service haproxy SIGTERM"));
  rig.at(4999);
  EXPECT_THAT(rig.take(), IsEmpty());
  rig.at(5000);
  EXPECT_THAT(rig.take(), ElementsAre("signal r1 service haproxy SIGKILL"));
}

// --- hooks -------------------------------------------------------------------

TEST(Hooks, RunOncePerTransitionStrictlyInOrder) {
  auto r = router("r1", "ns-r1", "ha-r1", "169.254.0.1/24");
  r.hooks = {{{"/usr/local/bin/first"}, Millis(10000)}, {{"/usr/local/bin/second"}, Millis(10000)}};
  Rig rig({r});
  rig.role("r1", U, B);
  rig.role("r1", B, P);  // while the first hook of the first transition still runs
  EXPECT_THAT(rig.take(), ElementsAre("start r1 hook first (backup)"));
  rig.launcher.exit("r1", "hook first (backup)");
  rig.launcher.exit("r1", "hook second (backup)");
  rig.launcher.exit("r1", "hook first (primary)");
  rig.launcher.exit("r1", "hook second (primary)");
  EXPECT_THAT(rig.take(), ElementsAre("exit r1 hook first (backup) (exit code 0)",
                                      "start r1 hook second (backup)",
                                      "exit r1 hook second (backup) (exit code 0)",
                                      "start r1 hook first (primary)",
                                      "exit r1 hook first (primary) (exit code 0)",
                                      "start r1 hook second (primary)",
                                      "exit r1 hook second (primary) (exit code 0)"));
}

TEST(Hooks, GetOnlyTheirOwnEnvironment) {
  EXPECT_THAT(HookQueue::environment("r1", "qrouter-1", Role::backup, Role::primary),
              ElementsAre("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                          "HAVIP_ROUTER=r1", "HAVIP_NAMESPACE=qrouter-1", "HAVIP_ROLE=primary",
                          "HAVIP_PREVIOUS_ROLE=backup"));
}

TEST(Hooks, AHookPastItsTimeoutIsKilledAndTheNextOneRuns) {
  auto r = router("r1", "ns-r1", "ha-r1", "169.254.0.1/24");
  r.hooks = {{{"/usr/local/bin/slow"}, Millis(3000)}, {{"/usr/local/bin/next"}, Millis(3000)}};
  Rig rig({r});
  rig.role("r1", U, P);
  rig.take();
  rig.at(2999);
  EXPECT_THAT(rig.take(), IsEmpty());
  rig.at(3000);
  EXPECT_THAT(rig.take(), ElementsAre("signal r1 hook slow (primary) SIGKILL"));
  rig.launcher.exit("r1", "hook slow (primary)", {0, SIGKILL});
  EXPECT_TRUE(rig.launcher.running("r1", "hook next (primary)"));
}

TEST(Hooks, ABrokenHookDoesNotBlockTheNext) {
  auto r = router("r1", "ns-r1", "ha-r1", "169.254.0.1/24");
  r.hooks = {{{"/nonexistent"}, Millis(3000)}, {{"/usr/local/bin/next"}, Millis(3000)}};
  Rig rig({r});
  rig.launcher.fail_exec("/nonexistent");
  rig.role("r1", U, P);
  EXPECT_TRUE(rig.launcher.running("r1", "hook next (primary)"));
}

// --- conntrackd (Neutron's --enable_conntrackd) ----------------------------------

// A Neutron-mode router whose agent runs conntrackd for it (no gateway: the
// journal holds only the commands and the notification).
RouterConfig conntrackd_router(std::string name) {
  auto r = router(name, "ns-" + name, "ha-" + name, "169.254.0.1/24");
  r.notify_l3_agent = true;
  r.conntrackd = ConntrackdConfig{"/var/lib/neutron/ha_confs/" + name + "/conntrackd.conf",
                                  "/usr/sbin/conntrackd", Millis(5000)};
  return r;
}

// Lets each command in `whats` of `router` exit, in order (code 0).
void finish(Rig& rig, const std::string& router, std::initializer_list<const char*> whats) {
  for (const char* what : whats) rig.launcher.exit(router, what);
}

TEST(Conntrackd, PrimaryCommitsFlushesResyncsAndSendsABulkUpdateThenTheAgentHears) {
  Rig rig({conntrackd_router("r1")});
  rig.role("r1", U, P);
  EXPECT_THAT(rig.take(), ElementsAre("start r1 conntrackd -c (primary)"));
  const ProcessSpec& spec = rig.launcher.spec("r1", "conntrackd -c (primary)");
  EXPECT_THAT(spec.argv, ElementsAre("/usr/sbin/conntrackd", "-C",
                                     "/var/lib/neutron/ha_confs/r1/conntrackd.conf", "-c"));
  EXPECT_EQ(spec.netns, "ns-r1");
  finish(rig, "r1",
         {"conntrackd -c (primary)", "conntrackd -f (primary)", "conntrackd -R (primary)",
          "conntrackd -B (primary)"});
  EXPECT_THAT(
      rig.take(),
      ElementsAre(
          "exit r1 conntrackd -c (primary) (exit code 0)", "start r1 conntrackd -f (primary)",
          "exit r1 conntrackd -f (primary) (exit code 0)", "start r1 conntrackd -R (primary)",
          "exit r1 conntrackd -R (primary) (exit code 0)", "start r1 conntrackd -B (primary)",
          "exit r1 conntrackd -B (primary) (exit code 0)", "notify r1 primary"));
}

TEST(Conntrackd, TheInitialBackupShortensTimersAndAsksForAResync) {
  Rig rig({conntrackd_router("r1")});
  rig.role("r1", U, B);
  finish(rig, "r1", {"conntrackd -t (backup)", "conntrackd -n (backup)"});
  EXPECT_THAT(
      rig.take(),
      ElementsAre("start r1 conntrackd -t (backup)", "exit r1 conntrackd -t (backup) (exit code 0)",
                  "start r1 conntrackd -n (backup)", "exit r1 conntrackd -n (backup) (exit code 0)",
                  "notify r1 backup"));
}

TEST(Conntrackd, AFaultIsABackupToConntrackdAndNothingAgainAfterABackup) {
  Rig rig({conntrackd_router("r1")});
  rig.role("r1", U, P);
  finish(rig, "r1",
         {"conntrackd -c (primary)", "conntrackd -f (primary)", "conntrackd -R (primary)",
          "conntrackd -B (primary)"});
  rig.take();
  rig.role("r1", P, Role::fault);  // keepalived died: Neutron sees backup
  finish(rig, "r1", {"conntrackd -t (backup)", "conntrackd -n (backup)"});
  rig.take();
  rig.role("r1", Role::fault, B);  // keepalived back: still backup to Neutron
  EXPECT_THAT(rig.take(), ElementsAre("notify r1 backup"));
  rig.role("r1", B, U);  // the namespace went away: no role, no command
  EXPECT_THAT(rig.take(), IsEmpty());
}

TEST(Conntrackd, WaitsForTheStateFile) {
  Rig rig({conntrackd_router("r1")});
  rig.state_files->hold = true;
  rig.role("r1", U, P);
  EXPECT_THAT(rig.take(), IsEmpty());
  rig.written("r1", 1);
  EXPECT_THAT(rig.take(), ElementsAre("start r1 conntrackd -c (primary)"));
}

TEST(Conntrackd, AFailedCommandIsReportedAndTheRestStillRun) {
  Rig rig({conntrackd_router("r1")});
  rig.role("r1", U, B);
  rig.observer.take();
  rig.launcher.exit("r1", "conntrackd -t (backup)", {1, 0});
  EXPECT_THAT(rig.observer.take(),
              ElementsAre("failed r1 conntrackd: conntrackd -t (backup) finished: exit code 1"));
  rig.launcher.exit("r1", "conntrackd -n (backup)");
  EXPECT_THAT(
      rig.take(),
      ElementsAre("start r1 conntrackd -t (backup)", "exit r1 conntrackd -t (backup) (exit code 1)",
                  "start r1 conntrackd -n (backup)", "exit r1 conntrackd -n (backup) (exit code 0)",
                  "notify r1 backup"));
}

TEST(Conntrackd, AMissingBinaryFailsEachCommandAndTheAgentStillHears) {
  Rig rig({conntrackd_router("r1")});
  rig.launcher.fail_exec("/usr/sbin/conntrackd");
  rig.role("r1", U, B);
  EXPECT_THAT(rig.take(), ElementsAre("notify r1 backup"));
  auto failed = rig.observer.take();
  ASSERT_EQ(failed.size(), 3u);  // the transition, then one per command
  EXPECT_EQ(failed[1],
            "failed r1 conntrackd: conntrackd -t (backup) could not start: "
            "/usr/sbin/conntrackd: No such file or directory");
}

TEST(Conntrackd, ACommandPastItsTimeoutIsKilledAndTheNextOneRuns) {
  Rig rig({conntrackd_router("r1")});
  rig.role("r1", U, B);
  rig.take();
  rig.observer.take();
  rig.at(4999);
  EXPECT_THAT(rig.take(), IsEmpty());
  rig.at(5000);
  EXPECT_THAT(rig.take(), ElementsAre("signal r1 conntrackd -t (backup) SIGKILL"));
  EXPECT_THAT(rig.observer.take(),
              ElementsAre("failed r1 conntrackd: conntrackd -t (backup) timed out after 5000ms; "
                          "killing its process group"));
  rig.launcher.exit("r1", "conntrackd -t (backup)", {0, SIGKILL});
  EXPECT_THAT(rig.observer.take(), IsEmpty());  // one failure, not two
  EXPECT_TRUE(rig.launcher.running("r1", "conntrackd -n (backup)"));
}

TEST(Conntrackd, AHangingCommandHoldsOnlyItsOwnRouter) {
  Rig rig({conntrackd_router("r1"), conntrackd_router("r2")});
  rig.role("r1", U, P);  // conntrackd -c of r1 hangs
  rig.role("r2", U, B);
  finish(rig, "r2", {"conntrackd -t (backup)", "conntrackd -n (backup)"});
  Journal j = rig.take();
  EXPECT_EQ(j.back(), "notify r2 backup");
  EXPECT_EQ(std::count(j.begin(), j.end(), "notify r1 primary"), 0);
  rig.role("r1", P, B);  // queued behind r1's own commands, in order
  EXPECT_THAT(rig.take(), IsEmpty());
}

TEST(Conntrackd, HooksFollowTheNotification) {
  auto r = conntrackd_router("r1");
  r.hooks = {{{"/usr/local/bin/notify"}, Millis(1000)}};
  Rig rig({r});
  rig.role("r1", U, B);
  EXPECT_THAT(rig.take(), ElementsAre("start r1 conntrackd -t (backup)"));  // not the hook
  finish(rig, "r1", {"conntrackd -t (backup)", "conntrackd -n (backup)"});
  Journal j = rig.take();
  ASSERT_EQ(j.size(), 5u);
  EXPECT_THAT(Journal(j.begin() + 3, j.end()),
              ElementsAre("notify r1 backup", "start r1 hook notify (backup)"));
}

TEST(Conntrackd, ARemovedRouterStillTellsTheAgentWhatWasWrittenThenIsForgotten) {
  Rig rig({conntrackd_router("r1"), conntrackd_router("r2")});
  rig.role("r1", U, P);
  rig.take();
  rig.configure({conntrackd_router("r2")});
  EXPECT_THAT(rig.take(), ElementsAre("signal r1 conntrackd -c (primary) SIGKILL",
                                      "notify r1 primary", "forget r1"));
}

TEST(Conntrackd, AReconfigurationDuringTheCommandsLetsThemFinishThenTheAgentHears) {
  auto r = conntrackd_router("r1");
  r.hooks = {{{"/usr/local/bin/notify"}, Millis(1000)}};
  Rig rig({r});
  rig.role("r1", U, P);
  EXPECT_THAT(rig.take(), ElementsAre("start r1 conntrackd -c (primary)"));
  // A router update (a floating IP in keepalived.conf) lands mid-commit.
  r.addresses.push_back({*IpPrefix::parse("203.0.113.9/24"), "qg-r1"});
  rig.configure({r}, P);
  EXPECT_THAT(rig.take(), IsEmpty());  // -c is not killed; the hook is dropped
  finish(rig, "r1",
         {"conntrackd -c (primary)", "conntrackd -f (primary)", "conntrackd -R (primary)",
          "conntrackd -B (primary)"});
  Journal j = rig.take();
  ASSERT_GE(j.size(), 8u) << ::testing::PrintToString(j);
  EXPECT_THAT(
      Journal(j.begin(), j.begin() + 8),
      ElementsAre(
          "exit r1 conntrackd -c (primary) (exit code 0)", "start r1 conntrackd -f (primary)",
          "exit r1 conntrackd -f (primary) (exit code 0)", "start r1 conntrackd -R (primary)",
          "exit r1 conntrackd -R (primary) (exit code 0)", "start r1 conntrackd -B (primary)",
          "exit r1 conntrackd -B (primary) (exit code 0)", "notify r1 primary"));
  EXPECT_EQ(std::count(j.begin(), j.end(), "start r1 hook notify (primary)"), 0);
  EXPECT_EQ(std::count(j.begin(), j.end(), "notify r1 primary"), 1);
}

TEST(Conntrackd, ItsConfigAppearingRestartsNothing) {
  auto r = radvd_router("r1");
  Rig rig({r});
  checked(rig);
  rig.role("r1", U, P);
  rig.take();
  r.conntrackd =
      ConntrackdConfig{"/etc/conntrackd/conntrackd.conf", "/usr/sbin/conntrackd", Millis(5000)};
  rig.configure({r}, P);
  EXPECT_THAT(rig.take(), IsEmpty());  // radvd keeps running
  rig.role("r1", P, B);
  EXPECT_THAT(rig.take(), ::testing::Contains("start r1 conntrackd -t (backup)"));
}

// --- order, reload, shutdown --------------------------------------------------

TEST(Order, SysctlsThenRadvdThenServicesThenHooks) {
  auto r = radvd_router("r1");
  r.gateway_interface = "qg-r1";
  r.services = {{{"/usr/sbin/haproxy"}, Millis(5000)}};
  r.hooks = {{{"/usr/local/bin/notify"}, Millis(1000)}};
  Rig rig({r});
  checked(rig);
  rig.role("r1", U, P);
  EXPECT_THAT(rig.take(), ElementsAre("sysctl ns-r1 net/ipv6/conf/all/forwarding = 1",
                                      "sysctl ns-r1 net/ipv6/conf/qg-r1/accept_ra = 2",
                                      "sysctl ns-r1 net/ipv6/conf/qg-r1/forwarding = 1",
                                      "write /run/havip/r1/radvd.conf",
                                      "start r1 radvd",
                                      "start r1 service haproxy",
                                      "start r1 hook notify (primary)"));
}

TEST(Notify, TheL3AgentHearsLastOfEveryAppliedRole) {
  auto r = notifying_router("r1");
  Rig rig({r, gateway_router("r2")});
  rig.role("r1", U, P);
  rig.role("r2", U, P);  // not a Neutron router: no notification
  rig.role("r1", P, U);  // Neutron knows only primary and backup
  EXPECT_THAT(rig.take(), ElementsAre("sysctl ns-r1 net/ipv6/conf/all/forwarding = 1",
                                      "sysctl ns-r1 net/ipv6/conf/qg-r1/accept_ra = 2",
                                      "sysctl ns-r1 net/ipv6/conf/qg-r1/forwarding = 1",
                                      "start r1 hook notify (primary)", "notify r1 primary",
                                      "sysctl ns-r2 net/ipv6/conf/all/forwarding = 1",
                                      "sysctl ns-r2 net/ipv6/conf/qg-r2/accept_ra = 2",
                                      "sysctl ns-r2 net/ipv6/conf/qg-r2/forwarding = 1"));
  rig.configure({gateway_router("r2")});  // r1 removed: forgotten, its running hook killed
  EXPECT_THAT(rig.take(), ElementsAre("signal r1 hook notify (primary) SIGKILL", "forget r1"));
}

TEST(Order, HooksAndTheL3AgentWaitForTheStateFileTheRestDoesNot) {
  auto r = radvd_router("r1");
  r.notify_l3_agent = true;
  r.hooks = {{{"/usr/local/bin/notify"}, Millis(1000)}};
  Rig rig({r, gateway_router("r2")});
  checked(rig);
  rig.state_files->hold = true;  // a slow disk
  rig.role("r1", U, P);  // state file write 1
  EXPECT_THAT(rig.take(), ElementsAre("write /run/havip/r1/radvd.conf", "start r1 radvd"));
  rig.role("r2", U, B);  // write 2
  rig.take();
  rig.written("r2", 2);  // another router's file: nothing of r1's goes
  EXPECT_THAT(rig.take(), IsEmpty());
  rig.written("r1", 1);
  EXPECT_THAT(rig.take(), ElementsAre("start r1 hook notify (primary)", "notify r1 primary"));
}

TEST(Order, TransitionsWaitingForStateFilesKeepTheirOrder) {
  auto r = notifying_router("r1");
  Rig rig({r});
  rig.state_files->hold = true;
  rig.role("r1", U, P);     // write 1
  rig.role("r1", P, U);     // no state file of its own: goes after the one before it
  rig.role("r1", U, B);     // write 2
  rig.role("r1", B, P);     // write 3: the writer replaced the queued 2 by it
  rig.take();
  rig.written("r1", 1);
  EXPECT_THAT(rig.take(), ElementsAre("start r1 hook notify (primary)", "notify r1 primary"));
  for (const char* hook : {"hook notify (primary)", "hook notify (unknown)"})
    rig.launcher.exit("r1", hook);
  EXPECT_THAT(rig.take(), ElementsAre("exit r1 hook notify (primary) (exit code 0)",
                                      "start r1 hook notify (unknown)",
                                      "exit r1 hook notify (unknown) (exit code 0)"));
  rig.written("r1", 3);  // completes 2 and 3
  EXPECT_THAT(rig.take(), ElementsAre("start r1 hook notify (backup)", "notify r1 backup",
                                      "notify r1 primary"));
  rig.state_files->hold = false;
  rig.role("r1", P, B);  // nothing held any more: at once
  rig.launcher.exit("r1", "hook notify (backup)");
  EXPECT_THAT(rig.take(), ElementsAre("sysctl ns-r1 net/ipv6/conf/qg-r1/accept_ra = 0",
                                      "sysctl ns-r1 net/ipv6/conf/qg-r1/forwarding = 0",
                                      "notify r1 backup",
                                      "exit r1 hook notify (backup) (exit code 0)",
                                      "start r1 hook notify (primary)"));
}

TEST(Order, ARemovedRoutersHeldHooksAreDropped) {
  auto r = notifying_router("r1");
  Rig rig({r});
  rig.state_files->hold = true;
  rig.role("r1", U, P);
  rig.configure({});
  rig.take();
  rig.written("r1", 1);
  EXPECT_THAT(rig.take(), IsEmpty());
}

TEST(Pipeline, EveryTransitionIsReportedAfterItsEffectsAndWritesItsStateFile) {
  Rig rig({gateway_router("r1")});
  rig.role("r1", U, P);
  rig.role("r1", P, U);  // unknown: no state file to write
  EXPECT_THAT(rig.state_files->take_submitted(), ElementsAre("r1 primary"));
  EXPECT_THAT(rig.observer.take(), ElementsAre("transition r1 unknown -> primary",
                                               "transition r1 primary -> unknown"));
}

TEST(Pipeline, AFailingEffectIsReportedOncePerAttempt) {
  Rig rig({gateway_router("r1")});
  rig.sysctls.fail("net/ipv6/conf/qg-r1/forwarding", true);
  rig.role("r1", U, P);
  EXPECT_THAT(rig.observer.take(),
              ElementsAre(::testing::StartsWith("failed r1 sysctls: sysctl "
                                                "net/ipv6/conf/qg-r1/forwarding"),
                          "transition r1 unknown -> primary"));
  rig.sysctls.fail("net/ipv6/conf/qg-r1/forwarding", false);
  rig.at(100);  // the retry succeeds: nothing more to report
  EXPECT_THAT(rig.observer.take(), IsEmpty());
}

TEST(Pipeline, AStateFileThatCannotBeWrittenIsRetriedWithItsLatestRole) {
  Rig rig({gateway_router("r1")});
  rig.state_files->hold = true;
  rig.role("r1", U, P);
  rig.written("r1", 1, "Read-only file system");
  EXPECT_TRUE(rig.pipeline.state_file_failing("r1", rig.now));
  rig.role("r1", P, B);  // write 2, while the retry waits
  rig.written("r1", 2);
  EXPECT_FALSE(rig.pipeline.state_file_failing("r1", rig.now));
  rig.at(100);
  EXPECT_THAT(rig.state_files->take_submitted(), ElementsAre("r1 primary", "r1 backup"));
}

TEST(Pipeline, ARouterRemovedWhilePrimaryHasBackupWrittenUnlessNeutronOwnsItsDirectory) {
  auto neutron = gateway_router("n1");
  neutron.create_state_dir = false;
  Rig rig({gateway_router("r1"), gateway_router("r2"), neutron});
  rig.role("r1", U, P);
  rig.role("r2", U, B);
  rig.role("n1", U, P);
  rig.state_files->take_submitted();
  rig.configure({});
  EXPECT_THAT(rig.state_files->take_submitted(), ElementsAre("r1 backup"));
}

TEST(Pipeline, WhileStoppingOnlyTheStateFileIsWritten) {
  Rig rig({notifying_router("r1")});
  rig.pipeline.shutdown(rig.now);
  rig.take();
  rig.role("r1", U, P);
  EXPECT_THAT(rig.take(), IsEmpty());
  EXPECT_THAT(rig.state_files->take_submitted(), ElementsAre("r1 primary"));
  EXPECT_THAT(rig.observer.take(), ElementsAre("transition r1 unknown -> primary"));
}

TEST(Reload, AChangedRouterStartsItsNewRadvdOnlyAfterTheOldOneIsGone) {
  Rig rig({radvd_router("r1")});
  checked(rig);
  rig.role("r1", U, P);
  rig.take();
  auto changed = radvd_router("r1");
  changed.radvd->interfaces[0].mtu = 1400;
  rig.configure({changed}, P);
  EXPECT_THAT(rig.take(), ElementsAre("signal r1 radvd SIGKILL", "remove /run/havip/r1/radvd.conf",
                                      "write /run/havip/r1/radvd.check.conf",
                                      "start r1 radvd --configtest"));
  rig.launcher.exit("r1", "radvd --configtest");
  EXPECT_FALSE(rig.launcher.running("r1", "radvd --configtest"));
  rig.launcher.exit("r1", "radvd", {0, SIGKILL});
  rig.at(1);
  EXPECT_THAT(rig.take(), ElementsAre("exit r1 radvd --configtest (exit code 0)",
                                      "exit r1 radvd (killed by SIGKILL)",
                                      "write /run/havip/r1/radvd.conf", "start r1 radvd"));
  EXPECT_NE(rig.files.content("/run/havip/r1/radvd.conf").find("AdvLinkMTU 1400;"),
            std::string::npos);
}

TEST(Reload, AnUnchangedRouterIsNotTouched) {
  Rig rig({radvd_router("r1")});
  checked(rig);
  rig.role("r1", U, P);
  rig.take();
  rig.configure({radvd_router("r1")}, P);
  EXPECT_THAT(rig.take(), IsEmpty());
}

TEST(Reload, ARenamedRoutersServiceNeverRunsTwiceAtOnce) {
  auto r1 = router("r1", "ns-r1", "ha-r1", "169.254.0.1/24");
  r1.services = {{{"/usr/sbin/haproxy", "-f", "/etc/havip/edge.cfg"}, Millis(5000)}};
  auto edge = r1;
  edge.name = "edge";
  Rig rig({r1});
  rig.role("r1", U, P);
  rig.take();
  rig.configure({edge});  // the same router under a new name
  rig.role("edge", U, P);
  EXPECT_THAT(rig.take(), ElementsAre("signal r1 service haproxy SIGTERM", "forget r1"));
  rig.at(4000);
  EXPECT_THAT(rig.take(), IsEmpty());
  rig.launcher.exit("r1", "service haproxy", {0, SIGTERM});
  rig.at(4001);
  EXPECT_THAT(rig.take(), ElementsAre("exit r1 service haproxy (killed by SIGTERM)",
                                      "start edge service haproxy"));
}

TEST(Reload, ANewRouterSharingNothingWithARemovedOneDoesNotWait) {
  auto r1 = router("r1", "ns-r1", "ha-r1", "169.254.0.1/24");
  r1.services = {{{"/usr/sbin/haproxy"}, Millis(5000)}};
  auto r2 = router("r2", "ns-r2", "ha-r2", "169.254.0.1/24");
  r2.services = {{{"/usr/sbin/other"}, Millis(5000)}};
  Rig rig({r1});
  rig.role("r1", U, P);
  rig.take();
  rig.configure({r2});
  rig.role("r2", U, P);
  EXPECT_THAT(rig.take(), ElementsAre("signal r1 service haproxy SIGTERM", "forget r1",
                                      "start r2 service other"));
}

TEST(Shutdown, StopsEveryChild) {
  auto r = radvd_router("r1");
  r.services = {{{"/usr/sbin/haproxy"}, Millis(5000)}};
  Rig rig({r});
  checked(rig);
  rig.role("r1", U, P);
  rig.take();
  rig.pipeline.shutdown(rig.now);
  EXPECT_THAT(rig.take(), ElementsAre("signal r1 radvd SIGKILL", "remove /run/havip/r1/radvd.conf",
                                      "signal r1 service haproxy SIGTERM"));
  EXPECT_FALSE(rig.pipeline.quiet());
  rig.launcher.exit("r1", "radvd", {0, SIGKILL});
  rig.launcher.exit("r1", "service haproxy", {0, SIGTERM});
  EXPECT_TRUE(rig.pipeline.quiet());
}

}  // namespace
}  // namespace havip::testing
