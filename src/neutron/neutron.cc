#include "neutron/neutron.h"

#include "config/config_parse.h"

namespace havip::neutron {

std::string ha_confs_dir(const NeutronConfig& n) { return n.state_path + "/ha_confs"; }

std::string keepalived_conf(const NeutronConfig& n, const std::string& id) {
  return ha_confs_dir(n) + "/" + id + "/keepalived.conf";
}

std::string radvd_conf(const NeutronConfig& n, const std::string& id) {
  return n.state_path + "/ra/" + id + ".radvd.conf";
}

std::string radvd_pid_file(const NeutronConfig& n, const std::string& id) {
  return n.state_path + "/external/pids/" + id + ".pid.radvd";
}

std::string agent_socket(const NeutronConfig& n) {
  return n.state_path + "/keepalived-state-change";
}

std::string netns_for(const std::string& id, bool snat_exists) {
  return (snat_exists ? "snat-" : "qrouter-") + id;
}

RouterConfig router_config(const NeutronConfig& n, const DaemonConfig& d, const std::string& id,
                           const NeutronHaRouter& ha, const std::string& netns,
                           const std::optional<std::string>& radvd_content) {
  RouterConfig r;
  r.name = id;
  r.state_dir = ha_confs_dir(n);  // <state_path>/ha_confs/<id>/state, as the incumbent
  r.notify_l3_agent = true;
  r.create_state_dir = false;
  r.netns = netns;
  r.interface = ha.ha_interface;
  r.vip = ha.signal_vip;
  r.hold_down = d.hold_down;
  r.vrrp = VrrpConfig{ha.vrid, ha.version, ha.advert_interval, ha.priority};
  r.observe_vrrp = d.observe_vrrp;
  r.on_stale_vip = d.on_stale_vip;
  r.track_speaker = d.track_speaker;
  for (const auto& [prefix, dev] : ha.excluded) r.addresses.push_back(HeldAddress{prefix, dev});
  resolve_addresses(r);
  if (!n.manage_ipv6) return r;
  r.gateway_interface = ha.gateway_interface;
  r.ipv6_gateway = ha.ipv6_default_route && !ha.gateway_interface.empty();
  if (radvd_content) {
    RadvdConfig radvd;
    radvd.content = *radvd_content;
    // The agent's process manager finds radvd by this pid file and the
    // router id in its command line (our config path holds it): it then
    // takes it as its own and never starts a second one.
    radvd.pid_file = radvd_pid_file(n, id);
    radvd.user = n.radvd_user;
    r.radvd = std::move(radvd);
  }
  return r;
}

}  // namespace havip::neutron
