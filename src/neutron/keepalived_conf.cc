// keepalived.conf as Neutron writes it for an HA router. The generator
// (neutron/agent/linux/keepalived.py, KeepalivedConf.build_config) emits:
//
//   global_defs { … }
//   [vrrp_script ha_health_check_<vrid> { script "…" … }]   health checks only
//   vrrp_instance VR_<vrid> {
//       state BACKUP
//       interface ha-XXXXXXXXXXX
//       virtual_router_id <vrid>
//       … priority, garp_master_delay, nopreempt, advert_int,
//       [authentication { … }] track_interface { ha-… }
//       virtual_ipaddress {
//           169.254.0.<vrid>/24 dev ha-XXXXXXXXXXX        the signal VIP, alone
//       }
//       [virtual_ipaddress_excluded {
//           ADDR/LEN dev DEV [scope link] [no_track]        sorted by address text
//       }]
//       [virtual_routes {
//           DEST [via NEXTHOP] [dev DEV] [scope link] [no_track]
//       }]
//       [track_script { ha_health_check_<vrid> }]
//   }
//
// The file is read by the general reader (config/keepalived_conf.h), with an
// Io that refuses includes (Neutron never writes them); this adapter adds
// Neutron's own rules: exactly one vrrp_instance, exactly one address in its
// virtual_ipaddress (the signal VIP, on the instance's interface), the
// gateway port named in virtual_routes or virtual_ipaddress_excluded.
#include "neutron/keepalived_conf.h"

#include <algorithm>

#include "config/keepalived_conf.h"

namespace havip {
namespace {

// Messages name the file as Neutron mode knows it.
constexpr const char* kFile = "keepalived.conf";

std::string at(int line, std::string_view message) {
  return std::string(kFile) + ":" + std::to_string(line) + ": " + std::string(message);
}

std::string quoted(std::string_view word) { return "'" + std::string(word) + "'"; }

bool is_gateway_device(std::string_view dev) { return dev.starts_with("qg-"); }

// Where an error about the whole file points: its last line.
int last_line(std::string_view text) {
  int lines = 1;
  for (char c : text) lines += c == '\n';
  if (!text.empty() && text.back() == '\n') --lines;
  return lines;
}

const keepalived::Io& no_includes() {
  static const keepalived::Io io{
      [](const std::string&) -> tl::expected<std::string, std::string> {
        return tl::unexpected(std::string("Neutron's keepalived.conf has no includes"));
      },
      [](const std::string& pattern) { return std::vector<std::string>{pattern}; }};
  return io;
}

constexpr const char* kOneVip = "Neutron puts exactly one signal VIP in virtual_ipaddress";

// A router has one gateway port; the routes name it first because its
// default route is what makes it the gateway, whereas an excluded address on
// qg- could in principle be a stray floating IP.
std::string gateway(const keepalived::Instance& in) {
  for (const auto& r : in.routes)
    for (const auto& dev : r.devs)
      if (is_gateway_device(dev)) return dev;
  for (const auto& a : in.excluded)
    if (is_gateway_device(a.dev)) return a.dev;
  return {};
}

}  // namespace

tl::expected<NeutronHaRouter, std::string> parse_neutron_keepalived_conf(std::string_view text) {
  auto conf = keepalived::parse(text, kFile, no_includes());
  if (!conf) return tl::unexpected(conf.error());
  const auto& instances = conf->instances;
  if (instances.empty()) return tl::unexpected(at(last_line(text), "no vrrp_instance in the file"));
  if (instances.size() > 1)
    return tl::unexpected(
        at(instances[1].line, "expected one vrrp_instance (Neutron writes one per router)"));
  const auto& in = instances[0];
  if (in.vips_line == 0)
    return tl::unexpected(
        at(in.line, std::string("vrrp_instance has no virtual_ipaddress: ") + kOneVip));
  if (in.vips.empty())
    return tl::unexpected(at(in.vips_line, std::string("virtual_ipaddress is empty: ") + kOneVip));
  if (in.vips.size() > 1)
    return tl::unexpected(
        at(in.vips[1].line, std::string("more than one address in virtual_ipaddress: ") + kOneVip));
  const auto& vip = in.vips[0];
  if (!vip.dev.empty() && vip.dev != in.interface)
    return tl::unexpected(at(vip.line, "the signal VIP is on " + quoted(vip.dev) +
                                           ", not on the instance's interface " +
                                           quoted(in.interface)));
  NeutronHaRouter r;
  r.ha_interface = in.interface;
  r.signal_vip = vip.prefix;
  r.vrid = in.vrid;
  r.priority = in.priority;
  r.version = in.version;
  r.advert_interval = in.advert_interval;
  r.gateway_interface = gateway(in);
  r.ipv6_default_route = std::any_of(in.routes.begin(), in.routes.end(),
                                     [](const keepalived::Route& x) { return x.ipv6_default; });
  for (const auto& a : in.excluded)
    r.excluded.emplace_back(a.prefix, a.dev.empty() ? in.interface : a.dev);
  for (const auto& route : in.routes)
    if (auto h = keepalived::held_route(route)) r.routes.push_back(*h);
  return r;
}

}  // namespace havip
