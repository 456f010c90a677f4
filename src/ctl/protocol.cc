#include "ctl/protocol.h"

#include <algorithm>
#include <cmath>

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace havip::ctl {

namespace {

using json = nlohmann::ordered_json;

constexpr std::pair<Command, std::string_view> kCommands[] = {
    {Command::status, "status"},   {Command::watch, "watch"}, {Command::reload, "reload"},
    {Command::metrics, "metrics"}, {Command::drain, "drain"}, {Command::undrain, "undrain"},
};

// "3m12s", "2h05m", "4d03h": the age of a transition at a glance.
std::string age(double seconds) {
  if (seconds < 0) seconds = 0;
  auto s = static_cast<long long>(seconds);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
  return fmt::format("{}d{:02}h", s / 86400, s % 86400 / 3600);
}

std::string str(const json& j, std::string_view key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// "-" (no track_file), "ok", "failed (radvd)", "drained".
std::string track_cell(const json& r) {
  auto t = r.find("track");
  if (t == r.end() || !t->is_object()) return "-";
  std::string state = str(*t, "state");
  if (state.empty()) return "-";
  std::string effects;
  if (auto e = t->find("effects"); e != t->end() && e->is_array())
    for (const auto& x : *e)
      if (x.is_string()) effects += (effects.empty() ? "" : ",") + x.get<std::string>();
  return state == "failed" && !effects.empty() ? state + " (" + effects + ")" : state;
}

}  // namespace

std::string_view command_name(Command c) {
  for (const auto& [cmd, name] : kCommands)
    if (cmd == c) return name;
  return "?";
}

tl::expected<Request, std::string> parse_request(std::string_view line) {
  if (line.size() > kMaxRequest)
    return tl::unexpected(fmt::format("request longer than {} bytes", kMaxRequest));
  json j = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return tl::unexpected(std::string("request is not valid JSON"));
  if (!j.is_object()) return tl::unexpected(std::string("request must be a JSON object"));
  auto it = j.find("command");
  if (it == j.end() || !it->is_string())
    return tl::unexpected(std::string("request has no \"command\" string"));
  const auto& name = it->get_ref<const std::string&>();
  for (const auto& [cmd, n] : kCommands) {
    if (n != name) continue;
    Request req{cmd, {}};
    auto routers = j.find("routers");
    if (routers == j.end()) return req;
    if (cmd != Command::drain && cmd != Command::undrain)
      return tl::unexpected(fmt::format("\"routers\" is only for drain and undrain, not {}", n));
    if (!routers->is_array())
      return tl::unexpected(std::string("\"routers\" must be an array of router names"));
    for (const auto& r : *routers) {
      if (!r.is_string())
        return tl::unexpected(std::string("\"routers\" must be an array of router names"));
      req.routers.push_back(r.get<std::string>());
    }
    return req;
  }
  std::string shown = name.size() > 64 ? name.substr(0, 64) + "..." : name;
  return tl::unexpected(
      fmt::format("unknown command {} (known: status, watch, reload, metrics, "
                  "drain, undrain)",
                  json(shown).dump(-1, ' ', false, json::error_handler_t::replace)));
}

std::string request_line(Command c, const std::vector<std::string>& routers) {
  json j{{"command", command_name(c)}};
  if (!routers.empty()) j["routers"] = routers;
  return to_line(j);
}

std::string format_time(WallTime t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", tm, ms % 1000);
}

namespace {

// null for a router that is not audited, else its findings.
json audit_json(const RouterStatus& r) {
  if (!r.audited) return nullptr;
  json out = json::array();
  for (const auto& [kind, what] : r.audit) out.push_back({{"finding", kind}, {"what", what}});
  return out;
}

}  // namespace

json status_json(const Status& s) {
  json routers = json::array();
  for (const auto& r : s.routers) {
    json children = json::array();
    for (const auto& c : r.children)
      children.push_back({{"what", c.what},
                          {"pid", c.pid ? json(*c.pid) : json(nullptr)},
                          {"state", c.state}});
    routers.push_back({{"name", r.name},
                       {"namespace", r.netns},
                       {"interface", r.interface},
                       {"role", role_name(r.role)},
                       {"since", r.since ? json(format_time(*r.since)) : json(nullptr)},
                       {"reason", r.reason},
                       {"pending_s", r.pending_s ? json(*r.pending_s) : json(nullptr)},
                       {"children", std::move(children)},
                       {"failing", r.failing},
                       {"transitions", r.transitions},
                       {"speaker", r.speaker_pid ? json(*r.speaker_pid) : json(r.speaker)},
                       {"stale_vip", r.stale_vip},
                       {"split_brain", r.split_brain},
                       {"alert", r.alert.empty() ? json(nullptr) : json(r.alert)},
                       {"peer", r.peer.empty() ? json(nullptr) : json(r.peer)},
                       {"track", r.track.empty() ? json(nullptr)
                                                 : json{{"state", r.track},
                                                        {"value", r.track_value},
                                                        {"reason", r.track_reason},
                                                        {"effects", r.track_effects}}},
                       {"drained", r.drained},
                       {"sync_group", r.sync_group.empty() ? json(nullptr) : json(r.sync_group)},
                       {"source", r.source.empty() ? json(nullptr) : json(r.source)},
                       {"audit", audit_json(r)}});
  }
  return {{"version", s.version},
          {"pid", s.pid},
          {"ready", s.ready},
          {"dry_run", s.dry_run},
          {"namespaces", s.namespaces},
          {"neutron", s.neutron_state_path.empty() ? json(nullptr)
                                                   : json{{"state_path", s.neutron_state_path}}},
          {"routers", std::move(routers)}};
}

json transition_json(const Transition& t) {
  return {{"time", format_time(t.time)}, {"router", t.router},     {"namespace", t.netns},
          {"interface", t.interface},    {"from", role_name(t.from)}, {"to", role_name(t.to)},
          {"reason", t.reason}};
}

std::string error_line(std::string_view message) {
  return to_line(json{{"ok", false}, {"error", message}});
}

std::string to_line(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string status_table(const json& status, WallTime now) {
  // GROUP (keepalived's vrrp_sync_group) only when a router is in one.
  constexpr std::size_t kColumns = 11;
  struct Row {
    std::array<std::string, kColumns> cells;
  };
  std::vector<Row> rows;
  rows.push_back({{"ROUTER", "NAMESPACE", "ROLE", "SPEAKER", "SINCE", "REASON", "PIDS", "FAILING",
                   "TRACK", "ALERT", "GROUP"}});
  bool groups = false;
  const json empty = json::array();
  const json& routers = status.contains("routers") ? status["routers"] : empty;
  for (const auto& r : routers) {
    std::string role = str(r, "role");
    if (auto p = r.find("pending_s"); p != r.end() && p->is_number())
      role += fmt::format(" (primary in {:.1f}s)", p->get<double>());
    std::string since = "-";
    if (auto t = str(r, "since"); !t.empty()) {
      // Parsed back from our own format: seconds since the epoch. Whatever the
      // socket sent: fields out of range are shown as they are, and the age is
      // computed in double seconds (system_clock's nanoseconds overflow outside
      // 1678..2262).
      std::tm tm{};
      int ms = 0;
      if (std::sscanf(t.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                      &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) == 7 &&
          tm.tm_year >= 1 && tm.tm_year <= 9999 && tm.tm_mon >= 1 && tm.tm_mon <= 12 &&
          tm.tm_mday >= 1 && tm.tm_mday <= 31 && tm.tm_hour >= 0 && tm.tm_hour <= 23 &&
          tm.tm_min >= 0 && tm.tm_min <= 59 && tm.tm_sec >= 0 && tm.tm_sec <= 60 && ms >= 0 &&
          ms <= 999) {
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        double then = static_cast<double>(timegm(&tm)) + ms / 1000.0;
        since = fmt::format(
            "{} ago", age(std::chrono::duration<double>(now.time_since_epoch()).count() - then));
      } else {
        since = t;
      }
    }
    std::string pids;
    if (auto c = r.find("children"); c != r.end() && c->is_array())
      for (const auto& child : *c) {
        if (!pids.empty()) pids += ' ';
        std::string what = str(child, "what");
        if (auto sp = what.find(' '); sp != std::string::npos) what = what.substr(sp + 1);
        auto pid = child.find("pid");
        pids += what + "=" +
                (pid != child.end() && pid->is_number_integer() ? std::to_string(pid->get<int>())
                                                                : str(child, "state"));
      }
    std::string failing;
    if (auto f = r.find("failing"); f != r.end() && f->is_array())
      for (const auto& e : *f) {
        if (!failing.empty()) failing += ',';
        failing += e.is_string() ? e.get<std::string>() : e.dump();
      }
    std::string ns = str(r, "namespace");
    std::string speaker = "-";
    if (auto sp = r.find("speaker"); sp != r.end())
      speaker = sp->is_number_integer() ? "pid " + std::to_string(sp->get<int>())
                : sp->is_string()       ? sp->get<std::string>()
                                        : "-";
    std::string alert;
    auto flag = [&](const char* key, const char* word) {
      if (auto f = r.find(key); f != r.end() && f->is_boolean() && f->get<bool>())
        alert += (alert.empty() ? "" : ",") + std::string(word);
    };
    flag("stale_vip", "stale-vip");
    flag("split_brain", "split-brain");
    if (auto a = r.find("audit"); a != r.end() && a->is_array() && !a->empty())
      alert += (alert.empty() ? "" : ",") + fmt::format("audit:{}", a->size());
    rows.push_back(
        {{str(r, "name"), ns.empty() ? "(host)" : ns, role, speaker, since, str(r, "reason"),
          pids.empty() ? "-" : pids, failing.empty() ? "-" : failing, track_cell(r),
          alert.empty() ? "-" : alert, str(r, "sync_group").empty() ? "-" : str(r, "sync_group")}});
    groups = groups || !str(r, "sync_group").empty();
  }
  const std::size_t columns = groups ? kColumns : kColumns - 1;
  std::array<std::size_t, kColumns> width{};
  for (const auto& row : rows)
    for (std::size_t i = 0; i < columns; ++i) width[i] = std::max(width[i], row.cells[i].size());
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < columns; ++i) {
      line += row.cells[i];
      if (i + 1 < columns) line += std::string(width[i] - row.cells[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
  }
  return out;
}

}  // namespace havip::ctl
