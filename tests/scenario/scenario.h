// A small event DSL over the Engine, with a fake clock, so scenario tests read
// as the behaviour they pin:
//
//   "@0 boot; @10 +vip; @2010 tick"  ->  {"r1 unknown->backup", "r1 backup->primary"}
//
// Steps are separated by ';'. "@T" sets the clock to T ms (it only moves
// forward) and fires due hold-down timers, like the daemon's timer would.
// Verbs (the router under test is "r1": namespace "ns1", interface "ha-r1"
// with ifindex 2, vip 169.254.0.1/24; a second router "r2" lives in "ns2"):
//   boot [NS]           dump of NS (default ns1): its link, and the vip if
//                       "vip" follows (aged AGE ms with "age=AGE")
//   +vip [NS] [tentative|dadfailed|if=N|len=L]   address added (live event)
//   -vip [NS] [if=N]    address removed
//   link N NAME [NS]    link N is (now) called NAME
//   unlink N [NS]       link N removed
//   resync [NS] [vip]   a re-dump that finds the vip present or not
//   gone [NS]           the namespace was deleted
//   addr A [NS]         address A/24 (another of this host's) added on link 2
//   speaker up|down [NS]  the router's keepalived found (pid 100) or gone
//   advert [NS] [from=A] [prio=P] [int=MS] [ver=V] [vrid=N] [if=N] [vip=A]
//                       an advert read on link 2 (defaults: 10.0.0.2, 100,
//                       1000, 2, 1, 2, 169.254.0.1)
//   tick                fire due timers (implied by every "@T")
// Besides transitions, the output has "r1 release", "r1 listen if=2",
// "r1 unlisten", "r1 speaker down|back", "r1 stale-vip on|off",
// "r1 split-brain on|off" and "r1 gateway appeared".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/engine.h"

namespace havip::testing {

RouterConfig router(std::string name, std::string netns, std::string interface,
                    std::string vip, Millis hold_down = Millis(2000));

class Scenario {
 public:
  explicit Scenario(Millis hold_down = Millis(2000));
  explicit Scenario(std::vector<RouterConfig> routers);

  // Runs the steps; returns the transitions they caused ("r1 backup->primary").
  std::vector<std::string> run(std::string_view steps);

  Engine& engine() { return engine_; }
  TimePoint now() const { return now_; }
  // All transitions so far, with reasons: "r1: backup -> primary (vip …)".
  const std::vector<std::string>& log() const { return log_; }
  // Every alert so far with its detail: "r1: keepalived (pid 100) was killed".
  const std::vector<std::string>& alerts() const { return alerts_; }

 private:
  void step(std::string_view text, std::vector<std::string>& out);
  void feed(Event e, std::vector<std::string>& out);

  Engine engine_;
  TimePoint now_;
  std::vector<std::string> log_;
  std::vector<std::string> alerts_;
};

}  // namespace havip::testing
