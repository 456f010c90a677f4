// Telling an outside party (the Neutron L3 agent) a router's role. Behind an
// interface so that the effects are tested with a recording fake.
#pragma once

#include <string>

#include "core/types.h"

namespace havip {

class Notifier {
 public:
  virtual ~Notifier() = default;
  // The router's current role (primary or backup; never unknown). Never
  // blocks: delivery, retries and their failures happen later, in the loop.
  virtual void notify(const std::string& router, Role role) = 0;
  // The router is gone: nothing more is to be delivered for it.
  virtual void forget(const std::string& router) = 0;
};

}  // namespace havip
