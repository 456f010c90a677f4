// What /proc says about havipd's children. havipd is a child subreaper
// (PR_SET_CHILD_SUBREAPER): a process that one of its children leaves behind
// (a service that forks into the background, a hook's `cmd &`) is re-parented
// to havipd instead of init, so it can still be found, attributed to the
// router it was started for, and stopped with it. These helpers read who
// havipd's children are and what ties one to a child havipd started.
#pragma once

#include <sys/types.h>

#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace havip::proc {

// The pids of havipd's children (of every thread: an orphan is re-parented
// to any thread of the subreaper), from /proc/self/task/*/children.
std::set<pid_t> children();

struct Ids {
  pid_t pgid = 0;
  pid_t sid = 0;
  char state = 0;  // 'R', 'S', ..., 'Z' (exited, not yet reaped)
};
// The process group, session and state of `pid`, or nullopt once it is gone.
std::optional<Ids> ids(pid_t pid);
// /proc/PID/environ as it reads: empty for a process that has exited, and
// for a moment while one execs (its new image not yet in place).
std::optional<std::string> environ(pid_t pid);

// Parsers: the text of /proc/PID/stat (the command may hold spaces and
// parentheses) and of /proc/PID/environ (NUL-separated: the value of `key`).
std::optional<Ids> parse_stat(std::string_view stat);
std::optional<std::string> parse_environ(std::string_view environ, std::string_view key);
// Pids in the text of a `children` file ("12 345 ").
void parse_children(std::string_view text, std::set<pid_t>& out);

}  // namespace havip::proc
