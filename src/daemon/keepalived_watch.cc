#include "daemon/keepalived_watch.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "daemon/keepalived_files.h"
#include "log/logging.h"

namespace havip {
namespace {

// Anything that changes what a read would see: files written, created,
// replaced (renamed over), removed; the directory itself going.
constexpr std::uint32_t kEvents = IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO | IN_DELETE |
                                  IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The directory to watch for a glob pattern: the longest leading part
// without a wildcard, or the nearest existing directory above it (one
// created later is seen being created there, and is watched once read).
std::string pattern_dir(const std::string& pattern) {
  auto wild = pattern.find_first_of("*?[");
  std::string dir = dir_of(wild == std::string::npos ? pattern : pattern.substr(0, wild + 1));
  struct stat st {};
  while (dir != "/" && dir != "." && ::stat(dir.c_str(), &st) != 0) dir = dir_of(dir);
  return dir;
}

std::string names(const std::vector<std::string>& list) {
  return fmt::format("{}", fmt::join(list, ", "));
}

}  // namespace

tl::expected<KeepalivedRead, std::vector<std::string>> read_keepalived_routers(
    const Config& config) {
  KeepalivedRead read;
  std::vector<std::string> errors;
  for (const auto& k : config.keepalived) {
    auto conf = read_keepalived_conf(k.config);
    if (!conf) {
      errors.push_back(conf.error());
      continue;
    }
    read.confs.push_back(std::move(*conf));
  }
  if (!errors.empty()) return tl::unexpected(std::move(errors));
  auto routers = keepalived_routers(config, read.confs);
  if (!routers) return tl::unexpected(std::move(routers.error()));
  read.routers = std::move(*routers);
  return read;
}

std::size_t KeepalivedRead::instances() const {
  std::size_t n = 0;
  for (const auto& c : confs) n += c.instances.size();
  return n;
}

std::string KeepalivedRead::files() const {
  std::vector<std::string> main;
  for (const auto& c : confs)
    if (!c.files.empty()) main.push_back(c.files.front());
  return names(main);
}

KeepalivedWatch::KeepalivedWatch(sd_event* loop, std::function<void()> changed)
    : loop_(loop), changed_(std::move(changed)) {
  inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_) {
    spdlog::error(
        "keepalived.conf: cannot create an inotify instance: {}; changes to it are "
        "seen only on a reload",
        std::strerror(errno));
    return;
  }
  sd_event_add_io(loop_, &io_, inotify_.get(), EPOLLIN, on_inotify, this);
  sd_event_add_time(loop_, &settle_, CLOCK_MONOTONIC, 0, 1000, on_settled, this);
  sd_event_source_set_enabled(settle_, SD_EVENT_OFF);
}

KeepalivedWatch::~KeepalivedWatch() {
  sd_event_source_disable_unref(io_);
  sd_event_source_disable_unref(settle_);
}

void KeepalivedWatch::use(const Config& config, KeepalivedRead read) {
  config_ = config;
  read_ = std::move(read);
  last_error_.clear();
  log_skipped(read_.routers.skipped);
  watch_dirs();
}

void KeepalivedWatch::log_skipped(const std::vector<std::string>& skipped) {
  std::set<std::string> now(skipped.begin(), skipped.end());
  for (const auto& s : now)
    if (!skipped_.contains(s)) spdlog::error("{}", s);
  skipped_ = std::move(now);
}

void KeepalivedWatch::watch_dirs() {
  if (!inotify_) return;
  std::set<std::string> want;
  for (const auto& conf : read_.confs) {
    for (const auto& f : conf.files) want.insert(dir_of(f));
    for (const auto& p : conf.patterns) want.insert(pattern_dir(p));
  }
  if (want == dirs_) return;
  // A fresh instance: dropping the old watches one by one would need their
  // descriptors, and a stale one only costs a re-read.
  UniqueFd fresh(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fresh) {
    spdlog::error("keepalived.conf: cannot create an inotify instance: {}", std::strerror(errno));
    return;
  }
  for (const auto& dir : want)
    if (::inotify_add_watch(fresh.get(), dir.c_str(), kEvents) < 0)
      spdlog::warn(
          "keepalived.conf: cannot watch {}: {}; a change there is seen only on a "
          "reload",
          dir, std::strerror(errno));
  sd_event_source_disable_unref(io_);
  io_ = nullptr;
  inotify_ = std::move(fresh);
  sd_event_add_io(loop_, &io_, inotify_.get(), EPOLLIN, on_inotify, this);
  dirs_ = std::move(want);
}

int KeepalivedWatch::on_inotify(sd_event_source*, int fd, std::uint32_t, void* self) {
  auto* w = static_cast<KeepalivedWatch*>(self);
  alignas(inotify_event) std::array<std::uint8_t, 16384> buf;
  // What changed does not matter: the whole set is read again once it settles.
  while (::read(fd, buf.data(), buf.size()) > 0) {
  }
  std::uint64_t now = 0;
  sd_event_now(w->loop_, CLOCK_MONOTONIC, &now);
  sd_event_source_set_time(w->settle_, now + kSettleUsec);
  sd_event_source_set_enabled(w->settle_, SD_EVENT_ONESHOT);
  return 0;
}

int KeepalivedWatch::on_settled(sd_event_source*, std::uint64_t, void* self) {
  static_cast<KeepalivedWatch*>(self)->reread();
  return 0;
}

void KeepalivedWatch::reread() {
  auto next = read_keepalived_routers(config_);
  std::string path = read_.files();
  if (!next) {
    auto error = names(next.error());
    if (error != last_error_) {
      for (const auto& e : next.error()) spdlog::error("{}", e);
      log::structured(spdlog::level::err, {{"HAVIP_RELOAD", "rejected"}},
                      fmt::format("{} changed and cannot be used; the last good set of {} "
                                  "router(s) from it stays",
                                  path, read_.routers.routers.size()),
                      log::Kind::reload);
      last_error_ = error;
    }
    // Its files may have moved (an include fixed later): watch what it read.
    return;
  }
  last_error_.clear();
  bool same = next->routers.routers == read_.routers.routers;
  std::size_t before = read_.routers.routers.size();
  read_ = std::move(*next);
  log_skipped(read_.routers.skipped);
  watch_dirs();
  if (same) return;
  log::structured(spdlog::level::info, {{"HAVIP_RELOAD", "applied"}},
                  fmt::format("{} changed: {} router(s) from it (was {})", path,
                              read_.routers.routers.size(), before),
                  log::Kind::reload);
  changed_();
}

}  // namespace havip
