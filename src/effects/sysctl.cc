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

}  // namespace

tl::expected<bool, SysctlError> ProcSysctls::set(const std::string& netns,
                                                 const std::string& path,
                                                 const std::string& value) {
  const std::string full = "/proc/sys/" + path;
  auto open_it = [&] { return UniqueFd(::open(full.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW)); };
  UniqueFd fd;
  if (netns.empty()) {
    fd = open_it();
  } else {
    int ns = netns_fd_(netns);
    if (ns < 0) return tl::unexpected(SysctlError{ESRCH, "namespace " + netns + " is not available"});
    auto in = netns::run_in(ns, home_netns_, open_it);
    if (!in) return tl::unexpected(SysctlError{EINVAL, in.error()});
    fd = std::move(*in);
  }
  if (!fd) return tl::unexpected(SysctlError{errno, full + ": " + std::strerror(errno)});
  std::array<char, 256> buf{};
  ssize_t n = ::pread(fd.get(), buf.data(), buf.size() - 1, 0);
  if (n >= 0 && trimmed(std::string(buf.data(), static_cast<std::size_t>(n))) == value)
    return false;
  if (::pwrite(fd.get(), value.data(), value.size(), 0) != static_cast<ssize_t>(value.size()))
    return tl::unexpected(SysctlError{errno, full + " = " + value + ": " + std::strerror(errno)});
  return true;
}

}  // namespace havip
