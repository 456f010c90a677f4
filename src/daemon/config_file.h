// The configuration file, read at the edge: config/ parses text and never
// touches the file system.
#pragma once

#include <string>

#include "config/config_parse.h"

namespace havip {

// Reads and parses `file`; refused when anyone but root or this process's
// user could write it (unsafe_config_owner). An unreadable file is one error.
ConfigResult load_config(const std::string& file);

}  // namespace havip
