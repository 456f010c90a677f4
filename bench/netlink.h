// The driver's own rtnetlink: entering namespaces, adding/removing the VIP
// (what keepalived does), setting links up, and an `ip monitor`-like listener
// process that timestamps each address event as it receives it.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "bench/util.h"

struct mnl_socket;

namespace bench {

UniqueFd open_netns(const std::string& name);  // /run/netns/NAME
UniqueFd open_home_netns();                    // /proc/self/ns/net

// Runs the rest of the scope inside `target`; returns to `home` on destruction.
class InNetns {
 public:
  InNetns(int target, int home);
  ~InNetns();
  InNetns(const InNetns&) = delete;
  InNetns& operator=(const InNetns&) = delete;

 private:
  int home_;
};

struct Ipv4Prefix {
  std::uint32_t addr_be = 0;  // network byte order
  std::uint8_t len = 0;
  static Ipv4Prefix parse(const std::string& cidr);  // "169.254.0.1/24"; throws
};

// A netlink command socket bound to one namespace.
class RtSocket {
 public:
  RtSocket(int ns_fd, int home_fd);
  ~RtSocket();
  RtSocket(RtSocket&&) noexcept;
  RtSocket& operator=(RtSocket&&) noexcept;

  // Adds (RTM_NEWADDR) or removes (RTM_DELADDR) vip on ifindex. With
  // wait_ack, returns the kernel's answer (0 or a positive errno); without,
  // returns 0 once sent (errors are collected later by drain_errors()).
  int change_addr(int ifindex, Ipv4Prefix vip, bool add, bool wait_ack);
  int drain_errors();  // negative-acks queued since the last call
  int set_up(const std::string& ifname);  // RTM_NEWLINK IFF_UP; 0 or errno
  // Interface index of `ifname` in this socket's namespace (0 if none).
  int ifindex(const std::string& ifname);

 private:
  int wait_answer(std::uint32_t seq);
  int fd() const;
  mnl_socket* sock_ = nullptr;
  std::uint32_t seq_ = 0;
};

// A forked process inside the namespace, blocked in recv() on a socket
// subscribed to RTMGRP_IPV4_IFADDR; it writes the CLOCK_MONOTONIC time at
// which each RTM_NEWADDR/RTM_DELADDR of the VIP arrived into shared memory.
class Listener {
 public:
  struct Seen {
    std::int64_t t = 0;
    bool added = false;
  };
  Listener(int ns_fd, Ipv4Prefix vip, std::size_t capacity);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  std::size_t count() const;
  Seen at(std::size_t i) const;
  pid_t pid() const { return pid_; }

 private:
  struct Shared;
  Shared* shm_ = nullptr;
  std::size_t bytes_ = 0;
  pid_t pid_ = -1;
};

}  // namespace bench
