#include "effects/proc_children.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <memory>

#include "core/unique_fd.h"

namespace havip::proc {

namespace {

// A whole small /proc file (stat, environ and children are a few kB at most;
// more than `cap` bytes are not read).
std::optional<std::string> slurp(const std::string& path, std::size_t cap = 64 * 1024) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return std::nullopt;
  std::string text;
  char buf[4096];
  while (text.size() < cap) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  return text;
}

bool to_pid(std::string_view s, pid_t& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && out > 0;
}

}  // namespace

void parse_children(std::string_view text, std::set<pid_t>& out) {
  while (!text.empty()) {
    auto sp = text.find(' ');
    pid_t pid = 0;
    if (to_pid(text.substr(0, sp), pid)) out.insert(pid);
    if (sp == std::string_view::npos) break;
    text.remove_prefix(sp + 1);
  }
}

std::set<pid_t> children() {
  std::set<pid_t> out;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir("/proc/self/task"), ::closedir);
  if (!dir) return out;
  while (auto* e = ::readdir(dir.get())) {
    if (e->d_name[0] == '.') continue;
    if (auto text = slurp(std::string("/proc/self/task/") + e->d_name + "/children"))
      parse_children(*text, out);
  }
  return out;
}

std::optional<Ids> parse_stat(std::string_view stat) {
  // "pid (comm) state ppid pgrp session ...": comm may hold anything, so
  // the fields are counted from its last ')'.
  auto close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat.substr(close + 1);
  pid_t fields[3] = {};
  char state = 0;
  for (int i = -1; i < 3; ++i) {  // -1: the state letter
    auto start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(start);
    auto end = rest.find(' ');
    std::string_view word = rest.substr(0, end);
    if (i < 0) state = word.size() == 1 ? word[0] : 0;
    if (i >= 0 && !to_pid(word, fields[i])) return std::nullopt;
    if (end == std::string_view::npos) {
      if (i < 2) return std::nullopt;
      break;
    }
    rest.remove_prefix(end);
  }
  return Ids{fields[1], fields[2], state};
}

std::optional<Ids> ids(pid_t pid) {
  auto text = slurp("/proc/" + std::to_string(pid) + "/stat");
  return text ? parse_stat(*text) : std::nullopt;
}

std::optional<std::string> parse_environ(std::string_view environ, std::string_view key) {
  while (!environ.empty()) {
    auto end = environ.find('\0');
    std::string_view entry = environ.substr(0, end);
    if (entry.size() > key.size() && entry.substr(0, key.size()) == key &&
        entry[key.size()] == '=')
      return std::string(entry.substr(key.size() + 1));
    if (end == std::string_view::npos) break;
    environ.remove_prefix(end + 1);
  }
  return std::nullopt;
}

std::optional<std::string> environ(pid_t pid) {
  return slurp("/proc/" + std::to_string(pid) + "/environ");
}

}  // namespace havip::proc
