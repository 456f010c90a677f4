#include "core/cstamp_clock.h"

#include <algorithm>

namespace havip {

namespace {

constexpr Millis kCentisecond{10};

// (a - b) mod 2^32 as a signed count: the shorter way round the wrap.
std::int64_t signed_diff(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b);
}

}  // namespace

CstampClock::Bound CstampClock::bound_at(TimePoint t) const {
  auto since = std::chrono::duration_cast<Millis>(t - ref_->at).count();
  auto step = kCentisecond.count();
  auto steps = since >= 0 ? since / step : -((-since + step - 1) / step);  // floor
  return {ref_->cstamp + static_cast<std::uint32_t>(steps), Millis(since - steps * step)};
}

void CstampClock::sample(std::uint32_t cstamp, TimePoint at) {
  if (!ref_) {
    ref_ = Reference{cstamp, at};
    return;
  }
  // How much later a kernel clock this sample proves than the reference.
  auto b = bound_at(at);
  auto gain = kCentisecond * signed_diff(cstamp, b.cstamp) - b.rest;
  if (gain > Millis(0) && gain <= kMaxSample) ref_ = Reference{cstamp, at};
}

void CstampClock::assume(TimePoint now, Millis timens_offset) {
  auto host = std::chrono::duration_cast<Millis>(now.time_since_epoch()) - timens_offset -
              kAssumedLag;
  auto cs = std::max<std::int64_t>(host.count() / kCentisecond.count(), 0);
  sample(static_cast<std::uint32_t>(cs), now);  // modulo 2^32, as the kernel's
}

TimePoint CstampClock::created(std::uint32_t cstamp, TimePoint now) const {
  if (!ref_) return now;
  auto b = bound_at(now);
  // A stamp just ahead of the bound: created since, after the clock moved
  // past what the reference proves. Brand new.
  auto ahead = signed_diff(cstamp, b.cstamp);
  if (ahead > 0 && kCentisecond * ahead <= kMaxSample) return now;
  std::uint32_t back = b.cstamp - cstamp;  // modulo 2^32: ages past 497 days wrap (younger)
  auto age = kCentisecond * std::int64_t{back} + b.rest - kSlack;
  return now - std::max(age, Millis(0));
}

}  // namespace havip
