#include "effects/run_files.h"

#include <fcntl.h>
#include <unistd.h>

#include "effects/atomic_file.h"

namespace havip {

tl::expected<void, std::string> FsRunFiles::write(const std::string& dir, const std::string& sub,
                                                  const std::string& name,
                                                  const std::string& content) {
  auto d = open_subdir(dir, sub);
  if (!d) return tl::unexpected(d.error());
  auto w = write_atomic(d->get(), dir + "/" + sub, name, content, false);
  if (!w) return tl::unexpected(w.error());
  return {};
}

tl::expected<void, std::string> FsRunFiles::ensure(const std::string& dir,
                                                   const std::string& sub) {
  auto d = open_subdir(dir, sub);
  if (!d) return tl::unexpected(d.error());
  return {};
}

void FsRunFiles::remove_path(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return;
  UniqueFd d(::open(slash == 0 ? "/" : path.substr(0, slash).c_str(),
                    O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d) ::unlinkat(d.get(), path.c_str() + slash + 1, 0);
}

void FsRunFiles::remove(const std::string& dir, const std::string& sub, const std::string& name) {
  UniqueFd d(::open((dir + "/" + sub).c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (d) ::unlinkat(d.get(), name.c_str(), 0);  // unlinkat never follows: it removes the link
}

}  // namespace havip
