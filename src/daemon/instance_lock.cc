#include "daemon/instance_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace havip {

namespace {

std::string errno_text(const std::string& what) {
  return fmt::format("{}: {}", what, std::strerror(errno));
}

// The pid the holder wrote, or "unknown" (it may not have written it yet).
std::string holder_pid(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  int pid = 0;
  if (n <= 0 || std::from_chars(buf, buf + n, pid).ec != std::errc() || pid <= 0)
    return "pid unknown";
  return fmt::format("pid {}", pid);
}

tl::expected<UniqueFd, std::string> open_lock_file(const LockTarget& t) {
  UniqueFd dir(::open(t.dir.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (!dir && errno == ENOENT && t.create) {
    if (::mkdir(t.dir.c_str(), 0755) != 0 && errno != EEXIST)
      return tl::unexpected(errno_text(fmt::format("{} {}", t.what, t.dir)));
    dir.reset(::open(t.dir.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  }
  if (!dir) return tl::unexpected(errno_text(fmt::format("{} {}", t.what, t.dir)));
  std::string path = t.dir + "/" + kLockFile;
  // Read-only: a file open for writing would keep the file system from being
  // remounted read-only (flock needs no write access).
  UniqueFd fd(::openat(dir.get(), kLockFile,
                       O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644));
  if (!fd) {
    int err = errno;
    // Said as what it means for the operator: havipd cannot write there.
    std::string hint = err == ELOOP ? " (a symlink: the lock file must be a regular file)"
                       : err != EROFS && err != EACCES && err != EPERM
                           ? ""
                       : t.create ? " (havipd writes its files there)"
                                  : " (havipd writes the routers' state files there; under systemd "
                                    "the unit needs the Neutron drop-in of its header: "
                                    "ReadWritePaths= and CAP_DAC_OVERRIDE)";
    return tl::unexpected(fmt::format("cannot lock {} {}: {}: {}{}", t.what, t.dir, path,
                                      std::strerror(err), hint));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return tl::unexpected(errno_text(path));
  if (!S_ISREG(st.st_mode)) return tl::unexpected(path + ": not a regular file");
  return fd;
}

tl::expected<void, std::string> lock(int fd, const LockTarget& t) {
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return {};
  std::string path = t.dir + "/" + kLockFile;
  if (errno != EWOULDBLOCK) return tl::unexpected(errno_text("lock " + path));
  return tl::unexpected(fmt::format("{} {} is in use by another havipd ({}; lock file {}): one "
                                    "havipd per {}",
                                    t.what, t.dir, holder_pid(fd), path, t.what));
}

// Best effort (a read-only file system, say): the pid only improves a
// refusal message. Through a second descriptor, closed at once.
void write_pid(const LockTarget& t) {
  std::string path = t.dir + "/" + kLockFile;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return;
  std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd.get(), 0) != 0) return;
  if (::pwrite(fd.get(), pid.data(), pid.size(), 0) < 0) return;
}

}  // namespace

tl::expected<void, std::string> InstanceLocks::hold(const std::vector<LockTarget>& targets) {
  std::map<Key, UniqueFd> next;
  for (const auto& t : targets) {
    auto fd = open_lock_file(t);
    if (!fd) return tl::unexpected(fd.error());
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return tl::unexpected(errno_text(t.dir + "/" + kLockFile));
    Key key{st.st_dev, st.st_ino};
    if (next.contains(key)) continue;  // the same directory under another name
    if (auto it = held_.find(key); it != held_.end()) {
      UniqueFd same(::fcntl(it->second.get(), F_DUPFD_CLOEXEC, 0));  // a dup shares the lock
      if (!same) return tl::unexpected(errno_text("dup " + t.dir + "/" + kLockFile));
      next.emplace(key, std::move(same));
      continue;
    }
    if (auto ok = lock(fd->get(), t); !ok) return tl::unexpected(ok.error());
    write_pid(t);
    next.emplace(key, std::move(*fd));
  }
  held_ = std::move(next);
  return {};
}

}  // namespace havip
