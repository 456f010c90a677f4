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

int openat2_beneath(int dir, const char* rel, int flags) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    auto fd = static_cast<int>(::syscall(SYS_openat2, dir, rel, &how, sizeof how));
    // EAGAIN: a rename raced the lookup (the kernel asks to retry); EINTR likewise.
    if (fd < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    return fd;
  }
}

std::string open_error(int err, const std::string& tree) {
  switch (err) {
    case EXDEV: return fmt::format("a symlink leads out of {}", tree);
    case ELOOP: return "a symlink loops or is a /proc magic link";
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
  UniqueFd fd(openat2_beneath(fd_.get(), rel.c_str(), flags));
  if (fd) return fd;
  if (errno == ENOENT || errno == ENOTDIR)
    return tl::unexpected(ReadRefusal{true, std::strerror(errno)});
  return tl::unexpected(refused(open_error(errno, path_)));
}

tl::expected<UniqueFd, ReadRefusal> UntrustedTree::open_dir(const std::string& rel) const {
  return open_beneath(rel, O_RDONLY | O_DIRECTORY);
}

tl::expected<std::string, ReadRefusal> UntrustedTree::read(const std::string& rel,
                                                           std::size_t cap) const {
  auto fd = open_beneath(rel, O_RDONLY);
  if (!fd) return tl::unexpected(fd.error());
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return tl::unexpected(refused(std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) return tl::unexpected(refused(not_regular(st.st_mode)));
  if (static_cast<std::uint64_t>(st.st_size) > cap)
    return tl::unexpected(
        refused(fmt::format("is larger than {} ({} bytes)", byte_size(cap), st.st_size)));
  return read_capped(fd->get(), cap);
}

std::string byte_size(std::size_t n) {
  if (n >= (1u << 20) && n % (1u << 20) == 0) return fmt::format("{} MiB", n >> 20);
  if (n >= (1u << 10) && n % (1u << 10) == 0) return fmt::format("{} KiB", n >> 10);
  return fmt::format("{} bytes", n);
}

}  // namespace havip
