#include "report/journal.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

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

void JournalObserver::alert(const RouterAlert& a) {
  using K = RouterAlert::Kind;
  log::Kind kind = a.kind == K::speaker     ? log::Kind::speaker
                   : a.kind == K::stale_vip ? log::Kind::stale_vip
                                            : log::Kind::split_brain;
  std::string_view what = a.kind == K::speaker     ? "keepalived"
                          : a.kind == K::stale_vip ? "stale VIP"
                                                   : "split brain";
  std::string message = a.kind == K::speaker ? a.detail
                        : a.active           ? fmt::format("{}: {}", what, a.detail)
                                             : fmt::format("{} over", what);
  log::structured(a.active && a.serious ? spdlog::level::warn : spdlog::level::info,
                  {{"HAVIP_ROUTER", a.router},
                   {"HAVIP_NAMESPACE", a.netns},
                   {"HAVIP_ALERT", std::string(what)},
                   {"HAVIP_ACTIVE", a.active ? "yes" : "no"}},
                  fmt::format("{}: {}", a.router, message), kind);
}

void JournalObserver::released(const ReleaseAddresses& r, const std::vector<std::string>& failed) {
  std::string list;
  for (const auto& a : r.addresses)
    list += (list.empty() ? "" : ", ") + a.prefix.to_string() + " dev " + a.dev;
  log::structured(
      failed.empty() ? spdlog::level::warn : spdlog::level::err,
      {{"HAVIP_ROUTER", r.router}, {"HAVIP_NAMESPACE", r.netns}, {"HAVIP_ADDRESSES", list}},
      failed.empty() ? fmt::format("{}: released {} (on_stale_vip = release)", r.router, list)
                     : fmt::format("{}: released {} (on_stale_vip = release), except: {}", r.router,
                                   list, fmt::join(failed, "; ")),
      log::Kind::release);
}

}  // namespace havip
