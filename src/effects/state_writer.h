// Writes the state files on threads of their own (a small pool, so that the
// files of many routers are written at once), so that the event loop never
// waits for a disk. Creating and renaming a file can block for seconds on a
// busy ext4 journal (and for good on a hung disk); meanwhile the loop must go
// on following the kernel, setting sysctls and starting or stopping radvd for
// every router. What must come after a state file (the hooks and the L3 agent
// notification of the transition) waits for its result instead: submit()
// numbers each write, and the result names the number it completes.
//
// Writes of one router are done in order, one at a time (those of different
// routers may be done at the same time, and complete in any order); a write
// still queued when a newer one of the same router is submitted is replaced
// by it (the file only ever has to say the latest role), so its result
// completes both numbers.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "core/types.h"
#include "effects/state_file.h"

namespace havip {

class StateWriter {
 public:
  enum class Mode {
    threaded,  // writes on the writer thread (havipd)
    inline_,   // writes inside submit() (the dry run, whose writes only log)
  };
  struct Result {
    std::string router;
    std::uint64_t seq = 0;  // completes every write of the router numbered up to this
    Role role = Role::unknown;
    std::string dir;
    tl::expected<bool, std::string> outcome;  // StateFiles::write's
  };

  // `files` is used on the writer threads only (in threaded mode), by
  // several at once for different routers: its write() must allow that.
  StateWriter(std::unique_ptr<StateFiles> files, Mode mode);
  // Stops the thread. A write stuck in the kernel is left behind (the thread
  // is detached, co-owning what it uses): shutdown does not wait for a disk.
  ~StateWriter();
  StateWriter(const StateWriter&) = delete;
  StateWriter& operator=(const StateWriter&) = delete;

  // Queues "`dir`/`router`/state says `role`" (`create_dir`: StateFiles::
  // write's); returns the write's number (> 0).
  std::uint64_t submit(const std::string& dir, const std::string& router, Role role,
                       bool create_dir = true);
  // Writes from now on go through `files` (a reload changed state_sync); what
  // is queued is written by it too.
  void replace(std::unique_ptr<StateFiles> files);

  // Readable (an eventfd) while results wait to be taken.
  int fd() const;
  // The results so far, in the order the writes were done (a router's in
  // the order of its writes).
  std::vector<Result> take();

  // Since when `router` has waited for a write (nullopt: none pending): the
  // submission, or the result of the write before it.
  std::optional<TimePoint> pending_since(const std::string& router) const;
  // Whether any write has not completed (its result not taken yet).
  bool busy() const { return !pending_.empty(); }
  // Blocks until every submitted write is done or `until` passes (shutdown);
  // returns whether they are all done. The results still go through take().
  bool wait(TimePoint until);

 private:
  struct Shared;
  Mode mode_;
  std::shared_ptr<Shared> shared_;
  std::uint64_t next_seq_ = 1;
  struct Pending {
    std::uint64_t seq;   // the newest submitted
    TimePoint since;     // submitted, or the last result of an older write taken
  };
  std::map<std::string, Pending> pending_;  // loop side only
};

}  // namespace havip
