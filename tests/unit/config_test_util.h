// Helpers of the havip.toml tests (config_test.cc, track_config_test.cc):
// parse a text that must be accepted, or must be refused, and match an error.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "config/config_parse.h"

namespace havip::config_test {

inline constexpr const char* kFile = "test.toml";

// Tests write their TOML as R"( on its own line; dropping that first newline
// makes line 1 the first line you read, so line numbers match the text.
inline std::string_view toml_text(std::string_view text) {
  if (text.starts_with('\n')) text.remove_prefix(1);
  return text;
}

inline std::string describe(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.to_string() + "\n";
  return out;
}

inline Config config_of(std::string_view text) {
  auto result = parse_config(toml_text(text), kFile);
  if (!result) {
    ADD_FAILURE() << "unexpected errors:\n" << describe(result.error());
    return {};
  }
  return *result;
}

inline std::vector<ConfigError> errors_of(std::string_view text) {
  auto result = parse_config(toml_text(text), kFile);
  if (result) {
    ADD_FAILURE() << "expected errors, but the config was accepted";
    return {};
  }
  return result.error();
}

inline auto IsError(int line, const std::string& key, const std::string& message_part) {
  using ::testing::AllOf;
  using ::testing::Field;
  using ::testing::HasSubstr;
  return AllOf(Field("file", &ConfigError::file, std::string(kFile)),
               Field("line", &ConfigError::line, line), Field("key", &ConfigError::key, key),
               Field("message", &ConfigError::message, HasSubstr(message_part)));
}

}  // namespace havip::config_test
