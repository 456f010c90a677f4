// One havipd per state and run directory. Two daemons on the same
// directories would fight over every file in them: each rewrites the other's
// state files, radvd.conf and pid files, kills the other's radvd, and unlinks
// the other's control socket. So havipd holds a lock in each directory it
// writes (state_dir, run_dir, Neutron's state_path) for as long as it runs,
// and a second one exits before it touches anything.
//
// The lock is flock(LOCK_EX) on <dir>/.havipd.lock, held through a
// read-only descriptor (one open for writing would make `mount -o
// remount,ro` of the state disk fail with EBUSY). Like an OFD lock it belongs
// to the open file description, not the process: the kernel drops it when
// the holder exits, however it exits, so a file left by a killed havipd does
// not block the next start (the lock decides, not the file). The holder
// writes its pid into the file for the refusal message. The file is opened
// O_NOFOLLOW|O_NONBLOCK and must be a regular file: a symlink or FIFO planted
// there is refused, never followed or waited on. Children never inherit the
// lock: they close every descriptor above 2 before exec.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

#include <tl/expected.hpp>

#include "core/unique_fd.h"

namespace havip {

inline constexpr const char* kLockFile = ".havipd.lock";

struct LockTarget {
  std::string dir;
  std::string what;     // "state_dir", for messages
  bool create = false;  // havipd's own directory: created when missing
};

class InstanceLocks {
 public:
  // Holds the locks of `targets` and releases the others. On failure nothing
  // changes (the locks held before stay held) and the error names the
  // directory and the pid of the havipd holding it.
  tl::expected<void, std::string> hold(const std::vector<LockTarget>& targets);
  std::size_t held() const { return held_.size(); }

 private:
  // Keyed by the lock file's (device, inode): two paths to one directory are
  // one lock (a second flock of our own, on another open file description,
  // would conflict with the first).
  using Key = std::pair<dev_t, ino_t>;
  std::map<Key, UniqueFd> held_;
};

}  // namespace havip
