#include "netns/speaker.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace havip::netns {

namespace {

constexpr std::string_view kKeepalived = "keepalived";
constexpr unsigned kProtoVrrp = 112;  // IPPROTO_VRRP
constexpr unsigned kProtoAh = 51;     // IPPROTO_AH: keepalived's sockets for `auth_type AH`
constexpr std::size_t kMaxPidFile = 64;

// Reads at most `cap` bytes of dir_fd/name (the whole of a /proc file: a
// file of /proc is produced by each read). Returns false with errno set.
bool read_at(int dir_fd, const char* name, std::string& out, std::size_t cap) {
  UniqueFd fd(::openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) return false;
  out.clear();
  char buf[16384];
  while (out.size() < cap) {
    ssize_t n = ::read(fd.get(), buf, std::min(sizeof buf, cap - out.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return true;
}

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\v\f";
  auto b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

// comm as /proc gives it ("keepalived\n"), without the newline.
bool comm_is_keepalived(int dir_fd, const char* name) {
  std::string comm;
  return read_at(dir_fd, name, comm, 64) && trim(comm) == kKeepalived;
}

template <typename T>
bool parse_number(std::string_view s, T& v, int base = 10) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

// The inodes of the VRRP raw sockets in one /proc/net/raw or raw6 table. A
// line after the header, its fields split at spaces (IPv6: 32 hex digits):
//   [0] "12:"  [1] local_address "00000000:0070"  [2] rem_address  [3] st
//   [4] tx_queue:rx_queue  [5] tr:tm->when  [6] retrnsmt  [7] uid  [8] timeout
//   [9] inode "3627327"  …
// For a raw socket the "port" of local_address is its protocol (0x70 = 112).
void vrrp_sockets_of(std::string_view table, std::unordered_set<std::uint64_t>& out) {
  bool header = true;
  while (!table.empty()) {
    auto nl = table.find('\n');
    std::string_view line = table.substr(0, nl);
    table = nl == std::string_view::npos ? std::string_view{} : table.substr(nl + 1);
    if (std::exchange(header, false)) continue;
    std::string_view field[10];
    std::size_t n = 0;
    for (std::size_t i = 0; i < line.size() && n < 10;) {
      if (line[i] == ' ') {
        ++i;
        continue;
      }
      auto j = line.find(' ', i);
      if (j == std::string_view::npos) j = line.size();
      field[n++] = line.substr(i, j - i);
      i = j;
    }
    if (n < 10) continue;
    auto colon = field[1].rfind(':');
    unsigned proto = 0;
    std::uint64_t inode = 0;
    if (colon == std::string_view::npos || !parse_number(field[1].substr(colon + 1), proto, 16) ||
        !parse_number(field[9], inode))
      continue;
    if ((proto == kProtoVrrp || proto == kProtoAh) && inode != 0) out.insert(inode);
  }
}

// Whether one of a process's fds is a socket ("socket:[N]") whose inode is
// in `wanted`. The fds are looked at from the highest down, stopping at the
// first match: keepalived's VRRP child opens its VRRP sockets last, after its
// configuration, netlink and event fds, so they are about the highest.
bool holds_one_of(int pid_dir, const std::unordered_set<std::uint64_t>& wanted) {
  int fds = ::openat(pid_dir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fds < 0) return false;
  DIR* dir = ::fdopendir(fds);
  if (!dir) {
    ::close(fds);
    return false;
  }
  std::vector<int> numbers;
  while (auto* e = ::readdir(dir)) {
    int fd = 0;
    if (parse_number(std::string_view(e->d_name), fd)) numbers.push_back(fd);
  }
  std::sort(numbers.begin(), numbers.end(), std::greater<>());
  constexpr std::string_view kSocket = "socket:[";
  bool found = false;
  for (int fd : numbers) {
    char name[16], target[64];
    std::snprintf(name, sizeof name, "%d", fd);
    ssize_t n = ::readlinkat(fds, name, target, sizeof target);
    if (n <= 0 || n == static_cast<ssize_t>(sizeof target)) continue;
    std::string_view t(target, static_cast<std::size_t>(n));
    if (!t.starts_with(kSocket) || !t.ends_with(']')) continue;
    std::uint64_t inode = 0;
    if (parse_number(t.substr(kSocket.size(), t.size() - kSocket.size() - 1), inode) &&
        wanted.contains(inode)) {
      found = true;
      break;
    }
  }
  ::closedir(dir);
  return found;
}

// The VRRP raw sockets of the namespace a process is in (its net/raw, raw6).
std::unordered_set<std::uint64_t> vrrp_sockets_seen_by(int pid_dir) {
  std::unordered_set<std::uint64_t> out;
  std::string table;
  for (const char* name : {"net/raw", "net/raw6"}) {
    if (read_at(pid_dir, name, table, std::size_t{64} << 20)) vrrp_sockets_of(table, out);
  }
  return out;
}

}  // namespace

std::unordered_map<std::uint64_t, pid_t> scan_vrrp_speakers(const std::string& proc) {
  std::unordered_map<std::uint64_t, pid_t> speakers;
  // Per namespace inode: its VRRP raw sockets, read at the first keepalived in it.
  std::unordered_map<std::uint64_t, std::unordered_set<std::uint64_t>> raw_by_netns;
  DIR* top = ::opendir(proc.c_str());
  if (!top) return speakers;
  int top_fd = ::dirfd(top);
  while (auto* e = ::readdir(top)) {
    pid_t pid = 0;
    std::string_view name(e->d_name);
    if (!parse_number(name, pid) || pid <= 0) continue;
    // Everything through the process's directory: all of it is one process,
    // even if the pid is reused meanwhile (the old directory then fails).
    UniqueFd dir(::openat(top_fd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir || !comm_is_keepalived(dir.get(), "comm")) continue;
    struct stat ns {};
    if (::fstatat(dir.get(), "ns/net", &ns, 0) != 0) continue;
    auto netns = static_cast<std::uint64_t>(ns.st_ino);
    auto raw = raw_by_netns.find(netns);
    if (raw == raw_by_netns.end())
      raw = raw_by_netns.emplace(netns, vrrp_sockets_seen_by(dir.get())).first;
    // (A namespace without VRRP sockets needs no look at the fds.)
    if (raw->second.empty() || !holds_one_of(dir.get(), raw->second)) continue;
    auto [at, added] = speakers.emplace(netns, pid);
    if (!added && pid < at->second) at->second = pid;
  }
  ::closedir(top);
  return speakers;
}

std::uint64_t namespace_inode(int netns_fd) {
  struct stat st {};
  if (::fstat(netns_fd, &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.st_ino);
}

tl::expected<pid_t, std::string> speaker_from_pid_file(const std::string& path,
                                                       const std::string& proc) {
  auto fail = [&](const std::string& why) { return tl::unexpected(path + ": " + why); };
  auto printable = [](std::string_view s) {
    std::string out;
    for (char c : s) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    return out;
  };
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    int err = errno;
    struct stat st {};
    if (err == ELOOP && ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
      return fail("is a symbolic link");
    return fail(std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return fail("not a regular file");
  char buf[kMaxPidFile + 1];
  std::size_t len = 0;
  while (len < sizeof buf) {
    ssize_t n = ::read(fd.get(), buf + len, sizeof buf - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(std::strerror(errno));
    if (n == 0) break;
    len += static_cast<std::size_t>(n);
  }
  if (len > kMaxPidFile) return fail("larger than " + std::to_string(kMaxPidFile) + " bytes");
  auto text = trim(std::string_view(buf, len));
  if (text.empty()) return fail("empty");
  pid_t pid = 0;
  if (text.find_first_not_of("0123456789") != std::string_view::npos || !parse_number(text, pid) ||
      pid <= 0) {
    return fail("not a pid: '" + printable(text) + "'");
  }
  std::string comm;
  auto comm_path = proc + "/" + std::to_string(pid) + "/comm";
  if (!read_at(AT_FDCWD, comm_path.c_str(), comm, 64)) {
    if (errno == ENOENT || errno == ESRCH) return fail("no such process " + std::to_string(pid));
    return fail(comm_path + ": " + std::strerror(errno));
  }
  auto name = trim(comm);
  if (name != kKeepalived) {
    return fail("pid " + std::to_string(pid) + " is '" + printable(name) + "', not keepalived");
  }
  return pid;
}

tl::expected<UniqueFd, std::string> open_pidfd(pid_t pid) {
  long fd = ::syscall(SYS_pidfd_open, pid, 0u);
  if (fd < 0) {
    std::string why = "pidfd_open(" + std::to_string(pid) + "): " + std::strerror(errno);
    if (errno == ENOSYS) why += " (pidfds need Linux 5.3 or later)";
    return tl::unexpected(why);
  }
  return UniqueFd(static_cast<int>(fd));
}

}  // namespace havip::netns
