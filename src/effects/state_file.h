// The state file effect: <dir>/<router>/state holds "primary" or "backup"
// without a newline (Neutron's format). `dir` is the router's state_dir
// ([daemon] state_dir, or Neutron's <state_path>/ha_confs).
#pragma once

#include <string>
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
  // old or the new content, never a torn file.
  virtual tl::expected<void, std::string> write(const std::string& dir, const std::string& router,
                                                Role role) = 0;
  // Makes the writes since the last sync durable (StateSync::deferred).
  virtual void sync() = 0;
  // Whether there are writes for sync() to make durable.
  virtual bool dirty() const { return false; }
};

class FsStateFiles final : public StateFiles {
 public:
  explicit FsStateFiles(StateSync mode) : mode_(mode) {}
  tl::expected<void, std::string> write(const std::string& dir, const std::string& router,
                                        Role role) override;
  void sync() override;
  bool dirty() const override { return !unsynced_.empty(); }

  // Where a router's state file is, for messages.
  static std::string path_of(const std::string& dir, const std::string& router);

 private:
  StateSync mode_;
  // Files renamed into place whose data and directory entry still need an
  // fsync (deferred mode): done after the batch, off the latency path.
  std::vector<UniqueFd> unsynced_;
};

}  // namespace havip
