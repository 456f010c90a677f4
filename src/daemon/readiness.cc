#include "daemon/readiness.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace havip {

std::string status_line(const RoleCounts& c) {
  std::string status = fmt::format("{} router{}: {} primary, {} backup", c.total(),
                                   c.total() == 1 ? "" : "s", c.primary, c.backup);
  if (c.fault) status += fmt::format(", {} fault", c.fault);
  if (c.unknown) status += fmt::format(", {} unknown", c.unknown);
  return status;
}

void Readiness::update(const RoleCounts& counts, bool synced, bool writing) {
  std::string status = status_line(counts);
  if (!ready_) {
    // Ready means the state files say what the kernel says: the first
    // writes are done (or failed and being retried).
    if (!synced || writing) return;
    ready_ = true;
    spdlog::info("ready: {}", status);
    notify_("READY=1\nSTATUS=" + status);
  } else if (status != last_status_) {
    status_dirty_ = true;  // sent by idle(): not once per transition of a burst
  }
  last_status_ = status;
}

void Readiness::idle() {
  if (!status_dirty_) return;
  status_dirty_ = false;
  notify_("STATUS=" + last_status_);
}

void Readiness::reloading(std::uint64_t monotonic_usec) {
  notify_(fmt::format("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec));
}

void Readiness::reloaded() { notify_("READY=1"); }

void Readiness::stopping() { notify_("STOPPING=1"); }

}  // namespace havip
