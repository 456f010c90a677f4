#include "daemon/track_files.h"

#include <fcntl.h>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "core/unique_fd.h"
#include "effects/atomic_file.h"
#include "log/logging.h"

namespace havip {

namespace {

std::string content_of(int value) { return fmt::format("{}\n", value); }

std::string joined(const std::vector<std::string>& names) {
  return fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace

TrackFiles::TrackFiles(WriteFn write, Observer& observer)
    : write_(std::move(write)), observer_(observer), retry_(Millis(100), Millis(30000)) {}

void TrackFiles::configure(const std::vector<RouterConfig>& routers) {
  std::map<std::string, const RouterConfig*> next;
  untracked_.clear();
  for (const auto& r : routers) {
    if (r.track_file.empty())
      untracked_.insert(r.name);
    else
      next.emplace(r.name, &r);
  }
  for (auto it = routers_.begin(); it != routers_.end();) {
    Entry& e = it->second;
    auto n = next.find(it->first);
    bool gone = n == next.end();
    if (gone || n->second->track_file != e.config.track_file) {
      // keepalived goes on reading the old file: 0 gives the router back to VRRP.
      if (e.on_disk && *e.on_disk != 0) {
        auto ok = write_(e.config.track_file, content_of(0));
        log::router(ok ? spdlog::level::info : spdlog::level::warn, e.config.name, e.config.netns,
                    "{}: track file {} {}", gone ? "no longer configured" : "track_file moved",
                    e.config.track_file,
                    ok ? "left holding 0" : "could not be reset to 0: " + ok.error());
      }
      retry_.clear(it->first);
      if (gone) {
        it = routers_.erase(it);
        continue;
      }
      e.on_disk.reset();
      e.said.reset();
    }
    ++it;
  }
  for (const auto& [name, r] : next) routers_[name].config = *r;
}

void TrackFiles::say(Entry& e, const TrackVerdict& v) {
  if (e.said == v.state) return;
  bool first = !e.said;
  e.said = v.state;
  auto level = v.state == TrackVerdict::State::failed        ? spdlog::level::warn
               : first && v.state == TrackVerdict::State::ok ? spdlog::level::debug
                                                             : spdlog::level::info;
  const RouterConfig& c = e.config;
  log::structured(
      level,
      {{"HAVIP_ROUTER", c.name},
       {"HAVIP_NAMESPACE", c.netns},
       {"HAVIP_TRACK", std::string(track_state_name(v.state))},
       {"HAVIP_TRACK_VALUE", std::to_string(v.value)},
       {"HAVIP_REASON", v.reason}},
      fmt::format("{}: track file {}: {} ({})", c.name, c.track_file, v.value, v.reason),
      log::Kind::track);
}

void TrackFiles::write(Entry& e, int value, TimePoint now) {
  const RouterConfig& c = e.config;
  auto ok = write_(c.track_file, content_of(value));
  if (ok) {
    e.on_disk = value;
    e.failures = 0;
    retry_.clear(c.name);
    return;
  }
  auto delay = retry_.failed(c.name, now);
  observer_.effect_failed(
      {c.name, c.netns, "track_file",
       fmt::format("track file {} cannot be written ({}); keepalived does not see {}; retrying "
                   "in {}",
                   c.track_file, ok.error(), value, delay.value_or(Millis(0))),
       e.failures++ == 0 ? EffectFailure::Severity::error : EffectFailure::Severity::warning});
}

void TrackFiles::update(const Inputs& in, TimePoint now) {
  auto due = retry_.due(now);
  for (auto& [name, e] : routers_) {
    Role role = in.role(name);
    std::vector<std::string> unhealthy;
    if (role == Role::primary) unhealthy = in.unhealthy(name);
    const TrackVerdict& v =
        e.decision.update(e.config, role, unhealthy, drained_.contains(name), now);
    say(e, v);
    if (e.on_disk == v.value) {
      retry_.clear(name);  // a failed write no longer needed
      continue;
    }
    bool waiting = retry_.contains(name) && std::find(due.begin(), due.end(), name) == due.end();
    if (!waiting) write(e, v.value, now);
  }
}

std::optional<TimePoint> TrackFiles::deadline() const {
  std::optional<TimePoint> best = retry_.next();
  for (const auto& [name, e] : routers_)
    if (auto d = e.decision.deadline(); d && (!best || *d < *best)) best = d;
  return best;
}

const TrackVerdict* TrackFiles::verdict(const std::string& router) const {
  auto it = routers_.find(router);
  return it == routers_.end() ? nullptr : &it->second.decision.verdict();
}

tl::expected<TrackFiles::DrainChange, std::string> TrackFiles::drain(
    const std::vector<std::string>& names) const {
  DrainChange out{drained_, {}, {}};
  if (names.empty()) {
    for (const auto& [name, e] : routers_) out.routers.push_back(name);
    out.skipped.assign(untracked_.begin(), untracked_.end());
    if (out.routers.empty())
      return tl::unexpected(std::string(
          "no router has a track_file: havipd cannot move any router (see track_file in "
          "havip.toml(5))"));
  } else {
    std::vector<std::string> unknown, untracked;
    for (const auto& n : names) {
      if (routers_.contains(n))
        out.routers.push_back(n);
      else if (untracked_.contains(n))
        untracked.push_back(n);
      else
        unknown.push_back(n);
    }
    if (!unknown.empty())
      return tl::unexpected(
          fmt::format("unknown router{}: {}", unknown.size() > 1 ? "s" : "", joined(unknown)));
    if (!untracked.empty())
      return tl::unexpected(fmt::format(
          "router{} {} {} no track_file: havipd cannot move {}; see track_file in havip.toml(5)",
          untracked.size() > 1 ? "s" : "", joined(untracked), untracked.size() > 1 ? "have" : "has",
          untracked.size() > 1 ? "them" : "it"));
  }
  out.next.insert(out.routers.begin(), out.routers.end());
  return out;
}

tl::expected<TrackFiles::DrainChange, std::string> TrackFiles::undrain(
    const std::vector<std::string>& names) const {
  DrainChange out{drained_, {}, {}};
  if (names.empty()) {
    out.routers.assign(drained_.begin(), drained_.end());
    out.next.clear();
    return out;
  }
  std::vector<std::string> unknown;
  for (const auto& n : names) {
    // A drained name stays undrainable even when it is not configured (any more).
    if (!routers_.contains(n) && !untracked_.contains(n) && !drained_.contains(n))
      unknown.push_back(n);
    else
      out.routers.push_back(n);
  }
  if (!unknown.empty())
    return tl::unexpected(
        fmt::format("unknown router{}: {}", unknown.size() > 1 ? "s" : "", joined(unknown)));
  for (const auto& n : out.routers) out.next.erase(n);
  return out;
}

tl::expected<void, std::string> write_track_file(const std::string& path,
                                                 const std::string& content) {
  auto slash = path.rfind('/');
  std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  std::string name = path.substr(slash + 1);
  // The directory is the operator's (a configured path): followed if it is a
  // symlink; the file in it never is (write_atomic renames over it).
  UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d && errno == ENOENT) {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
      return tl::unexpected(
          fmt::format("cannot create its directory {}: {}", dir, std::strerror(errno)));
    d.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }
  if (!d) return tl::unexpected(fmt::format("{}: {}", dir, std::strerror(errno)));
  auto written = write_atomic(d.get(), dir, name, content, false);
  if (!written) return tl::unexpected(written.error());
  return {};
}

}  // namespace havip
