#include "effects/sysctl.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "core/unique_fd.h"
#include "netns/netns.h"

namespace havip {

namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Read-compare-write of one opened file (fd -1: `open_errno` says why not).
Sysctls::Result write_one(int fd, int open_errno, const SysctlWrite& w) {
  const std::string full = "/proc/sys/" + w.path;
  if (fd < 0) return tl::unexpected(SysctlError{open_errno, full + ": " + std::strerror(open_errno)});
  std::array<char, 256> buf{};
  ssize_t n = ::pread(fd, buf.data(), buf.size() - 1, 0);
  if (n >= 0 && trimmed(std::string(buf.data(), static_cast<std::size_t>(n))) == w.value)
    return false;
  if (::pwrite(fd, w.value.data(), w.value.size(), 0) != static_cast<ssize_t>(w.value.size()))
    return tl::unexpected(SysctlError{errno, full + " = " + w.value + ": " + std::strerror(errno)});
  return true;
}

}  // namespace

tl::expected<bool, SysctlError> ProcSysctls::set(const std::string& netns,
                                                 const std::string& path,
                                                 const std::string& value) {
  return set_all(netns, {{path, value}}).front();
}

std::vector<Sysctls::Result> ProcSysctls::set_all(const std::string& netns,
                                                  const std::vector<SysctlWrite>& writes) {
  // Open every file inside the namespace (/proc/sys resolves there at open
  // time), keeping each open's errno, then leave and read-compare-write.
  std::vector<std::pair<UniqueFd, int>> fds;
  auto open_all = [&] {
    for (const auto& w : writes) {
      UniqueFd fd(::open(("/proc/sys/" + w.path).c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
      int err = fd ? 0 : errno;
      fds.emplace_back(std::move(fd), err);
    }
  };
  if (netns.empty()) {
    open_all();
  } else {
    int ns = netns_fd_(netns);
    auto in = ns < 0 ? tl::expected<void, std::string>(
                           tl::unexpected("namespace " + netns + " is not available"))
                     : netns::run_in(ns, home_netns_, open_all);
    if (!in) {
      int err = ns < 0 ? ESRCH : EINVAL;
      return std::vector<Result>(writes.size(), tl::unexpected(SysctlError{err, in.error()}));
    }
  }
  std::vector<Result> out;
  for (std::size_t i = 0; i < writes.size(); ++i)
    out.push_back(write_one(fds[i].first.get(), fds[i].second, writes[i]));
  return out;
}

}  // namespace havip
