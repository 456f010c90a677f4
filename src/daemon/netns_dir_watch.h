// Follows [daemon] netns_dir (/run/netns) through inotify, including the
// directory itself being replaced while havipd runs: deleted, renamed away,
// re-created, another tree renamed in, or something mounted over it.
//
// Three sources tell it: a watch on the directory (entries created, moved
// in, deleted, moved out; IN_DELETE_SELF, IN_MOVE_SELF, IN_UNMOUNT and
// IN_IGNORED when the directory itself goes), a watch on its parent (the
// directory's name created or moved in again), and /proc/self/mountinfo's
// POLLPRI (a mount over the path; inotify says nothing then). Whenever the
// path names another directory, the watch moves to it and the directory is
// read again: names that appeared and vanished meanwhile are reported as
// changes. A lost inotify queue (IN_Q_OVERFLOW) is a re-read as well.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "core/unique_fd.h"
#include "netns/netns_watch.h"

struct sd_event;
struct sd_event_source;

namespace havip {

class NetnsDirWatch {
 public:
  // Names that appeared in or vanished from the directory, in order.
  using Changed = std::function<void(const std::vector<netns::NetnsChange>&)>;
  // The directory was read again (replaced, or events lost), after the
  // changes found were reported: whatever depends on a name being there
  // should be checked again.
  using Rescanned = std::function<void()>;

  // inotify reads per wake-up (16 KiB each, ~500 events), then the loop's
  // other sources get their turn; the fd is level-triggered, so the rest
  // is read at the next iteration.
  static constexpr int kReadsPerDispatch = 8;

  NetnsDirWatch(sd_event* loop, std::string dir, Changed changed, Rescanned rescanned);
  ~NetnsDirWatch();
  NetnsDirWatch(const NetnsDirWatch&) = delete;
  NetnsDirWatch& operator=(const NetnsDirWatch&) = delete;

  // Creates the directory (0755) if missing and starts watching it.
  tl::expected<void, std::string> start();
  // No more events (havipd is stopping).
  void stop();

 private:
  static int on_inotify(sd_event_source* s, int fd, std::uint32_t revents, void* self);
  static int on_mounts(sd_event_source* s, int fd, std::uint32_t revents, void* self);
  void read_some();
  // True when the path names another directory than the one watched (or
  // none, or one appeared).
  bool replaced() const;
  // Moves the watch to whatever the path names now, then re-reads it.
  void rewatch();
  void rescan();

  sd_event* loop_;
  std::string dir_, parent_, base_;
  Changed changed_;
  Rescanned rescanned_;
  UniqueFd inotify_, mounts_;
  sd_event_source* io_ = nullptr;
  sd_event_source* mounts_io_ = nullptr;
  int dir_wd_ = -1, parent_wd_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::set<std::string> known_;  // the names in the directory, as last seen
};

}  // namespace havip
