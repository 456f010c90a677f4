// The control socket's protocol, shared by havipd and havipctl.
//
// AF_UNIX SOCK_STREAM; the client sends one JSON object per line,
// {"command": "status"}, and reads JSON lines back:
//   status  -> {"ok": true, "status": {...}}           (status_json)
//   metrics -> {"ok": true, "metrics": "<Prometheus text>"}
//   reload  -> {"ok": true, "routers": N} or {"ok": false, "error": "...", "errors": [...]}
//   watch   -> {"ok": true, "watching": true}, then one transition object per line
//              (transition_json) until the client closes the connection
//   drain   -> {"ok": true, "routers": [...], "skipped": [...]}: the routers drained
//              (request: {"command": "drain", "routers": [...]}; none: every router
//              with a track_file, those without are "skipped")
//   undrain -> {"ok": true, "routers": [...]}: the routers given back ("routers"
//              as for drain; none: every drained router)
// Any failure: {"ok": false, "error": "..."}.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>
#include <vector>

#include "core/types.h"

namespace havip::ctl {

using WallTime = std::chrono::system_clock::time_point;

inline constexpr std::size_t kMaxRequest = 4096;  // bytes in one request line
// The longest answer line havipctl reads (and havipd queues for one client:
// ControlServer::kMaxPending). For 10,000 routers whose names are as long as
// the configuration accepts (router 64, namespace 255 characters, every one
// escaped in JSON), `metrics` is 73 MB and `status` 28 MB
// (tests/unit/answer_size_test.cc; a Neutron node's uuid names make a fifth
// of that): the worst case stays under two thirds of 128 MiB.
inline constexpr std::size_t kMaxAnswer = std::size_t{128} << 20;

enum class Command { status, watch, reload, metrics, drain, undrain };
std::string_view command_name(Command c);

struct Request {
  Command command;
  std::vector<std::string> routers;  // drain, undrain: empty for all
};

// One request line (without its newline). Errors say what was wrong.
tl::expected<Request, std::string> parse_request(std::string_view line);
std::string request_line(Command c,
                         const std::vector<std::string>& routers = {});  // with its newline

struct ChildStatus {
  std::string what;           // "radvd", "service haproxy"
  std::optional<int> pid;     // while running
  std::string state;          // idle, checking, running, stopping, backoff
};

struct RouterStatus {
  std::string name, netns, interface;
  Role role = Role::unknown;
  std::optional<WallTime> since;       // the last transition
  std::string reason;                  // of the last transition
  std::optional<double> pending_s;     // a primary waiting out its hold-down: seconds left
  std::vector<ChildStatus> children;   // radvd first, then services
  std::vector<std::string> failing;    // effects waiting for a retry
  std::uint64_t transitions = 0;
  // The keepalived VRRP process: its pid, "down", "unknown" (not looked for
  // yet) or "untracked" (track_speaker = false).
  std::optional<int> speaker_pid;
  std::string speaker = "unknown";
  bool stale_vip = false;
  bool split_brain = false;
  std::string alert;  // the stale VIP or split brain, in words
  std::string peer;   // the host heard advertising as master, if any
  // The track file (daemon/track_files.h): "ok", "failed" or "drained"; empty
  // without a track_file.
  std::string track;
  int track_value = 0;
  std::string track_reason;
  std::vector<std::string> track_effects;  // failed: the effects that did it
  bool drained = false;
  // Routers from keepalived.conf: its vrrp_sync_group, and "FILE:LINE".
  std::string sync_group;
  std::string source;
  // The audit (routers from a keepalived.conf): what differs from the kernel
  // for longer than the grace period, as (kind, what): ("missing", "route
  // default via 203.0.113.1 dev qg-1"), ("held", "address …").
  bool audited = false;
  std::vector<std::pair<std::string, std::string>> audit;
};

struct Status {
  std::string version;
  int pid = 0;
  bool ready = false;
  std::vector<std::string> namespaces;  // watched now ("" = the host's)
  std::vector<RouterStatus> routers;
  // Neutron mode: its [neutron] state_path (havipctl neutron takeover reads
  // it); empty otherwise.
  std::string neutron_state_path;
  bool dry_run = false;  // havipd --dry-run: it changes nothing
};

struct Transition {
  WallTime time;
  std::string router, netns, interface;
  Role from = Role::unknown, to = Role::unknown;
  std::string reason;
};

std::string format_time(WallTime t);  // RFC 3339, UTC, milliseconds
nlohmann::ordered_json status_json(const Status& s);
nlohmann::ordered_json transition_json(const Transition& t);
// An answer line: {"ok": false, "error": message}.
std::string error_line(std::string_view message);
// A JSON value as one line (invalid UTF-8 replaced, never thrown on).
std::string to_line(const nlohmann::ordered_json& j);

// havipctl's table of a status object (as status_json made it); `now` for
// the "since" column's age.
std::string status_table(const nlohmann::ordered_json& status, WallTime now);

}  // namespace havip::ctl
