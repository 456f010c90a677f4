// The speaker: keepalived's VRRP child, the process that runs a router's VRRP
// instances and sends its adverts. Found without configuration by a /proc scan
// (one per network namespace), or from a pid file (keepalived -r/--vrrp_pid,
// or Neutron's), and watched through a pidfd.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <tl/expected.hpp>
#include <unordered_map>

#include "core/unique_fd.h"

namespace havip::netns {

// One /proc scan: for every keepalived VRRP process, its network namespace's
// inode (st_ino of /proc/PID/ns/net, as stat() follows it) -> pid.
//
// A VRRP process is one whose comm is "keepalived" and that holds a raw socket
// of protocol 112 (IPPROTO_VRRP) or 51 (IPPROTO_AH: keepalived's VRRP child
// opens its sockets with that protocol instead for an instance with
// `auth_type AH`): the socket inodes of /proc/PID/fd/* ("socket:[N]") are
// matched against /proc/PID/net/raw and raw6 (read once per namespace), whose
// local_address column is ADDR:PROTO in hex for raw sockets. keepalived's
// parent and its checker and BFD children hold none; nor does a VRRP child
// whose instances' interfaces do not exist yet (keepalived opens no socket on
// an interface without an ifindex).
//
// Processes that vanish mid-scan, or whose fds cannot be read (another user's
// process without CAP_SYS_PTRACE), are skipped silently. With more than one
// speaker in one namespace (two keepalived on different configurations) the
// lowest pid is kept. An unreadable `proc` gives an empty map.
std::unordered_map<std::uint64_t /*netns inode*/, pid_t> scan_vrrp_speakers(
    const std::string& proc = "/proc");

// The inode of a namespace fd (fstat st_ino); 0 when fstat fails (no nsfs
// inode is 0).
std::uint64_t namespace_inode(int netns_fd);

// The pid in a pid file (keepalived -r/--vrrp_pid's, or Neutron's), when that
// process exists and its comm is "keepalived". The file is opened without
// following a symlink in its last component and without blocking
// (O_NOFOLLOW|O_NONBLOCK), must be a regular file of at most 64 bytes, and
// must hold one decimal pid, whitespace around it allowed. Errors name the
// path: "PATH: no such process 1234", "PATH: pid 1234 is 'sleep', not
// keepalived", "PATH: not a regular file", "PATH: is a symbolic link",
// "PATH: not a pid: 'x1'", "PATH: empty", "PATH: larger than 64 bytes",
// "PATH: <strerror>".
tl::expected<pid_t, std::string> speaker_from_pid_file(const std::string& path,
                                                       const std::string& proc = "/proc");

// pidfd_open(pid, 0) (SYS_pidfd_open, Linux 5.3); the kernel sets O_CLOEXEC on
// it. The fd becomes readable when the process exits. Error: "pidfd_open(PID):
// <strerror>".
tl::expected<UniqueFd, std::string> open_pidfd(pid_t pid);

}  // namespace havip::netns
