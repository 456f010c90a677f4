// Recording fakes of the effect interfaces (~30 lines each), so effect
// scenarios read as "given these transitions, these things happened".
#pragma once

#include <csignal>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "effects/notifier.h"
#include "effects/observer.h"
#include "effects/process.h"
#include "effects/run_files.h"
#include "effects/state_queue.h"
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

// Records what the pipeline reports, one line each (not in the Journal: the
// effects' own lines stay as they are): "transition r1 unknown -> primary",
// "failed r1 sysctls: sysctl …", "exited r1 radvd (unexpected): …".
class FakeObserver final : public Observer {
 public:
  void transition(const RoleChange& c) override;
  void effect_failed(const EffectFailure& f) override;
  void child_exited(const ChildExit& e) override;
  std::vector<std::string> take() { return std::exchange(lines_, {}); }

 private:
  std::vector<std::string> lines_;
};

// State file writes numbered as StateWriter numbers them. With `hold` unset
// each is done at once (its result waits for take(), as the writer's does);
// with it set, a write is done when the test says so (a slow disk).
class FakeStateQueue final : public StateQueue {
 public:
  bool hold = false;
  std::uint64_t submit(const std::string& dir, const std::string& router, Role role,
                       bool create_dir) override;
  std::vector<Result> take() override { return std::exchange(done_, {}); }
  std::optional<TimePoint> pending_since(const std::string& router) const override;
  bool busy() const override { return !pending_.empty() || !done_.empty(); }
  // Every held write of `router` up to number `seq` is done (one result, as
  // the writer reports a queued write replaced by a newer one); `error` fails it.
  void complete(const std::string& router, std::uint64_t seq, std::string error = "");
  // "r1 primary" per write submitted, in order.
  std::vector<std::string> take_submitted() { return std::exchange(submitted_, {}); }

 private:
  std::uint64_t next_ = 1;
  std::map<std::string, std::pair<std::uint64_t, Role>> pending_;  // the newest held
  std::map<std::string, std::string> dirs_;
  std::vector<Result> done_;
  std::vector<std::string> submitted_;
};

}  // namespace havip::testing
