// Logging: spdlog, to journald with structured fields when systemd connected
// our stderr to the journal (JOURNAL_STREAM), to stderr otherwise.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

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

// Logs `message` with extra journald fields (stderr shows the message only).
void structured(spdlog::level::level_enum level, std::initializer_list<Field> fields,
                std::string_view message);

}  // namespace havip::log
