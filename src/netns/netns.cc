#include "netns/netns.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace havip::netns {

namespace {

tl::expected<UniqueFd, std::string> open_ns_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return tl::unexpected(path + ": " + std::strerror(errno));
  struct statfs sfs {};
  if (::fstatfs(fd.get(), &sfs) != 0) return tl::unexpected(path + ": " + std::strerror(errno));
  if (sfs.f_type != NSFS_MAGIC) return tl::unexpected(path + ": not a network namespace (yet)");
  return fd;
}

}  // namespace

tl::expected<UniqueFd, std::string> open_current() { return open_ns_file("/proc/self/ns/net"); }

tl::expected<UniqueFd, std::string> open_named(const std::string& dir, const std::string& name) {
  return open_ns_file(dir + "/" + name);
}

tl::expected<void, std::string> enter(int target) {
  if (::setns(target, CLONE_NEWNET) != 0) {
    std::string why = std::string("setns: ") + std::strerror(errno);
    if (errno == EPERM) why += " (entering a network namespace needs CAP_SYS_ADMIN)";
    return tl::unexpected(why);
  }
  return {};
}

bool same(int a, int b) {
  if (a == b) return true;
  struct stat sa {}, sb {};
  return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

void leave_to(int home) {
  if (::setns(home, CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "havipd: cannot return to the home network namespace: %s\n",
                 std::strerror(errno));
    std::abort();
  }
}

}  // namespace havip::netns
