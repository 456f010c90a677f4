#include "effects/radvd.h"

#include <csignal>

#include "core/radvd_conf.h"

namespace havip {

namespace {

constexpr const char* kConf = "radvd.conf";
constexpr const char* kCheckConf = "radvd.check.conf";  // what --configtest read
constexpr const char* kPid = "radvd.pid";

std::string conf_path(const DaemonConfig& d, const RouterConfig& r, const char* name = kConf) {
  if (!r.radvd->config_file.empty()) return r.radvd->config_file;
  return d.run_dir + "/" + r.name + "/" + name;
}

std::string pid_path(const DaemonConfig& d, const RouterConfig& r) {
  if (!r.radvd->pid_file.empty()) return r.radvd->pid_file;
  return d.run_dir + "/" + r.name + "/" + kPid;
}

// What havipd writes as radvd.conf: rendered from the interfaces, or the
// text it was given (Neutron's); empty when radvd reads config_file itself.
std::string content_of(const RouterConfig& r) {
  if (!r.radvd->config_file.empty()) return {};
  if (!r.radvd->content.empty()) return r.radvd->content;
  return render_radvd_conf(*r.radvd);
}

SupervisorPolicy radvd_policy() {
  SupervisorPolicy p;
  p.stop_signal = SIGKILL;
  return p;
}

}  // namespace

ProcessSpec RadvdEffect::run_spec(const DaemonConfig& d, const RouterConfig& r) {
  std::vector<std::string> argv{d.radvd_binary, "--nodaemon", "--config", conf_path(d, r),
                                "--pidfile", pid_path(d, r),
                                "--logmethod", "stderr"};
  if (!r.radvd->user.empty()) {
    argv.push_back("--username");
    argv.push_back(r.radvd->user);
  }
  return ProcessSpec{r.name, "radvd", r.netns, std::move(argv), child_environment(r.name, r.netns)};
}

ProcessSpec RadvdEffect::check_spec(const DaemonConfig& d, const RouterConfig& r) {
  // A syntax check: it needs no interface, so it runs in havipd's namespace
  // and can run at start-up, before the router's namespace exists.
  return ProcessSpec{r.name, "radvd --configtest", "",
                     {d.radvd_binary, "--configtest", "--config", conf_path(d, r, kCheckConf),
                      "--logmethod", "stderr"},
                     child_environment(r.name, r.netns)};
}

RadvdEffect::RadvdEffect(Launcher& launcher, Observer& observer, RunFiles& files,
                         Supervisor::ClockFn clock,
                         const DaemonConfig& daemon, const RouterConfig& router)
    : files_(files),
      run_dir_(daemon.run_dir),
      router_(router.name),
      pid_file_(pid_path(daemon, router)),
      rendered_(content_of(router)),
      supervisor_(launcher, observer, std::move(clock), run_spec(daemon, router), radvd_policy(),
                  check_spec(daemon, router)) {
  // The pid file's directory (Neutron's external/pids may not exist yet).
  auto slash = pid_file_.rfind('/');
  auto parent = pid_file_.substr(0, slash == std::string::npos ? 0 : slash);
  auto up = parent.rfind('/');
  if (up != std::string::npos && up > 0 && parent != run_dir_ + "/" + router_) {
    pid_parent_ = parent.substr(0, up);
    pid_dir_ = parent.substr(up + 1);
  }
}

void RadvdEffect::precheck(TimePoint now) {
  if (!rendered_.empty()) {
    // A file of its own: radvd.conf exists only while radvd may run.
    auto ok = files_.write(run_dir_, router_, kCheckConf, rendered_);
    if (!ok) return;  // the check runs at the first start instead
  }
  supervisor_.precheck(now);
}

tl::expected<void, std::string> RadvdEffect::role(Role role, TimePoint now) {
  if (role == Role::primary) {
    auto ok = rendered_.empty() ? files_.ensure(run_dir_, router_)
                                : files_.write(run_dir_, router_, kConf, rendered_);
    if (!ok) return ok;
    if (!pid_dir_.empty()) {
      ok = files_.ensure(pid_parent_, pid_dir_);
      if (!ok) return ok;
    }
    supervisor_.want(true, now);
    return {};
  }
  // SIGKILL is sent synchronously here: radvd never runs on a backup.
  supervisor_.want(false, now);
  if (!rendered_.empty()) files_.remove(run_dir_, router_, kConf);
  files_.remove_path(pid_file_);
  return {};
}

}  // namespace havip
