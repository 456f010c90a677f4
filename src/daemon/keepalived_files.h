// keepalived.conf and the files it includes, read from the file system for
// the reader in config/ (which never touches it).
#pragma once

#include <string>
#include <tl/expected.hpp>

#include "config/keepalived_conf.h"

namespace havip {

// Files read without blocking (a FIFO put in conf.d does not stall the loop),
// regular files only, 1 MiB each; patterns expanded by glob(3) with
// GLOB_BRACE, as keepalived does, leaving out what keepalived skips with a
// log line: directories and files that are not regular or are executable.
keepalived::Io real_keepalived_io();

// Reads and parses the keepalived.conf at `path` (give it absolute: relative
// includes resolve against its directory) and everything it includes.
// Errors are "FILE:LINE: message", or "PATH: cannot read: reason".
tl::expected<keepalived::Conf, std::string> read_keepalived_conf(const std::string& path);

}  // namespace havip
