// Which conntrackd commands a router runs when it takes a role: those of
// Neutron's keepalived-state-change monitor with --enable_conntrackd
// (docs/NEUTRON.md "conntrackd"). Pure: the effects run them (HookQueue).
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "core/types.h"

namespace havip {

// The argv of each command, in order, for the transition `from` -> `to`:
//   primary: -c (commit the external cache to the kernel), -f (flush both
//            caches), -R (resync the internal cache from the kernel), -B (bulk
//            update to the backups);
//   backup (and fault, which Neutron sees as backup): -t (shorten the kernel's
//            timers: zombie entries go), -n (ask the primary for a resync).
// Nothing for `unknown`, nor when the role Neutron sees does not change (backup
// -> fault): the incumbent runs them once per state it reports.
std::vector<std::vector<std::string>> conntrackd_commands(const ConntrackdConfig& c, Role from,
                                                          Role to);

}  // namespace havip
