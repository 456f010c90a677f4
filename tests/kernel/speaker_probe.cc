// Test-only: src/netns/speaker.h from the command line, for tests/kernel/test_speaker.py.
//
//   speaker_probe netns NAME [--wait SECONDS]   the speaker in /run/netns/NAME (one /proc scan)
//   speaker_probe pid-file PATH [--wait SECONDS]  the speaker a pid file names
//   speaker_probe scan [--repeat N]             every speaker: "INODE PID" lines, then
//                                               "scan: N speakers, X ms" (mean of N scans)
//   speaker_probe neutron-pid-file HA_CONFS ROUTER_ID   neutron_vrrp_pid_file()'s path
//
// Prints the pid found and exits 0; prints "none" and exits 1 when a namespace has no
// speaker; prints the error on stderr and exits 2 otherwise. With --wait it then opens a
// pidfd on the speaker and prints "exited" when the pidfd says so (exit 0), or "running"
// after SECONDS (exit 1).
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>

#include "netns/netns.h"
#include "netns/speaker.h"
#include "neutron/neutron.h"

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: speaker_probe netns NAME [--wait SECONDS]\n"
               "       speaker_probe pid-file PATH [--wait SECONDS]\n"
               "       speaker_probe scan [--repeat N]\n"
               "       speaker_probe neutron-pid-file HA_CONFS ROUTER_ID\n");
  return 2;
}

int fail(const std::string& why) {
  std::fprintf(stderr, "speaker_probe: %s\n", why.c_str());
  return 2;
}

int wait_for_exit(pid_t pid, double seconds) {
  auto fd = havip::netns::open_pidfd(pid);
  if (!fd) return fail(fd.error());
  pollfd p{fd->get(), POLLIN, 0};
  int n = ::poll(&p, 1, static_cast<int>(seconds * 1000));
  if (n < 0) return fail("poll");
  std::printf("%s\n", n == 1 ? "exited" : "running");
  return n == 1 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string mode = argv[1];
  std::string arg = argc > 2 ? argv[2] : "";
  if (mode == "neutron-pid-file") {
    if (argc != 4) return usage();
    std::printf("%s\n", havip::neutron::neutron_vrrp_pid_file(arg, argv[3]).c_str());
    return 0;
  }
  double wait = -1;
  long repeat = 1;
  for (int i = mode == "scan" ? 2 : 3; i < argc; i += 2) {
    std::string opt = argv[i];
    if (i + 1 >= argc) return usage();
    if (opt == "--wait" && mode != "scan")
      wait = std::atof(argv[i + 1]);
    else if (opt == "--repeat" && mode == "scan")
      repeat = std::max(1L, std::atol(argv[i + 1]));
    else
      return usage();
  }

  if (mode == "scan") {
    std::unordered_map<std::uint64_t, pid_t> speakers;
    auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < repeat; ++i) speakers = havip::netns::scan_vrrp_speakers();
    std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
    for (auto [inode, pid] : speakers)
      std::printf("%llu %d\n", static_cast<unsigned long long>(inode), pid);
    std::printf("scan: %zu speakers, %.3f ms\n", speakers.size(),
                took.count() / static_cast<double>(repeat));
    return 0;
  }

  pid_t pid = 0;
  if (mode == "netns" && !arg.empty()) {
    auto ns = havip::netns::open_named("/run/netns", arg);
    if (!ns) return fail(ns.error());
    auto speakers = havip::netns::scan_vrrp_speakers();
    auto found = speakers.find(havip::netns::namespace_inode(ns->get()));
    if (found == speakers.end()) {
      std::printf("none\n");
      return 1;
    }
    pid = found->second;
  } else if (mode == "pid-file" && !arg.empty()) {
    auto found = havip::netns::speaker_from_pid_file(arg);
    if (!found) return fail(found.error());
    pid = *found;
  } else {
    return usage();
  }
  std::printf("%d\n", pid);
  std::fflush(stdout);
  return wait < 0 ? 0 : wait_for_exit(pid, wait);
}
