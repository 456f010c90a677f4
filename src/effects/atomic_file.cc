#include "effects/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace havip {

namespace {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

UniqueFd open_dir_at(int at, const char* name) {
  return UniqueFd(::openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

tl::expected<UniqueFd, std::string> open_subdir(const std::string& base, const std::string& name,
                                                bool create) {
  // Open first, create only when missing: the common case costs no mkdir.
  UniqueFd top = open_dir_at(AT_FDCWD, base.c_str());
  if (!top && errno == ENOENT && !create) return UniqueFd();
  if (!top && errno == ENOENT) {
    if (::mkdir(base.c_str(), 0755) != 0 && errno != EEXIST) return tl::unexpected(errno_text(base));
    top = open_dir_at(AT_FDCWD, base.c_str());
  }
  if (!top) return tl::unexpected(errno_text(base));
  UniqueFd dir = open_dir_at(top.get(), name.c_str());
  if (!dir && errno == ENOENT && !create) return UniqueFd();  // missing, and left so
  if (!dir && errno == ENOENT) {
    if (::mkdirat(top.get(), name.c_str(), 0755) != 0 && errno != EEXIST)
      return tl::unexpected(errno_text(base + "/" + name));
    dir = open_dir_at(top.get(), name.c_str());
  }
  if (!dir) return tl::unexpected(errno_text(base + "/" + name));
  return dir;
}

tl::expected<Written, std::string> write_atomic(int d, const std::string& where,
                                                const std::string& name,
                                                std::string_view content,
                                                bool sync_before_rename) {
  const std::string temp = "." + name + ".tmp";
  const std::string temp_path = where + "/" + temp;
  // The temp file is created exclusively: O_EXCL|O_NOFOLLOW never writes
  // through a link. A leftover one (or a planted symlink) is removed first.
  constexpr int kCreate = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  UniqueFd f(::openat(d, temp.c_str(), kCreate, 0644));
  if (!f && errno == EEXIST) {
    if (::unlinkat(d, temp.c_str(), 0) != 0 && errno != ENOENT)
      return tl::unexpected(errno_text(temp_path));
    f.reset(::openat(d, temp.c_str(), kCreate, 0644));
  }
  if (!f) return tl::unexpected(errno_text(temp_path));
  auto fail = [&](const std::string& what) {
    auto err = errno_text(what);
    ::unlinkat(d, temp.c_str(), 0);
    return tl::unexpected(err);
  };
  if (::fchmod(f.get(), 0644) != 0) return fail(temp_path);  // whatever the umask
  if (!write_all(f.get(), content)) return fail(temp_path);
  if (sync_before_rename && ::fsync(f.get()) != 0) return fail(temp_path);
  if (::renameat(d, temp.c_str(), d, name.c_str()) != 0) return fail(where + "/" + name);
  if (sync_before_rename) ::fsync(d);
  return Written{std::move(f)};
}

bool already_holds(int d, const std::string& name, std::string_view content) {
  UniqueFd f(::openat(d, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  struct stat st {};
  if (!f || ::fstat(f.get(), &st) != 0) return false;
  if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0644 || st.st_nlink != 1 ||
      st.st_uid != ::geteuid() || static_cast<std::size_t>(st.st_size) != content.size())
    return false;
  char buf[64];
  if (content.size() >= sizeof buf) return false;
  ssize_t n = ::pread(f.get(), buf, content.size() + 1, 0);
  return n == static_cast<ssize_t>(content.size()) && std::string_view(buf, content.size()) == content;
}

}  // namespace havip
