// The keepalived.conf reader, for both modes (DESIGN.md §3.14): generic mode
// turns every vrrp_instance of a host's keepalived.conf into a router, and
// Neutron mode reads the one instance the L3 agent writes per HA router
// (neutron/keepalived_conf.h adapts it to what Neutron mode needs).
//
// The reader is pure: it never touches the file system itself. Files named by
// `include` come through Io (the daemon's reads them, daemon/keepalived_files.h;
// tests and the fuzz target give a map), so it may be fed anything: input,
// words, nesting and the number of included files are bounded.
//
// What it keeps is what havip uses; every other statement and block is
// skipped, as keepalived skips (and logs) what it does not know. What keepalived
// itself would reject makes the whole read fail, with "FILE:LINE: message".
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "core/config.h"
#include "core/types.h"

namespace havip::keepalived {

// An entry of virtual_ipaddress or virtual_ipaddress_excluded.
struct Address {
  IpPrefix prefix;  // an address without /LEN is a host address (/32, /128)
  std::string dev;  // as written; empty: on the instance's interface
  int line = 0;     // where it is written (in the file its instance starts in), for messages
  bool operator==(const Address&) const = default;
};

// An entry of virtual_routes (only what havip uses of it).
struct Route {
  std::optional<IpPrefix> destination;  // nullopt: `default`/`any`/`all` of the nexthop's family
  bool ipv6_default = false;            // an IPv6 default route (::/0, default6, default via v6)
  std::optional<IpPrefix> via;          // the nexthop (as a host prefix)
  std::string dev;                      // the first `dev`/`oif`; empty when absent
  // Every `dev`/`oif` in order: a multipath route (`nexthop via … dev …`) names one per hop.
  std::vector<std::string> devs;
  // `table N` (or main/default/local); -1: a table named in rt_tables, unknown here.
  int table = 254;
  bool operator==(const Route&) const = default;
};

// One `vrrp_instance NAME { … }`.
struct Instance {
  std::string name;
  std::string file;  // where it starts, for messages
  int line = 0;
  std::string interface;  // `interface`
  // `use_vmac [NAME]`: keepalived then holds the VIPs on a macvlan it creates,
  // NAME or "vrrp.<vrid>" (vmac_interface is empty without use_vmac).
  std::string vmac_interface;
  int vrid = 0;                          // virtual_router_id, 1..255
  int priority = 0;                      // 0: absent (keepalived's default 100, 255 for MASTER)
  int version = 2;                       // vrrp_version (instance, else global_defs), 2 or 3
  std::optional<Millis> advert_interval;  // advert_int
  std::string state;                     // MASTER, BACKUP or empty
  bool nopreempt = false;
  bool ipv6 = false;  // the instance speaks VRRP over IPv6 (its VIPs' family, or native_ipv6)
  std::vector<Address> vips;      // virtual_ipaddress, in file order
  int vips_line = 0;              // the first `virtual_ipaddress` block's line; 0: none
  std::vector<Address> excluded;  // virtual_ipaddress_excluded, in file order
  std::vector<Route> routes;      // virtual_routes
  std::vector<IpPrefix> unicast_peers;  // unicast_peer { … } (host prefixes)
  std::optional<IpPrefix> unicast_src_ip;
  std::string sync_group;  // the vrrp_sync_group that lists it; empty: none
  // track_file { NAME [weight W [reverse]] … }: the vrrp_track_file blocks it
  // follows (by name, each defined) and the weight given here, if any.
  std::vector<std::pair<std::string, std::optional<int>>> track_files;

  // The interface the VIPs appear on: the VMAC interface with use_vmac.
  const std::string& vip_interface() const {
    return vmac_interface.empty() ? interface : vmac_interface;
  }
  bool operator==(const Instance&) const = default;
};

// `vrrp_track_file NAME { file PATH  weight W  init_file … }`.
struct TrackFile {
  std::string name;
  std::string path;
  int weight = 1;        // keepalived's default; -254..254
  bool reverse = false;  // `weight W reverse`: the adjustment goes the other way
  bool operator==(const TrackFile&) const = default;
};

// The route as havip holds it (RouterConfig::routes): the destination of a
// `default` taken from the nexthop's family. nullopt: in a table known only by
// name (the audit cannot look for it).
std::optional<HeldRoute> held_route(const Route& r);

struct Conf {
  std::string net_namespace;  // global_defs net_namespace; empty: keepalived's own
  std::vector<Instance> instances;                  // in file order, names unique
  std::map<std::string, std::vector<std::string>> sync_groups;  // group -> instance names
  std::map<std::string, TrackFile> track_files;     // by name
  // Every file read and every glob pattern expanded, in order: what to watch
  // for a change (the first is the main file).
  std::vector<std::string> files;
  std::vector<std::string> patterns;
};

// What the reader needs of the file system.
struct Io {
  // The text of an included file, or why it cannot be read.
  std::function<tl::expected<std::string, std::string>(const std::string& path)> read;
  // The files a glob pattern matches, sorted (none is fine: keepalived skips
  // it), without what keepalived skips itself (directories, executables).
  std::function<std::vector<std::string>(const std::string& pattern)> glob;
};

// Reads `text`, the content of `file`. A relative `include` pattern is taken
// as keepalived takes it: keepalived changes into the directory of each file
// it opens (when its name has a '/'), so the pattern is relative to the
// including file's directory (to the working directory when that file's name
// has no '/': give `file` as an absolute path). Errors are "FILE:LINE:
// message", FILE being the file (included or not) where the problem is.
//
// Bounds: 1 MiB per file, 16 MiB in all, words of 1024 bytes, blocks nested
// 16 deep, includes nested 8 deep, 1000 files.
tl::expected<Conf, std::string> parse(std::string_view text, const std::string& file,
                                      const Io& io);

}  // namespace havip::keepalived
