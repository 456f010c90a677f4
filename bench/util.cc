#include "bench/util.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <numeric>
#include <set>
#include <sstream>

#include <fmt/format.h>

namespace bench {

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void sleep_us(std::int64_t us) {
  timespec ts{us / 1'000'000, (us % 1'000'000) * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

Summary summarize(std::vector<double> v) {
  Summary s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto rank = [&](double p) {
    auto i = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
    return v[std::clamp<std::size_t>(i, 1, v.size()) - 1];
  };
  s.p50 = rank(0.50);
  s.p90 = rank(0.90);
  s.p99 = rank(0.99);
  s.max = v.back();
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  return s;
}

void row(const std::string& section, const std::string& metric, const std::string& value,
         const std::string& goal, const std::string& verdict_text) {
  std::printf("ROW\t%s\t%s\t%s\t%s\t%s\n", section.c_str(), metric.c_str(), value.c_str(),
              goal.empty() ? "-" : goal.c_str(), verdict_text.empty() ? "-" : verdict_text.c_str());
  std::fflush(stdout);
}

std::string fmt_us(double us) {
  if (us < 1000) return fmt::format("{:.0f} µs", us);
  if (us < 1'000'000) return fmt::format("{:.2f} ms", us / 1000);
  return fmt::format("{:.2f} s", us / 1e6);
}

std::string fmt_summary(const Summary& s) {
  return fmt::format("p50 {} / p90 {} / p99 {} / max {}", fmt_us(s.p50), fmt_us(s.p90),
                     fmt_us(s.p99), fmt_us(s.max));
}

std::string verdict(bool ok) { return ok ? "ok" : "MISS"; }

// ------------------------------------------------------------------ processes

double Child::stop(int grace_ms) {
  if (pid <= 0) return 0;
  auto start = now_ns();
  ::kill(pid, SIGTERM);
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) break;
    if (now_ns() - start > std::int64_t{grace_ms} * 1'000'000) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    sleep_us(500);
  }
  pid = -1;
  return static_cast<double>(now_ns() - start) / 1e6;
}

Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    stop();
    pid = o.pid;
    o.pid = -1;
  }
  return *this;
}

Child::~Child() { stop(); }

Child spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
            const std::string& log_path) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log >= 0) {
      ::dup2(log, STDOUT_FILENO);
      ::dup2(log, STDERR_FILENO);
    }
    if (null >= 0) ::dup2(null, STDIN_FILENO);
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  Child c;
  c.pid = pid;
  return c;
}

NotifySocket::NotifySocket(const std::string& path) : path_(path) {
  fd_ = UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (!fd_ || path.size() >= sizeof sa.sun_path)
    throw std::runtime_error("notify socket: " + path);
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  ::unlink(path.c_str());
  if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    throw std::runtime_error("bind " + path + ": " + std::strerror(errno));
}

std::optional<std::int64_t> NotifySocket::wait_ready(int timeout_ms) {
  auto deadline = now_ns() + std::int64_t{timeout_ms} * 1'000'000;
  std::array<char, 4096> buf;
  for (;;) {
    auto left = (deadline - now_ns()) / 1'000'000;
    if (left < 0) return std::nullopt;
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left) + 1) <= 0) continue;
    auto t = now_ns();
    ssize_t n = ::recv(fd_.get(), buf.data(), buf.size() - 1, 0);
    if (n <= 0) continue;
    ++received_;
    std::string msg(buf.data(), static_cast<std::size_t>(n));
    if (("\n" + msg + "\n").find("\nREADY=1\n") != std::string::npos) return t;
  }
}

int NotifySocket::drain() {
  std::array<char, 4096> buf;
  int n = 0;
  while (::recv(fd_.get(), buf.data(), buf.size(), MSG_DONTWAIT) >= 0) ++n;
  received_ += n;
  return n;
}

// ------------------------------------------------------------------ /proc

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

namespace {

long field_kb(const std::string& text, const std::string& key) {
  auto pos = text.find("\n" + key + ":");
  if (pos == std::string::npos) return 0;
  return std::strtol(text.c_str() + pos + key.size() + 2, nullptr, 10);
}

std::vector<std::string> tasks_of(pid_t pid) {
  std::vector<std::string> out;
  std::string dir = fmt::format("/proc/{}/task", pid);
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (auto* e = ::readdir(d))
    if (e->d_name[0] != '.') out.push_back(dir + "/" + e->d_name);
  ::closedir(d);
  return out;
}

int count_dir(const std::string& dir) {
  int n = 0;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  while (auto* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}

}  // namespace

ProcSample sample(pid_t pid) {
  ProcSample s;
  auto status = read_file(fmt::format("/proc/{}/status", pid));
  if (!status) return s;
  std::string st = "\n" + *status;
  s.rss_kb = field_kb(st, "VmRSS");
  s.hwm_kb = field_kb(st, "VmHWM");
  s.anon_kb = field_kb(st, "RssAnon");
  s.file_kb = field_kb(st, "RssFile");
  if (auto rollup = read_file(fmt::format("/proc/{}/smaps_rollup", pid)))
    s.pss_kb = field_kb("\n" + *rollup, "Pss");
  for (const auto& task : tasks_of(pid)) {
    if (auto ts = read_file(task + "/status")) {
      s.voluntary += field_kb("\n" + *ts, "voluntary_ctxt_switches");
      s.involuntary += field_kb("\n" + *ts, "nonvoluntary_ctxt_switches");
    }
    if (auto sched = read_file(task + "/schedstat"))
      s.cpu_ns += std::strtoll(sched->c_str(), nullptr, 10);
  }
  s.processes = 1;
  s.fds = count_dir(fmt::format("/proc/{}/fd", pid));
  return s;
}

ProcSample sample_tree(pid_t root) {
  std::map<pid_t, std::vector<pid_t>> children;
  DIR* d = ::opendir("/proc");
  while (d != nullptr) {
    auto* e = ::readdir(d);
    if (!e) break;
    pid_t pid = static_cast<pid_t>(std::strtol(e->d_name, nullptr, 10));
    if (pid <= 0) continue;
    auto stat = read_file(fmt::format("/proc/{}/stat", pid));
    if (!stat) continue;
    auto close = stat->rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(stat->c_str() + close + 1, " %c %d", &state, &ppid) == 2)
      children[ppid].push_back(pid);
  }
  if (d) ::closedir(d);
  ProcSample total;
  std::vector<pid_t> todo{root};
  while (!todo.empty()) {
    pid_t p = todo.back();
    todo.pop_back();
    auto s = sample(p);
    total.rss_kb += s.rss_kb;
    total.hwm_kb += s.hwm_kb;
    total.pss_kb += s.pss_kb;
    total.anon_kb += s.anon_kb;
    total.file_kb += s.file_kb;
    total.voluntary += s.voluntary;
    total.involuntary += s.involuntary;
    total.cpu_ns += s.cpu_ns;
    total.processes += s.processes;
    total.fds += s.fds;
    for (pid_t c : children[p]) todo.push_back(c);
  }
  return total;
}

bool idle_in_poll(pid_t pid) {
  // x86-64 numbers: poll, select, epoll_wait, pselect6, ppoll, epoll_pwait, epoll_pwait2,
  // and futex / futex_waitv: a helper thread waiting for work (havipd's deferred-sync
  // thread between batches; one busy in fsync or syncfs is not idle).
  static const std::set<long> waits{7, 23, 232, 270, 271, 281, 441, 202, 449};
  auto tasks = tasks_of(pid);
  if (tasks.empty()) return true;
  for (const auto& task : tasks) {
    auto sc = read_file(task + "/syscall");
    if (!sc || sc->rfind("running", 0) == 0) return false;
    if (!waits.contains(std::strtol(sc->c_str(), nullptr, 10))) return false;
  }
  return true;
}

// ------------------------------------------------------------------ inotify

StateWatch::StateWatch() : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
  if (!fd_) throw std::runtime_error(std::string("inotify_init1: ") + std::strerror(errno));
}

bool StateWatch::add(const std::string& dir, int key) {
  int wd = ::inotify_add_watch(fd_.get(), dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE);
  if (wd < 0) return false;
  keys_[wd] = key;
  return true;
}

int StateWatch::wait(int timeout_ms, const std::function<void(int, std::int64_t)>& on_event) {
  std::array<pollfd, 2> p{pollfd{fd_.get(), POLLIN, 0},
                         pollfd{notify_ ? notify_->fd() : -1, POLLIN, 0}};
  int r = ::poll(p.data(), notify_ ? 2 : 1, timeout_ms);
  if (r <= 0) return 0;
  auto t = now_ns();
  if (notify_) notify_->drain();
  alignas(inotify_event) std::array<char, 65536> buf;
  int seen = 0;
  for (;;) {
    ssize_t n = ::read(fd_.get(), buf.data(), buf.size());
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      inotify_event ev;
      std::memcpy(&ev, buf.data() + off, sizeof ev);
      const char* name = buf.data() + off + sizeof ev;
      if (ev.len > 0 && std::strcmp(name, "state") == 0) {
        auto it = keys_.find(ev.wd);
        if (it != keys_.end()) {
          on_event(it->second, t);
          ++seen;
        }
      }
      off += static_cast<ssize_t>(sizeof ev + ev.len);
    }
  }
  return seen;
}

DirChurn::DirChurn(const std::string& dir) : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
  if (fd_) ::inotify_add_watch(fd_.get(), dir.c_str(), IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM);
}

long DirChurn::count() {
  alignas(inotify_event) std::array<char, 65536> buf;
  for (;;) {
    ssize_t n = fd_ ? ::read(fd_.get(), buf.data(), buf.size()) : -1;
    if (n <= 0) return seen_;
    for (ssize_t off = 0; off < n;) {
      inotify_event ev;
      std::memcpy(&ev, buf.data() + off, sizeof ev);
      ++seen_;
      off += static_cast<ssize_t>(sizeof ev + ev.len);
    }
  }
}

}  // namespace bench
