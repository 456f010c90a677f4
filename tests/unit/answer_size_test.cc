// The control socket's answers for 10,000 routers fit every size limit on
// both sides: havipd's kMaxPending (what it queues for one client) and
// havipctl's kMaxAnswer (the longest line it reads). The answers are built
// through the functions havipd uses (ctl::status_json, Metrics::render,
// ctl::to_line) with every name at the longest the configuration accepts, so
// the figures in control_server.h and protocol.h come from here.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "ctl/protocol.h"
#include "daemon/control_server.h"
#include "report/metrics.h"

namespace havip {
namespace {

using json = nlohmann::ordered_json;

constexpr std::size_t kRouters = 10'000;
// What the configuration accepts at most (config_parse.cc): router names 64
// characters, namespace names 255, interface names 15.
constexpr std::size_t kNameLen = 64, kNetnsLen = 255, kIfnameLen = 15;

// Names at the maximum length, distinct per router; `"` and `\` in the
// namespace (allowed there) cost double once escaped.
std::string padded(std::string_view prefix, std::size_t i, std::size_t len, char fill) {
  std::string s = std::string(prefix) + std::to_string(i);
  s.resize(len, fill);
  return s;
}
std::string router_name(std::size_t i) { return padded("r", i, kNameLen, 'x'); }
std::string netns_name(std::size_t i) { return padded("ns\"\\", i, kNetnsLen, '"'); }

// The longest reason havipd writes: a namespace gone, with the error.
std::string reason(std::size_t i) {
  return "namespace " + netns_name(i) + " gone: cannot watch any more: Too many open files";
}

ctl::Status big_status() {
  ctl::Status s;
  s.version = "1.0.0";
  s.pid = 4'000'000;
  s.ready = true;
  auto now = std::chrono::system_clock::now();
  for (std::size_t i = 0; i < kRouters; ++i) {
    s.namespaces.push_back(netns_name(i));
    ctl::RouterStatus r;
    r.name = router_name(i);
    r.netns = netns_name(i);
    r.interface = std::string(kIfnameLen, 'i');
    r.role = Role::primary;
    r.since = now;
    r.reason = reason(i);
    r.pending_s = 1234.5678901234;
    r.children = {{"radvd", 4'000'000, "running"},
                  {"service haproxy-" + std::string(48, 's'), 4'000'001, "running"},
                  {"service keepalived-" + std::string(48, 's'), std::nullopt, "backoff"}};
    r.failing = {"state_file", "sysctls", "radvd", "track_file"};
    r.transitions = 18'446'744'073'709'551'615ULL;
    r.speaker = "unknown";
    r.speaker_pid = 4'000'000;
    r.stale_vip = r.split_brain = true;
    r.alert = "vip 169.254.255.255/24 on ha-" + std::string(12, 'x') +
              " held although keepalived (pid 4000000) exited; no other host advertises as "
              "master, so it is kept";
    r.peer = "fd00:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    // The longest track reason: every effect that can fail, and the longest grace.
    r.track = "failed";
    r.track_value = -2'147'483'647;
    r.track_effects = {"sysctls", "radvd", "service haproxy-" + std::string(48, 's'),
                       "service keepalived-" + std::string(48, 's')};
    r.track_reason = "sysctls, radvd, service haproxy-" + std::string(48, 's') +
                     ", service keepalived-" + std::string(48, 's') +
                     " failing for 3599.999 s on the primary";
    r.drained = true;
    s.routers.push_back(std::move(r));
  }
  return s;
}

std::string big_metrics() {
  Metrics m;
  MetricsInput in;
  for (std::size_t i = 0; i < kRouters; ++i) {
    std::string name = router_name(i);
    MetricsInput::Router r;
    r.name = name;
    r.netns = netns_name(i);
    r.role = Role::primary;
    r.role_since = 1.8e9;
    r.speaker_up = true;
    r.failing = {"state_file", "sysctls", "radvd", "track_file"};  // all that can be failing now
    r.drained = r.track_failed = true;
    in.routers.push_back(std::move(r));
    for (Role role : {Role::primary, Role::backup, Role::fault, Role::unknown})
      m.transition(RoleChange{name, Role::unknown, role, "", "", ""});
    for (const char* effect : {"state_file", "sysctls", "radvd", "service", "hook", "notify"})
      m.effect_failed({name, "", effect, ""});
    for (const char* what : {"radvd", "service haproxy-ssssssssssssssss",
                             "service keepalived-sssssssssssssss"})
      m.child_exited({name, "", what, "", false, ""});
  }
  in.namespaces_watched = kRouters;
  m.latency(std::chrono::milliseconds(3));
  return m.render(in, "1.0.0");
}

// Two thirds of the limit at most: room for what this worst case does not
// foresee (metrics: 73 MB, since the keepalived gauges, the fault role and the track gauges).
void expect_fits(std::string_view what, std::size_t size) {
  std::printf("%s for %zu routers: %zu bytes\n", std::string(what).c_str(), kRouters, size);
  EXPECT_LE(size * 3, ctl::kMaxAnswer * 2) << what;
  EXPECT_LE(size * 3, ControlServer::kMaxPending * 2) << what;
}

TEST(AnswerSize, StatusFor10000RoutersFits) {
  std::string line = ctl::to_line({{"ok", true}, {"status", ctl::status_json(big_status())}});
  expect_fits("status answer", line.size());
  // havipctl's own output: parsed back, then the table and --json.
  json answer = json::parse(line);
  std::string table = ctl::status_table(answer["status"], std::chrono::system_clock::now());
  std::string pretty = answer["status"].dump(2);
  std::printf("status table: %zu bytes, status --json: %zu bytes\n", table.size(), pretty.size());
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), static_cast<long>(kRouters + 1));
}

TEST(AnswerSize, MetricsFor10000RoutersFit) {
  std::string text = big_metrics();
  std::string line = ctl::to_line({{"ok", true}, {"metrics", text}});
  std::printf("metrics text (the textfile): %zu bytes\n", text.size());
  expect_fits("metrics answer", line.size());
}

TEST(AnswerSize, ATransitionLineIsSmall) {
  std::string line = ctl::to_line(ctl::transition_json(
      {std::chrono::system_clock::now(), router_name(1), netns_name(1),
       std::string(kIfnameLen, 'i'), Role::backup, Role::primary, reason(1)}));
  // A mass failover of every router fits the watch backlog many times over.
  EXPECT_LE(line.size() * kRouters * 4, ControlServer::kMaxPending);
}

}  // namespace
}  // namespace havip
