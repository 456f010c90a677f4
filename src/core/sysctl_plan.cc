#include "core/sysctl_plan.h"

#include <algorithm>

namespace havip {

std::string sysctl_path(std::string_view key) {
  std::string path(key);
  if (path.find('/') == std::string::npos) std::replace(path.begin(), path.end(), '.', '/');
  return path;
}

std::vector<SysctlWrite> sysctls_for(const RouterConfig& r, Role role) {
  std::vector<SysctlWrite> out;
  if (role == Role::unknown) return out;
  bool primary = role == Role::primary;
  if (!r.gateway_interface.empty()) {
    std::string gw = "net/ipv6/conf/" + r.gateway_interface + "/";
    // accept_ra before forwarding on the way up and down alike: the gateway
    // never forwards while it would still take a default route from RAs.
    if (primary) out.push_back({"net/ipv6/conf/all/forwarding", "1"});
    out.push_back({gw + "accept_ra", primary && !r.ipv6_gateway ? "2" : "0"});
    out.push_back({gw + "forwarding", primary ? "1" : "0"});
  }
  for (const auto& s : r.sysctls) {
    const std::string& value = primary ? s.primary : s.backup;
    if (!value.empty()) out.push_back({sysctl_path(s.key), value});
  }
  return out;
}

}  // namespace havip
