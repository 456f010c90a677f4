#include "effects/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace havip {

namespace {

constexpr const char* kTemp = ".state.tmp";
constexpr const char* kFinal = "state";

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// Opens a directory without following a symlink in its last component.
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

FsStateFiles::FsStateFiles(std::string state_dir, StateSync mode)
    : dir_(std::move(state_dir)), mode_(mode) {}

std::string FsStateFiles::path_of(const std::string& router) const {
  return dir_ + "/" + router + "/" + kFinal;
}

tl::expected<UniqueFd, std::string> FsStateFiles::open_router_dir(const std::string& router) const {
  if (::mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST) return tl::unexpected(errno_text(dir_));
  UniqueFd base = open_dir_at(AT_FDCWD, dir_.c_str());
  if (!base) return tl::unexpected(errno_text(dir_));
  UniqueFd dir = open_dir_at(base.get(), router.c_str());
  if (!dir && errno == ENOENT) {
    if (::mkdirat(base.get(), router.c_str(), 0755) != 0 && errno != EEXIST)
      return tl::unexpected(errno_text(dir_ + "/" + router));
    dir = open_dir_at(base.get(), router.c_str());
  }
  if (!dir) return tl::unexpected(errno_text(dir_ + "/" + router));
  return dir;
}

tl::expected<void, std::string> FsStateFiles::write(const std::string& router, Role role) {
  auto dir = open_router_dir(router);
  if (!dir) return tl::unexpected(dir.error());
  int d = dir->get();
  std::string tmp_path = dir_ + "/" + router + "/" + kTemp;
  // A leftover temp file (or a planted symlink) is removed, then the new one
  // is created exclusively: O_EXCL|O_NOFOLLOW never writes through a link.
  if (::unlinkat(d, kTemp, 0) != 0 && errno != ENOENT) return tl::unexpected(errno_text(tmp_path));
  UniqueFd f(::openat(d, kTemp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!f) return tl::unexpected(errno_text(tmp_path));
  auto fail = [&](const std::string& what) {
    auto err = errno_text(what);
    ::unlinkat(d, kTemp, 0);
    return tl::unexpected(err);
  };
  if (::fchmod(f.get(), 0644) != 0) return fail(tmp_path);  // whatever the umask
  if (!write_all(f.get(), role_name(role))) return fail(tmp_path);
  if (mode_ == StateSync::inline_ && ::fsync(f.get()) != 0) return fail(tmp_path);
  if (::renameat(d, kTemp, d, kFinal) != 0) return fail(path_of(router));
  if (mode_ == StateSync::inline_) ::fsync(d);
  if (mode_ == StateSync::deferred) {
    unsynced_.push_back(std::move(f));
    unsynced_.push_back(std::move(*dir));
  }
  return {};
}

void FsStateFiles::sync() {
  // Best effort: the content is derived state, rewritten at every start.
  for (auto& fd : unsynced_) ::fsync(fd.get());
  unsynced_.clear();
}

}  // namespace havip
