// Namespaces appearing in and vanishing from a directory such as /run/netns,
// through inotify (as `ip netns monitor` and FRR's zebra do).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "core/unique_fd.h"

namespace havip::netns {

struct NetnsChange {
  std::string name;
  bool appeared = false;  // false: gone
  bool operator==(const NetnsChange&) const = default;
};

// Creates `dir` (0755) if missing and returns a non-blocking inotify fd
// watching it for entries created, moved in, deleted and moved out.
tl::expected<UniqueFd, std::string> watch_dir(const std::string& dir);

// One inotify event as read (name without its padding).
struct InotifyEvent {
  int wd = -1;
  std::uint32_t mask = 0;
  std::string name;
};
// Splits what one read() of an inotify fd returned into its events.
std::vector<InotifyEvent> split_inotify(std::span<const std::uint8_t> bytes);

// Decodes what one read() of the inotify fd returned. `lost` is set when the
// kernel's queue overflowed (IN_Q_OVERFLOW): the caller must rescan the dir.
std::vector<NetnsChange> decode_inotify(std::span<const std::uint8_t> bytes, bool& lost);

// The names currently in `dir` (no "." entries), sorted.
std::vector<std::string> list_dir(const std::string& dir);

}  // namespace havip::netns
