// havipctl neutron takeover / release: hands a network node's HA routers from
// the per-router `neutron-keepalived-state-change` monitors to havipd, and
// back (docs/NEUTRON.md, "Migrating a network node").
//
// takeover: havipd must be ready in Neutron mode and decide every router of
// <state_path>/ha_confs; then the monitor is diverted (dpkg-divert --local
// --rename, so that an upgrade of neutron-common keeps it aside), havip's shim
// is linked in its place, the running monitors are ended (SIGTERM, SIGKILL
// after 10 s, as the agent does), the L3 agent's process monitor respawns
// them as shims, and every state file is checked against havipd's role.
// release: the reverse: the link removed, the diversion removed (the real
// monitor back in place), the shims ended, the agent respawns real monitors.
// Both may run again at any point: what is already done is said and skipped.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace havip::ctl::neutron {

// A per-router monitor's arguments, from its /proc/PID/cmdline (NUL-separated
// argv, or one line when Python's setproctitle rewrote it as "python3
// (python3 /usr/bin/neutron-keepalived-state-change --router_id=…)").
struct MonitorArgs {
  std::string router_id;
  std::string pid_file;
  bool named = false;  // a word of it is …/neutron-keepalived-state-change
};
std::optional<MonitorArgs> monitor_args(std::string_view cmdline);

struct Paths {
  std::string monitor = "/usr/bin/neutron-keepalived-state-change";
  std::string divert_to = "/usr/bin/neutron-keepalived-state-change.havip-orig";
  std::string shim;  // the installed shim (havip_build.h)
  std::string proc = "/proc";
};

struct Options {
  // havipd's status object (ctl::status_json); throws when havipd cannot be
  // asked. Empty for release: havipd is not needed to give the routers back.
  std::function<nlohmann::ordered_json()> status;
  std::optional<std::string> state_path;  // --state-path; else havipd's
  bool dry_run = false;
  std::chrono::milliseconds wait{std::chrono::seconds(90)};  // for the agent's respawns
  std::chrono::milliseconds term_timeout{std::chrono::seconds(10)};
  Paths paths;
};

// Whether the monitor's path is the link to the shim a takeover makes
// (havipd checks it as it stops: the routers then have no other monitor).
bool shim_in_place(const Paths& p);

// Exit codes: 0 done (or already done), 1 refused or failed (said on
// stderr); havipd unreachable is thrown by `status`.
int takeover(const Options& o, std::ostream& out, std::ostream& err);
int release(const Options& o, std::ostream& out, std::ostream& err);

}  // namespace havip::ctl::neutron
