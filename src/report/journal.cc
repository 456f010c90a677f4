#include "report/journal.h"

#include <fmt/format.h>

#include "log/logging.h"

namespace havip {

void JournalObserver::transition(const RoleChange& c) {
  auto level = c.to == Role::unknown ? spdlog::level::warn : spdlog::level::info;
  log::structured(level,
                  {{"HAVIP_ROUTER", c.router},
                   {"HAVIP_NAMESPACE", c.netns},
                   {"HAVIP_INTERFACE", c.interface},
                   {"HAVIP_ROLE", std::string(role_name(c.to))},
                   {"HAVIP_PREVIOUS_ROLE", std::string(role_name(c.from))},
                   {"HAVIP_REASON", c.reason}},
                  fmt::format("{}: {} -> {} ({})", c.router, role_name(c.from),
                              role_name(c.to), c.reason),
                  log::Kind::transition);
}

void JournalObserver::effect_failed(const EffectFailure& f) {
  auto level = f.severity == EffectFailure::Severity::error     ? spdlog::level::err
               : f.severity == EffectFailure::Severity::warning ? spdlog::level::warn
                                                                : spdlog::level::debug;
  if (!spdlog::should_log(level)) return;
  log::structured(level,
                  {{"HAVIP_ROUTER", f.router},
                   {"HAVIP_NAMESPACE", f.netns},
                   {"HAVIP_EFFECT", f.effect}},
                  fmt::format("{}: {}", f.router, f.message), log::Kind::effect_failure);
}

void JournalObserver::child_exited(const ChildExit& e) {
  log::structured(e.expected ? spdlog::level::info : spdlog::level::err,
                  {{"HAVIP_ROUTER", e.router},
                   {"HAVIP_NAMESPACE", e.netns},
                   {"HAVIP_CHILD", e.child},
                   {"HAVIP_EXIT", e.exit},
                   {"HAVIP_EXPECTED", e.expected ? "yes" : "no"}},
                  e.router + ": " + e.message, log::Kind::child_exit);
}

}  // namespace havip
