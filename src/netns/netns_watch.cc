#include "netns/netns_watch.h"

#include <dirent.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace havip::netns {

tl::expected<UniqueFd, std::string> watch_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return tl::unexpected("cannot create " + dir + ": " + std::strerror(errno));
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd) return tl::unexpected(std::string("inotify_init1: ") + std::strerror(errno));
  constexpr std::uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR;
  if (::inotify_add_watch(fd.get(), dir.c_str(), mask) < 0)
    return tl::unexpected("cannot watch " + dir + ": " + std::strerror(errno));
  return fd;
}

std::vector<InotifyEvent> split_inotify(std::span<const std::uint8_t> bytes) {
  std::vector<InotifyEvent> out;
  std::size_t off = 0;
  while (off + sizeof(inotify_event) <= bytes.size()) {
    inotify_event ev;
    std::memcpy(&ev, bytes.data() + off, sizeof ev);
    std::size_t next = off + sizeof ev + ev.len;
    if (next > bytes.size()) break;
    const char* name_ptr = reinterpret_cast<const char*>(bytes.data() + off + sizeof ev);
    out.push_back({ev.wd, ev.mask, std::string(name_ptr, strnlen(name_ptr, ev.len))});
    off = next;
  }
  return out;
}

std::vector<NetnsChange> decode_inotify(std::span<const std::uint8_t> bytes, bool& lost) {
  std::vector<NetnsChange> out;
  for (const auto& ev : split_inotify(bytes)) {
    if (ev.mask & IN_Q_OVERFLOW) lost = true;
    if (ev.name.empty() || (ev.mask & IN_ISDIR)) continue;
    if (ev.mask & (IN_CREATE | IN_MOVED_TO)) out.push_back({ev.name, true});
    if (ev.mask & (IN_DELETE | IN_MOVED_FROM)) out.push_back({ev.name, false});
  }
  return out;
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return names;
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] == '.' && (e->d_name[1] == 0 || (e->d_name[1] == '.' && e->d_name[2] == 0)))
      continue;
    names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace havip::netns
