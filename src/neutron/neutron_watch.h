// Neutron drop-in mode: discovers the HA routers of Neutron's L3 agent from
// <state_path>/ha_confs/<router_id>/keepalived.conf, live, through inotify on
// ha_confs, on each router's directory and (manage_ipv6) on <state_path>/ra.
// A keepalived.conf that cannot be parsed is an error for that router only.
// Everything under state_path is the neutron user's: files are read through
// an UntrustedTree (safe_read.h), and state_path, ha_confs and ra may be
// replaced by other trees at any time (renamed, re-created, bind-mounted
// over, a symlink swapped): the watches follow the new ones.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "core/config.h"
#include "core/unique_fd.h"
#include "effects/run_files.h"
#include "effects/safe_read.h"

struct sd_event;
struct sd_event_source;

namespace havip {

class NeutronWatch {
 public:
  using OnChange = std::function<void()>;

  // `files` keeps the copy of each router's radvd.conf (a dry run's logs it).
  NeutronWatch(sd_event* loop, NeutronConfig neutron, DaemonConfig daemon, RunFiles& files,
               OnChange on_change);
  ~NeutronWatch();
  NeutronWatch(const NeutronWatch&) = delete;
  NeutronWatch& operator=(const NeutronWatch&) = delete;

  // Watches and reads every router once; on_change is not called for this.
  void start();
  // The routers as they are now, by router id.
  const std::map<std::string, RouterConfig>& routers() const { return routers_; }
  // A namespace appeared in or vanished from netns_dir: snat-<id> decides
  // which namespace a DVR-HA router lives in.
  void netns_changed(const std::string& name);

 private:
  // The directories whose replacement means "everything may have changed":
  // (st_dev, st_ino) of state_path, ha_confs and ra as their paths lead now.
  using TreeIdentity = std::array<std::pair<std::uint64_t, std::uint64_t>, 3>;

  static int on_inotify(sd_event_source* s, int fd, std::uint32_t revents, void* self);
  static int on_mounts(sd_event_source* s, int fd, std::uint32_t revents, void* self);
  void read_events();
  bool rebuild();
  void unwatch_all();
  void watch_tree();
  int watch_beneath(const std::string& rel, std::uint32_t mask, const std::string& what);
  TreeIdentity tree_identity() const;
  bool scan_all();
  bool refresh(const std::string& id);
  void watch_router_dir(const std::string& id);
  void unwatch_router_dir(const std::string& id);
  void say_error(const std::string& id, const std::string& path, const std::string& cause);
  std::optional<std::string> radvd_content(const std::string& id);
  bool has_conntrackd_conf(const std::string& id) const;

  sd_event* loop_;
  NeutronConfig neutron_;
  DaemonConfig daemon_;
  RunFiles& files_;
  OnChange on_change_;
  UniqueFd inotify_;
  UniqueFd mounts_;  // /proc/self/mountinfo: EPOLLPRI when a mount comes or goes
  sd_event_source* io_ = nullptr;
  sd_event_source* mounts_io_ = nullptr;
  std::optional<UntrustedTree> state_;  // state_path as last opened
  TreeIdentity identity_{};
  int parent_wd_ = -1, top_wd_ = -1, ha_wd_ = -1, ra_wd_ = -1;
  std::map<int, std::string> router_wds_;        // watch descriptor -> router id
  std::map<std::string, int> router_wd_of_;      // router id -> its watch descriptor
  std::map<std::string, RouterConfig> routers_;  // router id -> what havipd tracks
  std::map<std::string, std::string> errors_;    // router id -> its last error (said once)
  std::map<std::string, std::string> tree_errors_;  // state_path, ha_confs, ra -> (said once)
  std::map<std::string, std::string> radvd_errors_;  // router id -> why its radvd.conf was refused
  std::set<std::string> ignored_;                // entries of ha_confs that are no router id
  std::map<std::string, std::string> radvd_seen_;  // router id -> the agent's radvd.conf
};

}  // namespace havip
