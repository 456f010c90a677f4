#include "neutron/neutron.h"

#include "config/config_parse.h"

namespace havip::neutron {

std::string ha_confs_dir(const NeutronConfig& n) { return n.state_path + "/ha_confs"; }

std::string keepalived_conf(const NeutronConfig& n, const std::string& id) {
  return ha_confs_dir(n) + "/" + id + "/keepalived.conf";
}

std::string conntrackd_conf(const NeutronConfig& n, const std::string& id) {
  return ha_confs_dir(n) + "/" + id + "/conntrackd.conf";
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

// Neutron (neutron/agent/linux/keepalived.py, KeepalivedManager; the same in
// Debian 12's python3-neutron 2:21.0.0 (Zed) and in master as of 2026,
// 29.0.0.0b1-105-g2131d26f73):
//   * ha_router.py _init_keepalived_manager(): KeepalivedManager(router['id'], …,
//     conf_path=agent_conf.ha_confs_path, namespace=ha_namespace); ha_confs_path
//     defaults to '$state_path/ha_confs' (neutron/conf/agent/l3/ha.py).
//   * get_process(): ProcessManager(uuid=router id, service='keepalived',
//     pids_path=conf_path), whose get_pid_file_name() (agent/linux/external_process.py)
//     is utils.get_conf_file_name(pids_path, uuid, 'pid.' + service) =
//     "<abspath(normpath(ha_confs))>/<router_id>.pid.keepalived": keepalived's parent.
//   * get_vrrp_pid_file_name(base) = base + '-vrrp'; spawn() runs
//     `keepalived -P -f <ha_confs>/<id>/keepalived.conf -p <base> -r <base>-vrrp`
//     (-P: the VRRP subsystem only, so no checker child; -r: the VRRP child's pid
//     file, which keepalived writes), and check_processes() reads it back.
// Before Neutron 15.0.0 (Train, 2019; commit 93015527f0 "Add kill hooks for external
// processes" added service='keepalived' to get_process()) the files were
// <id>.pid and <id>.pid-vrrp; that layout is not followed here.
std::string neutron_vrrp_pid_file(const std::string& ha_confs, const std::string& router_id) {
  return ha_confs + "/" + router_id + ".pid.keepalived-vrrp";
}

std::string netns_for(const std::string& id, bool snat_exists) {
  return (snat_exists ? "snat-" : "qrouter-") + id;
}

RouterConfig router_config(const NeutronConfig& n, const DaemonConfig& d, const std::string& id,
                           const NeutronHaRouter& ha, const std::string& netns,
                           const std::optional<std::string>& radvd_content,
                           bool has_conntrackd_conf) {
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
  r.speaker_pid_file = neutron_vrrp_pid_file(ha_confs_dir(n), id);
  for (const auto& [prefix, dev] : ha.excluded) r.addresses.push_back(HeldAddress{prefix, dev});
  resolve_addresses(r);
  r.audit = true;
  r.routes = ha.routes;
  if (n.conntrackd && has_conntrackd_conf)
    r.conntrackd =
        ConntrackdConfig{conntrackd_conf(n, id), n.conntrackd_binary, n.conntrackd_timeout};
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
