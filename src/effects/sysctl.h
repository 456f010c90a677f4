// Writing sysctls inside a router's namespace. /proc/sys resolves against the
// namespace of the calling thread when the file is opened, so: enter, open
// the full path, return, then read-compare-write (DESIGN.md §5).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "core/sysctl_plan.h"

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
  using Result = tl::expected<bool, SysctlError>;
  // Sets each of `writes` in `netns`, in order; one result per write.
  virtual std::vector<Result> set_all(const std::string& netns,
                                      const std::vector<SysctlWrite>& writes) {
    std::vector<Result> out;
    for (const auto& w : writes) out.push_back(set(netns, w.path, w.value));
    return out;
  }
};

class ProcSysctls final : public Sysctls {
 public:
  using NetnsFd = std::function<int(const std::string& netns)>;  // -1: not available
  ProcSysctls(int home_netns, NetnsFd netns_fd)
      : home_netns_(home_netns), netns_fd_(std::move(netns_fd)) {}
  tl::expected<bool, SysctlError> set(const std::string& netns, const std::string& path,
                                      const std::string& value) override;
  // Enters the namespace once for every file, not once per file.
  std::vector<Result> set_all(const std::string& netns,
                              const std::vector<SysctlWrite>& writes) override;

 private:
  int home_netns_;
  NetnsFd netns_fd_;
};

}  // namespace havip
