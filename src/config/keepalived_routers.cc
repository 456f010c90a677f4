#include "config/keepalived_routers.h"

#include <algorithm>
#include <map>

#include "config/config_parse.h"

namespace havip {
namespace {

std::string where(const keepalived::Instance& i) {
  return i.file + ":" + std::to_string(i.line) + ": vrrp_instance " + i.name;
}

// The instance's addresses as keepalived holds them: an address without a
// device is on the interface the VIPs go to (the VMAC one with use_vmac).
HeldAddress held(const keepalived::Instance& i, const keepalived::Address& a) {
  return HeldAddress{a.prefix, a.dev.empty() ? i.vip_interface() : a.dev};
}

// The signal VIP: the one chosen by the attached router, else the first.
tl::expected<HeldAddress, std::string> signal_vip(const keepalived::Instance& i,
                                                  const RouterConfig* attached) {
  if (attached && attached->vip.family != 0) {
    for (const auto& a : i.vips)
      if (a.prefix == attached->vip) return held(i, a);
    std::string have;
    for (const auto& a : i.vips) have += (have.empty() ? "" : ", ") + a.prefix.to_string();
    return tl::unexpected("router " + i.name + " in the configuration chooses vip " +
                          attached->vip.to_string() + ", which is not in " + where(i) +
                          "'s virtual_ipaddress (" + (have.empty() ? "empty" : have) + ")");
  }
  if (i.vips.empty()) return tl::unexpected(std::string());
  return held(i, i.vips.front());
}

// The track file havipd writes for the instance: a vrrp_track_file it
// tracks whose file is in track_dir (the first, in its track_file order).
std::string track_file_in(const keepalived::Instance& i, const keepalived::Conf& conf,
                          const std::string& track_dir) {
  std::string dir = track_dir.ends_with('/') ? track_dir : track_dir + "/";
  for (const auto& [name, weight] : i.track_files) {
    auto it = conf.track_files.find(name);
    if (it == conf.track_files.end()) continue;
    const auto& path = it->second.path;
    if (path.starts_with(dir) && path.find('/', dir.size()) == std::string::npos &&
        path.size() > dir.size())
      return path;
  }
  return {};
}

void add_routers(const Config& config, const KeepalivedConfig& kc, const keepalived::Conf& conf,
                 const std::map<std::string, const RouterConfig*>& attached,
                 const std::map<std::string, const RouterConfig*>& explicit_routers,
                 KeepalivedRouters& out, std::vector<std::string>& errors) {
  if (!kc.netns.empty() && !conf.net_namespace.empty() && kc.netns != conf.net_namespace)
    errors.push_back("[keepalived] namespace is " + kc.netns + " but " + kc.config +
                     " sets net_namespace " + conf.net_namespace +
                     " in global_defs: keepalived runs in one of them; remove one");
  std::string netns = conf.net_namespace.empty() ? kc.netns : conf.net_namespace;
  if (!netns.empty() && !valid_netns_name(netns))
    errors.push_back(kc.config + ": net_namespace '" + netns +
                     "' is not a namespace name havipd can open");
  for (const auto& i : conf.instances) {
    if (explicit_routers.contains(i.name)) {
      errors.push_back(where(i) + " has the name of router " + i.name + " in " + config.path +
                       ", which gives its own interface and vip; remove its interface and vip "
                       "to attach effects to the instance instead");
      continue;
    }
    if (!valid_router_name(i.name)) {
      out.skipped.push_back(where(i) +
                            ": the name cannot be a router's (1 to 64 of A-Z a-z 0-9 _ . -): "
                            "not served");
      continue;
    }
    auto it = attached.find(i.name);
    const RouterConfig* with = it == attached.end() ? nullptr : it->second;
    auto vip = signal_vip(i, with);
    if (!vip) {
      if (vip.error().empty())
        out.skipped.push_back(where(i) +
                              ": no virtual_ipaddress, so no address tells its role: not served");
      else
        errors.push_back(vip.error());
      continue;
    }
    RouterConfig r;
    if (with) {
      r = *with;  // effects, hold-down, observe_vrrp, track_speaker, speaker_pid_file
    } else {
      r.name = i.name;
      r.state_dir = config.daemon.state_dir;
      r.hold_down = config.daemon.hold_down;
      r.on_stale_vip = config.daemon.on_stale_vip;
      r.observe_vrrp = config.daemon.observe_vrrp;
      r.track_speaker = config.daemon.track_speaker;
      r.track_grace = config.daemon.track_grace;
      r.track_failure_timeout = config.daemon.track_failure_timeout;
      r.track_failure_value = config.daemon.track_failure_value;
    }
    if (r.track_file.empty()) r.track_file = track_file_in(i, conf, kc.track_dir);
    r.netns = netns;
    r.interface = vip->dev;
    r.vip = vip->prefix;
    r.vrrp.vrid = i.vrid;
    r.vrrp.version = i.version;
    r.vrrp.advert_interval = i.advert_interval;
    r.vrrp.priority = i.priority;
    r.addresses.clear();
    for (const auto* list : {&i.vips, &i.excluded})
      for (const auto& a : *list) r.addresses.push_back(held(i, a));
    resolve_addresses(r);
    r.audit = true;
    r.routes.clear();
    for (const auto& route : i.routes)
      if (auto h = keepalived::held_route(route)) r.routes.push_back(*h);
    r.source = i.file + ":" + std::to_string(i.line);
    r.sync_group = i.sync_group;
    r.unicast_peers = i.unicast_peers;
    out.routers.push_back(std::move(r));
  }
}

}  // namespace

tl::expected<KeepalivedRouters, std::vector<std::string>> keepalived_routers(
    const Config& config, const std::vector<keepalived::Conf>& confs) {
  KeepalivedRouters out;
  std::vector<std::string> errors;
  std::map<std::string, const RouterConfig*> attached;
  for (const auto& a : config.attached) attached[a.name] = &a;
  std::map<std::string, const RouterConfig*> explicit_routers;
  for (const auto& r : config.routers) explicit_routers[r.name] = &r;
  std::map<std::string, const keepalived::Instance*> instances;
  std::string files;
  for (std::size_t n = 0; n < confs.size() && n < config.keepalived.size(); ++n) {
    files += (files.empty() ? "" : " or ") + config.keepalived[n].config;
    for (const auto& i : confs[n].instances) {
      auto [it, fresh] = instances.emplace(i.name, &i);
      if (!fresh)
        errors.push_back(where(i) + ": " + where(*it->second) +
                         " has the same name; router names are unique, so name them apart");
    }
  }
  for (const auto& a : config.attached)
    if (!instances.contains(a.name))
      errors.push_back("router " + a.name + " in " + config.path +
                       " has no interface, so it attaches to the vrrp_instance of that name, "
                       "but " +
                       files + " has none");
  for (std::size_t n = 0; n < confs.size() && n < config.keepalived.size(); ++n)
    add_routers(config, config.keepalived[n], confs[n], attached, explicit_routers, out, errors);
  // One value per file: two routers writing one track file would undo each other.
  std::map<std::string, std::string> track_owner;
  for (const auto& r : config.routers)
    if (!r.track_file.empty()) track_owner.emplace(r.track_file, r.name);
  for (const auto& r : out.routers) {
    if (r.track_file.empty()) continue;
    auto [it, fresh] = track_owner.emplace(r.track_file, r.name);
    if (!fresh)
      errors.push_back(r.source + ": vrrp_instance " + r.name + ": its track_file " + r.track_file +
                       " is router " + it->second +
                       "'s as well; havipd writes one value per router, so give each its own");
  }
  if (!errors.empty()) return tl::unexpected(std::move(errors));
  return out;
}

}  // namespace havip
