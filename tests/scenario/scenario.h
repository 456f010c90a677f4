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
//   tick                fire due timers (implied by every "@T")
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

 private:
  void step(std::string_view text, std::vector<std::string>& out);
  void feed(Event e, std::vector<std::string>& out);

  Engine engine_;
  TimePoint now_;
  std::vector<std::string> log_;
};

}  // namespace havip::testing
