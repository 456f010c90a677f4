// fake-radvd: a stand-in for radvd in bench/run's `effects` part (see docs/BENCHMARKS.md).
//
// havipd runs `radvd_binary --configtest --config C …` once per configuration, then
// `radvd_binary --nodaemon --config C --pidfile P …` inside the router's namespace.
// This program:
//
//   --configtest   reports "check PID T_NS" and exits 0 at once;
//   otherwise      reads CLOCK_MONOTONIC first thing in main(), then reads the router's
//                  gateway sysctls as this process sees them (it runs in the router's
//                  namespace, so this shows whether havipd wrote them *before* it started
//                  radvd), reports both in one datagram to <run_dir>/fake-radvd.sock
//                  (run_dir = the directory above the one holding --config), and sleeps
//                  until it is killed. A SIGTERM (a graceful stop, which havipd must not
//                  use) is reported too, with its time, before it exits.
//
// Datagrams: "check PID T_NS", "start PID T_NS SYSCTLS" and "term PID T_NS", T_NS on
// CLOCK_MONOTONIC.
// SYSCTLS is "all.forwarding,gw.accept_ra,gw.forwarding" as read ("-" if unreadable); the
// gateway interface is qg-<router>, <router> being the config's directory name (the
// bench's naming: havipd passes no environment that would say more).
//
// Only libc, so that the exec is as cheap as a C program's can be; nothing is printed
// (havipd logs what its children write).
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace {

long long mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1'000'000'000LL + ts.tv_nsec;
}

sockaddr_un g_sock{};  // <run_dir>/fake-radvd.sock

void report(const char* text) {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sendto(fd, text, std::strlen(text), 0, reinterpret_cast<sockaddr*>(&g_sock), sizeof g_sock);
  close(fd);
}

void on_term(int) {
  char msg[96];
  std::snprintf(msg, sizeof msg, "term %d %lld", static_cast<int>(getpid()), mono_ns());
  report(msg);  // socket/sendto/close are async-signal-safe; snprintf is close enough here
  _exit(0);
}

// "/proc/sys/…" as this process (in the router's namespace) reads it; "-" if unreadable.
void read_sysctl(const char* path, char* out, std::size_t size) {
  std::snprintf(out, size, "-");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[32];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = '\0';
  buf[std::strcspn(buf, "\n ")] = '\0';
  std::snprintf(out, size, "%.15s", buf);
}

}  // namespace

int main(int argc, char** argv) {
  long long t0 = mono_ns();
  const char* config = nullptr;
  bool configtest = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--configtest") == 0 || std::strcmp(argv[i], "-c") == 0)
      configtest = true;
    else if ((std::strcmp(argv[i], "--config") == 0 || std::strcmp(argv[i], "-C") == 0) &&
             i + 1 < argc)
      config = argv[++i];
  }
  if (config == nullptr) return configtest ? 0 : 2;

  // <run_dir>/<router>/radvd.conf → run_dir and router
  char dir[256], router[64];
  if (std::strlen(config) >= sizeof dir) return 2;
  std::memcpy(dir, config, std::strlen(config) + 1);
  char* slash = std::strrchr(dir, '/');
  if (slash == nullptr) return 2;
  *slash = '\0';
  slash = std::strrchr(dir, '/');
  if (slash == nullptr || std::strlen(slash + 1) >= sizeof router) return 2;
  std::memcpy(router, slash + 1, std::strlen(slash + 1) + 1);
  *slash = '\0';  // dir is now run_dir
  static const char kSock[] = "/fake-radvd.sock";
  if (std::strlen(dir) + sizeof kSock > sizeof g_sock.sun_path) return 2;
  g_sock.sun_family = AF_UNIX;
  std::memcpy(g_sock.sun_path, dir, std::strlen(dir));
  std::memcpy(g_sock.sun_path + std::strlen(dir), kSock, sizeof kSock);

  if (configtest) {  // counted by the driver: when havipd checks the config matters
    char msg[96];
    std::snprintf(msg, sizeof msg, "check %d %lld", static_cast<int>(getpid()), t0);
    report(msg);
    return 0;
  }

  struct sigaction sa{};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  char path[160], all_fwd[16], accept_ra[16], fwd[16];
  read_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", all_fwd, sizeof all_fwd);
  std::snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/qg-%s/accept_ra", router);
  read_sysctl(path, accept_ra, sizeof accept_ra);
  std::snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/qg-%s/forwarding", router);
  read_sysctl(path, fwd, sizeof fwd);

  char msg[200];
  std::snprintf(msg, sizeof msg, "start %d %lld %s,%s,%s", static_cast<int>(getpid()), t0,
                all_fwd, accept_ra, fwd);
  report(msg);
  for (;;) pause();
}
