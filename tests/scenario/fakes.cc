#include "scenario/fakes.h"

#include <errno.h>
#include <string.h>

#include <stdexcept>

namespace havip::testing {

tl::expected<ProcessId, std::string> FakeLauncher::start(const ProcessSpec& spec, OnExit on_exit) {
  if (missing_.contains(spec.argv.at(0)))
    return tl::unexpected(spec.argv[0] + ": No such file or directory");
  journal_.push_back("start " + spec.router + " " + spec.what);
  procs_.emplace(next_, Proc{spec, std::move(on_exit)});
  return next_++;
}

void FakeLauncher::signal(ProcessId id, int sig) {
  auto it = procs_.find(id);
  if (it == procs_.end()) return;
  journal_.push_back("signal " + it->second.spec.router + " " + it->second.spec.what + " SIG" +
                     sigabbrev_np(sig));
}

std::map<ProcessId, FakeLauncher::Proc>::iterator FakeLauncher::find(const std::string& router,
                                                                      const std::string& what) {
  for (auto it = procs_.begin(); it != procs_.end(); ++it)
    if (it->second.spec.router == router && it->second.spec.what == what) return it;
  throw std::logic_error("not running: " + router + " " + what);
}

void FakeLauncher::exit(const std::string& router, const std::string& what, ExitStatus status) {
  auto it = find(router, what);
  auto proc = std::move(it->second);
  procs_.erase(it);
  journal_.push_back("exit " + router + " " + what + " (" + status.to_string() + ")");
  proc.on_exit(status);
}

bool FakeLauncher::running(const std::string& router, const std::string& what) const {
  for (const auto& [id, p] : procs_)
    if (p.spec.router == router && p.spec.what == what) return true;
  return false;
}

const ProcessSpec& FakeLauncher::spec(const std::string& router, const std::string& what) const {
  for (const auto& [id, p] : procs_)
    if (p.spec.router == router && p.spec.what == what) return p.spec;
  throw std::logic_error("not running: " + router + " " + what);
}

tl::expected<bool, SysctlError> FakeSysctls::set(const std::string& netns, const std::string& path,
                                                 const std::string& value) {
  if (failing_.contains(path)) return tl::unexpected(SysctlError{EACCES, path + ": Permission denied"});
  for (const auto& prefix : failing_)
    if (prefix.ends_with('/') && path.starts_with(prefix))
      return tl::unexpected(SysctlError{ENOENT, path + ": No such file or directory"});
  auto& v = values_[{netns, path}];
  if (v == value) return false;
  v = value;
  journal_.push_back("sysctl " + netns + " " + path + " = " + value);
  return true;
}

std::string FakeSysctls::get(const std::string& netns, const std::string& path) const {
  auto it = values_.find({netns, path});
  return it == values_.end() ? "" : it->second;
}

tl::expected<void, std::string> FakeFiles::write(const std::string& dir, const std::string& sub,
                                                 const std::string& name,
                                                 const std::string& content) {
  std::string path = dir + "/" + sub + "/" + name;
  files_[path] = content;
  journal_.push_back("write " + path);
  return {};
}

void FakeFiles::remove(const std::string& dir, const std::string& sub, const std::string& name) {
  std::string path = dir + "/" + sub + "/" + name;
  if (files_.erase(path)) journal_.push_back("remove " + path);
}

void FakeObserver::transition(const RoleChange& c) {
  lines_.push_back("transition " + c.router + " " + std::string(role_name(c.from)) + " -> " +
                   std::string(role_name(c.to)));
}

void FakeObserver::effect_failed(const EffectFailure& f) {
  lines_.push_back("failed " + f.router + " " + f.effect + ": " + f.message);
}

void FakeObserver::child_exited(const ChildExit& e) {
  lines_.push_back("exited " + e.router + " " + e.child +
                   (e.expected ? " (expected): " : " (unexpected): ") + e.message);
}

std::uint64_t FakeStateQueue::submit(const std::string& dir, const std::string& router, Role role,
                                     bool) {
  std::uint64_t seq = next_++;
  submitted_.push_back(router + " " + std::string(role_name(role)));
  dirs_[router] = dir;
  if (hold)
    pending_[router] = {seq, role};
  else
    done_.push_back(Result{router, seq, role, dir, true});
  return seq;
}

std::optional<TimePoint> FakeStateQueue::pending_since(const std::string& router) const {
  if (!pending_.contains(router)) return std::nullopt;
  return TimePoint{};
}

void FakeStateQueue::complete(const std::string& router, std::uint64_t seq, std::string error) {
  auto it = pending_.find(router);
  Role role = it != pending_.end() ? it->second.second : Role::unknown;
  if (it != pending_.end() && it->second.first <= seq) pending_.erase(it);
  tl::expected<bool, std::string> outcome = true;
  if (!error.empty()) outcome = tl::unexpected(error);
  done_.push_back(Result{router, seq, role, dirs_[router], outcome});
}

}  // namespace havip::testing
