// Parses and validates the TOML configuration (the text: the daemon reads the
// file, daemon/config_file.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "core/config.h"

namespace havip {

// One problem found in a configuration file, pointing at where it is.
struct ConfigError {
  std::string file;
  int line = 0;      // 1-based; 0 when the problem has no single place
  std::string key;   // dotted path, e.g. "router[2].vip"; may be empty
  std::string message;

  // "FILE:LINE: KEY: MESSAGE" (parts omitted when unknown).
  std::string to_string() const;
};

using ConfigResult = tl::expected<Config, std::vector<ConfigError>>;

// Parses TOML text; `file` is only used in error messages and Config::path.
ConfigResult parse_config(std::string_view text, const std::string& file);
// Why a config file with this owner and mode must not be trusted by a
// process running as our_uid/our_gid; nullopt when it is fine.
std::optional<std::string> unsafe_config_owner(unsigned uid, unsigned gid, unsigned mode,
                                               unsigned our_uid, unsigned our_gid);

// Names that end up in paths or interface names; shared with other parsers.
bool valid_router_name(std::string_view name);     // [A-Za-z0-9_.-]{1,64}, not "." or ".."
bool valid_netns_name(std::string_view name);      // 1..255 bytes, no '/', not "." or "..", printable
bool valid_interface_name(std::string_view name);
// Completes a router's `addresses` (what a stale VIP's release removes): the
// signal VIP first, an address without a device on the router's interface.
void resolve_addresses(RouterConfig& c);  // 1..15 bytes, no '/', ':', whitespace

}  // namespace havip
