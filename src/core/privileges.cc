#include "core/privileges.h"

#include <linux/capability.h>

#include <charconv>

#include <fmt/format.h>

namespace havip {

namespace {

// "r1 (in ns1), r2 (in ns2)" for the first few routers, then how many more.
std::string listed(const std::vector<std::string>& names) {
  constexpr std::size_t kShown = 3;
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < kShown; ++i)
    out += (i ? ", " : "") + names[i];
  if (names.size() > kShown) out += fmt::format(" and {} more", names.size() - kShown);
  return out;
}

std::vector<std::string> routers_in_namespaces(const Config& c) {
  std::vector<std::string> out;
  for (const auto& r : c.routers)
    if (!r.netns.empty()) out.push_back(fmt::format("{} (in {})", r.name, r.netns));
  return out;
}

void check_setns(const Privileges& p, const Config& c, PrivilegeCheck& out) {
  if (p.has(CAP_SYS_ADMIN)) return;
  auto routers = routers_in_namespaces(c);
  if (!routers.empty())
    out.fatal.push_back(fmt::format(
        "CAP_SYS_ADMIN is missing: it is needed to enter the routers' network namespaces "
        "(setns) for {}; without it nothing of them can be read (routers in havipd's own "
        "namespace need no CAP_SYS_ADMIN)",
        listed(routers)));
  if (c.neutron)
    out.fatal.push_back(
        "CAP_SYS_ADMIN is missing: Neutron mode needs it to enter the routers' qrouter- "
        "network namespaces (setns)");
}

void check_net_admin(const Privileges& p, const Config& c, PrivilegeCheck& out) {
  if (p.has(CAP_NET_ADMIN)) return;
  out.warnings.push_back(fmt::format(
      "CAP_NET_ADMIN is missing: the netlink receive buffer cannot be forced to "
      "netlink_receive_buffer ({} bytes; SO_RCVBUFFORCE) and stays at net.core.rmem_max, so "
      "bursts may overrun it and force re-reads; VIP ages at start-up are estimated (a VIP "
      "found at start-up may wait up to a second longer than its hold-down)",
      c.daemon.netlink_receive_buffer));
  if (!p.root)
    out.warnings.push_back(
        "not running as root and CAP_NET_ADMIN is missing: the routers' sysctls "
        "(/proc/sys/net) cannot be written");
}

void check_radvd(const Privileges& p, const Config& c, PrivilegeCheck& out) {
  std::vector<std::string> with_radvd, as_user;
  for (const auto& r : c.routers) {
    if (!r.radvd) continue;
    with_radvd.push_back(r.name);
    if (!r.radvd->user.empty()) as_user.push_back(r.name);
  }
  if (c.neutron) {
    with_radvd.push_back("Neutron's routers");
    if (!c.neutron->radvd_user.empty()) as_user.push_back("Neutron's routers");
  }
  if (with_radvd.empty()) return;
  if (!p.has(CAP_NET_RAW))
    out.warnings.push_back(fmt::format(
        "CAP_NET_RAW is missing: radvd cannot open its ICMPv6 socket and fails for {}",
        listed(with_radvd)));
  if (as_user.empty()) return;
  if (!p.has(CAP_SETUID) || !p.has(CAP_SETGID))
    out.warnings.push_back(fmt::format(
        "CAP_SETUID or CAP_SETGID is missing: radvd cannot drop to its user and fails for {}",
        listed(as_user)));
  if (!p.has(CAP_KILL))
    out.warnings.push_back(fmt::format(
        "CAP_KILL is missing: a radvd running as another user cannot be stopped when its "
        "router becomes backup (it would keep advertising) for {}",
        listed(as_user)));
}

void check_neutron_files(const Privileges& p, const Config& c, PrivilegeCheck& out) {
  if (!c.neutron || !p.root || p.has(CAP_DAC_OVERRIDE)) return;
  out.warnings.push_back(fmt::format(
      "CAP_DAC_OVERRIDE is missing: root cannot write state files into Neutron's "
      "directories under {} or connect to the L3 agent's socket unless root owns them",
      c.neutron->state_path));
}

}  // namespace

std::optional<std::uint64_t> parse_cap_eff(std::string_view status) {
  constexpr std::string_view kKey = "CapEff:";
  auto at = status.find(kKey);
  if (at == std::string_view::npos || (at != 0 && status[at - 1] != '\n')) return std::nullopt;
  auto rest = status.substr(at + kKey.size());
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  std::uint64_t caps = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), caps, 16);
  if (ec != std::errc() || end == rest.data()) return std::nullopt;
  return caps;
}

PrivilegeCheck check_privileges(const Privileges& p, const Config& config) {
  PrivilegeCheck out;
  check_setns(p, config, out);
  check_net_admin(p, config, out);
  check_radvd(p, config, out);
  check_neutron_files(p, config, out);
  return out;
}

}  // namespace havip
