// Logging: spdlog, to journald with structured fields when systemd connected
// our stderr to the journal (JOURNAL_STREAM), to stderr otherwise.
//
// Lines about one router carry HAVIP_ROUTER and HAVIP_NAMESPACE; the events
// an operator filters on carry a fixed MESSAGE_ID (see Kind, documented in
// README.md "Logs"), so `journalctl MESSAGE_ID=… HAVIP_ROUTER=edge1` works.
// What the effects report (transitions, failures, child exits) is logged by
// report/journal.h; the metrics count the same reports (report/metrics.h).
#pragma once

#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace havip::log {

// Sets up the default logger. `level`: trace, debug, info, warn, error.
// Returns false (and keeps "info") for an unknown level name.
bool setup(std::string_view level);
bool journal_active();

// A journald field such as HAVIP_ROUTER=edge1. Names: uppercase, digits, '_'.
struct Field {
  std::string_view name;
  std::string value;
};

// The kinds of event with a MESSAGE_ID of their own.
enum class Kind {
  none,
  transition,      // a router changed role
  effect_failure,  // HAVIP_EFFECT: state_file, sysctls, radvd, service, hook, notify
  child_exit,      // radvd or a service exited (HAVIP_CHILD, HAVIP_EXIT, HAVIP_EXPECTED)
  resync,          // a namespace's netlink state was read again after an overrun
  netns_gone,      // a watched namespace was deleted or could not be read any more
  reload,          // the configuration was reloaded (or the reload rejected)
  speaker,         // a router's keepalived VRRP process went away or came back
  stale_vip,       // a VIP is held although keepalived is gone (or no longer)
  split_brain,     // another host advertises as master while this one is (or no longer)
  release,         // a stale VIP's addresses were removed (on_stale_vip = "release")
  track,           // a router's track_file changed value (HAVIP_TRACK: ok, failed, drained)
  audit,           // what keepalived holds differs from the kernel (HAVIP_AUDIT: missing, held, ok)
};
// The 128-bit MESSAGE_ID of `kind` (32 hex digits); empty for Kind::none.
std::string_view message_id(Kind kind);
// Logs `message` with extra journald fields (stderr shows the message only).
void structured(spdlog::level::level_enum level, std::initializer_list<Field> fields,
                std::string_view message, Kind kind = Kind::none);

// "router: message" with HAVIP_ROUTER and HAVIP_NAMESPACE ("" is the host's).
template <class... Args>
void router(spdlog::level::level_enum level, std::string_view name, std::string_view netns,
            fmt::format_string<Args...> format, Args&&... args) {
  if (!spdlog::should_log(level)) return;
  structured(level, {{"HAVIP_ROUTER", std::string(name)}, {"HAVIP_NAMESPACE", std::string(netns)}},
             fmt::format("{}: {}", name, fmt::format(format, std::forward<Args>(args)...)));
}

}  // namespace havip::log
