// Maps the kernel's address creation stamps (IFA_CACHEINFO cstamp: jiffies
// since boot in 1/100 s, truncated to 32 bits, so wrapping every 497 days)
// onto CLOCK_MONOTONIC.
//
// Ages are computed modulo 2^32 against a reference: a pair (cstamp, at)
// saying the kernel's cstamp clock read at least `cstamp` at monotonic time
// `at`. The age of an address is then
//   (cstamp_ref - cstamp) mod 2^32 * 10 ms + (now - at) - 20 ms,
// never more than its true age: the reference is at least as late as said,
// and 20 ms cover the 10 ms steps of both stamps and one jiffy of tick lag
// (HZ >= 100). Raw cstamp * 10 ms is never compared with CLOCK_MONOTONIC: the
// two differ by the wrap after 497 days of uptime, by a time namespace's
// monotonic offset, and by the moments they started counting (~265 ms on the
// development VM).
//
// References, best first (the one proving the latest kernel clock is kept):
//  * exact, at start-up: in a throwaway private network namespace, bring `lo`
//    up and dump its addresses: their cstamp is "now" (daemon/
//    cstamp_reference.cc). Simpler kernel sources were rejected: times(2) is
//    jiffies too, but offset by INITIAL_JIFFIES * 100 / HZ, and HZ is not
//    known to user space; /proc/uptime and sysinfo() count boot time
//    (suspend included, shifted by a time namespace's boottime offset).
//  * live: every RTM_NEWADDR received for a new address says the clock read
//    its cstamp a moment ago. Updates of old addresses say less and are
//    dropped by the comparison; a sample proving a clock more than
//    kMaxSample ahead of the reference held is refused (it would be an old
//    address seen across a wrap, which would make ages older).
//  * assumed, when the exact one cannot be taken (no CAP_SYS_ADMIN or
//    CAP_NET_ADMIN): CLOCK_MONOTONIC without the time namespace's offset,
//    minus kAssumedLag. Wrong only if the boot lag between the clocks
//    exceeds a second.
// Without any reference an address is taken as created now: the hold-down
// runs in full. Every error makes ages look younger, never older: a primary
// may come late, never early. Ages above 497 days come out modulo 497 days
// (younger, never older) for the same reason.
#pragma once

#include <cstdint>
#include <optional>

#include "core/types.h"

namespace havip {

class CstampClock {
 public:
  static constexpr Millis kAssumedLag{1000};
  static constexpr Millis kMaxSample{10000};
  static constexpr Millis kSlack{20};

  // The kernel's cstamp clock read at least `cstamp` at monotonic `at`.
  void sample(std::uint32_t cstamp, TimePoint at);
  // The assumed reference: cstamp counts CLOCK_MONOTONIC minus `timens_offset`
  // (the time namespace's monotonic offset) minus kAssumedLag, in 1/100 s.
  void assume(TimePoint now, Millis timens_offset);
  // When an address with `cstamp` was created, seen at `now`, on the
  // monotonic clock; `now` when there is no reference yet.
  TimePoint created(std::uint32_t cstamp, TimePoint now) const;
  bool has_reference() const { return ref_.has_value(); }

 private:
  struct Reference {
    std::uint32_t cstamp;
    TimePoint at;
  };
  // The reference carried to `t`: the kernel clock read at least
  // cstamp * 10 ms + rest then (carried, never compared across a wrap).
  struct Bound {
    std::uint32_t cstamp;
    Millis rest;
  };
  Bound bound_at(TimePoint t) const;
  std::optional<Reference> ref_;
};

}  // namespace havip
