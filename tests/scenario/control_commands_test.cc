// ControlCommands over a real engine and pipeline (with the recording fakes):
// what havipctl status, metrics and watch answer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/control_commands.h"
#include "scenario/fakes.h"
#include "scenario/scenario.h"

namespace havip::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct NoMonitor final : Namespaces::Monitor {
  int ns_fd() const override { return -1; }
};

struct Rig {
  std::vector<RouterConfig> routers{router("r1", "ns1", "ha-r1", "169.254.0.1/24"),
                                    router("r2", "", "ha-r2", "169.254.0.2/24")};
  Engine engine{routers};
  Journal journal;
  FakeLauncher launcher{journal};
  FakeSysctls sysctls{journal};
  FakeFiles files{journal};
  FakeObserver observer;
  FakeStateQueue* state_files = new FakeStateQueue;
  TimePoint now = TimePoint(std::chrono::hours(1));
  Pipeline pipeline{EffectsContext{launcher, sysctls, files, [this] { return now; }, observer},
                    std::unique_ptr<StateQueue>(state_files)};
  Namespaces namespaces{
      Namespaces::Io{[](const std::string&) { return true; },
                     [](const std::string&, Namespaces::Feed)
                         -> tl::expected<std::unique_ptr<Namespaces::Monitor>, std::string> {
                       return std::make_unique<NoMonitor>();
                     }},
      [](Event&&) {}};
  MonitorCounters counters;
  Metrics metrics;
  bool ready = false;
  std::string state_path;  // Neutron mode's
  std::size_t watchers = 0;
  std::vector<std::string> broadcast;
  std::chrono::system_clock::time_point wall{std::chrono::seconds(1'700'000'000)};
  std::map<std::string, std::string> track_files;  // path -> content
  TrackFiles track{[this](const std::string& path, const std::string& content) {
                     track_files[path] = content;
                     return tl::expected<void, std::string>();
                   },
                   observer};
  ControlCommands commands{
      ControlCommands::Sources{engine, pipeline, namespaces, counters, metrics,
                               [this] { return ready; }, track, [this] { return state_path; },
                               false, nullptr},
      ControlCommands::Watchers{[this] { return watchers; },
                                [this](const std::string& line) { broadcast.push_back(line); }},
      [this] { return wall; }};

  Rig() {
    pipeline.configure(DaemonConfig{}, routers, [](const std::string&) { return Role::unknown; },
                       now);
    namespaces.want(engine.namespaces(), now);
  }
  nlohmann::ordered_json router_status(const std::string& name) {
    auto status = commands.status(now);
    for (const auto& r : status["routers"])
      if (r["name"] == name) return r;
    return {};
  }
};

TEST(ControlCommands, StatusShowsEachRoutersLastTransition) {
  Rig rig;
  RoleChange c{"r1", Role::unknown, Role::backup, "no vip", "ns1", "ha-r1"};
  rig.commands.transition(c);
  rig.commands.transition(c);
  auto status = rig.commands.status(rig.now);
  EXPECT_EQ(status["ready"], false);
  EXPECT_EQ(status["namespaces"], nlohmann::json({"", "ns1"}));
  auto r1 = rig.router_status("r1");
  EXPECT_EQ(r1["reason"], "no vip");
  EXPECT_EQ(r1["transitions"], 2);
  EXPECT_EQ(r1["interface"], "ha-r1");
  EXPECT_FALSE(r1["since"].is_null());
  EXPECT_TRUE(rig.router_status("r2")["since"].is_null());
  rig.ready = true;
  EXPECT_EQ(rig.commands.status(rig.now)["ready"], true);
}

TEST(ControlCommands, StatusSaysNeutronModeAndItsStatePath) {
  Rig rig;
  EXPECT_TRUE(rig.commands.status(rig.now)["neutron"].is_null());
  rig.state_path = "/var/lib/neutron";
  EXPECT_EQ(rig.commands.status(rig.now)["neutron"],
            nlohmann::json({{"state_path", "/var/lib/neutron"}}));
}

TEST(ControlCommands, TransitionsAreSentToWatchersOnlyWhenThereAreAny) {
  Rig rig;
  RoleChange c{"r2", Role::unknown, Role::primary, "vip 169.254.0.2/24 on ha-r2", "", "ha-r2"};
  rig.commands.transition(c);
  EXPECT_THAT(rig.broadcast, IsEmpty());
  rig.watchers = 1;
  rig.commands.transition(c);
  ASSERT_EQ(rig.broadcast.size(), 1u);
  EXPECT_THAT(rig.broadcast[0], HasSubstr("\"router\":\"r2\""));
  EXPECT_THAT(rig.broadcast[0], HasSubstr("\"to\":\"primary\""));
}

TEST(ControlCommands, AStateFileThatFailedIsShownFailingUntilItIsWritten) {
  Rig rig;
  rig.state_files->hold = true;
  rig.pipeline.apply(RoleChange{"r2", Role::unknown, Role::backup, "no vip", "", "ha-r2"},
                     rig.now);
  rig.state_files->complete("r2", 1, "No space left on device");
  rig.pipeline.written(rig.now);
  EXPECT_EQ(rig.router_status("r2")["failing"], nlohmann::json({"state_file"}));
  EXPECT_THAT(rig.observer.take(),
              ElementsAre("transition r2 unknown -> backup",
                          "failed r2 state_file: cannot write state file: No space left on "
                          "device; retrying in 100ms"));
  rig.now += Millis(100);
  rig.pipeline.tick(rig.now);  // the retry
  rig.state_files->complete("r2", 2);
  rig.pipeline.written(rig.now);
  EXPECT_EQ(rig.router_status("r2")["failing"], nlohmann::json::array());
}

TEST(ControlCommands, MetricsCountWhatTheObserversAreTold) {
  Rig rig;
  rig.metrics.transition(RoleChange{"r1", Role::unknown, Role::primary, "", "", ""});
  rig.counters.messages = 7;
  std::string text = rig.commands.metrics();
  EXPECT_THAT(text, HasSubstr("havip_transitions_total{router=\"r1\",role=\"primary\"} 1"));
  EXPECT_THAT(text, HasSubstr("havip_namespaces_watched 2"));
}

TEST(ControlCommands, ARemovedRouterIsForgotten) {
  Rig rig;
  rig.commands.transition(RoleChange{"r1", Role::unknown, Role::backup, "x", "ns1", "ha-r1"});
  rig.commands.keep_only({"r2"});
  EXPECT_EQ(rig.router_status("r1")["transitions"], 0);
}

}  // namespace
}  // namespace havip::testing
