#include "daemon/dry_run.h"

#include <string.h>
#include <systemd/sd-event.h>

#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

namespace havip {

namespace {

class DryStateFiles final : public StateFiles {
 public:
  tl::expected<bool, std::string> write(const std::string& dir, const std::string& router,
                                        Role role, bool) override {
    spdlog::info("{}: dry-run: would write '{}' to {}", router, role_name(role),
                 FsStateFiles::path_of(dir, router));
    return true;
  }
  void sync() override {}
};

class DrySysctls final : public Sysctls {
 public:
  tl::expected<bool, SysctlError> set(const std::string& netns, const std::string& path,
                                      const std::string& value) override {
    spdlog::info("dry-run: would set {} = {} in {}", path, value,
                 netns.empty() ? "the host namespace" : netns);
    return true;
  }
};

class DryFiles final : public RunFiles {
 public:
  tl::expected<void, std::string> write(const std::string& dir, const std::string& sub,
                                        const std::string& name, const std::string&) override {
    spdlog::info("dry-run: would write {}/{}/{}", dir, sub, name);
    return {};
  }
  void remove(const std::string& dir, const std::string& sub, const std::string& name) override {
    spdlog::info("dry-run: would remove {}/{}/{}", dir, sub, name);
  }
  tl::expected<void, std::string> ensure(const std::string&, const std::string&) override {
    return {};
  }
  void remove_path(const std::string& path) override {
    spdlog::info("dry-run: would remove {}", path);
  }
};

class DryNotifier final : public Notifier {
 public:
  void notify(const std::string& router, Role role) override {
    spdlog::info("{}: dry-run: would notify the L3 agent: {}", router, role_name(role));
  }
  void forget(const std::string&) override {}
};

class DryLauncher final : public Launcher {
 public:
  explicit DryLauncher(sd_event* loop) : loop_(loop) {}
  tl::expected<ProcessId, std::string> start(const ProcessSpec& spec, OnExit on_exit) override {
    spdlog::info("{}: dry-run: would start {}: {}", spec.router, spec.what,
                 fmt::join(spec.argv, " "));
    ProcessId id = next_++;
    running_.emplace(id, Pending{this, id, std::move(on_exit)});
    // One-shot commands (hooks, conntrackd's, radvd --configtest: not supervised,
    // so nothing they leave is followed) "finish" at once.
    if (spec.leftovers == ProcessSpec::Leftovers::kill) exit_later(id, 0);
    return id;
  }
  void signal(ProcessId id, int sig) override {
    if (!running_.contains(id)) return;
    spdlog::info("dry-run: would send SIG{}", sigabbrev_np(sig));
    exit_later(id, sig);
  }

 private:
  struct Pending {
    DryLauncher* owner;
    ProcessId id;
    OnExit on_exit;
    int sig = 0;
    bool exiting = false;
  };
  void exit_later(ProcessId id, int sig) {
    auto& p = running_.at(id);
    if (p.exiting) return;  // one pretend exit per process
    p.exiting = true;
    p.sig = sig;
    sd_event_add_defer(loop_, nullptr, on_defer, &p);  // floating: freed after it runs
  }
  static int on_defer(sd_event_source*, void* userdata) {
    auto* p = static_cast<Pending*>(userdata);
    auto node = p->owner->running_.extract(p->id);
    ExitStatus st;
    st.signal = node.mapped().sig;
    if (node.mapped().on_exit) node.mapped().on_exit(st);
    return 0;
  }
  sd_event* loop_;
  ProcessId next_ = 1;
  std::map<ProcessId, Pending> running_;
};

}  // namespace

std::unique_ptr<StateFiles> dry_run_state_files() { return std::make_unique<DryStateFiles>(); }
std::unique_ptr<Sysctls> dry_run_sysctls() { return std::make_unique<DrySysctls>(); }
std::unique_ptr<RunFiles> dry_run_files() { return std::make_unique<DryFiles>(); }
std::unique_ptr<Notifier> dry_run_notifier() { return std::make_unique<DryNotifier>(); }
std::unique_ptr<Launcher> dry_run_launcher(sd_event* loop) {
  return std::make_unique<DryLauncher>(loop);
}

}  // namespace havip
