#include "daemon/drained_set.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "config/config_parse.h"
#include "effects/atomic_file.h"
#include "effects/safe_read.h"

namespace havip {

namespace {

// A name as a log line may show it: control bytes escaped, cut at 80.
std::string shown(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 80)) {
    if (c < 0x20 || c == 0x7f || c == '\\')
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  return s.size() > 80 ? out + "..." : out;
}

}  // namespace

DrainedSet parse_drained(std::string_view text) {
  DrainedSet out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty() || line.starts_with('#')) continue;
    if (!valid_router_name(line)) {
      out.problems.push_back(
          fmt::format("line {}: \"{}\" is not a router name; skipped", line_no, shown(line)));
      continue;
    }
    out.routers.emplace(line);
  }
  return out;
}

std::string format_drained(const std::set<std::string>& routers) {
  std::string out;
  for (const auto& r : routers) out += r + '\n';
  return out;
}

tl::expected<DrainedSet, std::string> load_drained_set(const std::string& state_dir) {
  struct stat st {};
  if (::stat(state_dir.c_str(), &st) != 0 && errno == ENOENT) return DrainedSet{};  // never written
  auto tree = UntrustedTree::open(state_dir);
  if (!tree) return tl::unexpected(tree.error());
  auto text = tree->read(std::string(kDrainedFile), kMaxDrainedFile);
  if (!text) {
    if (text.error().missing) return DrainedSet{};
    return tl::unexpected(fmt::format("{}/{} {}", state_dir, kDrainedFile, text.error().reason));
  }
  return parse_drained(*text);
}

tl::expected<void, std::string> save_drained_set(const std::string& state_dir,
                                                 const std::set<std::string>& routers) {
  if (::mkdir(state_dir.c_str(), 0755) != 0 && errno != EEXIST)
    return tl::unexpected(fmt::format("{}: {}", state_dir, std::strerror(errno)));
  UniqueFd dir(::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return tl::unexpected(fmt::format("{}: {}", state_dir, std::strerror(errno)));
  // Synced before the rename: unlike the state files, nothing rewrites this
  // one from the kernel's truth at the next start.
  auto written =
      write_atomic(dir.get(), state_dir, std::string(kDrainedFile), format_drained(routers), true);
  if (!written) return tl::unexpected(written.error());
  return {};
}

}  // namespace havip
