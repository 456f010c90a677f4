// sd-event's times: microseconds of CLOCK_MONOTONIC.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include <systemd/sd-event.h>

#include "core/types.h"

namespace havip {

inline std::uint64_t usec_of(TimePoint t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  return us < 0 ? 0 : static_cast<std::uint64_t>(us);
}

// A one-shot timer source set to `at`, or disabled (nullopt).
inline void arm_timer(sd_event_source* timer, std::optional<TimePoint> at) {
  if (!at) {
    sd_event_source_set_enabled(timer, SD_EVENT_OFF);
    return;
  }
  sd_event_source_set_time(timer, usec_of(*at));
  sd_event_source_set_enabled(timer, SD_EVENT_ONESHOT);
}

}  // namespace havip
