#include "core/engine.h"

#include <algorithm>

namespace havip {

namespace {

std::string vip_on(const RouterConfig& c) {
  return "vip " + c.vip.to_string() + " on " + c.interface + " " + c.where();
}


RoleChange change(const RouterConfig& c, Transition t, std::string reason) {
  return RoleChange{c.name, t.from, t.to, std::move(reason), c.netns, c.interface};
}

std::string host_of(const IpPrefix& p) {
  auto text = p.to_string();
  return text.substr(0, text.find('/'));
}

// "10.0.0.2 advertises as master for VRID 5 (priority 100)"
std::string advertises(const PeerAdvert& a) {
  return host_of(a.source) + " advertises as master for VRID " + std::to_string(a.vrid) +
         " (priority " + std::to_string(a.priority) + ")";
}

// Where a peer's advert differs from this router's own VRRP settings; "" if
// nowhere (or nowhere that is known here).
std::string mismatch_of(const RouterConfig& c, const PeerAdvert& a) {
  std::string out;
  auto add = [&](const std::string& what) { out += (out.empty() ? "" : "; ") + what; };
  if (a.version != c.vrrp.version)
    add("VRRP version " + std::to_string(a.version) + ", here " + std::to_string(c.vrrp.version));
  if (c.vrrp.advert_interval && a.interval != *c.vrrp.advert_interval)
    add("advert interval " + std::to_string(a.interval.count()) + " ms, here " +
        std::to_string(c.vrrp.advert_interval->count()) + " ms");
  bool has_vip = std::any_of(a.addresses.begin(), a.addresses.end(), [&](const IpPrefix& p) {
    return p.family == c.vip.family && p.bytes == c.vip.bytes;
  });
  if (!has_vip) {
    std::string list;
    for (const auto& p : a.addresses) list += (list.empty() ? "" : " ") + host_of(p);
    add("addresses [" + list + "] without " + host_of(c.vip));
  }
  if (out.empty()) return out;
  return host_of(a.source) + " advertises VRID " + std::to_string(a.vrid) +
         " with other settings: " + out;
}

}  // namespace

Millis VrrpConfig::master_down() const {
  Millis adv = interval();
  // Skew = (256 - priority) / 256 of an interval; an unknown priority is
  // taken as the longest skew, one interval.
  Millis skew = priority > 0 ? adv * (256 - priority) / 256 : adv;
  return 3 * adv + skew;
}

// A VIP is stale a master-down interval after both keepalived went and the
// VIP was there (one added while keepalived is gone waits as long).
TimePoint Engine::stale_from(const Watch& w) {
  return w.vip_since ? std::max(w.speaker_since, *w.vip_since) : w.speaker_since;
}

// A run of a peer's adverts ends after a gap this long: our master-down
// interval, or four of the peer's own intervals if those are longer.
Millis Engine::run_window(const RouterConfig& c, Millis peer_interval) {
  return std::max(c.vrrp.master_down(), 4 * peer_interval);
}

void Engine::end_run(Watch& w) {
  w.peer_first.reset();
  w.peer_last.reset();
  w.mismatch.clear();
  w.adverts_while_primary = 0;
}

// How long split brain stays reported after the adverts that showed it.
constexpr Millis kSplitHold{60000};

std::string_view speaker_state_name(SpeakerState s) {
  switch (s) {
    case SpeakerState::untracked:
      return "untracked";
    case SpeakerState::alive:
      return "alive";
    case SpeakerState::down:
      return "down";
    case SpeakerState::unknown:
      break;
  }
  return "unknown";
}

std::string RouterConfig::where() const {
  return netns.empty() ? "in the host namespace" : "in " + netns;
}

Engine::Engine(std::vector<RouterConfig> routers) {
  routers_.reserve(routers.size());
  for (auto& c : routers) {
    Millis hold = c.hold_down;
    bool tracked = c.track_speaker;
    routers_.push_back(Router{std::move(c), RoleMachine(hold), {}});
    if (!tracked) routers_.back().watch.speaker = SpeakerState::untracked;
  }
  index();
}

void Engine::index() {
  by_netns_.clear();
  by_name_.clear();
  for (std::size_t i = 0; i < routers_.size(); ++i) {
    by_netns_[routers_[i].config.netns].push_back(i);
    by_name_[routers_[i].config.name] = i;
  }
}

const RouterConfig* Engine::router(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &routers_[it->second].config;
}

const NetnsView* Engine::view(const std::string& netns) const {
  auto it = views_.find(netns);
  return it == views_.end() || !it->second.synced() ? nullptr : &it->second;
}

std::optional<Role> Engine::role_of(const std::string& router) const {
  auto it = by_name_.find(router);
  if (it == by_name_.end()) return std::nullopt;
  return routers_[it->second].machine.role();
}

std::vector<Action> Engine::handle(const Event& event, TimePoint now) {
  std::vector<Action> out;
  std::visit([&](const auto& e) { on(e, now, out); }, event);
  return out;
}

void Engine::evaluate_one(Router& r, const NetnsView& view, TimePoint now,
                          std::vector<Action>& out) {
  auto since = view.present_since(r.config.vip, r.config.interface);
  Watch& w = r.watch;
  Role before = r.machine.role();
  bool down = w.speaker == SpeakerState::down;
  // A peer advertised as master after this host's keepalived went: the VIP
  // here is stale. A fault lasts until keepalived is back.
  bool taken_over = w.peer_last && *w.peer_last >= w.speaker_since && w.peer.priority > 0;
  if (down && (before == Role::fault ||
               (taken_over && (since || before == Role::primary || r.machine.deadline())))) {
    if (auto t = r.machine.fault()) {
      out.push_back(
          change(r.config, *t, "keepalived " + w.speaker_detail + " and " + advertises(w.peer)));
      if (r.config.on_stale_vip == StaleVip::release)
        out.push_back(ReleaseAddresses{r.config.name, r.config.netns, r.config.addresses});
    }
  } else {
    // keepalived is back after a fault: the VIP counts from its return, so
    // that keepalived settles (removes a stale VIP) before it is believed.
    if (since && before == Role::fault && *since < w.speaker_since) since = w.speaker_since;
    if (auto t = r.machine.observe(since, now))
      out.push_back(change(r.config, *t, since ? vip_on(r.config) : "no " + vip_on(r.config)));
  }
  if (r.machine.role() != before) {
    w.primary_since = r.machine.role() == Role::primary ? std::optional(now) : std::nullopt;
    w.adverts_while_primary = 0;
  }
  w.holds_vip = since.has_value();
  w.vip_since = since;
  watch_flags(r, view, now, out);
}

void Engine::watch_flags(Router& r, const NetnsView& view, TimePoint now,
                         std::vector<Action>& out) {
  Watch& w = r.watch;
  const RouterConfig& c = r.config;
  Millis window = run_window(c, w.peer.interval);
  if (w.peer_last && now >= *w.peer_last + window) end_run(w);  // the peer went quiet
  Role role = r.machine.role();
  bool down = w.speaker == SpeakerState::down;
  auto flag = [&](bool& current, bool want, RouterAlert::Kind kind, std::string& detail,
                  std::string why) {
    if (want) detail = std::move(why);
    if (current == want) return;
    current = want;
    out.push_back(RouterAlert{c.name, c.netns, kind, want, want ? detail : std::string(), true});
    if (!want) detail.clear();
  };

  // In a fault the VIP is stale while kept ("report"); "release" removes it.
  bool stale =
      down && w.holds_vip &&
      (role == Role::fault ? c.on_stale_vip == StaleVip::report : now >= stale_from(w) + window);
  std::string stale_why;
  if (stale)
    stale_why = "vip " + c.vip.to_string() + " on " + c.interface + " held although keepalived " +
                w.speaker_detail +
                (role == Role::fault ? "; a peer serves the router, addresses kept"
                                     : "; no other host advertises as master, so it is kept");
  flag(w.stale, stale, RouterAlert::Kind::stale_vip, w.stale_detail, std::move(stale_why));

  bool split = false;
  std::string split_why;
  if (!down && c.observe_vrrp && w.peer_last) {
    if (!w.mismatch.empty()) {
      split = true;
      split_why = w.mismatch;
    } else if (role == Role::primary && w.peer_first && w.adverts_while_primary >= 2 &&
               *w.peer_last - *w.peer_first >= 3 * c.vrrp.interval()) {
      split = true;
      split_why = advertises(w.peer) + " while this host is primary";
    }
  }
  if (split) {
    w.split_until = *w.peer_last + kSplitHold;
  } else if (w.split && !down && role == Role::primary && w.split_until && now < *w.split_until) {
    // Two masters that cannot hear each other's adverts (auth_pass) often take turns:
    // keepalived restarts its advert timer on any advert, so one falls silent for a
    // while. What was seen stays said for a while, as long as this host is primary.
    split = true;
    split_why = w.split_detail;
  }
  flag(w.split, split, RouterAlert::Kind::split_brain, w.split_detail, std::move(split_why));

  std::optional<Listen> want;
  if (c.vrrp.vrid != 0 && (c.observe_vrrp || (down && (w.holds_vip || role == Role::primary)))) {
    if (auto ifindex = view.ifindex_of(c.interface))
      want = Listen{c.name, c.netns, c.vip.family, *ifindex};
  }
  if (want != w.listening) {
    out.push_back(want ? *want : Listen{c.name, c.netns, c.vip.family, 0});
    w.listening = want;
  }
}

std::optional<TimePoint> Engine::watch_deadline(const Router& r) {
  const Watch& w = r.watch;
  const RouterConfig& c = r.config;
  std::optional<TimePoint> best;
  auto consider = [&](TimePoint t) {
    if (!best || t < *best) best = t;
  };
  Millis window = run_window(c, w.peer.interval);
  if (w.peer_last) consider(*w.peer_last + window);
  if (w.speaker == SpeakerState::down && w.holds_vip && !w.stale && r.machine.role() != Role::fault)
    consider(stale_from(w) + window);
  if (w.split && w.split_until) consider(*w.split_until);
  return best;
}

void Engine::reevaluate(Router& r, TimePoint now, std::vector<Action>& out) {
  auto view = views_.find(r.config.netns);
  if (view != views_.end() && view->second.synced()) evaluate_one(r, view->second, now, out);
}

void Engine::on(const SpeakerEvent& e, TimePoint now, std::vector<Action>& out) {
  auto it = by_name_.find(e.router);
  if (it == by_name_.end()) return;
  Router& r = routers_[it->second];
  Watch& w = r.watch;
  if (w.speaker == SpeakerState::untracked) return;
  SpeakerState next = e.pid ? SpeakerState::alive : SpeakerState::down;
  if (next == w.speaker && (!e.pid || *e.pid == w.pid)) return;
  bool was_down = w.speaker == SpeakerState::down;
  if (next != w.speaker) w.speaker_since = now;
  w.speaker = next;
  if (e.pid) {
    w.pid = *e.pid;
    w.speaker_detail.clear();
  } else {
    w.speaker_detail = (w.pid ? "(pid " + std::to_string(w.pid) + ") " : std::string()) +
                       (e.detail.empty() ? "is gone" : e.detail);
  }
  if (was_down != (next == SpeakerState::down)) {
    bool down = next == SpeakerState::down;
    bool matters = w.holds_vip || r.machine.role() == Role::primary || r.machine.deadline() ||
                   r.machine.role() == Role::fault;
    out.push_back(RouterAlert{r.config.name, r.config.netns, RouterAlert::Kind::speaker, down,
                              down ? "keepalived " + w.speaker_detail
                                   : "keepalived is back (pid " + std::to_string(w.pid) + ")",
                              matters});
  }
  reevaluate(r, now, out);
}

void Engine::on(const AdvertEvent& e, TimePoint now, std::vector<Action>& out) {
  auto view = views_.find(e.netns);
  auto idx = by_netns_.find(e.netns);
  if (view == views_.end() || idx == by_netns_.end()) return;
  // This host's own adverts (looped back) say nothing about the others.
  if (view->second.holds_address(e.advert.source)) return;
  std::string ifname = view->second.link_name(e.ifindex);
  if (ifname.empty()) return;
  for (auto i : idx->second) {
    Router& r = routers_[i];
    const RouterConfig& c = r.config;
    if (c.vrrp.vrid != e.advert.vrid || c.interface != ifname ||
        c.vip.family != e.advert.source.family)
      continue;
    Watch& w = r.watch;
    if (e.advert.priority == 0) {  // the master gives up: its run ends
      end_run(w);
    } else {
      Millis window = run_window(c, e.advert.interval);
      if (!w.peer_last || now >= *w.peer_last + window) {
        w.peer_first = now;
        w.adverts_while_primary = 0;
      }
      if (r.machine.role() == Role::primary) ++w.adverts_while_primary;
      w.peer_last = now;
      w.peer = e.advert;
      w.mismatch = mismatch_of(c, e.advert);
    }
    reevaluate(r, now, out);
  }
}

template <typename Pick>
void Engine::evaluate(const std::string& netns, TimePoint now, std::vector<Action>& out,
                      Pick pick) {
  auto view = views_.find(netns);
  auto idx = by_netns_.find(netns);
  if (view == views_.end() || !view->second.synced() || idx == by_netns_.end()) return;
  for (auto i : idx->second)
    if (pick(routers_[i].config)) evaluate_one(routers_[i], view->second, now, out);
}

void Engine::on(const SyncStart& e, TimePoint, std::vector<Action>&) {
  views_[e.netns].begin_sync();
}

void Engine::on(const SyncEnd& e, TimePoint now, std::vector<Action>& out) {
  views_[e.netns].end_sync();
  evaluate(e.netns, now, out, [](const RouterConfig&) { return true; });
}

void Engine::on(const NetnsGone& e, TimePoint, std::vector<Action>& out) {
  views_.erase(e.netns);
  auto idx = by_netns_.find(e.netns);
  if (idx == by_netns_.end()) return;
  for (auto i : idx->second) {
    auto& r = routers_[i];
    if (auto t = r.machine.forget())
      out.push_back(change(r.config, *t, "namespace " + e.netns + " gone: " + e.reason));
    r.watch.primary_since.reset();
    r.watch.holds_vip = false;
    if (r.watch.listening) {
      out.push_back(Listen{r.config.name, r.config.netns, r.config.vip.family, 0});
      r.watch.listening.reset();
    }
  }
}

void Engine::on(const LinkEvent& e, TimePoint now, std::vector<Action>& out) {
  auto& view = views_[e.netns];
  std::string old = view.apply(e.link);
  const std::string& now_name = e.link.name;
  evaluate(e.netns, now, out, [&](const RouterConfig& c) {
    return c.interface == old || c.interface == now_name;
  });
  if (e.link.removed || now_name.empty() || now_name == old) return;
  auto idx = by_netns_.find(e.netns);
  if (idx == by_netns_.end()) return;
  for (auto i : idx->second) {
    const auto& r = routers_[i];
    if (r.config.gateway_interface == now_name && r.machine.role() != Role::unknown)
      out.push_back(GatewayAppeared{r.config.name});
  }
}

void Engine::on(const AddrEvent& e, TimePoint now, std::vector<Action>& out) {
  views_[e.netns].apply(e.addr, e.created, now);
  evaluate(e.netns, now, out, [&](const RouterConfig& c) { return c.vip == e.addr.prefix; });
}

void Engine::on(const Tick&, TimePoint now, std::vector<Action>& out) {
  for (auto& r : routers_) {
    if (auto t = r.machine.expire(now)) {
      out.push_back(change(r.config, *t, vip_on(r.config)));
      r.watch.primary_since = now;
    }
    auto due = watch_deadline(r);
    if (due && *due <= now) reevaluate(r, now, out);
  }
}

std::vector<Action> Engine::reconfigure(std::vector<RouterConfig> routers, TimePoint now) {
  std::unordered_map<std::string, Router*> old;
  for (auto& r : routers_) old.emplace(r.config.name, &r);
  std::vector<Router> next;
  next.reserve(routers.size());
  std::vector<std::size_t> changed;
  std::vector<Action> out;
  for (auto& c : routers) {
    auto it = old.find(c.name);
    if (it != old.end() && it->second->config == c) {
      next.push_back(std::move(*it->second));
      old.erase(it);
      continue;
    }
    Role start = it == old.end() ? Role::unknown : it->second->machine.role();
    Millis hold = c.hold_down;
    // What is known of its keepalived and peers stays (a reader's listening
    // with it); the daemon tells again what changed with the new settings.
    Watch watch = it == old.end() ? Watch{} : std::move(it->second->watch);
    if (it != old.end()) old.erase(it);
    if (!c.track_speaker)
      watch.speaker = SpeakerState::untracked;
    else if (watch.speaker == SpeakerState::untracked)
      watch.speaker = SpeakerState::unknown;
    changed.push_back(next.size());
    next.push_back(Router{std::move(c), RoleMachine(hold, start), std::move(watch)});
  }
  for (auto& [name, r] : old)  // removed: their reader stops
    if (r->watch.listening) out.push_back(Listen{name, r->config.netns, r->config.vip.family, 0});
  routers_ = std::move(next);
  index();
  // Namespaces no router lives in any more are forgotten.
  std::erase_if(views_, [&](const auto& kv) { return !by_netns_.contains(kv.first); });
  for (auto i : changed) {
    auto& r = routers_[i];
    auto view = views_.find(r.config.netns);
    if (view != views_.end() && view->second.synced()) {
      evaluate_one(r, view->second, now, out);
    } else {
      if (auto t = r.machine.forget())  // its namespace is not read yet: nothing is known
        out.push_back(change(r.config, *t, "namespace " + r.config.netns + " not read yet"));
      if (r.watch.listening) {
        out.push_back(Listen{r.config.name, r.config.netns, r.config.vip.family, 0});
        r.watch.listening.reset();
      }
    }
  }
  return out;
}

std::optional<TimePoint> Engine::next_deadline() const {
  std::optional<TimePoint> best;
  for (const auto& r : routers_) {
    auto d = r.machine.deadline();
    if (d && (!best || *d < *best)) best = d;
    d = watch_deadline(r);
    if (d && (!best || *d < *best)) best = d;
  }
  return best;
}

std::set<std::string> Engine::namespaces() const {
  std::set<std::string> out;
  for (const auto& [ns, _] : by_netns_) out.insert(ns);
  return out;
}

bool Engine::synced(const std::string& netns) const {
  auto it = views_.find(netns);
  return it != views_.end() && it->second.synced();
}

std::vector<RouterStatus> Engine::status() const {
  std::vector<RouterStatus> out;
  out.reserve(routers_.size());
  for (const auto& r : routers_) {
    const Watch& w = r.watch;
    RouterStatus st;
    st.name = r.config.name;
    st.netns = r.config.netns;
    st.role = r.machine.role();
    st.pending_until = r.machine.deadline();
    st.speaker = w.speaker;
    st.speaker_pid = w.speaker == SpeakerState::alive ? w.pid : 0;
    st.stale_vip = w.stale;
    st.split_brain = w.split;
    st.alert = w.stale ? w.stale_detail : w.split_detail;
    if (w.peer_last && w.peer.priority > 0) st.peer = host_of(w.peer.source);
    out.push_back(std::move(st));
  }
  return out;
}

RoleCounts Engine::counts() const {
  RoleCounts c;
  for (const auto& r : routers_) {
    switch (r.machine.role()) {
      case Role::primary: ++c.primary; break;
      case Role::backup: ++c.backup; break;
      case Role::fault:
        ++c.fault;
        break;
      case Role::unknown: ++c.unknown; break;
    }
  }
  return c;
}

}  // namespace havip
