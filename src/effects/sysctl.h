// Writing sysctls inside a router's namespace. /proc/sys resolves against the
// namespace of the calling thread when the file is opened, so: enter, open
// the full path, return, then read-compare-write (DESIGN.md §5).
#pragma once

#include <functional>
#include <string>

#include <tl/expected.hpp>

namespace havip {

struct SysctlError {
  int error = 0;  // errno; ENOENT: no such sysctl (e.g. the interface does not exist)
  std::string message;
};

class Sysctls {
 public:
  virtual ~Sysctls() = default;
  // Sets /proc/sys/`path` in `netns` to `value` unless it already has it.
  // Returns whether it wrote.
  virtual tl::expected<bool, SysctlError> set(const std::string& netns, const std::string& path,
                                              const std::string& value) = 0;
};

class ProcSysctls final : public Sysctls {
 public:
  using NetnsFd = std::function<int(const std::string& netns)>;  // -1: not available
  ProcSysctls(int home_netns, NetnsFd netns_fd)
      : home_netns_(home_netns), netns_fd_(std::move(netns_fd)) {}
  tl::expected<bool, SysctlError> set(const std::string& netns, const std::string& path,
                                      const std::string& value) override;

 private:
  int home_netns_;
  NetnsFd netns_fd_;
};

}  // namespace havip
