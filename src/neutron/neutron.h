// Neutron drop-in mode: what havipd makes of one HA router that Neutron's L3
// agent set up (NEUTRON.md "Layout on a network node").
#pragma once

#include <optional>
#include <string>

#include "core/config.h"
#include "neutron/keepalived_conf.h"

namespace havip::neutron {

std::string ha_confs_dir(const NeutronConfig& n);                   // <state_path>/ha_confs
std::string keepalived_conf(const NeutronConfig& n, const std::string& id);
// <ha_confs>/<id>/conntrackd.conf: the L3 agent writes it for every HA router
// when ha_conntrackd_enabled is set (ConntrackdManager), and then starts the
// monitor with --enable_conntrackd: havipd's sign to run the same commands.
std::string conntrackd_conf(const NeutronConfig& n, const std::string& id);
std::string radvd_conf(const NeutronConfig& n, const std::string& id);  // <state_path>/ra/<id>.radvd.conf
std::string radvd_pid_file(const NeutronConfig& n, const std::string& id);  // …/external/pids/<id>.pid.radvd
std::string agent_socket(const NeutronConfig& n);                   // <state_path>/keepalived-state-change

// The pid file of the keepalived VRRP child that Neutron's L3 agent starts for
// an HA router: <ha_confs>/<router_id>.pid.keepalived-vrrp, beside (not in)
// the router's directory <ha_confs>/<router_id>/. `ha_confs` is the agent's
// ha_confs_path (default $state_path/ha_confs; havipd's is ha_confs_dir()).
// Neutron 15.0.0 (Train) and later; the derivation from Neutron's sources is
// in neutron.cc.
std::string neutron_vrrp_pid_file(const std::string& ha_confs, const std::string& router_id);

// The router's namespace: snat-<id> for DVR-HA when it exists, else qrouter-<id>.
std::string netns_for(const std::string& id, bool snat_exists);

// The router as havipd tracks it. `radvd_content` is the agent's radvd.conf as
// last seen (nullopt: never seen, so havipd cannot run radvd for it);
// `has_conntrackd_conf`: whether its conntrackd.conf exists.
RouterConfig router_config(const NeutronConfig& n, const DaemonConfig& d, const std::string& id,
                           const NeutronHaRouter& ha, const std::string& netns,
                           const std::optional<std::string>& radvd_content,
                           bool has_conntrackd_conf = false);

}  // namespace havip::neutron
