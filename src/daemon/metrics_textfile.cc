#include "daemon/metrics_textfile.h"

#include <fcntl.h>
#include <systemd/sd-event.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/unique_fd.h"
#include "daemon/event_time.h"
#include "effects/atomic_file.h"

namespace havip {

MetricsTextfile::MetricsTextfile(sd_event* loop, Render render) : render_(std::move(render)) {
  sd_event_add_time(loop, &timer_, CLOCK_MONOTONIC, 0, 0, on_timer, this);
  sd_event_source_set_enabled(timer_, SD_EVENT_OFF);
}

MetricsTextfile::~MetricsTextfile() { sd_event_source_disable_unref(timer_); }

void MetricsTextfile::changed() {
  if (path_.empty()) return;
  auto now = Clock::now();
  TimePoint at = written_ ? std::max(now, *written_ + std::chrono::seconds(1)) : now;
  std::uint64_t when = 0;
  int enabled = SD_EVENT_OFF;
  sd_event_source_get_enabled(timer_, &enabled);
  sd_event_source_get_time(timer_, &when);
  if (enabled != SD_EVENT_OFF && when <= usec_of(at)) return;
  arm_timer(timer_, at);
}

void MetricsTextfile::write() {
  if (path_.empty()) return;
  auto slash = path_.rfind('/');
  std::string dir = slash == 0 ? "/" : path_.substr(0, slash);
  std::string name = path_.substr(slash + 1);
  written_ = Clock::now();
  UniqueFd d(::open(dir.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  tl::expected<Written, std::string> ok =
      d ? write_atomic(d.get(), dir, name, render_(), false)
        : tl::expected<Written, std::string>(
              tl::unexpected(fmt::format("{}: {}", dir, std::strerror(errno))));
  if (!ok) spdlog::warn("metrics textfile: {}; trying again in a minute", ok.error());
}

int MetricsTextfile::on_timer(sd_event_source*, std::uint64_t, void* self) {
  auto* m = static_cast<MetricsTextfile*>(self);
  if (m->path_.empty()) return 0;
  m->write();
  arm_timer(m->timer_, Clock::now() + std::chrono::seconds(60));
  return 0;
}

}  // namespace havip
