// The configuration model: plain values, filled by config_parse.cc, read by
// every layer. Equality is what reload uses to leave unchanged routers alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/types.h"

namespace havip {

enum class StateSync : std::uint8_t {
  deferred,  // rename first, fsync file and directory after the batch (default)
  inline_,   // fsync the temp file before the rename (slower, on the latency path)
  off,       // never fsync (state is derived and rewritten at every start)
};

// What havipd does with a VIP left behind by a dead keepalived once a peer
// advertises as master (DESIGN.md §3.13).
enum class StaleVip : std::uint8_t {
  release,  // remove the router's addresses: the network sees one owner again
  report,   // keep them; only report
};

struct DaemonConfig {
  std::string state_dir = "/var/lib/havip";
  Millis hold_down{2000};
  std::string netns_dir = "/run/netns";
  int netlink_receive_buffer = 4 * 1024 * 1024;  // bytes, SO_RCVBUFFORCE
  StateSync state_sync = StateSync::deferred;
  std::string run_dir = "/run/havip";         // <run_dir>/<router>/radvd.{conf,pid}
  std::string radvd_binary = "/usr/sbin/radvd";
  std::string control_socket = "/run/havip/havipd.sock";  // "" = none
  std::string control_socket_group;  // group allowed to connect (mode 0660); "" = havipd's
  std::string metrics_textfile;      // node-exporter textfile collector file; "" = none
  StaleVip on_stale_vip = StaleVip::release;
  bool observe_vrrp = false;  // every router: watch adverts while keepalived runs
  bool track_speaker = true;  // watch the keepalived VRRP process behind each router
  // Feedback into VRRP (core/track.h), defaults for every router's track_file:
  Millis track_grace{10000};            // failing this long on the primary: failure value
  Millis track_failure_timeout{60000};  // kept this long after leaving primary
  int track_failure_value = -254;       // FAULT with weight 0 and with weight 1
  // The audit of what keepalived holds (core/audit.h), for routers read from a
  // keepalived.conf: how often each is compared with the kernel (0: never) and
  // how long a difference must last before it is reported.
  Millis audit_interval{10000};
  Millis audit_grace{10000};

  bool operator==(const DaemonConfig&) const = default;
};

// How hosts on a radvd interface configure themselves from a prefix.
enum class PrefixMode : std::uint8_t {
  slaac,             // AdvAutonomous on
  dhcpv6_stateless,  // AdvAutonomous on, AdvOtherConfigFlag on
  dhcpv6_stateful,   // AdvAutonomous off, AdvManagedFlag on
};

struct RadvdPrefix {
  IpPrefix prefix;
  PrefixMode mode = PrefixMode::slaac;
  bool operator==(const RadvdPrefix&) const = default;
};

// One `interface NAME { … };` block of the rendered radvd.conf.
struct RadvdInterface {
  std::string name;
  std::vector<RadvdPrefix> prefixes;
  std::vector<std::string> rdnss;     // IPv6 addresses; at most 3 are advertised
  std::optional<int> mtu;             // AdvLinkMTU, only rendered when >= 1280
  int min_interval = 30;              // MinRtrAdvInterval, seconds
  int max_interval = 100;             // MaxRtrAdvInterval, seconds
  std::vector<IpPrefix> routes;       // `route P {};` (more-specific routes)
  bool operator==(const RadvdInterface&) const = default;
};

struct RadvdConfig {
  std::vector<RadvdInterface> interfaces;  // rendered into radvd.conf …
  std::string config_file;                 // … or this file used as it is …
  std::string content;                     // … or this text (Neutron's, as last seen)
  std::string pid_file;                    // empty: <run_dir>/<router>/radvd.pid
  std::string user;                        // radvd -u USER (empty: none)
  bool operator==(const RadvdConfig&) const = default;
};

// An extra sysctl set on each role. `key` is dotted ("net.ipv4.conf.all.
// arp_ignore") or a path below /proc/sys ("net/ipv4/conf/eth0.100/arp_ignore",
// for interface names with dots). An empty value leaves it alone in that role.
struct SysctlSetting {
  std::string key;
  std::string primary;
  std::string backup;
  bool operator==(const SysctlSetting&) const = default;
};

// A command supervised while the router is primary (e.g. a metadata proxy).
struct ServiceConfig {
  std::vector<std::string> command;  // argv, no shell; command[0] is an absolute path
  Millis stop_timeout{5000};         // SIGTERM, then SIGKILL after this
  bool operator==(const ServiceConfig&) const = default;
};

// A command run once per applied transition, in order, never concurrently for
// one router.
struct HookConfig {
  std::vector<std::string> command;  // argv, no shell; command[0] is an absolute path
  Millis timeout{10000};             // killed (SIGKILL, whole process group) after this
  bool operator==(const HookConfig&) const = default;
};

// conntrackd's cache commands on every role a router takes, the initial one
// included (Neutron's --enable_conntrackd, docs/NEUTRON.md "conntrackd"): the
// commands of core/conntrackd.h, run like hooks (in order, in the router's
// namespace, no shell), before the L3 agent's notification.
struct ConntrackdConfig {
  std::string config;                           // conntrackd -C CONFIG
  std::string binary = "/usr/sbin/conntrackd";  // absolute: no PATH lookup
  Millis timeout{5000};  // each command; killed (SIGKILL, process group) after this
  bool operator==(const ConntrackdConfig&) const = default;
};

// What havipd knows of a router's VRRP instance: from keepalived.conf in
// Neutron mode, from havip.toml otherwise. Without a VRID no advert is read.
struct VrrpConfig {
  int vrid = 0;                           // 1..255; 0: unknown
  int version = 2;                        // keepalived's default
  std::optional<Millis> advert_interval;  // unknown: 1 s is assumed, and not compared
  int priority = 0;                       // 1..254; 0: unknown (skew taken as one interval)
  bool operator==(const VrrpConfig&) const = default;

  Millis interval() const { return advert_interval.value_or(Millis(1000)); }
  // keepalived's master-down interval: 3 adverts plus the skew (RFC 5798 §6.1).
  Millis master_down() const;
};

// An address keepalived holds for the router ("ADDR/LEN dev IFNAME").
struct HeldAddress {
  IpPrefix prefix;
  std::string dev;
  bool operator==(const HeldAddress&) const = default;
};

// A route keepalived holds for the router (an entry of virtual_routes).
struct HeldRoute {
  IpPrefix destination;         // 0.0.0.0/0 or ::/0 for a default route
  std::optional<IpPrefix> via;  // the (first) nexthop, a host prefix
  std::string dev;              // the (first) device; empty: any
  int table = 254;              // RT_TABLE_MAIN unless `table N`
  bool operator==(const HeldRoute&) const = default;
  // "default via 203.0.113.1 dev qg-1" as `ip route` shows it.
  std::string to_string() const;
};

struct RouterConfig {
  std::string name;
  std::string state_dir;  // resolved: <state_dir>/<name>/state (Neutron: <state_path>/ha_confs)
  bool notify_l3_agent = false;  // Neutron mode: tell the L3 agent every applied role
  // Whether havipd creates <state_dir>/<name>/ when it is missing. Not for
  // Neutron routers: the directory is Neutron's (it holds keepalived.conf),
  // and gone means the router is being removed (re-creating it would leave a
  // stray directory behind, or break Neutron's rmtree of it).
  bool create_state_dir = true;
  std::string netns;  // empty: the namespace havipd was started in
  std::string interface;
  IpPrefix vip;
  Millis hold_down{0};  // resolved: per-router value or [daemon] hold_down_ms
  std::string gateway_interface;  // empty: no IPv6 gateway sysctls
  bool ipv6_gateway = false;      // a static IPv6 default route exists: accept_ra=0
  std::vector<SysctlSetting> sysctls;
  std::optional<RadvdConfig> radvd;
  std::vector<ServiceConfig> services;
  std::vector<HookConfig> hooks;
  std::optional<ConntrackdConfig> conntrackd;

  VrrpConfig vrrp;
  bool observe_vrrp = false;                  // resolved: per router or [daemon]
  StaleVip on_stale_vip = StaleVip::release;  // resolved from [daemon]
  bool track_speaker = true;                  // resolved: per router or [daemon]
  // The keepalived VRRP process's pid file; empty: found in the namespace
  // (Neutron: the pid file the L3 agent gives keepalived).
  std::string speaker_pid_file;
  // What a stale VIP's release removes: the signal VIP first, then the other
  // addresses keepalived holds for the router.
  std::vector<HeldAddress> addresses;
  // What keepalived was told to hold, compared with the kernel by the audit
  // (routers read from a keepalived.conf: Neutron's and [keepalived]'s):
  // `addresses` above (virtual_ipaddress and virtual_ipaddress_excluded) and
  // these routes (virtual_routes).
  bool audit = false;
  std::vector<HeldRoute> routes;

  // Routers from keepalived.conf ([keepalived] config): where the
  // vrrp_instance is ("FILE:LINE"), its vrrp_sync_group and unicast peers.
  std::string source;
  std::string sync_group;
  std::vector<IpPrefix> unicast_peers;
  // keepalived's track_file havipd writes (core/track.h); empty: none. The
  // rest resolved: per router or [daemon].
  std::string track_file;
  Millis track_grace{10000};
  Millis track_failure_timeout{60000};
  int track_failure_value = -254;

  bool operator==(const RouterConfig&) const = default;
  // "in qrouter-x" or "in the host namespace": for log lines.
  std::string where() const;
};

// Neutron drop-in mode: routers are discovered from Neutron's state_path.
struct NeutronConfig {
  std::string state_path = "/var/lib/neutron";
  // Beyond Neutron: apply the gateway sysctls and run radvd for its routers
  // even while the L3 agent is down (Neutron bug #1677279).
  bool manage_ipv6 = false;
  std::string radvd_user;  // radvd -u USER, as the agent's radvd_user option
  // Whether a router whose directory holds conntrackd.conf (the agent's sign
  // of ha_conntrackd_enabled) runs the incumbent's conntrackd commands.
  bool conntrackd = true;
  std::string conntrackd_binary = "/usr/sbin/conntrackd";
  Millis conntrackd_timeout{5000};
  bool operator==(const NeutronConfig&) const = default;
};

// Routers from a keepalived.conf: every vrrp_instance is one. A host runs
// one keepalived, or one per namespace ([[keepalived]], one table each).
struct KeepalivedConfig {
  std::string config = "/etc/keepalived/keepalived.conf";
  // The namespace keepalived runs in (`ip netns exec NAME keepalived`); empty:
  // global_defs' net_namespace, else havipd's own.
  std::string netns;
  // A vrrp_track_file whose file is in this directory, followed by an
  // instance, is the router's track_file (havipd writes it).
  std::string track_dir = "/var/lib/havip/track";
  bool operator==(const KeepalivedConfig&) const = default;
};

struct Config {
  std::string path;  // the file it was read from
  DaemonConfig daemon;
  std::optional<NeutronConfig> neutron;
  std::vector<KeepalivedConfig> keepalived;  // [keepalived] or [[keepalived]]
  std::vector<RouterConfig> routers;
  // [[router]] tables with a name and no interface, given [keepalived]: the
  // effects of the vrrp_instance of that name (resolved like a router, with
  // an empty interface, and a vip only when one was chosen).
  std::vector<RouterConfig> attached;
};

}  // namespace havip
