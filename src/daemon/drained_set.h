// The drained routers (havipctl drain), kept in <state_dir>/.havipd.drained
// so that a drained router stays drained across a restart of havipd and of
// the host: one router name per line, written atomically (temp file and
// rename). The file lies in havipd's own directory, but is read as if anyone
// could have written it: bounded, a regular file only, names checked.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace havip {

inline constexpr std::string_view kDrainedFile = ".havipd.drained";
// 10,000 names of 64 characters and their newlines, and room to spare.
inline constexpr std::size_t kMaxDrainedFile = 1 << 20;

struct DrainedSet {
  std::set<std::string> routers;
  std::vector<std::string> problems;  // lines skipped, and why
};

// The file's text: names one per line; blank lines and '#' comments are
// allowed, anything that is not a router name is a problem (and skipped).
DrainedSet parse_drained(std::string_view text);
std::string format_drained(const std::set<std::string>& routers);

// Reads <state_dir>/.havipd.drained; a missing file is an empty set.
tl::expected<DrainedSet, std::string> load_drained_set(const std::string& state_dir);
// Writes it (an empty set: the file holds nothing, and stays).
tl::expected<void, std::string> save_drained_set(const std::string& state_dir,
                                                 const std::set<std::string>& routers);

}  // namespace havip
