// radvd.conf rendering: the router's [router.radvd] interfaces as the file
// Neutron's ra.py template writes, one `interface NAME { … };` block each.
#pragma once

#include <string>

#include "core/config.h"

namespace havip {

// Renders radvd.conf for `config.interfaces` (config_file and user are not
// read). Pure and deterministic: same config, same bytes.
//
// The text is taken as validated: names, prefixes, routes and RDNSS entries
// are written as they are, so the config parser must reject what radvd
// cannot parse (IPv4 prefixes or routes, RDNSS entries that are not IPv6
// addresses, interface names with blanks or braces or equal to a radvd
// keyword such as "route", two interfaces with one name). Values radvd only
// checks when it sets up an interface (MinRtrAdvInterval >= 3 and <= 3/4 of
// MaxRtrAdvInterval, MaxRtrAdvInterval 4..1800, AdvLinkMTU <= the link MTU)
// are also the parser's job: radvd logs them and does not advertise.
//
// With no interfaces the result is the header line only, which radvd
// rejects: callers start radvd only when there is an interface.
std::string render_radvd_conf(const RadvdConfig& config);

}  // namespace havip
