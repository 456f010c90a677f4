#include "core/cstamp_clock.h"

#include <algorithm>

namespace havip {

void CstampClock::sample(std::uint32_t cstamp, TimePoint now) {
  auto s = std::chrono::duration_cast<Millis>(now - raw(cstamp));
  if (s > kMaxSample) return;
  // cstamp has 10 ms granularity; rounding a sample up keeps it >= the lag.
  s += Millis(10);
  lag_ = lag_ ? std::min(*lag_, s) : s;
}

TimePoint CstampClock::created(std::uint32_t cstamp) const { return raw(cstamp) + lag(); }

}  // namespace havip
