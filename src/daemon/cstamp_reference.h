// The start-up reference of the CstampClock (core/cstamp_clock.h): the
// kernel's cstamp clock "now", read from the addresses of `lo` brought up in a
// throwaway private network namespace.
//
// unshare(CLONE_NEWNET) runs on a short-lived thread of its own, so havipd's
// threads never leave their namespace; the namespace is freed when the thread
// exits. It needs CAP_SYS_ADMIN (unshare) and CAP_NET_ADMIN (lo up in a
// namespace owned by havipd's user namespace); the unit's
// RestrictNamespaces=net allows it.
#pragma once

#include <cstdint>
#include <string>

#include <tl/expected.hpp>

#include "core/types.h"

namespace havip {

struct CstampNow {
  std::uint32_t cstamp;  // the kernel's cstamp clock read at least this …
  TimePoint at;          // … at this monotonic time
};

tl::expected<CstampNow, std::string> read_cstamp_now();

// This process's time namespace monotonic offset (/proc/self/timens_offsets;
// zero without time namespaces).
Millis timens_monotonic_offset();

}  // namespace havip
