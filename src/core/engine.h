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

// The keepalived VRRP process behind a router, as far as havipd knows.
enum class SpeakerState : std::uint8_t {
  untracked,  // track_speaker = false
  unknown,    // not looked for yet
  alive,
  down,
};
std::string_view speaker_state_name(SpeakerState s);

struct RouterStatus {
  std::string name;
  std::string netns;
  Role role = Role::unknown;
  std::optional<TimePoint> pending_until;  // a primary waiting out its hold-down
  SpeakerState speaker = SpeakerState::unknown;
  int speaker_pid = 0;       // while alive
  bool stale_vip = false;    // the VIP is held although keepalived is gone
  bool split_brain = false;  // another host advertises as master while this one is
  std::string alert;         // what the stale VIP or split brain is, in words
  std::string peer;          // the host advertising as master now, if one is heard
};

struct RoleCounts {
  std::size_t primary = 0, backup = 0, fault = 0, unknown = 0;
  std::size_t total() const { return primary + backup + fault + unknown; }
};

class Engine {
 public:
  explicit Engine(std::vector<RouterConfig> routers);

  std::vector<Action> handle(const Event& event, TimePoint now);

  // Replaces the router set. Unchanged routers keep their state untouched; a
  // changed router keeps its role as the starting point and is re-evaluated;
  // removed routers are dropped without a transition.
  std::vector<Action> reconfigure(std::vector<RouterConfig> routers, TimePoint now);

  // The earliest pending hold-down or VRRP check, for the daemon's single timer.
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
  // What is known of a namespace's links and addresses; nullptr before its
  // first dump is complete.
  const NetnsView* view(const std::string& netns) const;

 private:
  // What is known of the router's keepalived and of the other hosts' adverts
  // (docs/STATES.md, "keepalived and its peers").
  struct Watch {
    SpeakerState speaker = SpeakerState::unknown;
    int pid = 0;                // the last one seen alive
    TimePoint speaker_since{};  // when it was last seen to go down (or come back)
    std::string speaker_detail;
    // Adverts from a master on another host: the current run (no gap longer
    // than the master-down interval) and the last one.
    std::optional<TimePoint> peer_first, peer_last;
    PeerAdvert peer;
    std::string mismatch;  // settings of the last advert that differ from ours
    std::optional<TimePoint> primary_since;
    std::size_t adverts_while_primary = 0;  // in the current run
    std::optional<TimePoint> split_until;   // split brain stays said until then
    bool holds_vip = false;                 // at the last evaluation
    std::optional<TimePoint> vip_since;
    bool stale = false;
    bool split = false;
    std::string stale_detail, split_detail;
    std::optional<Listen> listening;  // what the daemon was last asked to read
  };
  struct Router {
    RouterConfig config;
    RoleMachine machine;
    Watch watch;
  };

  void on(const SyncStart& e, TimePoint now, std::vector<Action>& out);
  void on(const SyncEnd& e, TimePoint now, std::vector<Action>& out);
  void on(const NetnsGone& e, TimePoint now, std::vector<Action>& out);
  void on(const LinkEvent& e, TimePoint now, std::vector<Action>& out);
  void on(const AddrEvent& e, TimePoint now, std::vector<Action>& out);
  void on(const Tick& e, TimePoint now, std::vector<Action>& out);
  void on(const SpeakerEvent& e, TimePoint now, std::vector<Action>& out);
  void on(const AdvertEvent& e, TimePoint now, std::vector<Action>& out);

  // Re-decides the routers of `netns` that `pick` selects.
  template <typename Pick>
  void evaluate(const std::string& netns, TimePoint now, std::vector<Action>& out, Pick pick);
  void evaluate_one(Router& r, const NetnsView& view, TimePoint now, std::vector<Action>& out);
  // Re-evaluates one router if its namespace has been read.
  void reevaluate(Router& r, TimePoint now, std::vector<Action>& out);
  // The stale VIP and split brain flags and what to listen to, after a decision.
  void watch_flags(Router& r, const NetnsView& view, TimePoint now, std::vector<Action>& out);
  static std::optional<TimePoint> watch_deadline(const Router& r);
  static TimePoint stale_from(const Watch& w);
  static Millis run_window(const RouterConfig& c, Millis peer_interval);
  static void end_run(Watch& w);
  void index();

  std::vector<Router> routers_;
  std::unordered_map<std::string, std::vector<std::size_t>> by_netns_;
  std::unordered_map<std::string, std::size_t> by_name_;
  std::unordered_map<std::string, NetnsView> views_;
};

}  // namespace havip
