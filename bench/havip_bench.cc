// havip-bench: the measurement driver behind bench/run (see docs/BENCHMARKS.md).
//
//   havip-bench links-up   --prefix P --count N
//   havip-bench latency    --netns NS --interface IF --vip CIDR --state-file PATH
//                          --transitions N --label L [--ready notify|probe]
//                          [--gap-us G] [--jitter-us J] [--wait-idle 0|1] [--timeout-ms T]
//                          [--pid-file F] [--workdir DIR] [--raw CSV] -- COMMAND...
//   havip-bench footprint  --label L --pids "PID..." [--idle-s S] [--routers N]
//   havip-bench ip-monitor --netns NS --interface IF --vip CIDR --transitions N
//   havip-bench scale      --prefix P --count N --vip CIDR --state-dir DIR --label L
//                          [--rounds R] [--idle-s S] [--restart 0|1] [--workdir DIR] -- COMMAND...
//   havip-bench effects    --netns NS --interface IF --vip CIDR --state-file PATH --label L
//                          --transitions N [--run-dir DIR] [--gateway GW] [--poll-sysctl 0|1]
//                          [--exec-floor N --fake-radvd PATH] [--timeout-ms T]
//                          [--workdir DIR] [--raw CSV] -- COMMAND...
//
// Namespaces are P1..PN, each with interface ha-rI (peer hp-rI); router I is
// named rI. Figures are printed as "ROW<TAB>section<TAB>metric<TAB>value<TAB>
// goal<TAB>verdict" lines on stdout; progress goes to stderr.
//
// Timing reference: the "event" is the moment just before the driver's
// sendto() of RTM_NEWADDR/RTM_DELADDR. The kernel emits the notification
// inside that system call, so every latency here is an upper bound by at most
// the length of the call (reported as "sendto() + ack itself").
#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bench/netlink.h"
#include "bench/util.h"

namespace bench {
namespace {

// ------------------------------------------------------------------ arguments

struct Args {
  std::map<std::string, std::string> opts;
  std::vector<std::string> command;  // after "--"

  std::string get(const std::string& key, const std::string& fallback = "") const {
    auto it = opts.find(key);
    if (it != opts.end()) return it->second;
    if (fallback.empty()) throw std::runtime_error("missing --" + key);
    return fallback;
  }
  long num(const std::string& key, long fallback) const {
    auto it = opts.find(key);
    return it == opts.end() ? fallback : std::stol(it->second);
  }
};

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "--") {
      a.command.assign(argv + i + 1, argv + argc);
      break;
    }
    if (s.rfind("--", 0) != 0 || i + 1 >= argc) throw std::runtime_error("bad argument: " + s);
    a.opts[s.substr(2)] = argv[++i];
  }
  return a;
}

void progress(const std::string& s) { std::fprintf(stderr, "  %s\n", s.c_str()); }

double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }
double us(std::int64_t ns) { return static_cast<double>(ns) / 1e3; }
std::string mib(long kb) { return fmt::format("{:.1f} MiB", static_cast<double>(kb) / 1024); }

std::string dirname_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string content(const std::string& path) { return read_file(path).value_or("<missing>"); }

// ------------------------------------------------------------------ links-up

int cmd_links_up(const Args& a) {
  auto prefix = a.get("prefix");
  long n = a.num("count", 1);
  auto home = open_home_netns();
  int failures = 0;
  for (long i = 1; i <= n; ++i) {
    auto ns = open_netns(prefix + std::to_string(i));
    RtSocket s(ns.get(), home.get());
    for (const auto& name : {std::string("lo"), fmt::format("ha-r{}", i), fmt::format("hp-r{}", i)})
      if (int e = s.set_up(name); e != 0) {
        if (++failures < 5) progress(fmt::format("{}{}: {} up: {}", prefix, i, name, std::strerror(e)));
      }
  }
  return failures == 0 ? 0 : 1;
}

// ------------------------------------------------------------------ the daemon under test

// Starts COMMAND; with ready=notify, waits for sd_notify READY=1.
struct Started {
  Child child;
  double startup_ms = -1;
  std::unique_ptr<NotifySocket> notify;  // kept open and drained, as systemd does
};

Started start_daemon(const Args& a, const std::string& workdir, bool notify, const std::string& log) {
  Started s;
  std::vector<std::string> env;
  if (notify) {
    s.notify = std::make_unique<NotifySocket>(workdir + "/notify.sock");
    env.push_back("NOTIFY_SOCKET=" + s.notify->path());
  }
  auto t0 = now_ns();
  s.child = spawn(a.command, env, log);
  if (notify) {
    auto ready = s.notify->wait_ready(30000);
    if (!ready) throw std::runtime_error("no READY=1 within 30 s; see " + log);
    s.startup_ms = ms(*ready - t0);
  }
  return s;
}

// The incumbent daemonizes: the process we started exits and the monitor's
// PID is in its pid file.
pid_t resolve_pid(const Args& a, const Child& c) {
  auto pid_file = a.opts.find("pid-file");
  if (pid_file == a.opts.end()) return c.pid;
  for (int i = 0; i < 300; ++i) {
    if (auto text = read_file(pid_file->second); text && !text->empty())
      return static_cast<pid_t>(std::stol(*text));
    sleep_us(100'000);
  }
  throw std::runtime_error("no pid in " + pid_file->second);
}

void stop_pid(pid_t pid) {
  if (pid <= 0 || ::kill(pid, SIGTERM) != 0) return;
  for (int i = 0; i < 200 && ::kill(pid, 0) == 0; ++i) sleep_us(50'000);
  if (::kill(pid, 0) == 0) ::kill(pid, SIGKILL);
}

// Waits until the state file says `want` (after an inotify event on it).
std::optional<std::int64_t> wait_state(StateWatch& watch, const std::string& path,
                                       const std::string& want, int timeout_ms) {
  auto deadline = now_ns() + std::int64_t{timeout_ms} * 1'000'000;
  while (now_ns() < deadline) {
    std::int64_t seen = 0;
    int left = static_cast<int>((deadline - now_ns()) / 1'000'000) + 1;
    if (watch.wait(left, [&](int, std::int64_t t) { seen = t; }) == 0) continue;
    if (content(path) == want) return seen;
  }
  return std::nullopt;
}

// ------------------------------------------------------------------ latency

struct Transition {
  std::int64_t before = 0, after = 0, renamed = 0, listener = 0;
  bool added = false;
};

void report_latency(const std::string& section, const std::vector<Transition>& ts,
                    bool with_listener, const std::string& raw) {
  std::vector<double> floor, daemon, call, gap;
  for (const auto& t : ts) {
    call.push_back(us(t.after - t.before));
    daemon.push_back(us(t.renamed - t.before));
    if (with_listener) {
      floor.push_back(us(t.listener - t.before));
      gap.push_back(us(t.renamed - t.listener));
    }
  }
  auto d = summarize(daemon);
  row(section, fmt::format("sendto() + ack itself (n={})", call.size()), fmt_summary(summarize(call)));
  if (with_listener) {
    row(section, "event → listener received (ip-monitor floor)", fmt_summary(summarize(floor)));
  }
  row(section, "event → state file in place", fmt_summary(d), "p50 ≤ 200 µs, p99 ≤ 1 ms",
      verdict(d.p50 <= 200 && d.p99 <= 1000));
  if (with_listener)
    row(section, "listener received → state file in place", fmt_summary(summarize(gap)));
  if (!raw.empty()) {
    std::string csv = "added,sendto_us,listener_us,renamed_us\n";
    for (const auto& t : ts)
      csv += fmt::format("{},{:.1f},{:.1f},{:.1f}\n", t.added ? 1 : 0, us(t.after - t.before),
                         with_listener ? us(t.listener - t.before) : 0.0, us(t.renamed - t.before));
    write_file(raw, csv);
  }
}

int cmd_latency(const Args& a) {
  auto label = a.get("label");
  auto section = "latency: " + label;
  auto vip = Ipv4Prefix::parse(a.get("vip"));
  auto state_file = a.get("state-file");
  auto workdir = a.get("workdir", "/tmp");
  long n = a.num("transitions", 2000);
  long gap_us = a.num("gap-us", 1000);
  long jitter_us = a.num("jitter-us", gap_us);
  bool wait_idle = a.num("wait-idle", 1) != 0;
  bool notify = a.get("ready", "notify") == "notify";
  int timeout_ms = static_cast<int>(a.num("timeout-ms", 3000));

  auto home = open_home_netns();
  auto ns = open_netns(a.get("netns"));
  RtSocket ctl(ns.get(), home.get());
  int ifindex = ctl.ifindex(a.get("interface"));
  if (ifindex == 0) throw std::runtime_error("no interface " + a.get("interface"));
  ctl.change_addr(ifindex, vip, false, true);  // start without the VIP
  Listener listener(ns.get(), vip, static_cast<std::size_t>(n) + 64);

  auto started = start_daemon(a, workdir, notify, workdir + "/" + label + ".log");
  pid_t pid = resolve_pid(a, started.child);
  if (notify) row(section, "start-up → READY (1 router)", fmt::format("{:.1f} ms", started.startup_ms));

  // The state directory may appear only with the first write.
  auto dir = dirname_of(state_file);
  for (int i = 0; i < 300 && !read_file(state_file); ++i) sleep_us(100'000);
  StateWatch watch;
  if (!watch.add(dir, 0)) throw std::runtime_error("cannot watch " + dir);
  watch.drain_also(started.notify.get());

  // With a daemon that writes nothing at start (or subscribes late), probe
  // until a transition is seen, so the measured ones all count.
  for (int attempt = 0;; ++attempt) {
    if (attempt == 20) throw std::runtime_error(label + ": no state file change after 20 probes");
    if (ctl.change_addr(ifindex, vip, true, true) != 0) throw std::runtime_error("add failed");
    bool up = wait_state(watch, state_file, "primary", 5000).has_value();
    ctl.change_addr(ifindex, vip, false, true);
    bool down = wait_state(watch, state_file, "backup", 5000).has_value();
    if (up && down) break;
  }
  sleep_us(200'000);
  std::size_t skip = listener.count();
  progress(fmt::format("{}: {} transitions", label, n));

  std::mt19937 rng(42);
  // Random gaps so that a daemon that polls is hit at random phases.
  std::uniform_int_distribution<long> jitter(gap_us, gap_us + jitter_us);
  std::vector<Transition> ts;
  long missed = 0;
  auto cpu0 = sample(pid).cpu_ns;
  for (long i = 0; i < n; ++i) {
    Transition t;
    t.added = i % 2 == 0;
    // Each transition starts from a quiet daemon: the previous one, and any
    // fsync it deferred, is finished (its loop sleeps in epoll again).
    for (int k = 0; wait_idle && k < 10000 && !idle_in_poll(pid); ++k) sleep_us(100);
    sleep_us(jitter(rng));
    watch.wait(0, [](int, std::int64_t) {});
    t.before = now_ns();
    int err = ctl.change_addr(ifindex, vip, t.added, true);
    t.after = now_ns();
    if (err != 0) throw std::runtime_error(fmt::format("address change: {}", std::strerror(err)));
    auto seen = wait_state(watch, state_file, t.added ? "primary" : "backup", timeout_ms);
    if (!seen) {
      ++missed;
      continue;
    }
    t.renamed = *seen;
    ts.push_back(t);
  }
  auto cpu1 = sample(pid).cpu_ns;
  sleep_us(20'000);
  bool with_listener = listener.count() >= skip + static_cast<std::size_t>(n);
  if (with_listener && missed == 0)
    for (std::size_t i = 0; i < ts.size(); ++i) {
      auto seen = listener.at(skip + i);
      if (seen.added != ts[i].added) throw std::runtime_error("listener out of step");
      ts[i].listener = seen.t;
    }
  report_latency(section, ts, with_listener && missed == 0, a.get("raw", "-") == "-" ? "" : a.get("raw"));
  if (missed) row(section, "transitions not seen in time", std::to_string(missed), "0", "MISS");
  auto mem = sample_tree(pid);
  row(section, "daemon CPU during the run, per transition",
      fmt_us(us(cpu1 - cpu0) / static_cast<double>(n)));
  row(section, fmt::format("RSS / PSS ({} process{})", mem.processes, mem.processes > 1 ? "es" : ""),
      mib(mem.rss_kb) + " / " + mib(mem.pss_kb));
  if (pid != started.child.pid) {
    started.child.stop();
    stop_pid(pid);
  } else {
    started.child.stop();
  }
  return 0;
}

// ------------------------------------------------------------------ ip-monitor (the real one)

// Parses "[2026-11-21T07:14:10.774866] …" printed in UTC.
std::optional<std::int64_t> ip_ts_realtime_ns(const std::string& line) {
  tm t{};
  long usec = 0;
  if (line.size() < 28 || line[0] != '[') return std::nullopt;
  if (!strptime(line.c_str() + 1, "%Y-%m-%dT%H:%M:%S", &t)) return std::nullopt;
  usec = std::strtol(line.c_str() + 21, nullptr, 10);
  return (std::int64_t{timegm(&t)} * 1'000'000 + usec) * 1000;
}

std::int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int cmd_ip_monitor(const Args& a) {
  auto vip_text = a.get("vip");
  auto vip = Ipv4Prefix::parse(vip_text);
  auto nsname = a.get("netns");
  long n = a.num("transitions", 1000);
  auto home = open_home_netns();
  auto ns = open_netns(nsname);
  RtSocket ctl(ns.get(), home.get());
  int ifindex = ctl.ifindex(a.get("interface"));
  ctl.change_addr(ifindex, vip, false, true);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::setenv("TZ", "UTC", 1);
    ::execlp("ip", "ip", "-n", nsname.c_str(), "-o", "-ts", "monitor", "address", nullptr);
    ::_exit(127);
  }
  ::close(fds[1]);
  FILE* out = ::fdopen(fds[0], "r");
  Child child;
  child.pid = pid;
  auto next_line = [&]() -> std::optional<std::string> {
    char line[4096];
    while (std::fgets(line, sizeof line, out)) {
      std::string s(line);
      if (s.find(vip_text.substr(0, vip_text.find('/'))) != std::string::npos) return s;
    }
    return std::nullopt;
  };
  // `ip monitor` has no readiness signal: probe until it prints.
  sleep_us(300'000);
  ctl.change_addr(ifindex, vip, true, true);
  next_line();
  ctl.change_addr(ifindex, vip, false, true);
  next_line();
  std::vector<double> lat;
  for (long i = 0; i < n; ++i) {
    sleep_us(1000 + i % 1000);
    auto before = realtime_ns();
    ctl.change_addr(ifindex, vip, i % 2 == 0, true);
    auto line = next_line();
    auto t = line ? ip_ts_realtime_ns(*line) : std::nullopt;
    if (!t) throw std::runtime_error("ip monitor printed no timestamp");
    lat.push_back(us(*t - before));
  }
  ::fclose(out);
  child.stop();
  row("floor: ip monitor address", fmt::format("event → `ip -ts monitor` printed (n={})", n),
      fmt_summary(summarize(lat)));
  return 0;
}

// ------------------------------------------------------------------ footprint

// Memory and idle wake-ups of already running processes and their children
// (used for the incumbent, one monitor process tree per router).
int cmd_footprint(const Args& a) {
  auto section = "footprint: " + a.get("label");
  std::vector<pid_t> pids;
  std::string list = a.get("pids");
  for (std::size_t pos = 0; pos < list.size();) {
    auto end = list.find(' ', pos);
    if (end == std::string::npos) end = list.size();
    if (end > pos) pids.push_back(static_cast<pid_t>(std::stol(list.substr(pos, end - pos))));
    pos = end + 1;
  }
  long idle_s = a.num("idle-s", 10);
  auto total = [&] {
    ProcSample t;
    for (pid_t p : pids) {
      auto s = sample_tree(p);
      t.rss_kb += s.rss_kb;
      t.pss_kb += s.pss_kb;
      t.voluntary += s.voluntary;
      t.involuntary += s.involuntary;
      t.cpu_ns += s.cpu_ns;
      t.processes += s.processes;
    }
    return t;
  };
  DirChurn churn("/run/netns");
  auto s0 = total();
  sleep_us(idle_s * 1'000'000);
  auto s1 = total();
  long others = churn.count();
  long routers = a.num("routers", static_cast<long>(pids.size()));
  row(section, fmt::format("RSS / PSS, {} routers ({} process{})", routers, s1.processes,
                           s1.processes > 1 ? "es" : ""),
      mib(s1.rss_kb) + " / " + mib(s1.pss_kb));
  row(section, fmt::format("wake-ups at idle over {} s", idle_s),
      fmt::format("{} (CPU {:.1f} ms; /run/netns changed {} times meanwhile)",
                  (s1.voluntary - s0.voluntary) + (s1.involuntary - s0.involuntary),
                  ms(s1.cpu_ns - s0.cpu_ns), others));
  return 0;
}

// ------------------------------------------------------------------ scale

struct Fleet {
  std::vector<RtSocket> sockets;
  std::vector<int> ifindex;
};

Fleet open_fleet(const std::string& prefix, long n, Ipv4Prefix vip) {
  Fleet f;
  auto home = open_home_netns();
  for (long i = 1; i <= n; ++i) {
    auto ns = open_netns(prefix + std::to_string(i));
    f.sockets.emplace_back(ns.get(), home.get());
    f.ifindex.push_back(f.sockets.back().ifindex(fmt::format("ha-r{}", i)));
    if (f.ifindex.back() == 0) throw std::runtime_error(fmt::format("no ha-r{} in {}{}", i, prefix, i));
    f.sockets.back().change_addr(f.ifindex.back(), vip, false, true);  // start without the VIP
  }
  return f;
}

struct Failover {
  double burst_ms = 0, last_add_to_last_rename_ms = 0, first_add_to_last_rename_ms = 0;
  Summary per_router;
  long missing = 0, wrong = 0, errors = 0;
  double cpu_ms = 0;
  long notifications = 0;  // sd_notify datagrams the daemon sent meanwhile
};

Failover failover(Fleet& fleet, StateWatch& watch, const std::string& state_dir, Ipv4Prefix vip,
                  bool add, pid_t pid, NotifySocket* notify) {
  auto n = fleet.sockets.size();
  watch.wait(0, [](int, std::int64_t) {});
  std::vector<std::int64_t> sent(n), seen(n, 0);
  auto cpu0 = sample(pid).cpu_ns;
  long notes0 = notify ? notify->received() : 0;
  auto first = now_ns();
  for (std::size_t i = 0; i < n; ++i) {
    sent[i] = now_ns();
    fleet.sockets[i].change_addr(fleet.ifindex[i], vip, add, false);
  }
  auto last = now_ns();
  std::size_t got = 0;
  auto deadline = last + 20'000'000'000;
  while (got < n && now_ns() < deadline) {
    watch.wait(200, [&](int key, std::int64_t t) {
      auto k = static_cast<std::size_t>(key);
      if (k < n && seen[k] == 0) {
        seen[k] = t;
        ++got;
      }
    });
  }
  Failover f;
  sleep_us(50'000);
  watch.wait(0, [](int, std::int64_t) {});
  if (notify) f.notifications = notify->received() - notes0;
  for (auto& s : fleet.sockets) f.errors += s.drain_errors();
  f.cpu_ms = ms(sample(pid).cpu_ns - cpu0);
  f.burst_ms = ms(last - first);
  std::int64_t last_seen = 0;
  std::vector<double> per;
  for (std::size_t i = 0; i < n; ++i) {
    if (seen[i] == 0) {
      ++f.missing;
      continue;
    }
    last_seen = std::max(last_seen, seen[i]);
    per.push_back(us(seen[i] - sent[i]));
    if (content(fmt::format("{}/r{}/state", state_dir, i + 1)) != (add ? "primary" : "backup"))
      ++f.wrong;
  }
  f.per_router = summarize(per);
  f.last_add_to_last_rename_ms = ms(last_seen - last);
  f.first_add_to_last_rename_ms = ms(last_seen - first);
  return f;
}

long count_state(const std::string& dir, long n, const std::string& want) {
  long ok = 0;
  for (long i = 1; i <= n; ++i) ok += content(fmt::format("{}/r{}/state", dir, i)) == want;
  return ok;
}

int cmd_scale(const Args& a) {
  auto label = a.get("label");
  auto prefix = a.get("prefix");
  long n = a.num("count", 1000);
  auto vip = Ipv4Prefix::parse(a.get("vip"));
  auto state_dir = a.get("state-dir");
  auto workdir = a.get("workdir", "/tmp");
  long rounds = a.num("rounds", 3);
  long idle_s = a.num("idle-s", 10);
  bool restart = a.num("restart", 1) != 0;
  auto section = fmt::format("scale N={}: {}", n, label);
  auto log = workdir + "/" + label + ".log";

  auto t_open = now_ns();
  Fleet fleet = open_fleet(prefix, n, vip);
  progress(fmt::format("{}: {} namespaces opened in {:.0f} ms", label, n, ms(now_ns() - t_open)));

  auto started = start_daemon(a, workdir, true, log);
  pid_t pid = started.child.pid;
  row(section, "start-up → READY (no VIP anywhere)", fmt::format("{:.0f} ms", started.startup_ms),
      "≤ 1 s", verdict(started.startup_ms <= 1000));
  long backups = count_state(state_dir, n, "backup");
  row(section, "state files 'backup' at READY", fmt::format("{}/{}", backups, n), std::to_string(n),
      verdict(backups == n));
  auto m0 = sample(pid);
  row(section, "RSS / PSS at READY", mib(m0.rss_kb) + " / " + mib(m0.pss_kb), "≤ 16 MiB",
      verdict(m0.rss_kb <= 16 * 1024));

  StateWatch watch;
  watch.drain_also(started.notify.get());
  for (long i = 1; i <= n; ++i)
    if (!watch.add(fmt::format("{}/r{}", state_dir, i), static_cast<int>(i - 1)))
      throw std::runtime_error(fmt::format("cannot watch {}/r{}", state_dir, i));

  if (idle_s > 0) {
    sleep_us(1'000'000);
    DirChurn churn("/run/netns");
    auto s0 = sample(pid);
    progress(fmt::format("{}: idle for {} s", label, idle_s));
    sleep_us(idle_s * 1'000'000);
    auto s1 = sample(pid);
    long wakeups = (s1.voluntary - s0.voluntary) + (s1.involuntary - s0.involuntary);
    // havipd watches /run/netns: others creating namespaces wake it, by design.
    long others = churn.count();
    row(section, fmt::format("wake-ups at idle over {} s", idle_s),
        fmt::format("{} (CPU {:.2f} ms; /run/netns changed {} times meanwhile)", wakeups,
                    ms(s1.cpu_ns - s0.cpu_ns), others),
        "0", wakeups == 0 ? "ok" : others > 0 ? "MISS (others' namespaces)" : "MISS");
  }

  std::vector<Failover> ups, downs;
  for (long r = 0; r < rounds; ++r) {
    progress(fmt::format("{}: mass failover round {}/{}", label, r + 1, rounds));
    ups.push_back(failover(fleet, watch, state_dir, vip, true, pid, started.notify.get()));
    sleep_us(300'000);
    downs.push_back(failover(fleet, watch, state_dir, vip, false, pid, started.notify.get()));
    sleep_us(300'000);
  }
  auto report = [&](const std::string& what, const std::vector<Failover>& fs) {
    std::vector<double> last, first, burst, p50, p99;
    long missing = 0, wrong = 0, errors = 0, notes = 0;
    double cpu = 0;
    for (const auto& f : fs) {
      last.push_back(f.last_add_to_last_rename_ms);
      first.push_back(f.first_add_to_last_rename_ms);
      burst.push_back(f.burst_ms);
      p50.push_back(f.per_router.p50 / 1000);
      p99.push_back(f.per_router.p99 / 1000);
      missing += f.missing;
      wrong += f.wrong;
      errors += f.errors;
      cpu += f.cpu_ms;
      notes += f.notifications;
    }
    auto worst = *std::max_element(last.begin(), last.end());
    auto join = [](const std::vector<double>& v) {
      std::string s;
      for (auto x : v) s += (s.empty() ? "" : ", ") + fmt::format("{:.1f}", x);
      return s + " ms";
    };
    row(section, what + ": last change → last state file (per round)", join(last), "≤ 100 ms",
        verdict(worst <= 100 && missing == 0));
    row(section, what + ": first change → last state file", join(first));
    row(section, what + ": the driver's changes took", join(burst));
    row(section, what + ": per router change → its file, p50 / p99", join(p50) + " / " + join(p99));
    row(section, what + ": daemon CPU per round",
        fmt::format("{:.0f} ms ({:.0f} µs per router)", cpu / static_cast<double>(fs.size()),
                    cpu * 1000 / static_cast<double>(fs.size() * static_cast<std::size_t>(n))));
    row(section, what + ": sd_notify datagrams per round",
        std::to_string(notes / static_cast<long>(fs.size())));
    if (missing || wrong || errors)
      row(section, what + ": missing / wrong / refused", fmt::format("{} / {} / {}", missing, wrong, errors),
          "0", "MISS");
  };
  if (rounds > 0) {
    report("failover to primary", ups);
    report("failover to backup", downs);
  }
  auto m1 = sample(pid);
  row(section, "RSS / PSS / peak RSS after failovers",
      mib(m1.rss_kb) + " / " + mib(m1.pss_kb) + " / " + mib(m1.hwm_kb), "≤ 16 MiB",
      verdict(m1.rss_kb <= 16 * 1024 && m1.hwm_kb <= 16 * 1024));
  row(section, "RSS split: anonymous / file", mib(m1.anon_kb) + " / " + mib(m1.file_kb));
  row(section, "open file descriptors", std::to_string(m1.fds));

  if (restart) {
    // Restart with every VIP present: READY, and no router leaves primary.
    failover(fleet, watch, state_dir, vip, true, pid, started.notify.get());
    auto stop_ms = started.child.stop(10000);
    row(section, "SIGTERM → exit", fmt::format("{:.0f} ms", stop_ms));
    auto again = start_daemon(a, workdir, true, log);
    row(section, fmt::format("restart with {} VIPs present → READY", n),
        fmt::format("{:.0f} ms", again.startup_ms), "≤ 1 s", verdict(again.startup_ms <= 1000));
    long primaries = count_state(state_dir, n, "primary");
    row(section, "state files still 'primary' after the restart", fmt::format("{}/{}", primaries, n),
        std::to_string(n), verdict(primaries == n));
    again.child.stop(10000);
  } else {
    auto stop_ms = started.child.stop(10000);
    row(section, "SIGTERM → exit", fmt::format("{:.0f} ms", stop_ms));
  }
  return 0;
}

// ------------------------------------------------------------------ effects

// The stand-in radvd's datagrams (bench/fake_radvd.cc): "start PID T_NS SYSCTLS" when its
// main() begins, "term PID T_NS" if it is ever sent SIGTERM.
class ReportSocket {
 public:
  struct Report {
    std::string kind;
    pid_t pid = 0;
    std::int64_t t = 0;
    std::string sysctls;
  };
  explicit ReportSocket(const std::string& path) : path_(path) {
    fd_ = UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (!fd_ || path.size() >= sizeof sa.sun_path) throw std::runtime_error("report socket: " + path);
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    ::unlink(path.c_str());
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      throw std::runtime_error("bind " + path + ": " + std::strerror(errno));
  }
  ~ReportSocket() { ::unlink(path_.c_str()); }
  ReportSocket(const ReportSocket&) = delete;
  ReportSocket& operator=(const ReportSocket&) = delete;
  int fd() const { return fd_.get(); }
  std::vector<Report> read_all() {
    std::vector<Report> out;
    char buf[512];
    for (;;) {
      ssize_t n = ::recv(fd_.get(), buf, sizeof buf - 1, MSG_DONTWAIT);
      if (n <= 0) return out;
      buf[n] = '\0';
      char kind[16] = {}, sysctls[64] = {};
      int pid = 0;
      long long t = 0;
      if (std::sscanf(buf, "%15s %d %lld %63s", kind, &pid, &t, sysctls) >= 3)
        out.push_back(Report{kind, static_cast<pid_t>(pid), t, sysctls});
    }
  }

 private:
  std::string path_;
  UniqueFd fd_;
};

// The kernel's process events (the proc connector, NETLINK_CONNECTOR): when havipd
// clone()s a child, when that child's execve() has loaded the new program (before the
// dynamic loader runs), when a process exits. Their timestamps are the kernel's
// CLOCK_MONOTONIC, the clock of every other time here, so both directions of a
// transition are timed from outside havipd at the same kind of point: radvd's exec
// done (primary) and radvd's exit done (backup). Needs root and the initial network
// namespace (the driver runs there). Every process of the machine is reported: only
// the pids asked about are kept.
class ProcEvents {
 public:
  struct Times {
    std::int64_t fork = 0, exec = 0, exit = 0;
    pid_t parent = 0;
  };
  ProcEvents() {
    fd_ = UniqueFd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR));
    if (!fd_) throw std::runtime_error(fmt::format("proc connector: {}", std::strerror(errno)));
    int size = 8 << 20;
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = CN_IDX_PROC;
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      throw std::runtime_error(fmt::format("proc connector bind: {}", std::strerror(errno)));
    listen(PROC_CN_MCAST_LISTEN);
  }
  ~ProcEvents() { listen(PROC_CN_MCAST_IGNORE); }
  ProcEvents(const ProcEvents&) = delete;
  ProcEvents& operator=(const ProcEvents&) = delete;
  int fd() const { return fd_.get(); }
  // Reads what is queued; keeps the children of `parent` (forks) and the pids in
  // `watched` (exec, exit).
  void drain(pid_t parent) {
    alignas(nlmsghdr) char buf[16384];
    for (;;) {
      ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0 && errno == ENOBUFS) {
        ++overruns_;
        continue;
      }
      if (n <= 0) return;
      for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, n);
           h = NLMSG_NEXT(h, n)) {
        auto* msg = static_cast<cn_msg*>(NLMSG_DATA(h));
        auto* ev = reinterpret_cast<proc_event*>(msg->data);
        auto t = static_cast<std::int64_t>(ev->timestamp_ns);
        switch (ev->what) {
          case proc_event::PROC_EVENT_FORK:
            if (ev->event_data.fork.parent_tgid == parent &&
                ev->event_data.fork.child_pid == ev->event_data.fork.child_tgid)
              times_[ev->event_data.fork.child_tgid] = Times{t, 0, 0, parent};
            break;
          case proc_event::PROC_EVENT_EXEC:
            if (auto it = times_.find(ev->event_data.exec.process_tgid); it != times_.end() && it->second.exec == 0)
              it->second.exec = t;
            break;
          case proc_event::PROC_EVENT_EXIT:
            if (ev->event_data.exit.process_pid == ev->event_data.exit.process_tgid)
              if (auto it = times_.find(ev->event_data.exit.process_tgid); it != times_.end())
                it->second.exit = t;
            break;
          default:
            break;
        }
      }
    }
  }
  // The times seen for `pid` (all 0 if none).
  Times of(pid_t pid) const {
    auto it = times_.find(pid);
    return it == times_.end() ? Times{} : it->second;
  }
  void forget(pid_t pid) { times_.erase(pid); }
  long overruns() const { return overruns_; }

 private:
  void listen(proc_cn_mcast_op op) {
    alignas(nlmsghdr) char req[NLMSG_SPACE(sizeof(cn_msg) + sizeof(proc_cn_mcast_op))] = {};
    auto* h = reinterpret_cast<nlmsghdr*>(req);
    h->nlmsg_len = NLMSG_LENGTH(sizeof(cn_msg) + sizeof(proc_cn_mcast_op));
    h->nlmsg_type = NLMSG_DONE;
    auto* msg = static_cast<cn_msg*>(NLMSG_DATA(h));
    msg->id.idx = CN_IDX_PROC;
    msg->id.val = CN_VAL_PROC;
    msg->len = sizeof(proc_cn_mcast_op);
    std::memcpy(msg->data, &op, sizeof op);
    if (::send(fd_.get(), req, h->nlmsg_len, 0) < 0 && op == PROC_CN_MCAST_LISTEN)
      throw std::runtime_error(fmt::format("proc connector listen: {}", std::strerror(errno)));
  }
  UniqueFd fd_;
  std::map<pid_t, Times> times_;
  long overruns_ = 0;
};

// A thread that, once armed, re-reads one sysctl file in a tight loop and records when
// it first reads the wanted value. It yields after every read, so on a CPU havipd or its
// child also wants it steps aside (its time is then an upper bound); on a CPU of its own
// it reads every few µs. It still occupies a CPU while armed (about a millisecond per
// transition) on this 2-CPU machine, so its run is reported apart.
class SysctlPoller {
 public:
  explicit SysctlPoller(UniqueFd fd) : fd_(std::move(fd)), thread_([this] { run(); }) {}
  ~SysctlPoller() {
    stop_ = true;
    armed_ = true;
    armed_.notify_all();
    thread_.join();
  }
  SysctlPoller(const SysctlPoller&) = delete;
  SysctlPoller& operator=(const SysctlPoller&) = delete;
  void arm(char want) {
    want_ = want;
    seen_ = 0;
    armed_ = true;
    armed_.notify_all();
  }
  // The time the wanted value was first read, or 0 (then it is disarmed).
  std::int64_t result(int timeout_ms) {
    auto deadline = now_ns() + std::int64_t{timeout_ms} * 1'000'000;
    while (armed_ && now_ns() < deadline) sleep_us(100);
    armed_ = false;
    return seen_;
  }

 private:
  void run() {
    while (!stop_) {
      armed_.wait(false);
      while (armed_ && !stop_) {
        char c = 0;
        if (::pread(fd_.get(), &c, 1, 0) == 1 && c == want_) {
          seen_ = now_ns();
          armed_ = false;
        }
        sched_yield();
      }
    }
  }
  UniqueFd fd_;
  std::atomic<bool> armed_{false}, stop_{false};
  std::atomic<char> want_{0};
  std::atomic<std::int64_t> seen_{0};
  std::thread thread_;
};

// /proc/pressure/cpu "some" total: µs during which some task waited for a CPU (-1 if
// the kernel has no PSI). The machine is shared: this says how noisy a run was.
long long cpu_pressure_us() {
  auto text = read_file("/proc/pressure/cpu");
  if (!text) return -1;
  auto pos = text->find("total=");
  return pos == std::string::npos ? -1 : std::atoll(text->c_str() + pos + 6);
}

struct EffTransition {
  bool added = false;
  std::int64_t before = 0, after = 0, state = 0, exec = 0, gone = 0, sysctl = 0;
  // The kernel's process events for radvd (ProcEvents): havipd's clone() of it and
  // its exec (primary), its exit (backup).
  std::int64_t cloned = 0, execd = 0, exited = 0;
  std::string sysctls;  // primary: as the fake radvd read them at its start; backup: after it was gone
  bool term = false;    // the fake radvd was sent SIGTERM
  pid_t radvd = 0;      // the fake radvd started (primary) or stopped (backup)
  bool missed = false;
};

// The floor for "event → radvd main()": how long posix_spawn() of the same program
// takes to reach its main(), from the driver (no namespace switch, no config to write).
Summary exec_floor(const std::string& fake, const std::string& run_dir, ReportSocket& reports,
                   long n) {
  std::vector<double> lat;
  const std::string conf = run_dir + "/floor/radvd.conf";
  for (long i = 0; i < n; ++i) {
    std::vector<std::string> args{fake, "--nodaemon", "--config", conf};
    std::vector<char*> argv;
    for (auto& x : args) argv.push_back(x.data());
    argv.push_back(nullptr);
    char* envp[] = {nullptr};
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    pid_t child = 0;
    reports.read_all();
    auto t0 = now_ns();
    int r = posix_spawn(&child, fake.c_str(), nullptr, &attr, argv.data(), envp);
    posix_spawnattr_destroy(&attr);
    if (r != 0) throw std::runtime_error(fake + ": " + std::strerror(r));
    pollfd p{reports.fd(), POLLIN, 0};
    for (auto deadline = now_ns() + 2'000'000'000; now_ns() < deadline;) {
      if (::poll(&p, 1, 100) <= 0) continue;
      auto got = reports.read_all();
      auto it = std::find_if(got.begin(), got.end(),
                             [&](const auto& x) { return x.kind == "start" && x.pid == child; });
      if (it != got.end()) {
        lat.push_back(us(it->t - t0));
        break;
      }
    }
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    sleep_us(1000 + i % 1000);
  }
  return summarize(lat);
}

int cmd_effects(const Args& a) {
  auto label = a.get("label");
  auto section = "effects: " + label;
  auto vip = Ipv4Prefix::parse(a.get("vip"));
  auto state_file = a.get("state-file");
  auto workdir = a.get("workdir", "/tmp");
  auto run_dir = a.get("run-dir", "-");
  auto gateway = a.get("gateway", "-");
  bool with_radvd = run_dir != "-";
  bool poll_sysctl = a.num("poll-sysctl", 0) != 0;
  long n = a.num("transitions", 1000);
  int timeout_ms = static_cast<int>(a.num("timeout-ms", 3000));

  auto home = open_home_netns();
  auto ns = open_netns(a.get("netns"));
  RtSocket ctl(ns.get(), home.get());
  int ifindex = ctl.ifindex(a.get("interface"));
  if (ifindex == 0) throw std::runtime_error("no interface " + a.get("interface"));
  ctl.change_addr(ifindex, vip, false, true);  // start without the VIP

  std::unique_ptr<ReportSocket> reports;
  if (with_radvd) reports = std::make_unique<ReportSocket>(run_dir + "/fake-radvd.sock");
  // The gateway's sysctls, opened inside the namespace (/proc/sys resolves at open time).
  UniqueFd gw_fwd, gw_ra;
  std::unique_ptr<SysctlPoller> poller;
  if (gateway != "-") {
    InNetns in(ns.get(), home.get());
    auto base = "/proc/sys/net/ipv6/conf/" + gateway + "/";
    gw_fwd = UniqueFd(::open((base + "forwarding").c_str(), O_RDONLY | O_CLOEXEC));
    gw_ra = UniqueFd(::open((base + "accept_ra").c_str(), O_RDONLY | O_CLOEXEC));
    if (!gw_fwd || !gw_ra) throw std::runtime_error("cannot open " + base + "* in the namespace");
    if (poll_sysctl)
      poller = std::make_unique<SysctlPoller>(
          UniqueFd(::open((base + "forwarding").c_str(), O_RDONLY | O_CLOEXEC)));
  }
  auto read_gw = [&]() {
    auto rd = [](int fd) {
      char buf[16] = {};
      ssize_t k = ::pread(fd, buf, sizeof buf - 1, 0);
      return k > 0 ? std::string(buf, static_cast<std::size_t>(k) - (buf[k - 1] == '\n'))
                   : std::string("-");
    };
    return rd(gw_ra.get()) + "," + rd(gw_fwd.get());
  };

  auto started = start_daemon(a, workdir, true, workdir + "/" + label + ".log");
  pid_t pid = started.child.pid;
  row(section, "start-up → READY (1 router)", fmt::format("{:.1f} ms", started.startup_ms));
  for (int i = 0; i < 300 && content(state_file) != "backup"; ++i) sleep_us(10'000);
  if (content(state_file) != "backup") throw std::runtime_error("no 'backup' state file at start");
  StateWatch watch;
  if (!watch.add(dirname_of(state_file), 0)) throw std::runtime_error("cannot watch " + state_file);

  std::unique_ptr<ProcEvents> procs;
  if (with_radvd) procs = std::make_unique<ProcEvents>();
  UniqueFd radvd_pidfd;  // the running fake radvd, if any
  pid_t radvd_pid = 0;
  long terms = 0, checks = 0;
  auto handle_reports = [&](EffTransition* t) {
    if (!reports) return;
    for (const auto& r : reports->read_all()) {
      if (r.kind == "check") {
        ++checks;
      } else if (r.kind == "term") {
        ++terms;
        if (t) t->term = true;
      } else if (r.kind == "start") {
        radvd_pidfd = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, r.pid, 0)));
        radvd_pid = r.pid;
        if (t && t->added && t->exec == 0) {
          t->exec = r.t;
          t->sysctls = r.sysctls;
          t->radvd = r.pid;
        }
      }
    }
  };

  auto transition = [&](bool add) {
    EffTransition t;
    t.added = add;
    watch.wait(0, [](int, std::int64_t) {});
    handle_reports(nullptr);
    if (poller) poller->arm(add ? '1' : '0');
    const std::string want = add ? "primary" : "backup";
    t.before = now_ns();
    int err = ctl.change_addr(ifindex, vip, add, true);
    t.after = now_ns();
    if (err != 0) throw std::runtime_error(fmt::format("address change: {}", std::strerror(err)));
    bool need_radvd = with_radvd && (add || radvd_pidfd);
    if (!add) t.radvd = radvd_pid;
    auto deadline = t.after + std::int64_t{timeout_ms} * 1'000'000;
    while ((t.state == 0 || need_radvd) && now_ns() < deadline) {
      std::array<pollfd, 4> p{pollfd{watch.fd(), POLLIN, 0},
                              pollfd{reports ? reports->fd() : -1, POLLIN, 0},
                              pollfd{add ? -1 : radvd_pidfd.get(), POLLIN, 0},
                              pollfd{started.notify->fd(), POLLIN, 0}};
      int left = static_cast<int>((deadline - now_ns()) / 1'000'000) + 1;
      if (::poll(p.data(), p.size(), left) <= 0) continue;
      auto now = now_ns();
      if (p[0].revents) {
        bool ev = false;
        watch.wait(0, [&](int, std::int64_t) { ev = true; });
        if (ev && t.state == 0 && content(state_file) == want) t.state = now;
      }
      if (p[1].revents) {
        handle_reports(&t);
        if (add && t.exec != 0) need_radvd = false;
      }
      if (p[2].revents) {
        t.gone = now;
        radvd_pidfd.reset();
        handle_reports(&t);  // a "term" the fake sent before it exited
        t.sysctls = read_gw();
        need_radvd = false;
      }
      if (p[3].revents) started.notify->drain();
    }
    if (procs) {
      // Queued by now: the exec event comes before radvd's main() reports, the exit
      // event before its pidfd turns readable.
      procs->drain(pid);
      if (t.radvd != 0) {
        auto k = procs->of(t.radvd);
        if (add) {
          t.cloned = k.fork;
          t.execd = k.exec;
        } else {
          t.exited = k.exit;
          procs->forget(t.radvd);
        }
      }
    }
    if (poller) t.sysctl = poller->result(100);
    t.missed = t.state == 0 || need_radvd || (poller && t.sysctl == 0);
    return t;
  };

  // `radvd --configtest` runs once per configuration: at start-up, or else on the way
  // of the first transition to primary.
  sleep_us(200'000);
  handle_reports(nullptr);
  long checks_at_start = checks;
  auto first = transition(true);
  long checks_first = checks - checks_at_start;
  auto first_down = transition(false);
  if (first.missed || first_down.missed) throw std::runtime_error(label + ": the first transitions were not seen; see the log");
  sleep_us(100'000);
  progress(fmt::format("{}: {} transitions", label, n));

  std::mt19937 rng(42);
  std::uniform_int_distribution<long> jitter(1000, 2000);
  std::vector<EffTransition> ts;
  long missed = 0;
  auto cpu1 = sample(pid).cpu_ns;
  auto psi0 = cpu_pressure_us();
  auto wall0 = now_ns();
  for (long i = 0; i < n; ++i) {
    // From a quiet daemon, as in `latency`: its loop back in epoll_wait (any deferred
    // fsync done), then a random 1–2 ms.
    for (int k = 0; k < 10000 && !idle_in_poll(pid); ++k) sleep_us(100);
    sleep_us(jitter(rng));
    auto t = transition(i % 2 == 0);
    if (t.missed) {
      ++missed;  // a radvd that started late is stopped by the next transition to backup
      continue;
    }
    ts.push_back(t);
  }
  auto cpu2 = sample(pid).cpu_ns;
  auto psi1 = cpu_pressure_us();
  auto wall1 = now_ns();

  auto us_of = [](std::int64_t from, std::int64_t to) { return us(to - from); };
  std::vector<double> up_state, up_exec, up_state_exec, up_sysctl, up_sysctl_exec;
  std::vector<double> down_state, down_gone, down_state_gone, down_sysctl, down_sysctl_gone;
  // Kernel process events (ProcEvents): "done" in each direction.
  std::vector<double> up_cloned, up_execd, up_cloned_execd, up_execd_main, down_exited,
      down_exited_gone;
  long up_sysctls_ok = 0, down_sysctls_ok = 0, ups = 0, downs = 0;
  std::string csv =
      "added,sendto_us,state_us,radvd_us,sysctl_us,sysctls,term,cloned_us,done_us\n";
  for (const auto& t : ts) {
    std::int64_t done = t.added ? t.execd : t.exited;
    csv += fmt::format("{},{:.1f},{:.1f},{:.1f},{:.1f},\"{}\",{},{:.1f},{:.1f}\n", t.added ? 1 : 0,
                       us_of(t.before, t.after), us_of(t.before, t.state),
                       with_radvd ? us_of(t.before, t.added ? t.exec : t.gone) : 0.0,
                       t.sysctl ? us_of(t.before, t.sysctl) : 0.0,
                       t.sysctls.empty() ? "-" : t.sysctls, t.term ? 1 : 0,
                       t.cloned ? us_of(t.before, t.cloned) : 0.0,
                       done ? us_of(t.before, done) : 0.0);
    if (t.added) {
      ++ups;
      up_state.push_back(us_of(t.before, t.state));
      if (with_radvd) {
        up_exec.push_back(us_of(t.before, t.exec));
        up_state_exec.push_back(us_of(t.state, t.exec));
        up_sysctls_ok += t.sysctls == "1,2,1";
        if (t.cloned && t.execd) {
          up_cloned.push_back(us_of(t.before, t.cloned));
          up_execd.push_back(us_of(t.before, t.execd));
          up_cloned_execd.push_back(us_of(t.cloned, t.execd));
          up_execd_main.push_back(us_of(t.execd, t.exec));
        }
      }
      if (t.sysctl) {
        up_sysctl.push_back(us_of(t.before, t.sysctl));
        if (with_radvd) up_sysctl_exec.push_back(us_of(t.sysctl, t.exec));
      }
    } else {
      ++downs;
      down_state.push_back(us_of(t.before, t.state));
      if (with_radvd) {
        down_gone.push_back(us_of(t.before, t.gone));
        down_state_gone.push_back(us_of(t.state, t.gone));
        down_sysctls_ok += t.sysctls == "0,0";
        if (t.exited) {
          down_exited.push_back(us_of(t.before, t.exited));
          down_exited_gone.push_back(us_of(t.exited, t.gone));
        }
      }
      if (t.sysctl) {
        down_sysctl.push_back(us_of(t.before, t.sysctl));
        if (with_radvd) down_sysctl_gone.push_back(us_of(t.sysctl, t.gone));
      }
    }
  }
  if (a.get("raw", "-") != "-") write_file(a.get("raw"), csv);

  if (with_radvd) {
    row(section, "radvd --configtest runs: at start-up / on the way of the first transition",
        fmt::format("{} / {}", checks_at_start, checks_first), "1 / 0",
        verdict(checks_at_start == 1 && checks_first == 0));
    row(section, "first transition to primary (first radvd start): event → state file / → radvd main()",
        fmt_us(us_of(first.before, first.state)) + " / " + fmt_us(us_of(first.before, first.exec)));
  }
  row(section, fmt::format("to primary (n={}): event → state file in place", ups),
      fmt_summary(summarize(up_state)));
  if (!up_sysctl.empty())
    row(section, "to primary: event → gateway forwarding reads 1 (polled)", fmt_summary(summarize(up_sysctl)));
  if (with_radvd) {
    auto e = summarize(up_exec);
    row(section, "to primary: event → radvd main() (sysctls and radvd.conf written, posix_spawn, exec)",
        fmt_summary(e), "p99 ≤ 2 ms", verdict(e.p99 <= 2000 && missed == 0));
    row(section, "to primary: state file in place → radvd main()", fmt_summary(summarize(up_state_exec)));
    if (!up_sysctl_exec.empty())
      row(section, "to primary: gateway forwarding reads 1 → radvd main()",
          fmt_summary(summarize(up_sysctl_exec)));
    row(section, "to primary: sysctls already primary when radvd started (1,2,1)",
        fmt::format("{}/{}", up_sysctls_ok, ups), std::to_string(ups), verdict(up_sysctls_ok == ups));
  }
  row(section, fmt::format("to backup (n={}): event → state file in place", downs),
      fmt_summary(summarize(down_state)));
  if (!down_sysctl.empty())
    row(section, "to backup: event → gateway forwarding reads 0 (polled)", fmt_summary(summarize(down_sysctl)));
  if (with_radvd) {
    row(section, "to backup: event → radvd gone (pidfd readable)", fmt_summary(summarize(down_gone)));
    row(section, "to backup: state file in place → radvd gone", fmt_summary(summarize(down_state_gone)));
    if (!down_sysctl_gone.empty())
      row(section, "to backup: gateway forwarding reads 0 → radvd gone",
          fmt_summary(summarize(down_sysctl_gone)));
    row(section, "to backup: sysctls backup (accept_ra 0, forwarding 0) once radvd was gone",
        fmt::format("{}/{}", down_sysctls_ok, downs), std::to_string(downs),
        verdict(down_sysctls_ok == downs));
    row(section, "radvd stopped gracefully (SIGTERM reached it)", std::to_string(terms), "0",
        verdict(terms == 0));
  }
  if (with_radvd) {
    // Both directions side by side, each "done" at the same kind of point, seen by the
    // kernel: sysctls written, then radvd's execve() done (primary) / radvd's exit
    // done (backup). Then what follows each: radvd's dynamic loader up to its main(),
    // and the exit reaching a pidfd.
    auto p50 = [](const std::vector<double>& v) { return fmt_us(summarize(v).p50); };
    auto p99 = [](const std::vector<double>& v) { return fmt_us(summarize(v).p99); };
    auto pu = summarize(up_execd), pd = summarize(down_exited);
    row(section, fmt::format("DONE to primary (n={}): event → radvd exec'd (kernel exec event; sysctls and radvd.conf written before)", up_execd.size()),
        fmt_summary(pu));
    row(section, fmt::format("DONE to backup (n={}): event → radvd exited (kernel exit event; sysctls written before)", down_exited.size()),
        fmt_summary(pd));
    row(section, "DONE side by side, p50 / p99: to primary (exec'd); to backup (exited); ratio of the p50s",
        fmt::format("{} / {}; {} / {}; {:.2f}", fmt_us(pu.p50), fmt_us(pu.p99), fmt_us(pd.p50),
                    fmt_us(pd.p99), pd.p50 > 0 ? pu.p50 / pd.p50 : 0.0));
    row(section, "to primary: event → havipd clone()s radvd (kernel fork event)", fmt_summary(summarize(up_cloned)));
    row(section, "to primary: clone → radvd exec'd (the child's set-up and execve)",
        fmt_summary(summarize(up_cloned_execd)));
    row(section, "to primary: radvd exec'd → its main() (its dynamic loader)", fmt_summary(summarize(up_execd_main)));
    row(section, "to backup: radvd exited → its pidfd readable (driver)", fmt_summary(summarize(down_exited_gone)));
    row(section, "side by side, p50 (p99): event → radvd main() (primary); event → radvd gone, pidfd (backup)",
        fmt::format("{} ({}); {} ({})", p50(up_exec), p99(up_exec), p50(down_gone), p99(down_gone)));
    if (procs && procs->overruns() > 0)
      row(section, "proc connector overruns (events lost; their transitions left out)",
          std::to_string(procs->overruns()));
  }
  if (missed) row(section, "transitions not completed in time", std::to_string(missed), "0", "MISS");
  if (with_radvd && a.num("exec-floor", 0) > 0)
    row(section, fmt::format("floor: the driver's posix_spawn() → fake-radvd main() (n={})",
                             a.num("exec-floor", 0)),
        fmt_summary(exec_floor(a.get("fake-radvd"), run_dir, *reports, a.num("exec-floor", 0))));
  row(section, "daemon CPU per transition (radvd's own exec not included)",
      fmt_us(us(cpu2 - cpu1) / static_cast<double>(n)));
  if (psi0 >= 0 && psi1 >= psi0)
    row(section, "CPU pressure during the run (some task waiting for a CPU; ours included)",
        fmt::format("{:.1f} % of the time", 100.0 * static_cast<double>(psi1 - psi0) * 1000 /
                                                 static_cast<double>(wall1 - wall0)));
  auto mem = sample(pid);
  row(section, "havipd RSS / PSS", mib(mem.rss_kb) + " / " + mib(mem.pss_kb));
  started.child.stop();
  return 0;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: havip-bench links-up|latency|ip-monitor|scale|footprint|effects ... (see the source)\n");
    return 2;
  }
  std::string cmd = argv[1];
  try {
    auto args = bench::parse_args(argc, argv);
    if (cmd == "links-up") return bench::cmd_links_up(args);
    if (cmd == "latency") return bench::cmd_latency(args);
    if (cmd == "ip-monitor") return bench::cmd_ip_monitor(args);
    if (cmd == "scale") return bench::cmd_scale(args);
    if (cmd == "footprint") return bench::cmd_footprint(args);
    if (cmd == "effects") return bench::cmd_effects(args);
    std::fprintf(stderr, "havip-bench: unknown command %s\n", cmd.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "havip-bench %s: %s\n", cmd.c_str(), e.what());
    return 1;
  }
}
