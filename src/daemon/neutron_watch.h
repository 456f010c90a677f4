// Neutron drop-in mode: discovers the HA routers of Neutron's L3 agent from
// <state_path>/ha_confs/<router_id>/keepalived.conf, live, through inotify on
// ha_confs, on each router's directory and (manage_ipv6) on <state_path>/ra.
// A keepalived.conf that cannot be parsed is an error for that router only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "core/config.h"
#include "core/unique_fd.h"
#include "effects/run_files.h"

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
  static int on_inotify(sd_event_source* s, int fd, std::uint32_t revents, void* self);
  void read_events();
  void scan_all();
  bool refresh(const std::string& id);
  void watch_router_dir(const std::string& id);
  std::optional<std::string> radvd_content(const std::string& id);

  sd_event* loop_;
  NeutronConfig neutron_;
  DaemonConfig daemon_;
  RunFiles& files_;
  OnChange on_change_;
  UniqueFd inotify_;
  sd_event_source* io_ = nullptr;
  int top_wd_ = -1, ha_wd_ = -1, ra_wd_ = -1;
  std::map<int, std::string> router_wds_;        // watch descriptor -> router id
  std::map<std::string, RouterConfig> routers_;  // router id -> what havipd tracks
  std::map<std::string, std::string> errors_;    // router id -> its last error (said once)
  std::set<std::string> ignored_;                // entries of ha_confs that are no router id
  std::map<std::string, std::string> radvd_seen_;  // router id -> the agent's radvd.conf
};

}  // namespace havip
