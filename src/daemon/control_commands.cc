#include "daemon/control_commands.h"

#include <unistd.h>

#include "ctl/protocol.h"
#include "havip_build.h"

namespace havip {

ControlCommands::ControlCommands(Sources sources, Watchers watchers, WallClock wall)
    : sources_(std::move(sources)), watchers_(std::move(watchers)), wall_(std::move(wall)) {}

void ControlCommands::transition(const RoleChange& c) {
  auto wall = wall_();
  auto& last = last_[c.router];
  last.time = wall;
  last.reason = c.reason;
  ++last.count;
  if (watchers_.count() > 0)
    watchers_.broadcast(ctl::to_line(ctl::transition_json(
        {wall, c.router, c.netns, c.interface, c.from, c.to, c.reason})));
}

void ControlCommands::keep_only(const std::set<std::string>& routers) {
  std::erase_if(last_, [&](const auto& kv) { return !routers.contains(kv.first); });
}

nlohmann::ordered_json ControlCommands::status(TimePoint now) const {
  const Engine& engine = sources_.engine;
  ctl::Status s;
  s.version = HAVIP_VERSION;
  s.pid = static_cast<int>(::getpid());
  s.ready = sources_.ready();
  s.namespaces = sources_.namespaces.watched();
  s.dry_run = sources_.dry_run;
  if (sources_.neutron_state_path) s.neutron_state_path = sources_.neutron_state_path();
  for (const auto& r : engine.status()) {
    ctl::RouterStatus out;
    out.name = r.name;
    out.netns = r.netns;
    out.role = r.role;
    if (const RouterConfig* config = engine.router(r.name)) {
      out.interface = config->interface;
      out.sync_group = config->sync_group;
      out.source = config->source;
    }
    if (r.pending_until)
      out.pending_s = std::chrono::duration<double>(*r.pending_until - now).count();
    if (auto it = last_.find(r.name); it != last_.end()) {
      out.since = it->second.time;
      out.reason = it->second.reason;
      out.transitions = it->second.count;
    }
    if (const RouterEffects* fx = sources_.pipeline.router(r.name)) {
      auto child = [](const Supervisor& sup) {
        return ctl::ChildStatus{sup.spec().what, sup.pid(),
                                std::string(Supervisor::state_name(sup.state()))};
      };
      if (fx->radvd()) out.children.push_back(child(fx->radvd()->supervisor()));
      for (const auto& svc : fx->services()) out.children.push_back(child(*svc));
      out.failing = fx->failing();
    }
    if (sources_.pipeline.state_file_failing(r.name, now))
      out.failing.insert(out.failing.begin(), "state_file");
    if (sources_.track.write_failing(r.name)) out.failing.push_back("track_file");
    if (const TrackVerdict* v = sources_.track.verdict(r.name)) {
      out.track = track_state_name(v->state);
      out.track_value = v->value;
      out.track_reason = v->reason;
      out.track_effects = v->effects;
    }
    out.drained = sources_.track.drained().contains(r.name);
    if (const auto* found = sources_.audit ? sources_.audit->findings(r.name) : nullptr) {
      out.audited = true;
      for (const auto& f : *found)
        out.audit.push_back({std::string(audit_kind_name(f.kind)), f.what});
    }
    out.speaker = std::string(speaker_state_name(r.speaker));
    if (r.speaker == SpeakerState::alive) out.speaker_pid = r.speaker_pid;
    out.stale_vip = r.stale_vip;
    out.split_brain = r.split_brain;
    out.alert = r.alert;
    out.peer = r.peer;
    s.routers.push_back(std::move(out));
  }
  return ctl::status_json(s);
}

std::string ControlCommands::metrics() const {
  MetricsInput in;
  auto now = Clock::now();
  for (const auto& r : sources_.engine.status()) {
    MetricsInput::Router m;
    m.name = r.name;
    m.netns = r.netns;
    m.role = r.role;
    if (auto it = last_.find(r.name); it != last_.end())
      m.role_since = std::chrono::duration<double>(it->second.time.time_since_epoch()).count();
    if (r.speaker == SpeakerState::alive || r.speaker == SpeakerState::down)
      m.speaker_up = r.speaker == SpeakerState::alive;
    m.stale_vip = r.stale_vip;
    m.split_brain = r.split_brain;
    if (const RouterEffects* fx = sources_.pipeline.router(r.name)) m.failing = fx->failing();
    if (sources_.pipeline.state_file_failing(r.name, now)) m.failing.push_back("state_file");
    if (sources_.track.write_failing(r.name)) m.failing.push_back("track_file");
    if (const TrackVerdict* v = sources_.track.verdict(r.name)) {
      m.drained = sources_.track.drained().contains(r.name);
      m.track_failed = v->state == TrackVerdict::State::failed;
    }
    if (const auto* found = sources_.audit ? sources_.audit->findings(r.name) : nullptr)
      m.audit_findings = found->size();
    in.routers.push_back(std::move(m));
  }
  const MonitorCounters& counters = sources_.counters;
  in.netlink_resyncs = counters.resyncs;
  in.netlink_messages = counters.messages;
  in.netlink_malformed = counters.malformed;
  in.namespaces_watched = sources_.namespaces.size();
  return sources_.metrics.render(in, HAVIP_VERSION);
}

}  // namespace havip
