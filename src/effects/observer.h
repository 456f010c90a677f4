// What the effects pipeline reports. Every outcome an operator or a metric
// cares about goes through one Observer: the journal (report/journal.h) and
// the metrics (report/metrics.h) both implement it, so a failure is logged
// once and counted once, and nothing reads log lines back.
#pragma once

#include <string>
#include <vector>

#include "core/actions.h"

namespace havip {

// An effect of a router failed: state_file, sysctls, radvd, service, hook, notify.
struct EffectFailure {
  std::string router;
  std::string netns;
  std::string effect;
  std::string message;  // without the "router: " prefix
  // How loudly the journal says it; counted in the metrics whatever it is (a
  // retry failing again is said quietly, not once per retry).
  enum class Severity { error, warning, debug } severity = Severity::error;
};

// radvd or a service exited; `expected` when havipd stopped it.
struct ChildExit {
  std::string router;
  std::string netns;
  std::string child;   // "radvd", "service keepalived-helper"
  std::string exit;    // "exit code 1", "signal TERM"
  bool expected = false;
  std::string message;  // without the "router: " prefix
};

class Observer {
 public:
  virtual ~Observer() = default;
  // A role change was applied: its state file is on its way, its sysctls,
  // radvd and services are done (its hooks and notification follow the file).
  virtual void transition(const RoleChange& change) = 0;
  virtual void effect_failed(const EffectFailure& failure) = 0;
  virtual void child_exited(const ChildExit& exit) = 0;
  // keepalived gone or back, a stale VIP, split brain (core/actions.h).
  virtual void alert(const RouterAlert&) {}
  // A stale VIP's addresses were removed; `failed` lists those that could not be.
  virtual void released(const ReleaseAddresses&, const std::vector<std::string>& /*failed*/) {}
};

// Hands every report to each observer, in the order they were added.
class Observers final : public Observer {
 public:
  void add(Observer& o) { all_.push_back(&o); }
  void transition(const RoleChange& c) override {
    for (auto* o : all_) o->transition(c);
  }
  void effect_failed(const EffectFailure& f) override {
    for (auto* o : all_) o->effect_failed(f);
  }
  void child_exited(const ChildExit& e) override {
    for (auto* o : all_) o->child_exited(e);
  }
  void alert(const RouterAlert& a) override {
    for (auto* o : all_) o->alert(a);
  }
  void released(const ReleaseAddresses& r, const std::vector<std::string>& failed) override {
    for (auto* o : all_) o->released(r, failed);
  }

 private:
  std::vector<Observer*> all_;
};

}  // namespace havip
