#include "ctl/neutron_switch.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "core/unique_fd.h"

extern char** environ;

namespace havip::ctl::neutron {

namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;
constexpr std::string_view kMonitorName = "neutron-keepalived-state-change";

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Reads a regular file (a /proc file, a pid or state file in a directory the
// neutron user owns): a FIFO planted there does not hang a command run as root.
std::optional<std::string> read_file(const std::string& path, std::size_t max = 65536) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return std::nullopt;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  std::string out;
  char buf[4096];
  while (out.size() < max) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

std::string link_target(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

bool is_symlink_to(const std::string& path, const std::string& target) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode) && link_target(path) == target;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// A program's exit status and standard output; its stderr is the operator's.
struct Ran {
  int status = -1;  // the exit code; -1: did not run or was killed
  std::string out;
};
Ran run(const std::vector<std::string>& argv) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return {};
  UniqueFd rd(pipefd[0]), wr(pipefd[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), STDOUT_FILENO);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int e = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  wr = UniqueFd();
  if (e != 0) return {};
  Ran r;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    r.out.append(buf, static_cast<std::size_t>(n));
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r;
}

bool have_program(const char* name) {
  for (const auto& dir :
       split(std::getenv("PATH") ? std::getenv("PATH") : "/usr/sbin:/usr/bin", ':'))
    if (::access((dir + "/" + name).c_str(), X_OK) == 0) return true;
  return false;
}

// ---- the diversion -------------------------------------------------------

enum class Diverted { no, by_havip, otherwise };
struct DiversionState {
  Diverted how = Diverted::no;
  std::string says;  // who and where, when otherwise
};

DiversionState diversion(const Paths& p) {
  Ran by = run({"dpkg-divert", "--listpackage", p.monitor});
  if (by.out.empty()) return {};
  Ran to = run({"dpkg-divert", "--truename", p.monitor});
  if (by.out == "LOCAL" && to.out == p.divert_to) return {Diverted::by_havip, ""};
  return {Diverted::otherwise,
          fmt::format("diverted to {} by {}", to.out,
                      by.out == "LOCAL" ? std::string("a local diversion") : by.out)};
}

// ---- the monitors --------------------------------------------------------

struct Monitor {
  int pid = 0;
  MonitorArgs args;
  std::string cmdline;  // raw: the same process when it is signalled
  bool shim = false;
};

std::vector<Monitor> monitors(const Paths& p) {
  std::vector<Monitor> out;
  DIR* d = ::opendir(p.proc.c_str());
  if (!d) return out;
  while (const dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name.empty() || name.find_first_not_of("0123456789") != std::string_view::npos) continue;
    std::string dir = p.proc + "/" + e->d_name;
    auto cmdline = read_file(dir + "/cmdline");
    if (!cmdline || cmdline->empty()) continue;
    auto args = monitor_args(*cmdline);
    if (!args) continue;
    // A shim started before an upgrade of havip runs a file dpkg has since
    // replaced: the kernel then adds " (deleted)" to the link.
    std::string exe = link_target(dir + "/exe");
    constexpr std::string_view kDeleted = " (deleted)";
    if (exe.ends_with(kDeleted)) exe.resize(exe.size() - kDeleted.size());
    bool shim = exe == p.shim;
    if (!args->named && !shim) continue;
    out.push_back({std::stoi(std::string(name)), *args, *cmdline, shim});
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(),
            [](const Monitor& a, const Monitor& b) { return a.args.router_id < b.args.router_id; });
  return out;
}

// What the agent's ProcessManager.active sees: the pid file names the process.
bool pid_file_names(const Monitor& m) {
  auto content = read_file(m.args.pid_file, 64);
  if (!content) return false;
  std::string s = *content;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s == std::to_string(m.pid);
}

int pidfd_open(int pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_signal(int fd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0));
}

// SIGTERM, then SIGKILL after `timeout` (the agent's destroy_state_change_monitor
// does the same, 10 s). Each process is held by a pidfd opened while its
// cmdline still matched: a reused pid is never signalled.
std::vector<std::string> end_monitors(const std::vector<Monitor>& ms,
                                      std::chrono::milliseconds timeout, const Paths& p) {
  struct Held {
    const Monitor* m;
    UniqueFd fd;
    bool killed = false;
  };
  std::vector<Held> held;
  std::vector<std::string> said;
  for (const auto& m : ms) {
    UniqueFd fd(pidfd_open(m.pid));
    if (!fd && errno == ESRCH) continue;  // gone already
    if (!fd) {                            // (pidfd_open needs Linux 5.3)
      said.push_back(fmt::format("{} (pid {}, NOT ENDED: pidfd_open: {})", m.args.router_id, m.pid,
                                 std::strerror(errno)));
      continue;
    }
    if (read_file(p.proc + "/" + std::to_string(m.pid) + "/cmdline") != m.cmdline) continue;
    if (pidfd_signal(fd.get(), SIGTERM) != 0) continue;
    held.push_back({&m, std::move(fd)});
  }
  auto gone = [](const Held& h) {
    pollfd pfd{h.fd.get(), POLLIN, 0};
    return ::poll(&pfd, 1, 0) > 0;
  };
  auto wait_all = [&](Clock::time_point until) {
    while (Clock::now() < until &&
           !std::all_of(held.begin(), held.end(), [&](const Held& h) { return gone(h); }))
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  };
  wait_all(Clock::now() + timeout);
  for (auto& h : held)
    if (!gone(h) && pidfd_signal(h.fd.get(), SIGKILL) == 0) h.killed = true;
  wait_all(Clock::now() + std::chrono::seconds(5));
  for (const auto& h : held)
    said.push_back(fmt::format("{} (pid {}{}{})", h.m->args.router_id, h.m->pid,
                               h.killed ? ", SIGKILL after SIGTERM" : "",
                               gone(h) ? "" : ", STILL RUNNING"));
  return said;
}

// ---- the routers ---------------------------------------------------------

// Every <state_path>/ha_confs/<id>/ that holds a keepalived.conf: a router
// the agent runs a monitor for.
std::vector<std::string> routers_in(const std::string& state_path) {
  std::vector<std::string> out;
  std::string dir = state_path + "/ha_confs";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (const dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::stat((dir + "/" + name + "/keepalived.conf").c_str(), &st) == 0 && S_ISREG(st.st_mode))
      out.push_back(name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

struct Served {
  std::string role;  // havipd's
  bool state_file_failing = false;
};

std::map<std::string, Served> served(const json& status) {
  std::map<std::string, Served> out;
  if (auto rs = status.find("routers"); rs != status.end() && rs->is_array())
    for (const auto& r : *rs) {
      if (!r.is_object() || !r.contains("name") || !r["name"].is_string()) continue;
      Served s{r.value("role", std::string("unknown"))};
      if (auto f = r.find("failing"); f != r.end() && f->is_array())
        for (const auto& x : *f) s.state_file_failing |= x == "state_file";
      out[r["name"].get<std::string>()] = s;
    }
  return out;
}

// What the state file must say for havipd's role (a fault is reported as
// backup, as to the agent); empty: havipd has not decided.
std::string state_word(const std::string& role) {
  if (role == "primary") return "primary";
  if (role == "backup" || role == "fault") return "backup";
  return "";
}

std::optional<std::string> state_path_from(const json& status) {
  auto n = status.find("neutron");
  if (n == status.end() || !n->is_object() || !n->contains("state_path") ||
      !(*n)["state_path"].is_string())
    return std::nullopt;
  return (*n)["state_path"].get<std::string>();
}

std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], row[i].size());
    }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i)
      line += i + 1 < row.size() ? fmt::format("{:<{}}  ", row[i], width[i]) : row[i];
    out += line + "\n";
  }
  return out;
}

// Waits up to `wait` until every router has a running monitor of the wanted
// kind whose pid file names it (the agent's process monitor respawns a dead
// one every check_child_processes_interval, 60 s by default). The routers
// still without one are returned.
std::map<std::string, std::string> wait_for_monitors(const std::vector<std::string>& routers,
                                                     bool shim, const Options& o) {
  auto until = Clock::now() + o.wait;
  std::map<std::string, std::string> seen;  // router -> "shim, pid N"
  for (;;) {
    seen.clear();
    for (const auto& m : monitors(o.paths))
      if (m.shim == shim && pid_file_names(m))
        seen[m.args.router_id] = fmt::format("{}, pid {}", shim ? "shim" : "monitor", m.pid);
    bool all = std::all_of(routers.begin(), routers.end(),
                           [&](const std::string& r) { return seen.contains(r); });
    if (all || Clock::now() >= until) return seen;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

// Says how many routers have no running monitor of the kind waited for.
void note_missing(const std::vector<std::string>& routers,
                  const std::map<std::string, std::string>& seen, const char* what, const char* why,
                  const Options& o, std::ostream& out) {
  auto missing = std::count_if(routers.begin(), routers.end(),
                               [&](const std::string& r) { return !seen.contains(r); });
  if (missing > 0)
    out << fmt::format("note: {} router{} without a running {} after {} s: {}\n", missing,
                       missing == 1 ? "" : "s", what,
                       std::chrono::duration_cast<std::chrono::seconds>(o.wait).count(), why);
}

bool root(std::ostream& err) {
  if (::geteuid() == 0) return true;
  err << "havipctl: neutron takeover and release must run as root (dpkg-divert, /usr/bin, "
         "the agent's monitors)\n";
  return false;
}

bool dpkg_divert(std::ostream& err) {
  if (have_program("dpkg-divert")) return true;
  err << "havipctl: dpkg-divert not found: the takeover needs a dpkg-based system (Debian, "
         "Ubuntu). Without a diversion an upgrade of the package that ships "
         "neutron-keepalived-state-change would silently put the per-router monitors back; "
         "docs/NEUTRON.md says how to switch by hand on other systems\n";
  return false;
}

void say(std::ostream& out, bool dry_run, const std::string& line) {
  out << (dry_run ? "dry-run: would " : "") << line << '\n';
}

// Ends the running monitors of one kind (the incumbent's, or the shims)
// and says which; false when one could not be ended.
bool end_all(bool shim, const Options& o, std::ostream& out, std::ostream& err) {
  const char* what = shim ? "shim" : "monitor";
  std::vector<Monitor> ms;
  for (auto& m : monitors(o.paths))
    if (m.shim == shim) ms.push_back(m);
  if (ms.empty()) {
    out << fmt::format("no {} is running\n", shim ? "shim" : "neutron-keepalived-state-change");
  } else if (o.dry_run) {
    for (const auto& m : ms)
      say(out, true, fmt::format("end the {} of {} (pid {})", what, m.args.router_id, m.pid));
  } else {
    auto ended = end_monitors(ms, o.term_timeout, o.paths);
    out << fmt::format("ended {} {}{}: {}\n", ended.size(), what, ended.size() == 1 ? "" : "s",
                       fmt::join(ended, ", "));
    bool stuck = std::any_of(ended.begin(), ended.end(), [](const std::string& e) {
      return e.find("STILL RUNNING") != std::string::npos ||
             e.find("NOT ENDED") != std::string::npos;
    });
    if (stuck) {
      err << fmt::format("havipctl: a {} could not be ended (see above)\n", what);
      return false;
    }
  }
  return true;
}

}  // namespace

bool shim_in_place(const Paths& p) { return is_symlink_to(p.monitor, p.shim); }

std::optional<MonitorArgs> monitor_args(std::string_view cmdline) {
  std::vector<std::string> words = split(cmdline, '\0');
  if (words.size() == 1) {  // setproctitle: one line of words, in parentheses
    words = split(words[0], ' ');
    for (auto& w : words) {
      if (!w.empty() && w.front() == '(') w.erase(0, 1);
      if (!w.empty() && w.back() == ')') w.pop_back();
    }
  }
  MonitorArgs a;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    auto value = [&](std::string_view opt) -> std::optional<std::string> {
      if (w.size() > opt.size() && w.compare(0, opt.size(), opt) == 0 && w[opt.size()] == '=')
        return w.substr(opt.size() + 1);
      if (w == opt && i + 1 < words.size()) return words[i + 1];
      return std::nullopt;
    };
    if (auto v = value("--router_id")) a.router_id = *v;
    if (auto v = value("--pid_file")) a.pid_file = *v;
    std::string_view base = std::string_view(w).substr(w.rfind('/') + 1);
    if (base == kMonitorName) a.named = true;
  }
  if (a.router_id.empty()) return std::nullopt;
  return a;
}

int takeover(const Options& o, std::ostream& out, std::ostream& err) {
  if (!root(err) || !dpkg_divert(err)) return 1;
  // 1. havipd serves every router.
  json status = o.status();
  auto havipd_path = state_path_from(status);
  if (!havipd_path) {
    err << "havipctl: havipd is not in Neutron mode (no [neutron] state_path in its "
           "configuration): it would serve no router of the L3 agent\n";
    return 1;
  }
  if (o.state_path && *o.state_path != *havipd_path) {
    err << fmt::format("havipctl: havipd serves the routers of {}, not of {} (--state-path)\n",
                       *havipd_path, *o.state_path);
    return 1;
  }
  if (!status.value("ready", false)) {
    err << "havipctl: havipd is not ready yet (it has not decided every router): try again\n";
    return 1;
  }
  if (status.value("dry_run", false)) {
    err << "havipctl: havipd runs with --dry-run: it writes no state file and tells the agent "
           "nothing; start it without --dry-run first\n";
    return 1;
  }
  const std::string& state_path = *havipd_path;
  auto routers = routers_in(state_path);
  auto by_havipd = served(status);
  std::vector<std::string> unserved;
  for (const auto& r : routers) {
    auto it = by_havipd.find(r);
    if (it == by_havipd.end())
      unserved.push_back(r + " (not tracked: see journalctl -u havipd HAVIP_ROUTER=" + r + ")");
    else if (state_word(it->second.role).empty())
      unserved.push_back(r + " (" + it->second.role + ")");
  }
  if (!unserved.empty()) {
    err << fmt::format("havipctl: havipd does not serve {} of the {} routers in {}/ha_confs: {}\n",
                       unserved.size(), routers.size(), state_path, fmt::join(unserved, ", "));
    return 1;
  }
  out << fmt::format("havipd (pid {}) serves all {} routers in {}/ha_confs\n",
                     status.value("pid", 0), routers.size(), state_path);

  // 2. The monitor diverted, the shim in its place.
  const Paths& p = o.paths;
  auto div = diversion(p);
  if (div.how == Diverted::otherwise) {
    err << fmt::format(
        "havipctl: {} is already {}: remove that diversion first "
        "(dpkg-divert --rename --remove {})\n",
        p.monitor, div.says, p.monitor);
    return 1;
  }
  if (div.how == Diverted::by_havip) {
    out << fmt::format("{} is already diverted to {}\n", p.monitor, p.divert_to);
  } else {
    say(out, o.dry_run,
        fmt::format("divert {} to {} (dpkg-divert --local --rename)", p.monitor, p.divert_to));
    if (!o.dry_run) {
      Ran r = run({"dpkg-divert", "--quiet", "--local", "--rename", "--divert", p.divert_to,
                   "--add", p.monitor});
      if (r.status != 0) {
        err << "havipctl: dpkg-divert failed: nothing was changed\n";
        return 1;
      }
    }
  }
  if (shim_in_place(p)) {
    out << fmt::format("{} is already the shim ({})\n", p.monitor, p.shim);
  } else if (exists(p.monitor) && !o.dry_run) {
    err << fmt::format(
        "havipctl: {} exists and is not havip's shim: leaving it; move it "
        "away and run the takeover again\n",
        p.monitor);
    return 1;
  } else {
    say(out, o.dry_run, fmt::format("link {} -> {}", p.monitor, p.shim));
    if (!o.dry_run) {
      // Made aside and renamed over: the agent never finds a half-made file.
      std::string tmp = p.monitor + ".havip-new";
      ::unlink(tmp.c_str());
      if (::symlink(p.shim.c_str(), tmp.c_str()) != 0 ||
          ::rename(tmp.c_str(), p.monitor.c_str()) != 0) {
        err << fmt::format("havipctl: cannot link {} to the shim: {}\n", p.monitor,
                           std::strerror(errno));
        return 1;
      }
    }
  }

  // 3. The running monitors ended; the agent respawns them, now as shims.
  bool ended = end_all(false, o, out, err);
  if (o.dry_run) return 0;

  // 4. The agent respawns them (as shims); every state file is havipd's.
  auto shims = wait_for_monitors(routers, true, o);
  // The state files: what havipd says each router is (its writes are queued:
  // a moment to land).
  std::vector<std::vector<std::string>> rows{{"ROUTER", "HAVIPD", "STATE FILE", "MONITOR"}};
  bool bad = false;
  auto until = Clock::now() + std::chrono::seconds(5);
  for (;;) {
    rows.resize(1);
    bad = false;
    auto now = served(o.status());
    for (const auto& r : routers) {
      std::string role = now.count(r) ? now[r].role : "not served";
      std::string want = state_word(role);
      std::string file = read_file(state_path + "/ha_confs/" + r + "/state", 64).value_or("none");
      bool ok = !want.empty() && file == want && !now[r].state_file_failing;
      bad |= !ok;
      std::string monitor = shims.count(r) ? shims[r] : "none yet";
      rows.push_back({r, role, ok ? file : file + " (MISMATCH)", monitor});
    }
    if (!bad || Clock::now() >= until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  out << table(rows);
  note_missing(routers, shims, "shim",
               "the L3 agent respawns dead monitors every check_child_processes_interval (60 s "
               "by default; never with 0); havipd serves them meanwhile",
               o, out);
  if (bad) {
    err << "havipctl: a state file does not say what havipd decided (see the table)\n";
    return 1;
  }
  if (!ended) return 1;
  out << "taken over: havipd serves every router; release with havipctl neutron release\n";
  return 0;
}

int release(const Options& o, std::ostream& out, std::ostream& err) {
  if (!root(err) || !dpkg_divert(err)) return 1;
  const Paths& p = o.paths;
  std::string state_path = "/var/lib/neutron";
  if (o.state_path) {
    state_path = *o.state_path;
  } else if (o.status) {
    try {
      if (auto s = state_path_from(o.status())) state_path = *s;
    } catch (...) {
      out << "havipd cannot be asked for its state_path: using " << state_path
          << " (see --state-path)\n";
    }
  }

  // 1. The shim unlinked and the real monitor put back.
  auto div = diversion(p);
  bool linked = shim_in_place(p);
  if (linked && div.how != Diverted::by_havip) {
    out << fmt::format("{} leads to the shim but is {}: left alone\n", p.monitor,
                       div.how == Diverted::otherwise ? div.says : "not diverted");
  } else if (linked) {
    say(out, o.dry_run, fmt::format("remove the link {} -> {}", p.monitor, p.shim));
    if (!o.dry_run && ::unlink(p.monitor.c_str()) != 0) {
      err << fmt::format("havipctl: cannot remove {}: {}\n", p.monitor, std::strerror(errno));
      return 1;
    }
  }
  if (div.how == Diverted::by_havip) {
    say(out, o.dry_run, fmt::format("remove the diversion: {} back to {}", p.divert_to, p.monitor));
    if (!o.dry_run) {
      Ran r = run({"dpkg-divert", "--quiet", "--local", "--rename", "--divert", p.divert_to,
                   "--remove", p.monitor});
      if (r.status != 0) {
        err << "havipctl: dpkg-divert --remove failed\n";
        return 1;
      }
    }
  } else if (div.how == Diverted::otherwise) {
    out << fmt::format("{} is {}: not havip's, left alone\n", p.monitor, div.says);
  } else {
    out << fmt::format("{} is not diverted\n", p.monitor);
  }

  // 2. The shims ended: the agent respawns the real monitors.
  bool ended = end_all(true, o, out, err);
  if (o.dry_run) return 0;

  auto routers = routers_in(state_path);
  auto real = wait_for_monitors(routers, false, o);
  std::vector<std::vector<std::string>> rows{{"ROUTER", "MONITOR"}};
  for (const auto& r : routers) rows.push_back({r, real.count(r) ? real[r] : "none yet"});
  out << table(rows);
  note_missing(routers, real, "monitor",
               "the L3 agent respawns them every check_child_processes_interval (restart it if "
               "that is 0); keep havipd running until they are back",
               o, out);
  if (!ended) return 1;
  out << "released: the L3 agent's own monitors run the routers again\n";
  return 0;
}

}  // namespace havip::ctl::neutron
