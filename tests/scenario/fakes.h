// Recording fakes of the effect interfaces (~30 lines each), so effect
// scenarios read as "given these transitions, these things happened".
#pragma once

#include <csignal>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "effects/notifier.h"
#include "effects/process.h"
#include "effects/run_files.h"
#include "effects/sysctl.h"

namespace havip::testing {

// What happened, in order, as readable lines shared by all fakes:
//   "start r1 radvd", "signal r1 radvd SIGKILL", "sysctl ns1 net/ipv6/... = 2",
//   "write /run/havip/r1/radvd.conf", "remove /run/havip/r1/radvd.pid"
using Journal = std::vector<std::string>;

class FakeLauncher final : public Launcher {
 public:
  explicit FakeLauncher(Journal& journal) : journal_(journal) {}
  tl::expected<ProcessId, std::string> start(const ProcessSpec& spec, OnExit on_exit) override;
  void signal(ProcessId id, int sig) override;

  // The process started as `what` of `router` exits (as the event loop would report).
  void exit(const std::string& router, const std::string& what, ExitStatus status = {});
  bool running(const std::string& router, const std::string& what) const;
  const ProcessSpec& spec(const std::string& router, const std::string& what) const;
  // Makes start() of argv[0] == `binary` fail, like a missing executable.
  void fail_exec(const std::string& binary) { missing_.insert(binary); }

 private:
  struct Proc {
    ProcessSpec spec;
    OnExit on_exit;
  };
  std::map<ProcessId, Proc>::iterator find(const std::string& router, const std::string& what);
  Journal& journal_;
  ProcessId next_ = 1;
  std::map<ProcessId, Proc> procs_;
  std::set<std::string> missing_;
};

class FakeSysctls final : public Sysctls {
 public:
  explicit FakeSysctls(Journal& journal) : journal_(journal) {}
  tl::expected<bool, SysctlError> set(const std::string& netns, const std::string& path,
                                      const std::string& value) override;
  std::string get(const std::string& netns, const std::string& path) const;
  void fail(const std::string& path, bool on) {
    if (on)
      failing_.insert(path);
    else
      failing_.erase(path);
  }
  // Sysctls below net/ipv6/conf/IFNAME/ do not exist (ENOENT) until added.
  void missing_interface(const std::string& ifname, bool on) {
    fail("net/ipv6/conf/" + ifname + "/", on);
  }

 private:
  Journal& journal_;
  std::map<std::pair<std::string, std::string>, std::string> values_;
  std::set<std::string> failing_;
};

class FakeNotifier final : public Notifier {
 public:
  explicit FakeNotifier(Journal& journal) : journal_(journal) {}
  void notify(const std::string& router, Role role) override {
    journal_.push_back("notify " + router + " " + std::string(role_name(role)));
  }
  void forget(const std::string& router) override { journal_.push_back("forget " + router); }

 private:
  Journal& journal_;
};

class FakeFiles final : public RunFiles {
 public:
  explicit FakeFiles(Journal& journal) : journal_(journal) {}
  tl::expected<void, std::string> write(const std::string& dir, const std::string& sub,
                                        const std::string& name,
                                        const std::string& content) override;
  void remove(const std::string& dir, const std::string& sub, const std::string& name) override;
  tl::expected<void, std::string> ensure(const std::string&, const std::string&) override {
    return {};
  }
  void remove_path(const std::string& path) override {
    if (files_.erase(path)) journal_.push_back("remove " + path);
  }
  bool exists(const std::string& path) const { return files_.contains(path); }
  const std::string& content(const std::string& path) const { return files_.at(path); }

 private:
  Journal& journal_;
  std::map<std::string, std::string> files_;
};

}  // namespace havip::testing
