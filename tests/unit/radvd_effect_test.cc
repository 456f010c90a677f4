// RadvdEffect's files on the way to primary: radvd.conf written, and the pid
// file's directory made sure of only when it is not the router's own run
// directory (which writing radvd.conf has just created or opened).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "effects/radvd.h"

namespace havip {
namespace {

using ::testing::ElementsAre;

struct RecordingFiles final : RunFiles {
  std::vector<std::string> calls;
  tl::expected<void, std::string> write(const std::string& dir, const std::string& sub,
                                        const std::string& name, const std::string&) override {
    calls.push_back("write " + dir + "/" + sub + "/" + name);
    return {};
  }
  void remove(const std::string& dir, const std::string& sub, const std::string& name) override {
    calls.push_back("remove " + dir + "/" + sub + "/" + name);
  }
  void remove_path(const std::string& path) override { calls.push_back("remove " + path); }
  tl::expected<void, std::string> ensure(const std::string& dir, const std::string& sub) override {
    calls.push_back("ensure " + dir + "/" + sub);
    return {};
  }
};

struct NullObserver final : Observer {
  void transition(const RoleChange&) override {}
  void effect_failed(const EffectFailure&) override {}
  void child_exited(const ChildExit&) override {}
};

struct NullLauncher final : Launcher {
  tl::expected<ProcessId, std::string> start(const ProcessSpec&, OnExit) override { return ++n; }
  void signal(ProcessId, int) override {}
  ProcessId n = 0;
};

RouterConfig radvd_router(std::string pid_file = "", std::string config_file = "") {
  RouterConfig r;
  r.name = "r1";
  r.netns = "ns-r1";
  r.radvd = RadvdConfig{};
  RadvdInterface qr;
  qr.name = "qr-r1";
  r.radvd->interfaces = {qr};
  r.radvd->pid_file = std::move(pid_file);
  r.radvd->config_file = std::move(config_file);
  return r;
}

std::vector<std::string> primary_calls(const RouterConfig& r) {
  NullLauncher launcher;
  NullObserver observer;
  RecordingFiles files;
  DaemonConfig d;
  d.run_dir = "/run/havip";
  TimePoint now{};
  RadvdEffect radvd(launcher, observer, files, [&] { return now; }, d, r);
  EXPECT_TRUE(radvd.role(Role::primary, now));
  return files.calls;
}

TEST(RadvdEffect, PidFileInTheRouterRunDirectoryNeedsNoSecondLook) {
  EXPECT_THAT(primary_calls(radvd_router()), ElementsAre("write /run/havip/r1/radvd.conf"));
  EXPECT_THAT(primary_calls(radvd_router("/run/havip/r1/other.pid")),
              ElementsAre("write /run/havip/r1/radvd.conf"));
}

TEST(RadvdEffect, PidFileElsewhereHasItsDirectoryMade) {
  EXPECT_THAT(primary_calls(radvd_router("/var/lib/neutron/external/pids/r1.pid.radvd")),
              ElementsAre("write /run/havip/r1/radvd.conf",
                          "ensure /var/lib/neutron/external/pids"));
}

TEST(RadvdEffect, ConfigFileOfItsOwnStillHasTheRunDirectoryMade) {
  EXPECT_THAT(primary_calls(radvd_router("", "/etc/radvd/r1.conf")),
              ElementsAre("ensure /run/havip/r1"));
  EXPECT_THAT(primary_calls(radvd_router("/srv/pids/r1.pid", "/etc/radvd/r1.conf")),
              ElementsAre("ensure /run/havip/r1", "ensure /srv/pids"));
}

}  // namespace
}  // namespace havip
