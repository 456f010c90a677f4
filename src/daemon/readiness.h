// What havipd tells its service manager (sd_notify): READY=1 once the state
// files say what the kernel says — every watched namespace read and the first
// state file writes done — then STATUS= with the role counts once a burst is
// over (not once per transition of a mass failover), RELOADING=1/READY=1
// around a reload and STOPPING=1.
#pragma once

#include <functional>
#include <string>

#include "core/engine.h"

namespace havip {

class Readiness {
 public:
  using Notify = std::function<void(const std::string& state)>;  // sd_notify's text
  explicit Readiness(Notify notify) : notify_(std::move(notify)) {}

  // After a batch of events: `synced` when every watched namespace's first
  // dump is read, `writing` while state file writes are outstanding.
  void update(const RoleCounts& counts, bool synced, bool writing);
  // The loop is idle: a STATUS that changed during the burst is sent now.
  void idle();
  bool status_due() const { return status_dirty_; }
  bool ready() const { return ready_; }

  void reloading(std::uint64_t monotonic_usec);
  void reloaded();
  void stopping();

 private:
  Notify notify_;
  bool ready_ = false;
  std::string last_status_;
  bool status_dirty_ = false;
};

// "3 routers: 2 primary, 1 backup[, N unknown]"
std::string status_line(const RoleCounts& counts);

}  // namespace havip
