#include "effects/safe_read.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace havip {

namespace {

constexpr int kOpenFlags = O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

// Set once openat2 answered ENOSYS: a kernel before 5.6 (EL8), or a seccomp
// filter that does not know it (systemd 252's @system-service).
bool no_openat2 = false;
}  // namespace

void UntrustedTree::without_openat2(bool on) { no_openat2 = on; }

namespace {

// Without openat2: one component at a time, none of them a symlink (so
// nothing can lead out of the tree or to a magic link; ELOOP says which).
int walk_beneath(int dir, const std::string& rel, int flags) {
  UniqueFd held;
  int at = dir;
  std::size_t start = 0;
  for (;;) {
    auto slash = rel.find('/', start);
    std::string part = rel.substr(start, slash == std::string::npos ? slash : slash - start);
    if (part.empty() || part == "." || part == "..") {
      errno = EXDEV;  // what RESOLVE_BENEATH says of a path leaving the tree
      return -1;
    }
    bool last = slash == std::string::npos;
    int f = (last ? flags : O_RDONLY | O_DIRECTORY) | kOpenFlags | O_NOFOLLOW;
    int fd;
    do fd = ::openat(at, part.c_str(), f);
    while (fd < 0 && errno == EINTR);
    struct stat st {};
    // O_DIRECTORY|O_NOFOLLOW on a symlink says ENOTDIR: it is a refusal, not
    // a missing directory.
    if (fd < 0 && errno == ENOTDIR && ::fstatat(at, part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(st.st_mode))
      errno = ELOOP;
    if (fd < 0 || last) return fd;
    held.reset(fd);
    at = fd;
    start = slash + 1;
  }
}

int openat2_beneath(int dir, const std::string& rel, int flags) {
  if (no_openat2) return walk_beneath(dir, rel, flags);
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | kOpenFlags);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    auto fd = static_cast<int>(::syscall(SYS_openat2, dir, rel.c_str(), &how, sizeof how));
    // EAGAIN: a rename raced the lookup (the kernel asks to retry); EINTR likewise.
    if (fd < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (fd < 0 && errno == ENOSYS) {
      no_openat2 = true;
      return walk_beneath(dir, rel, flags);
    }
    return fd;
  }
}

std::string open_error(int err, const std::string& tree) {
  switch (err) {
    case EXDEV: return fmt::format("a symlink leads out of {}", tree);
    case ELOOP:
      return no_openat2 ? "is a symlink (refused: without openat2 no symlink is followed)"
                        : "a symlink loops or is a /proc magic link";
    case ENXIO: return "is a socket, not a regular file";
    default: return std::strerror(err);
  }
}

std::string not_regular(mode_t mode) {
  const char* what = S_ISFIFO(mode)                    ? "a FIFO"
                     : S_ISDIR(mode)                   ? "a directory"
                     : S_ISCHR(mode) || S_ISBLK(mode) ? "a device"
                     : S_ISSOCK(mode)                  ? "a socket"
                                                       : "not a file";
  return fmt::format("is {}, not a regular file", what);
}

ReadRefusal refused(std::string reason) { return ReadRefusal{false, std::move(reason)}; }

// Reads at most cap + 1 bytes: one more than allowed tells "too large" from
// "exactly cap", and a file that keeps growing ends the read all the same.
tl::expected<std::string, ReadRefusal> read_capped(int fd, std::size_t cap) {
  std::string text;
  char buf[16384];
  while (text.size() <= cap) {
    ssize_t n = ::read(fd, buf, std::min(sizeof buf, cap + 1 - text.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return tl::unexpected(refused(std::strerror(errno)));
    if (n == 0) return text;
    text.append(buf, static_cast<std::size_t>(n));
  }
  return tl::unexpected(refused(fmt::format("grew past {} while read", byte_size(cap))));
}

}  // namespace

tl::expected<UntrustedTree, std::string> UntrustedTree::open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return tl::unexpected(fmt::format("{}: {}", path, std::strerror(errno)));
  return UntrustedTree(std::move(fd), path);
}

tl::expected<UniqueFd, ReadRefusal> UntrustedTree::open_beneath(const std::string& rel,
                                                                int flags) const {
  UniqueFd fd(openat2_beneath(fd_.get(), rel, flags));
  if (fd) return fd;
  if (errno == ENOENT || errno == ENOTDIR)
    return tl::unexpected(ReadRefusal{true, std::strerror(errno)});
  return tl::unexpected(refused(open_error(errno, path_)));
}

tl::expected<UniqueFd, ReadRefusal> UntrustedTree::open_dir(const std::string& rel) const {
  return open_beneath(rel, O_RDONLY | O_DIRECTORY);
}

namespace {

// A regular file (checked on the descriptor), at most `cap` bytes.
tl::expected<std::string, ReadRefusal> read_regular(int fd, std::size_t cap) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return tl::unexpected(refused(std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) return tl::unexpected(refused(not_regular(st.st_mode)));
  if (static_cast<std::uint64_t>(st.st_size) > cap)
    return tl::unexpected(
        refused(fmt::format("is larger than {} ({} bytes)", byte_size(cap), st.st_size)));
  return read_capped(fd, cap);
}

}  // namespace

tl::expected<std::string, ReadRefusal> UntrustedTree::read(const std::string& rel,
                                                           std::size_t cap) const {
  auto fd = open_beneath(rel, O_RDONLY);
  if (!fd) return tl::unexpected(fd.error());
  return read_regular(fd->get(), cap);
}

tl::expected<std::string, ReadRefusal> read_file_nonblocking(const std::string& path,
                                                             std::size_t cap) {
  int raw;
  do raw = ::open(path.c_str(), O_RDONLY | kOpenFlags);
  while (raw < 0 && errno == EINTR);
  UniqueFd fd(raw);
  if (!fd) {
    bool missing = errno == ENOENT || errno == ENOTDIR;
    return tl::unexpected(ReadRefusal{missing, open_error(errno, path)});
  }
  return read_regular(fd.get(), cap);
}

std::string byte_size(std::size_t n) {
  if (n >= (1u << 20) && n % (1u << 20) == 0) return fmt::format("{} MiB", n >> 20);
  if (n >= (1u << 10) && n % (1u << 10) == 0) return fmt::format("{} KiB", n >> 10);
  return fmt::format("{} bytes", n);
}

}  // namespace havip
