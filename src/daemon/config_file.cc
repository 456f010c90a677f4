#include "daemon/config_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace havip {

ConfigResult load_config(const std::string& file) {
  auto fail = [&](std::string what) {
    return tl::unexpected(std::vector<ConfigError>{{file, 0, "", what + std::strerror(errno)}});
  };
  std::unique_ptr<std::FILE, decltype(&std::fclose)> f(std::fopen(file.c_str(), "re"),
                                                        &std::fclose);
  if (!f) return fail("cannot open: ");
  // The file names commands havipd runs as root (hooks, services, radvd):
  // whoever may change it may run anything as root. Refused, like sshd's
  // StrictModes, when anyone but root (or havipd's own user) could write it.
  struct stat st {};
  if (::fstat(::fileno(f.get()), &st) != 0) return fail("cannot stat: ");
  if (auto unsafe = unsafe_config_owner(st.st_uid, st.st_gid, st.st_mode, ::geteuid(),
                                        ::getegid()))
    return tl::unexpected(std::vector<ConfigError>{{file, 0, "", *unsafe}});
  std::string text;
  char buf[8192];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) text.append(buf, n);
  // A directory opens fine and only fails here, with EISDIR.
  if (std::ferror(f.get())) return fail("cannot read: ");
  return parse_config(text, file);
}

}  // namespace havip
