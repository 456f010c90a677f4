// Maps the kernel's address creation stamps (IFA_CACHEINFO cstamp: jiffies
// since boot, in 1/100 s) onto CLOCK_MONOTONIC.
//
// The two clocks start at slightly different moments: on the development VM
// cstamp lags CLOCK_MONOTONIC by a constant ~265 ms. Taken raw, an address
// would look that much older than it is, and a VIP found at start-up could be
// made primary before its hold-down has really passed. So the lag is learnt
// from live RTM_NEWADDR events: each gives a sample "received at - cstamp",
// which is the lag plus the (short) time since creation, so never less than
// the lag; the smallest sample is the estimate. Until a sample arrives a
// conservative lag of one second is assumed. Both errors make ages look
// younger, never older: a primary may come a little late, never early.
#pragma once

#include <cstdint>
#include <optional>

#include "core/types.h"

namespace havip {

class CstampClock {
 public:
  static constexpr Millis kAssumedLag{1000};
  // Samples from addresses older than this are updates, not creations.
  static constexpr Millis kMaxSample{10000};

  // A live RTM_NEWADDR carrying `cstamp` was received at `now`.
  void sample(std::uint32_t cstamp, TimePoint now);
  // When an address with `cstamp` was created, on the monotonic clock.
  TimePoint created(std::uint32_t cstamp) const;
  Millis lag() const { return lag_.value_or(kAssumedLag); }

 private:
  static TimePoint raw(std::uint32_t cstamp) {
    return TimePoint(Millis(std::uint64_t{cstamp} * 10));
  }
  std::optional<Millis> lag_;
};

}  // namespace havip
