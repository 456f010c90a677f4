// havipctl: asks a running havipd over its control socket (ctl/protocol.h).
//
// Exit codes: 0 ok; 1 havipd answered with an error (a rejected reload), or
// a drained router is still primary here after the drain's timeout, or a
// neutron takeover/release refused or failed; 2 usage; 3 havipd cannot be
// reached (not running, permission, timeout).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/unique_fd.h"
#include "ctl/neutron_switch.h"
#include "ctl/protocol.h"
#include "havip_build.h"

namespace {

using havip::UniqueFd;
using json = nlohmann::ordered_json;
namespace ctl = havip::ctl;

constexpr int kExitAnswer = 1;
constexpr int kExitUnreachable = 3;

struct Failure {
  int code;
  std::string message;
};

std::string group_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "?";
  if (const group* g = ::getgrgid(st.st_gid)) return g->gr_name;
  return std::to_string(st.st_gid);
}

UniqueFd connect_to(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof(sa.sun_path))
    throw Failure{2, fmt::format("socket path too long: {}", path)};
  std::memcpy(sa.sun_path, path.data(), path.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw Failure{kExitUnreachable, fmt::format("socket: {}", std::strerror(errno))};
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) == 0) return fd;
  int e = errno;
  switch (e) {
    case ENOENT:
      throw Failure{kExitUnreachable,
                    fmt::format("havipd is not running: there is no control socket at {} (is the "
                                "havipd service started? is [daemon] control_socket elsewhere? "
                                "see --socket)",
                                path)};
    case ECONNREFUSED:
      throw Failure{kExitUnreachable,
                    fmt::format("havipd is not running: nothing listens on {} (left by a havipd "
                                "that stopped)",
                                path)};
    case EACCES:
    case EPERM:
      throw Failure{kExitUnreachable,
                    fmt::format("permission denied on {}: run as root or as a member of group "
                                "'{}' ([daemon] control_socket_group)",
                                path, group_of(path))};
    default:
      throw Failure{kExitUnreachable,
                    fmt::format("cannot connect to {}: {}", path, std::strerror(e))};
  }
}

void send_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw Failure{kExitUnreachable, fmt::format("cannot send to havipd: {}", std::strerror(errno))};
    done += static_cast<std::size_t>(n);
  }
}

// Reads lines of at most ctl::kMaxAnswer bytes; `timeout` (none: wait
// forever) applies to each line.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  std::optional<std::string> next(std::optional<std::chrono::milliseconds> timeout) {
    auto deadline = timeout ? std::optional(std::chrono::steady_clock::now() + *timeout)
                            : std::nullopt;
    for (;;) {
      // Only what arrived since the last look is searched: a status of
      // 10,000 routers comes in hundreds of reads.
      if (auto nl = buf_.find('\n', scanned_); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        scanned_ = 0;
        return line;
      }
      scanned_ = buf_.size();
      if (buf_.size() > ctl::kMaxAnswer)
        throw Failure{kExitUnreachable,
                      fmt::format("havipd's answer is longer than {} bytes; not reading it",
                                  ctl::kMaxAnswer)};
      int wait = -1;
      if (deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            *deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
          throw Failure{kExitUnreachable, "havipd did not answer in time (see --timeout)"};
        wait = static_cast<int>(left.count());
      }
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, wait);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0)
        throw Failure{kExitUnreachable, fmt::format("poll: {}", std::strerror(errno))};
      if (r == 0) continue;  // the deadline check above reports it
      char chunk[65536];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        throw Failure{kExitUnreachable,
                      fmt::format("cannot read from havipd: {}", std::strerror(errno))};
      if (n == 0) return std::nullopt;
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  std::string buf_;
  std::size_t scanned_ = 0;  // buf_[0, scanned_) holds no newline
};

json parse_answer(const std::optional<std::string>& line) {
  if (!line) throw Failure{kExitUnreachable, "havipd closed the connection without answering"};
  json j = json::parse(*line, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw Failure{kExitUnreachable, "havipd's answer is not a JSON object"};
  return j;
}

json ask(const std::string& socket, ctl::Command command, std::chrono::milliseconds timeout,
         const std::vector<std::string>& routers = {}) {
  UniqueFd fd = connect_to(socket);
  send_all(fd.get(), ctl::request_line(command, routers));
  LineReader reader(fd.get());
  return parse_answer(reader.next(timeout));
}

std::string error_of(const json& answer) {
  auto it = answer.find("error");
  return it != answer.end() && it->is_string() ? it->get<std::string>() : "havipd said no";
}

std::vector<std::string> strings(const json& answer, const char* key) {
  std::vector<std::string> out;
  if (auto it = answer.find(key); it != answer.end() && it->is_array())
    for (const auto& x : *it)
      if (x.is_string()) out.push_back(x.get<std::string>());
  return out;
}

// Each router's role, from `status`.
std::map<std::string, std::string> roles(const std::string& socket,
                                         std::chrono::milliseconds timeout) {
  json answer = ask(socket, ctl::Command::status, timeout);
  if (!answer.value("ok", false)) throw Failure{kExitAnswer, error_of(answer)};
  std::map<std::string, std::string> out;
  const json& status = answer["status"];
  if (auto rs = status.find("routers"); rs != status.end() && rs->is_array())
    for (const auto& r : *rs)
      if (r.is_object() && r.contains("name") && r["name"].is_string())
        out[r["name"].get<std::string>()] = r.value("role", std::string("unknown"));
  return out;
}

std::string table(const std::vector<std::array<std::string, 3>>& rows) {
  std::array<std::size_t, 3> width{};
  for (const auto& row : rows)
    for (std::size_t i = 0; i < 3; ++i) width[i] = std::max(width[i], row[i].size());
  std::string out;
  for (const auto& row : rows)
    out += fmt::format("{:<{}}  {:<{}}  {}\n", row[0], width[0], row[1], width[1], row[2]);
  return out;
}

// havipctl drain: asks, then waits until no drained router is primary here
// (its VIP gone: keepalived handed it to a peer) or `wait` has passed.
int drain(const std::string& socket, const std::vector<std::string>& names,
          std::chrono::milliseconds timeout, std::chrono::milliseconds wait) {
  auto before = roles(socket, timeout);
  json answer = ask(socket, ctl::Command::drain, timeout, names);
  if (!answer.value("ok", false)) throw Failure{kExitAnswer, error_of(answer)};
  auto drained = strings(answer, "routers");
  for (const auto& s : strings(answer, "skipped"))
    std::cerr << "havipctl: " << s << " not drained: it has no track_file\n";
  auto start = std::chrono::steady_clock::now();
  auto now = roles(socket, timeout);
  auto primary = [&](const std::string& r) { return now.count(r) && now[r] == "primary"; };
  for (;;) {
    bool any = std::any_of(drained.begin(), drained.end(), primary);
    if (!any || std::chrono::steady_clock::now() - start >= wait) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    now = roles(socket, timeout);
  }
  auto waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<std::array<std::string, 3>> rows{{"ROUTER", "ROLE", "RESULT"}};
  bool stuck = false;
  for (const auto& r : drained) {
    std::string role = now.count(r) ? now[r] : "unknown";
    std::string result;
    if (primary(r)) {
      result = fmt::format("still primary after {:.0f}s", waited);
      stuck = true;
    } else if (before.count(r) && before[r] == "primary") {
      result = "moved";
    } else {
      result = "not primary here";
    }
    rows.push_back({r, role, result});
  }
  std::cout << table(rows);
  std::cout.flush();
  return stuck ? kExitAnswer : 0;
}

int run(const std::string& socket, const std::string& command, bool as_json,
        std::chrono::milliseconds timeout, const std::vector<std::string>& routers,
        std::chrono::milliseconds drain_wait) {
  if (command == "drain") return drain(socket, routers, timeout, drain_wait);
  if (command == "undrain") {
    json answer = ask(socket, ctl::Command::undrain, timeout, routers);
    if (!answer.value("ok", false)) throw Failure{kExitAnswer, error_of(answer)};
    auto given = strings(answer, "routers");
    if (given.empty())
      std::cout << "no router was drained\n";
    else
      std::cout << fmt::format("undrained (given back to VRRP): {}\n", fmt::join(given, ", "));
    std::cout.flush();
    return std::cout ? 0 : 1;
  }
  if (command == "watch") {
    UniqueFd fd = connect_to(socket);
    send_all(fd.get(), ctl::request_line(ctl::Command::watch));
    LineReader reader(fd.get());
    json ack = parse_answer(reader.next(timeout));
    if (!ack.value("ok", false)) throw Failure{kExitAnswer, error_of(ack)};
    while (auto line = reader.next(std::nullopt)) {
      std::fwrite(line->data(), 1, line->size(), stdout);
      std::fputc('\n', stdout);
      std::fflush(stdout);
    }
    throw Failure{kExitUnreachable, "havipd closed the connection (stopped or restarted)"};
  }
  ctl::Command cmd = command == "status"    ? ctl::Command::status
                     : command == "reload"  ? ctl::Command::reload
                                            : ctl::Command::metrics;
  json answer = ask(socket, cmd, timeout);
  if (!answer.value("ok", false)) {
    if (auto errors = answer.find("errors"); errors != answer.end() && errors->is_array())
      for (const auto& e : *errors)
        if (e.is_string()) std::cerr << e.get<std::string>() << '\n';
    throw Failure{kExitAnswer, error_of(answer)};
  }
  switch (cmd) {
    case ctl::Command::status: {
      const json& status = answer["status"];
      if (as_json)
        std::cout << status.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
      else
        std::cout << ctl::status_table(status, std::chrono::system_clock::now());
      break;
    }
    case ctl::Command::metrics:
      std::cout << answer.value("metrics", std::string());
      break;
    case ctl::Command::reload:
      std::cout << "reloaded: " << answer.value("routers", 0) << " routers\n";
      break;
    case ctl::Command::watch:
    case ctl::Command::drain:
    case ctl::Command::undrain:
      break;  // answered above
  }
  std::cout.flush();
  return std::cout ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"havipctl: status, transitions, reload and metrics of a running havipd"};
  app.set_version_flag("--version", std::string("havipctl ") + HAVIP_VERSION);
  const char* env = std::getenv("HAVIP_SOCKET");
  std::string socket = env && *env ? env : "/run/havip/havipd.sock";
  double timeout_s = 10;
  app.add_option("--socket", socket, "havipd's control socket (env HAVIP_SOCKET)")
      ->capture_default_str();
  app.add_option("--timeout", timeout_s, "seconds to wait for an answer (not for watch)")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.require_subcommand(1);
  bool as_json = false;
  auto* status = app.add_subcommand("status", "routers, roles, since when and why, children, failing effects");
  status->add_flag("--json", as_json, "the whole status as JSON");
  app.add_subcommand("watch", "one JSON line per transition, as it happens");
  app.add_subcommand("reload", "re-read the configuration (like SIGHUP), and say whether it applied");
  app.add_subcommand("metrics", "Prometheus text format");
  std::vector<std::string> routers;
  double drain_wait_s = 60;
  auto* drain = app.add_subcommand(
      "drain",
      "move routers off this host (their track_file makes keepalived give them up), "
      "wait until they are gone, say where each stands");
  drain->add_option("--timeout", drain_wait_s, "seconds to wait for the routers to move")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  drain->add_option("ROUTER", routers, "the routers (default: every router with a track_file)");
  auto* undrain = app.add_subcommand("undrain", "give drained routers back to VRRP");
  undrain->add_option("ROUTER", routers, "the routers (default: every drained router)");
  auto* neutron =
      app.add_subcommand("neutron",
                         "hand a network node's HA routers from the per-router monitors to havipd, "
                         "and back");
  neutron->require_subcommand(1);
  namespace nsw = havip::ctl::neutron;
  nsw::Options switch_options;
  switch_options.paths.shim = HAVIP_NEUTRON_SHIM;
  double switch_wait_s = 90;
  std::string state_path;
  for (auto [name, what] : {std::pair{"takeover",
                                      "check that havipd serves every router, divert "
                                      "neutron-keepalived-state-change to havip's shim, end "
                                      "the running monitors"},
                            std::pair{"release",
                                      "put neutron-keepalived-state-change back, end the "
                                      "shims: the L3 agent respawns its monitors"}}) {
    auto* sub = neutron->add_subcommand(name, what);
    sub->add_flag("--dry-run", switch_options.dry_run, "say what would be done, do nothing");
    sub->add_option("--wait", switch_wait_s,
                    "seconds to wait for the L3 agent to respawn the monitors")
        ->check(CLI::Range(0.0, 3600.0))
        ->capture_default_str();
    sub->add_option("--state-path", state_path,
                    "Neutron's state_path (default: havipd's [neutron] state_path)");
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  std::string command = app.get_subcommands().front()->get_name();
  try {
    if (command == "neutron") {
      auto timeout = std::chrono::milliseconds(static_cast<long long>(timeout_s * 1000));
      switch_options.status = [&socket, timeout] {
        json answer = ask(socket, ctl::Command::status, timeout);
        if (!answer.value("ok", false)) throw Failure{kExitAnswer, error_of(answer)};
        return answer["status"];
      };
      if (!state_path.empty()) switch_options.state_path = state_path;
      switch_options.wait = std::chrono::milliseconds(static_cast<long long>(switch_wait_s * 1000));
      bool take = neutron->get_subcommands().front()->get_name() == "takeover";
      return take ? nsw::takeover(switch_options, std::cout, std::cerr)
                  : nsw::release(switch_options, std::cout, std::cerr);
    }
    return run(socket, command, as_json,
               std::chrono::milliseconds(static_cast<long long>(timeout_s * 1000)), routers,
               std::chrono::milliseconds(static_cast<long long>(drain_wait_s * 1000)));
  } catch (const Failure& f) {
    std::cerr << "havipctl: " << f.message << '\n';
    return f.code;
  }
}
