// Network namespace handles and entering them. Sockets and /proc/sys files
// belong to the namespace of the thread that creates/opens them, so the
// pattern is: enter, create, return (DESIGN.md §5).
#pragma once

#include <string>
#include <type_traits>

#include <tl/expected.hpp>

#include "core/unique_fd.h"

namespace havip::netns {

// The namespace this process runs in ("" in the config), as an fd.
tl::expected<UniqueFd, std::string> open_current();
// `dir`/`name` (e.g. /run/netns/qrouter-…). Fails with a message when the file
// is missing or is not (yet) a namespace: `ip netns add` creates the file
// before it bind-mounts the namespace onto it.
tl::expected<UniqueFd, std::string> open_named(const std::string& dir, const std::string& name);

// Runs `fn` with the calling thread inside `target`, then returns to `home`.
// If returning fails the process is in an unknown namespace: it aborts, since
// every later socket and sysctl would land in the wrong place.
template <typename Fn>
auto run_in(int target, int home, Fn&& fn) -> tl::expected<decltype(fn()), std::string>;

tl::expected<void, std::string> enter(int target);
void leave_to(int home);  // aborts on failure
// Whether two namespace fds are one namespace (same nsfs inode).
bool same(int a, int b);

// fn() as an expected (void too).
template <typename Fn>
auto call_expected(Fn&& fn) -> tl::expected<decltype(fn()), std::string> {
  if constexpr (std::is_void_v<decltype(fn())>) {
    fn();
    return {};
  } else {
    return fn();
  }
}

template <typename Fn>
auto run_in(int target, int home, Fn&& fn) -> tl::expected<decltype(fn()), std::string> {
  // havipd's own namespace needs no setns (nor CAP_SYS_ADMIN, which setns
  // wants even for the namespace the thread is already in).
  if (same(target, home)) return call_expected(fn);
  if (auto ok = enter(target); !ok) return tl::unexpected(ok.error());
  struct Back {
    int home;
    ~Back() { leave_to(home); }
  } back{home};
  return call_expected(fn);
}

}  // namespace havip::netns
