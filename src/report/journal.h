// The journal's side of the Observer: each transition, effect failure and
// child exit as one structured line with its MESSAGE_ID (log/logging.h), the
// fields an operator filters on (README.md "Logs").
#pragma once

#include "effects/observer.h"

namespace havip {

class JournalObserver final : public Observer {
 public:
  void transition(const RoleChange& change) override;
  void effect_failed(const EffectFailure& failure) override;
  void child_exited(const ChildExit& exit) override;
  void alert(const RouterAlert& alert) override;
  void released(const ReleaseAddresses& release, const std::vector<std::string>& failed) override;
};

}  // namespace havip
