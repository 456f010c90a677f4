// Which sysctls a role asks for (Neutron's IPv6 gateway matrix plus the
// router's extra settings). Pure; effects/sysctl.cc writes them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"

namespace havip {

struct SysctlWrite {
  std::string path;   // below /proc/sys, e.g. "net/ipv6/conf/qg-x/accept_ra"
  std::string value;
  bool operator==(const SysctlWrite&) const = default;
};

// Neutron's matrix (NEUTRON.md), for a router with a gateway interface:
//
//   role      ipv6_gateway   gw accept_ra   gw forwarding   all.forwarding
//   primary   no             2              1               1
//   primary   yes            0              1               1
//   backup    either         0              0               (left as it is: turning it
//                                                            off makes the kernel send MLD)
//
// then each extra sysctl with a value for the role. Nothing for `unknown`.
std::vector<SysctlWrite> sysctls_for(const RouterConfig& router, Role role);

// "net.ipv4.conf.all.arp_ignore" -> "net/ipv4/conf/all/arp_ignore"; a key
// that already contains '/' is a path and is returned as it is.
std::string sysctl_path(std::string_view key);

}  // namespace havip
