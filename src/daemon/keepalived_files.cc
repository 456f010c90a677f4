#include "daemon/keepalived_files.h"

#include <glob.h>
#include <sys/stat.h>

#include <cstddef>
#include <vector>

#include "effects/safe_read.h"

namespace havip {
namespace {

// The reader refuses a larger file with its line; one byte more tells it so.
constexpr std::size_t kCap = std::size_t{1} << 20;

tl::expected<std::string, std::string> read(const std::string& path) {
  auto text = read_file_nonblocking(path, kCap);
  if (!text) return tl::unexpected(text.error().reason);
  return *text;
}

// keepalived's check_glob_file(): GLOB_MARK puts a '/' after a directory;
// anything not a regular, non-executable file is skipped.
bool keepalived_reads(const char* path) {
  std::string p(path);
  if (!p.empty() && p.back() == '/') return false;
  struct stat st {};
  return ::stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
         (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) == 0;
}

std::vector<std::string> expand(const std::string& pattern) {
  glob_t g{};
  std::vector<std::string> files;
  if (::glob(pattern.c_str(), GLOB_MARK | GLOB_BRACE, nullptr, &g) == 0)
    for (std::size_t i = 0; i < g.gl_pathc; ++i)
      if (keepalived_reads(g.gl_pathv[i])) files.emplace_back(g.gl_pathv[i]);
  ::globfree(&g);
  return files;  // glob(3) sorts them
}

}  // namespace

keepalived::Io real_keepalived_io() { return keepalived::Io{read, expand}; }

tl::expected<keepalived::Conf, std::string> read_keepalived_conf(const std::string& path) {
  auto text = read(path);
  if (!text) return tl::unexpected(path + ": cannot read: " + text.error());
  return keepalived::parse(*text, path, real_keepalived_io());
}

}  // namespace havip
