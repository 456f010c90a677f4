// The control socket protocol: request parsing (hostile input included),
// answer objects, havipctl's table.
#include "ctl/protocol.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace havip::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::ordered_json;

WallTime at(long long unix_ms) {
  return WallTime(std::chrono::milliseconds(unix_ms));
}

TEST(Protocol, ParsesEachCommand) {
  for (auto c : {Command::status, Command::watch, Command::reload, Command::metrics, Command::drain,
                 Command::undrain}) {
    std::string line = request_line(c);
    ASSERT_EQ(line.back(), '\n');
    line.pop_back();
    auto r = parse_request(line);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->command, c);
  }
  EXPECT_TRUE(parse_request(R"({"command": "status", "extra": [1, 2]})"));
}

TEST(Protocol, DrainAndUndrainCarryTheirRouters) {
  std::string line = request_line(Command::drain, {"r1", "r2"});
  EXPECT_EQ(line, "{\"command\":\"drain\",\"routers\":[\"r1\",\"r2\"]}\n");
  line.pop_back();
  auto r = parse_request(line);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->command, Command::drain);
  EXPECT_EQ(r->routers, (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(request_line(Command::undrain), "{\"command\":\"undrain\"}\n");
  EXPECT_TRUE(parse_request(R"({"command": "undrain"})")->routers.empty());
  EXPECT_EQ(parse_request(R"({"command": "drain", "routers": "r1"})").error(),
            "\"routers\" must be an array of router names");
  EXPECT_EQ(parse_request(R"({"command": "drain", "routers": ["r1", 2]})").error(),
            "\"routers\" must be an array of router names");
  EXPECT_EQ(parse_request(R"({"command": "status", "routers": []})").error(),
            "\"routers\" is only for drain and undrain, not status");
}

TEST(Protocol, RejectsBadRequestsWithAReason) {
  EXPECT_EQ(parse_request("").error(), "request is not valid JSON");
  EXPECT_EQ(parse_request("status").error(), "request is not valid JSON");
  EXPECT_EQ(parse_request("{\"command\": ").error(), "request is not valid JSON");
  EXPECT_EQ(parse_request("[1]").error(), "request must be a JSON object");
  EXPECT_EQ(parse_request("{}").error(), "request has no \"command\" string");
  EXPECT_EQ(parse_request(R"({"command": 1})").error(), "request has no \"command\" string");
  EXPECT_THAT(parse_request(R"({"command": "shutdown"})").error(),
              HasSubstr("unknown command \"shutdown\""));
  EXPECT_THAT(parse_request(std::string(kMaxRequest + 1, ' ')).error(), HasSubstr("longer than"));
}

TEST(Protocol, UnknownCommandIsShownSafely) {
  // Long and non-UTF-8 names are cut and replaced, never echoed raw.
  std::string name(200, 'x');
  auto e = parse_request(R"({"command": ")" + name + "\"}").error();
  EXPECT_LT(e.size(), 150u);
  auto bad = parse_request("{\"command\": \"\xff\xfe\"}");
  EXPECT_FALSE(bad);  // nlohmann rejects invalid UTF-8 in the input
}

TEST(Protocol, TimesAreRfc3339UtcWithMilliseconds) {
  EXPECT_EQ(format_time(at(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_time(at(1795253945123)), "2026-11-21T09:39:05.123Z");
}

TEST(Protocol, TransitionObject) {
  Transition t{at(1795253945123), "edge1", "ns1", "ha-1", Role::backup, Role::primary, "vip up"};
  EXPECT_EQ(to_line(transition_json(t)),
            R"({"time":"2026-11-21T09:39:05.123Z","router":"edge1","namespace":"ns1",)"
            R"("interface":"ha-1","from":"backup","to":"primary","reason":"vip up"})"
            "\n");
}

TEST(Protocol, LinesNeverBreakOnBadUtf8) {
  Transition t{at(0), "r\xff", "", "", Role::unknown, Role::backup, "x\ny"};
  std::string line = to_line(transition_json(t));
  EXPECT_EQ(line.find('\n'), line.size() - 1);  // one line: the newline is escaped
  EXPECT_THAT(line, HasSubstr("\\n"));
}

Status sample_status() {
  Status s;
  s.version = "0.1.0";
  s.pid = 42;
  s.ready = true;
  s.namespaces = {"ns1"};
  RouterStatus a;
  a.name = "edge1";
  a.netns = "ns1";
  a.interface = "ha-1";
  a.role = Role::primary;
  a.since = at(1795253945123);
  a.reason = "vip up";
  a.children = {{"radvd", 1234, "running"}, {"service haproxy", std::nullopt, "backoff"}};
  a.failing = {"sysctls"};
  a.transitions = 3;
  RouterStatus b;
  b.name = "edge2";
  b.role = Role::backup;
  b.pending_s = 1.5;
  a.track = "failed";
  a.track_value = -254;
  a.track_reason = "radvd failing for 10 s on the primary";
  a.track_effects = {"radvd"};
  b.track = "drained";
  b.track_value = -254;
  b.track_reason = "drained";
  b.drained = true;
  s.routers = {a, b};
  return s;
}

TEST(Protocol, StatusObject) {
  json j = status_json(sample_status());
  EXPECT_EQ(j["pid"], 42);
  EXPECT_EQ(j["ready"], true);
  const auto& r = j["routers"][0];
  EXPECT_EQ(r["name"], "edge1");
  EXPECT_EQ(r["role"], "primary");
  EXPECT_EQ(r["since"], "2026-11-21T09:39:05.123Z");
  EXPECT_EQ(r["children"][0]["pid"], 1234);
  EXPECT_TRUE(r["children"][1]["pid"].is_null());
  EXPECT_EQ(r["failing"][0], "sysctls");
  EXPECT_EQ(r["transitions"], 3);
  EXPECT_TRUE(j["routers"][1]["since"].is_null());
  EXPECT_EQ(j["routers"][1]["pending_s"], 1.5);
  EXPECT_EQ(r["track"], json::parse(R"({"state": "failed", "value": -254, "reason": )"
                                    R"("radvd failing for 10 s on the primary", )"
                                    R"("effects": ["radvd"]})"));
  EXPECT_EQ(r["drained"], false);
  EXPECT_EQ(j["routers"][1]["track"]["state"], "drained");
  EXPECT_EQ(j["routers"][1]["drained"], true);
  Status none = sample_status();
  none.routers[0].track.clear();
  EXPECT_TRUE(status_json(none)["routers"][0]["track"].is_null());  // no track_file
  EXPECT_TRUE(j["neutron"].is_null());
  EXPECT_EQ(j["dry_run"], false);
  Status neutron = sample_status();
  neutron.neutron_state_path = "/var/lib/neutron";
  EXPECT_EQ(status_json(neutron)["neutron"]["state_path"], "/var/lib/neutron");
}

TEST(Protocol, StatusTable) {
  std::string table = status_table(status_json(sample_status()), at(1795253945123 + 192000));
  EXPECT_EQ(table,
            "ROUTER  NAMESPACE  ROLE                      SPEAKER  SINCE      REASON  PIDS"
            "                        FAILING  TRACK           ALERT\n"
            "edge1   ns1        primary                   unknown  3m12s ago  vip up  radvd=1234 "
            "haproxy=backoff  sysctls  failed (radvd)  -\n"
            "edge2   (host)     backup (primary in 1.5s)  unknown  -                  -"
            "                           -        drained         -\n");
}

TEST(Protocol, SpeakerAndAlerts) {
  Status s = sample_status();
  s.routers[0].role = Role::fault;
  s.routers[0].speaker = "down";
  s.routers[0].stale_vip = true;
  s.routers[0].alert = "vip held although keepalived exited";
  s.routers[1].speaker_pid = 4321;
  s.routers[1].split_brain = true;
  s.routers[1].peer = "10.0.0.2";
  json j = status_json(s);
  EXPECT_EQ(j["routers"][0]["speaker"], "down");
  EXPECT_EQ(j["routers"][0]["stale_vip"], true);
  EXPECT_EQ(j["routers"][0]["alert"], "vip held although keepalived exited");
  EXPECT_TRUE(j["routers"][0]["peer"].is_null());
  EXPECT_EQ(j["routers"][1]["speaker"], 4321);
  EXPECT_EQ(j["routers"][1]["peer"], "10.0.0.2");
  std::string table = status_table(j, at(0));
  EXPECT_THAT(table, HasSubstr("fault  "));
  EXPECT_THAT(table, HasSubstr("down "));
  EXPECT_THAT(table, HasSubstr("stale-vip\n"));
  EXPECT_THAT(table, HasSubstr("pid 4321"));
  EXPECT_THAT(table, HasSubstr("split-brain\n"));
}

TEST(Protocol, SyncGroupColumnOnlyWhenARouterIsInOne) {
  Status s = sample_status();
  s.routers[1].sync_group = "G1";
  s.routers[1].source = "/etc/keepalived/keepalived.conf:12";
  json j = status_json(s);
  EXPECT_TRUE(j["routers"][0]["sync_group"].is_null());
  EXPECT_TRUE(j["routers"][0]["source"].is_null());
  EXPECT_EQ(j["routers"][1]["sync_group"], "G1");
  EXPECT_EQ(j["routers"][1]["source"], "/etc/keepalived/keepalived.conf:12");
  std::string table = status_table(j, at(0));
  EXPECT_THAT(table, HasSubstr("ALERT  GROUP\n"));
  EXPECT_THAT(table, HasSubstr("-      -\n"));
  EXPECT_THAT(table, HasSubstr("-      G1\n"));
  EXPECT_THAT(status_table(status_json(sample_status()), at(0)), Not(HasSubstr("GROUP")));
}

TEST(Protocol, StatusTableToleratesMissingFields) {
  json j = json::parse(R"({"routers": [{"name": "x"}, 7]})");
  std::string table = status_table(j, at(0));
  EXPECT_THAT(table, HasSubstr("x "));
  EXPECT_EQ(status_table(json::object(), at(0)).find('\n'), table.find('\n'));
}

}  // namespace
}  // namespace havip::ctl
