// The state file effect: <dir>/<router>/state holds "primary" or "backup"
// without a newline (Neutron's format). `dir` is the router's state_dir
// ([daemon] state_dir, or Neutron's <state_path>/ha_confs).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <tl/expected.hpp>

#include "core/config.h"
#include "core/types.h"
#include "core/unique_fd.h"

namespace havip {

class StateFiles {
 public:
  virtual ~StateFiles() = default;
  // Makes the file say `role` (primary or backup). Atomic: a reader sees the
  // old or the new content, never a torn file. May be called from several
  // threads at once, for different routers (StateWriter's pool). The router's directory is
  // created when missing if `create_dir`; otherwise a missing one is left so
  // and nothing is written (false): a Neutron router's directory is Neutron's,
  // and gone means the router is being removed.
  virtual tl::expected<bool, std::string> write(const std::string& dir, const std::string& router,
                                                Role role, bool create_dir) = 0;
  // Starts making the writes since the last sync durable (StateSync::
  // deferred). Never blocks the caller.
  virtual void sync() = 0;
};

// Deferred mode hands the renamed files to a thread of their own that fsyncs
// them (or, after a burst of more than 32, syncs the file system once): an
// fsync can take seconds on a busy disk, and the event loop must never wait
// for one — the content is derived state, rewritten at every start anyway.
class FsStateFiles final : public StateFiles {
 public:
  explicit FsStateFiles(StateSync mode);
  ~FsStateFiles() override;
  FsStateFiles(const FsStateFiles&) = delete;
  FsStateFiles& operator=(const FsStateFiles&) = delete;

  tl::expected<bool, std::string> write(const std::string& dir, const std::string& router,
                                        Role role, bool create_dir) override;
  void sync() override;
  // Blocks until every file handed to sync() so far is durable (tests).
  void wait_synced();

  // Where a router's state file is, for messages.
  static std::string path_of(const std::string& dir, const std::string& router);

 private:
  struct Syncer;
  StateSync mode_;
  // Written since the last sync(): the files and their directories, by path
  // (a router rewritten many times is synced once). Guarded: writes of
  // different routers run at the same time.
  std::mutex unsynced_mutex_;
  std::set<std::string> unsynced_;
  // Routers' directories ("base/router/") written (or found right) since
  // this was made: only a first write looks whether the file already says
  // the role. Guarded by unsynced_mutex_ too.
  std::set<std::string> known_;
  std::unique_ptr<Syncer> syncer_;  // deferred mode only
};

// Starts a thread named `name` (as ps -L and /proc/PID/task/*/comm show it,
// at most 15 bytes) with every signal blocked, so that SIGTERM and friends
// reach the event loop's signalfd: the state files' helper threads.
std::thread start_helper_thread(const char* name, std::function<void()> body);

}  // namespace havip
