#include "daemon/cstamp_reference.h"

#include <poll.h>
#include <sched.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "netlink/decode.h"
#include "netlink/mnl_socket.h"

namespace havip {

namespace {

constexpr int kTimeoutMs = 1000;
constexpr std::uint32_t kLoopback = 1;  // `lo` is ifindex 1 in every new namespace
constexpr std::uint32_t kUpSeq = 1, kDumpSeq = 2;

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Reads datagrams until `done` says the answer to `seq` is complete.
template <typename Fn>
tl::expected<void, std::string> receive_until(netlink::Socket& sock, Fn&& done) {
  std::array<std::uint8_t, 65536> buf;
  for (;;) {
    pollfd p{sock.fd(), POLLIN, 0};
    int n = ::poll(&p, 1, kTimeoutMs);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return tl::unexpected(errno_text("poll"));
    if (n == 0) return tl::unexpected(std::string("no netlink answer within a second"));
    auto got = sock.receive(buf);
    if (!got) return tl::unexpected(std::string("netlink receive: ") + std::strerror(got.error()));
    for (const auto& m : netlink::decode(*got).messages) {
      auto finished = done(m);
      if (!finished) return tl::unexpected(finished.error());
      if (*finished) return {};
    }
  }
}

// On the calling thread, which is moved into a new network namespace.
tl::expected<CstampNow, std::string> read_in_private_namespace() {
  if (::unshare(CLONE_NEWNET) != 0) return tl::unexpected(errno_text("unshare(CLONE_NEWNET)"));
  auto sock = netlink::Socket::open(65536);
  if (!sock) return tl::unexpected(sock.error());
  if (auto ok = sock->request_link_up(kLoopback, kUpSeq); !ok) return tl::unexpected(ok.error());
  auto acked = receive_until(*sock, [](const netlink::Message& m) -> tl::expected<bool, std::string> {
    const auto* err = std::get_if<netlink::Error>(&m);
    if (!err || err->seq != kUpSeq) return false;
    if (err->error != 0) return tl::unexpected(std::string("lo up: ") + std::strerror(-err->error));
    return true;
  });
  if (!acked) return tl::unexpected(acked.error());
  if (auto ok = sock->request_dump(netlink::DumpKind::addresses, kDumpSeq); !ok)
    return tl::unexpected(ok.error());
  std::optional<std::uint32_t> latest;
  auto dumped = receive_until(*sock, [&](const netlink::Message& m) -> tl::expected<bool, std::string> {
    if (const auto* a = std::get_if<AddrUpdate>(&m); a && a->dumped && a->created_cs) {
      // 127.0.0.1 and ::1, both created as lo came up: the later one.
      if (!latest || static_cast<std::int32_t>(*a->created_cs - *latest) > 0)
        latest = a->created_cs;
    }
    if (const auto* err = std::get_if<netlink::Error>(&m); err && err->seq == kDumpSeq)
      return tl::unexpected(std::string("address dump: ") + std::strerror(-err->error));
    const auto* done = std::get_if<netlink::Done>(&m);
    return done && done->seq == kDumpSeq;
  });
  // Read after the answer: the kernel's clock read `latest` before this.
  auto at = Clock::now();
  if (!dumped) return tl::unexpected(dumped.error());
  if (!latest) return tl::unexpected(std::string("lo came up without an address"));
  return CstampNow{*latest, at};
}

}  // namespace

tl::expected<CstampNow, std::string> read_cstamp_now() {
  tl::expected<CstampNow, std::string> result = tl::unexpected(std::string("not run"));
  try {
    std::thread t([&] { result = read_in_private_namespace(); });
    t.join();
  } catch (const std::system_error& e) {
    return tl::unexpected(std::string("thread: ") + e.what());
  }
  return result;
}

Millis timens_monotonic_offset() {
  std::ifstream in("/proc/self/timens_offsets");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string clock;
    long long secs = 0, nanos = 0;
    if (fields >> clock >> secs >> nanos && (clock == "monotonic" || clock == "1"))
      return Millis(secs * 1000 + nanos / 1'000'000);
  }
  return Millis(0);
}

}  // namespace havip
