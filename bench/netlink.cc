#include "bench/netlink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace bench {

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

UniqueFd open_ns_path(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) fail(path);
  return fd;
}

}  // namespace

UniqueFd open_netns(const std::string& name) { return open_ns_path("/run/netns/" + name); }
UniqueFd open_home_netns() { return open_ns_path("/proc/self/ns/net"); }

InNetns::InNetns(int target, int home) : home_(home) {
  if (::setns(target, CLONE_NEWNET) != 0) fail("setns");
}

InNetns::~InNetns() {
  if (::setns(home_, CLONE_NEWNET) != 0) {
    std::perror("havip-bench: cannot return to the home namespace");
    std::abort();
  }
}

Ipv4Prefix Ipv4Prefix::parse(const std::string& cidr) {
  auto slash = cidr.find('/');
  Ipv4Prefix p;
  std::string addr = cidr.substr(0, slash);
  int len = slash == std::string::npos ? 32 : std::stoi(cidr.substr(slash + 1));
  in_addr a{};
  if (::inet_pton(AF_INET, addr.c_str(), &a) != 1 || len < 0 || len > 32)
    throw std::runtime_error("not an IPv4 prefix: " + cidr + " (the driver speaks IPv4 only)");
  p.addr_be = a.s_addr;
  p.len = static_cast<std::uint8_t>(len);
  return p;
}

// ------------------------------------------------------------------ RtSocket

RtSocket::RtSocket(int ns_fd, int home_fd) {
  InNetns in(ns_fd, home_fd);
  sock_ = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (!sock_) fail("netlink socket");
  if (mnl_socket_bind(sock_, 0, MNL_SOCKET_AUTOPID) != 0) fail("netlink bind");
}

RtSocket::~RtSocket() {
  if (sock_) mnl_socket_close(sock_);
}

RtSocket::RtSocket(RtSocket&& o) noexcept : sock_(std::exchange(o.sock_, nullptr)), seq_(o.seq_) {}

RtSocket& RtSocket::operator=(RtSocket&& o) noexcept {
  if (this != &o) {
    if (sock_) mnl_socket_close(sock_);
    sock_ = std::exchange(o.sock_, nullptr);
    seq_ = o.seq_;
  }
  return *this;
}

int RtSocket::fd() const { return mnl_socket_get_fd(sock_); }

int RtSocket::change_addr(int ifindex, Ipv4Prefix vip, bool add, bool wait_ack) {
  alignas(nlmsghdr) std::array<char, 256> buf{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
  nlh->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | (wait_ack ? NLM_F_ACK : 0) |
                                                (add ? NLM_F_CREATE | NLM_F_EXCL : 0));
  nlh->nlmsg_seq = ++seq_;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = vip.len;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<std::uint32_t>(ifindex);
  mnl_attr_put_u32(nlh, IFA_LOCAL, vip.addr_be);
  mnl_attr_put_u32(nlh, IFA_ADDRESS, vip.addr_be);
  if (mnl_socket_sendto(sock_, nlh, nlh->nlmsg_len) < 0) return errno;
  return wait_ack ? wait_answer(nlh->nlmsg_seq) : 0;
}

int RtSocket::wait_answer(std::uint32_t seq) {
  alignas(nlmsghdr) std::array<char, 8192> buf;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock_, buf.data(), buf.size());
    if (n < 0) return errno;
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_seq != seq || nlh->nlmsg_type != NLMSG_ERROR) continue;
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      return -err->error;
    }
  }
}

int RtSocket::drain_errors() {
  alignas(nlmsghdr) std::array<char, 8192> buf;
  int errors = 0;
  for (;;) {
    ssize_t n = ::recv(fd(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n <= 0) return errors;
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (err->error != 0) ++errors;
    }
  }
}

int RtSocket::set_up(const std::string& ifname) {
  alignas(nlmsghdr) std::array<char, 256> buf{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = ++seq_;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname.c_str());
  if (mnl_socket_sendto(sock_, nlh, nlh->nlmsg_len) < 0) return errno;
  return wait_answer(nlh->nlmsg_seq);
}

int RtSocket::ifindex(const std::string& ifname) {
  alignas(nlmsghdr) std::array<char, 256> req{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(req.data());
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = ++seq_;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname.c_str());
  std::uint32_t seq = nlh->nlmsg_seq;
  if (mnl_socket_sendto(sock_, nlh, nlh->nlmsg_len) < 0) return 0;
  alignas(nlmsghdr) std::array<char, 16384> buf;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock_, buf.data(), buf.size());
    if (n < 0) return 0;
    int len = static_cast<int>(n);
    for (auto* m = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(m, len);
         m = mnl_nlmsg_next(m, &len)) {
      if (m->nlmsg_seq != seq) continue;
      if (m->nlmsg_type == NLMSG_ERROR) return 0;
      if (m->nlmsg_type == RTM_NEWLINK)
        return static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(m))->ifi_index;
    }
  }
}

// ------------------------------------------------------------------ Listener

// The shared mapping: this header, then `capacity` Seen entries.
struct Listener::Shared {
  std::atomic<std::uint64_t> count;
  std::atomic<int> ready;
  std::size_t capacity;
  Seen* entries() { return reinterpret_cast<Seen*>(this + 1); }
};

namespace {

int find_local(const nlattr* attr, void* data) {
  auto type = mnl_attr_get_type(attr);
  auto* out = static_cast<std::uint32_t*>(data);
  if ((type == IFA_LOCAL || (type == IFA_ADDRESS && *out == 0)) &&
      mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
    *out = mnl_attr_get_u32(attr);
  return MNL_CB_OK;
}

[[noreturn]] void listen_forever(int ns_fd, Ipv4Prefix vip, Listener::Seen* seen,
                                 std::atomic<std::uint64_t>& count, std::atomic<int>& ready,
                                 std::size_t capacity) {
  if (::setns(ns_fd, CLONE_NEWNET) != 0) ::_exit(2);
  mnl_socket* nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (!nl || mnl_socket_bind(nl, RTMGRP_IPV4_IFADDR, MNL_SOCKET_AUTOPID) != 0) ::_exit(3);
  int rcvbuf = 1 << 20;
  ::setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  ready.store(1, std::memory_order_release);
  alignas(nlmsghdr) static std::array<char, 65536> buf;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
    std::int64_t t = now_ns();
    if (n < 0) {
      if (errno == ENOBUFS) ready.store(2);  // an overrun: the figures are void
      continue;
    }
    int len = static_cast<int>(n);
    for (auto* m = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(m, len);
         m = mnl_nlmsg_next(m, &len)) {
      if (m->nlmsg_type != RTM_NEWADDR && m->nlmsg_type != RTM_DELADDR) continue;
      const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(m));
      if (ifa->ifa_family != AF_INET || ifa->ifa_prefixlen != vip.len) continue;
      std::uint32_t local = 0;
      mnl_attr_parse(m, sizeof(ifaddrmsg), find_local, &local);
      if (local != vip.addr_be) continue;
      auto i = count.load(std::memory_order_relaxed);
      if (i < capacity) {
        seen[i] = Listener::Seen{t, m->nlmsg_type == RTM_NEWADDR};
        count.store(i + 1, std::memory_order_release);
      }
    }
  }
}

}  // namespace

Listener::Listener(int ns_fd, Ipv4Prefix vip, std::size_t capacity) {
  bytes_ = sizeof(Shared) + capacity * sizeof(Seen);
  void* mem = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) fail("mmap");
  shm_ = new (mem) Shared{};
  shm_->capacity = capacity;
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) fail("fork");
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    listen_forever(ns_fd, vip, shm_->entries(), shm_->count, shm_->ready, capacity);
  }
  for (int i = 0; i < 2000 && shm_->ready.load(std::memory_order_acquire) == 0; ++i)
    sleep_us(1000);
  if (shm_->ready.load() == 0) throw std::runtime_error("the listener did not start");
}

Listener::~Listener() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (shm_) ::munmap(shm_, bytes_);
}

std::size_t Listener::count() const {
  if (shm_->ready.load() == 2) throw std::runtime_error("the listener's socket overran");
  return static_cast<std::size_t>(shm_->count.load(std::memory_order_acquire));
}

Listener::Seen Listener::at(std::size_t i) const { return shm_->entries()[i]; }

}  // namespace bench
