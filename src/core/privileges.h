// Which of havipd's capabilities are missing, and what each lack breaks, said
// once at start-up instead of as a stream of EPERMs later (or, worse, as
// routers that silently stay unknown).
//
// Fatal: CAP_SYS_ADMIN when a router lives in a named network namespace (or
// in Neutron mode, whose routers all do): without setns havipd reads nothing
// of those routers, so it exits before READY; a reload adding such a router
// is rejected. Routers in havipd's own namespace need no setns.
// Warnings (havipd runs; the named effect fails):
//   CAP_NET_ADMIN   SO_RCVBUFFORCE (the buffer stays at net.core.rmem_max)
//                   and the exact start-up reference of the address clock
//   not root        writing the namespaces' /proc/sys/net files, unless
//                   CAP_NET_ADMIN
//   CAP_NET_RAW     radvd's ICMPv6 socket (routers with radvd, Neutron mode)
//   CAP_SETUID/GID  radvd dropping to its user
//   CAP_KILL        stopping a radvd that runs as another user
//   CAP_DAC_OVERRIDE Neutron mode: neutron-owned directories and socket
// Capabilities are read from CapEff in /proc/self/status (no libcap).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"

namespace havip {

struct Privileges {
  bool root = true;                  // euid 0
  std::uint64_t effective = ~0ULL;   // CapEff
  bool has(int cap) const { return ((effective >> cap) & 1U) != 0; }
};

// CapEff from the text of /proc/self/status.
std::optional<std::uint64_t> parse_cap_eff(std::string_view status);

struct PrivilegeCheck {
  std::vector<std::string> fatal;     // havipd cannot serve this configuration
  std::vector<std::string> warnings;  // it can; this effect will fail
};

PrivilegeCheck check_privileges(const Privileges& p, const Config& config);

}  // namespace havip
