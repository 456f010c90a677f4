#include "core/role_machine.h"

namespace havip {

std::optional<Transition> RoleMachine::set(Role to) {
  if (role_ == to) return std::nullopt;
  Transition t{role_, to};
  role_ = to;
  return t;
}

std::optional<Transition> RoleMachine::observe(std::optional<TimePoint> since, TimePoint now) {
  if (!since) {
    due_.reset();
    return set(Role::backup);
  }
  if (role_ == Role::primary) {
    due_.reset();
    return std::nullopt;
  }
  due_ = *since + hold_down_;
  return expire(now);
}

std::optional<Transition> RoleMachine::expire(TimePoint now) {
  if (!due_ || *due_ > now) return std::nullopt;
  due_.reset();
  return set(Role::primary);
}

std::optional<Transition> RoleMachine::fault() {
  due_.reset();
  return set(Role::fault);
}

std::optional<Transition> RoleMachine::forget() {
  due_.reset();
  return set(Role::unknown);
}

}  // namespace havip
