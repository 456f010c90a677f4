#include "daemon/netns_dir_watch.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace havip {

namespace {

constexpr std::uint32_t kDirEvents = IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM |
                                     IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
// The directory's own name coming or going in its parent.
constexpr std::uint32_t kParentEvents = IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM |
                                        IN_ONLYDIR;
constexpr std::uint32_t kDirGone = IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED;

}  // namespace

NetnsDirWatch::NetnsDirWatch(sd_event* loop, std::string dir, Changed changed,
                             Rescanned rescanned)
    : loop_(loop), dir_(std::move(dir)), changed_(std::move(changed)),
      rescanned_(std::move(rescanned)) {
  auto slash = dir_.rfind('/');
  parent_ = slash == std::string::npos ? "." : slash == 0 ? "/" : dir_.substr(0, slash);
  base_ = slash == std::string::npos ? dir_ : dir_.substr(slash + 1);
}

NetnsDirWatch::~NetnsDirWatch() {
  sd_event_source_disable_unref(io_);
  sd_event_source_disable_unref(mounts_io_);
}

tl::expected<void, std::string> NetnsDirWatch::start() {
  auto fd = netns::watch_dir(dir_);  // creates the directory, as havipd always did
  if (!fd) return tl::unexpected(fd.error());
  inotify_ = std::move(*fd);
  // watch_dir's watch is the first one on a fresh fd; adding the same inode
  // with our mask returns the same descriptor.
  dir_wd_ = ::inotify_add_watch(inotify_.get(), dir_.c_str(), kDirEvents);
  if (dir_wd_ < 0) return tl::unexpected("cannot watch " + dir_ + ": " + std::strerror(errno));
  struct stat st {};
  if (::stat(dir_.c_str(), &st) == 0) {
    dev_ = st.st_dev;
    ino_ = st.st_ino;
  }
  parent_wd_ = ::inotify_add_watch(inotify_.get(), parent_.c_str(), kParentEvents);
  if (parent_wd_ < 0)
    spdlog::warn("cannot watch {} (for {} being re-created): {}", parent_, dir_,
                 std::strerror(errno));
  int r = sd_event_add_io(loop_, &io_, inotify_.get(), EPOLLIN, on_inotify, this);
  if (r < 0) return tl::unexpected(std::string("sd_event_add_io: ") + std::strerror(-r));
  // A mount over the directory: the mount table changed (POLLPRI).
  mounts_.reset(::open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC));
  if (mounts_)
    sd_event_add_io(loop_, &mounts_io_, mounts_.get(), EPOLLPRI, on_mounts, this);
  for (auto& name : netns::list_dir(dir_)) known_.insert(std::move(name));
  return {};
}

void NetnsDirWatch::stop() {
  sd_event_source_set_enabled(io_, SD_EVENT_OFF);
  sd_event_source_set_enabled(mounts_io_, SD_EVENT_OFF);
}

int NetnsDirWatch::on_inotify(sd_event_source*, int, std::uint32_t, void* self) {
  static_cast<NetnsDirWatch*>(self)->read_some();
  return 0;
}

int NetnsDirWatch::on_mounts(sd_event_source*, int, std::uint32_t, void* self) {
  auto* w = static_cast<NetnsDirWatch*>(self);
  // Every `ip netns add` mounts too: only a new directory at the path counts.
  if (w->replaced()) w->rewatch();
  return 0;
}

void NetnsDirWatch::read_some() {
  alignas(inotify_event) std::array<std::uint8_t, 16384> buf;
  std::vector<netns::NetnsChange> changes;
  bool again = false;
  for (int i = 0; i < kReadsPerDispatch; ++i) {
    ssize_t n = ::read(inotify_.get(), buf.data(), buf.size());
    if (n <= 0) break;
    for (const auto& ev : netns::split_inotify({buf.data(), static_cast<std::size_t>(n)})) {
      if (ev.mask & IN_Q_OVERFLOW) {
        spdlog::warn("inotify queue overflow on {}; rescanning", dir_);
        again = true;
      } else if (ev.wd == dir_wd_ && (ev.mask & kDirGone)) {
        if (ev.mask & IN_IGNORED) dir_wd_ = -1;  // the kernel removed the watch already
        again = true;
      } else if (ev.wd == dir_wd_ && !ev.name.empty() && !(ev.mask & IN_ISDIR)) {
        bool appeared = ev.mask & (IN_CREATE | IN_MOVED_TO);
        if (appeared ? known_.insert(ev.name).second : known_.erase(ev.name) > 0)
          changes.push_back({ev.name, appeared});
      } else if (ev.wd == parent_wd_ && ev.name == base_) {
        again = true;  // the directory's name re-created, moved in or out
      } else if (ev.wd == parent_wd_ && (ev.mask & IN_IGNORED)) {
        parent_wd_ = -1;
      }
    }
  }
  if (!changes.empty()) changed_(changes);
  if (again) rewatch();
}

bool NetnsDirWatch::replaced() const {
  struct stat st {};
  bool exists = ::stat(dir_.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  if (!exists) return dir_wd_ >= 0;
  return dir_wd_ < 0 || st.st_dev != dev_ || st.st_ino != ino_;
}

void NetnsDirWatch::rewatch() {
  if (parent_wd_ < 0)
    parent_wd_ = ::inotify_add_watch(inotify_.get(), parent_.c_str(), kParentEvents);
  if (replaced()) {
    if (dir_wd_ >= 0) ::inotify_rm_watch(inotify_.get(), dir_wd_);
    dir_wd_ = ::inotify_add_watch(inotify_.get(), dir_.c_str(), kDirEvents);
    struct stat st {};
    if (dir_wd_ >= 0 && ::stat(dir_.c_str(), &st) == 0) {
      dev_ = st.st_dev;
      ino_ = st.st_ino;
      spdlog::warn("{} was replaced; following the new directory", dir_);
    } else {
      if (dir_wd_ >= 0) ::inotify_rm_watch(inotify_.get(), dir_wd_);
      dir_wd_ = -1;
      spdlog::warn("{} is gone; its namespaces are dropped until it is created again", dir_);
    }
  }
  rescan();
}

void NetnsDirWatch::rescan() {
  std::set<std::string> now;
  if (dir_wd_ >= 0)
    for (auto& name : netns::list_dir(dir_)) now.insert(std::move(name));
  std::vector<netns::NetnsChange> changes;
  for (const auto& name : known_)
    if (!now.contains(name)) changes.push_back({name, false});
  for (const auto& name : now)
    if (!known_.contains(name)) changes.push_back({name, true});
  known_ = std::move(now);
  if (!changes.empty()) changed_(changes);
  rescanned_();
}

}  // namespace havip
