// The decision core: Event -> vector<Action>. Pure: no I/O, no clock but the
// `now` its caller passes. One instance owns every router of the daemon.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/actions.h"
#include "core/config.h"
#include "core/events.h"
#include "core/netns_view.h"
#include "core/role_machine.h"

namespace havip {

struct RouterStatus {
  std::string name;
  std::string netns;
  Role role = Role::unknown;
  std::optional<TimePoint> pending_until;  // a primary waiting out its hold-down
};

struct RoleCounts {
  std::size_t primary = 0, backup = 0, unknown = 0;
  std::size_t total() const { return primary + backup + unknown; }
};

class Engine {
 public:
  explicit Engine(std::vector<RouterConfig> routers);

  std::vector<Action> handle(const Event& event, TimePoint now);

  // Replaces the router set. Unchanged routers keep their state untouched; a
  // changed router keeps its role as the starting point and is re-evaluated;
  // removed routers are dropped without a transition.
  std::vector<Action> reconfigure(std::vector<RouterConfig> routers, TimePoint now);

  // The earliest pending hold-down, for the daemon's single timer.
  std::optional<TimePoint> next_deadline() const;

  // The namespaces routers live in ("" is the daemon's own).
  std::set<std::string> namespaces() const;
  // Whether a namespace has completed its first dump.
  bool synced(const std::string& netns) const;

  std::vector<RouterStatus> status() const;
  // A router's configuration; nullptr if no such router is configured.
  const RouterConfig* router(const std::string& name) const;
  // The role of one router; nullopt if no such router is configured.
  std::optional<Role> role_of(const std::string& router) const;
  RoleCounts counts() const;

 private:
  struct Router {
    RouterConfig config;
    RoleMachine machine;
  };

  void on(const SyncStart& e, TimePoint now, std::vector<Action>& out);
  void on(const SyncEnd& e, TimePoint now, std::vector<Action>& out);
  void on(const NetnsGone& e, TimePoint now, std::vector<Action>& out);
  void on(const LinkEvent& e, TimePoint now, std::vector<Action>& out);
  void on(const AddrEvent& e, TimePoint now, std::vector<Action>& out);
  void on(const Tick& e, TimePoint now, std::vector<Action>& out);

  // Re-decides the routers of `netns` that `pick` selects.
  template <typename Pick>
  void evaluate(const std::string& netns, TimePoint now, std::vector<Action>& out, Pick pick);
  void evaluate_one(Router& r, const NetnsView& view, TimePoint now, std::vector<Action>& out);
  void index();

  std::vector<Router> routers_;
  std::unordered_map<std::string, std::vector<std::size_t>> by_netns_;
  std::unordered_map<std::string, std::size_t> by_name_;
  std::unordered_map<std::string, NetnsView> views_;
};

}  // namespace havip
