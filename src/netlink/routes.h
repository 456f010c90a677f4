// Reading a namespace's routes, for the audit (core/audit.h). libnl-route
// does the dump and parses each route into an object (destination, table,
// every nexthop of a multipath route): the attribute walking the hot path
// does by hand with libmnl (decode.cc) is not worth repeating here, where a
// route dump is rare and small. Each call opens its own socket in the
// namespace and waits for the whole dump, on the event loop (each receive
// waits a second at most; the dump as a whole takes as long as the table is
// large: a namespace with a full Internet table is not one to audit).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "core/audit.h"

namespace havip::netlink {

// The unicast routes (and blackhole/unreachable/prohibit ones, without hops)
// of every table in the namespace `netns_fd` (`home_fd`: havipd's own,
// returned to). `name_of` names a nexthop's device by its index.
tl::expected<std::vector<KernelRoute>, std::string> read_routes(
    int netns_fd, int home_fd, const std::function<std::string(std::uint32_t)>& name_of);

}  // namespace havip::netlink
