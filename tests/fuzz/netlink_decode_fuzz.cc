// libFuzzer target for the rtnetlink decoder (netlink/decode.h). Besides
// crashes, leaks and undefined behaviour it checks what decode() promises and
// what the engine relies on:
//  * a link update has a positive ifindex and a name that fits IFNAMSIZ
//    (no NUL inside);
//  * an address update is AF_INET or AF_INET6 with a prefix length within the
//    family's bits, and nothing set past the family's address size;
//  * every message consumed at least one netlink header, so a datagram of N
//    bytes yields at most N/16 messages and errors (plus one for a trailing
//    truncated header); every error says something;
//  * decoding is independent of the buffer's alignment: the same bytes at an
//    odd address decode to the same messages and errors.
// Seeds: real datagrams (tests/fuzz/tools/capture_netlink.py).
#include <linux/netlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <variant>

#include "netlink/decode.h"

namespace {

using havip::AddrUpdate;
using havip::LinkUpdate;
namespace nl = havip::netlink;

void check(const nl::Decoded& d, std::size_t size) {
  if (d.messages.size() + d.errors.size() > size / sizeof(nlmsghdr) + 1) __builtin_trap();
  for (const auto& e : d.errors)
    if (e.empty()) __builtin_trap();
  for (const auto& m : d.messages) {
    if (const auto* link = std::get_if<LinkUpdate>(&m)) {
      if (link->ifindex == 0 || link->ifindex > INT32_MAX) __builtin_trap();
      if (link->name.size() >= IFNAMSIZ) __builtin_trap();
      if (link->name.find('\0') != std::string::npos) __builtin_trap();
    } else if (const auto* addr = std::get_if<AddrUpdate>(&m)) {
      const auto& p = addr->prefix;
      std::size_t bytes = p.family == AF_INET ? 4 : p.family == AF_INET6 ? 16 : 0;
      if (bytes == 0 || p.length > bytes * 8) __builtin_trap();
      for (std::size_t i = bytes; i < p.bytes.size(); ++i)
        if (p.bytes[i] != 0) __builtin_trap();
      (void)p.to_string();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nl::Decoded d = nl::decode(std::span<const std::uint8_t>(data, size));
  check(d, size);

  // The same bytes at an odd address (the decoder copies them to an aligned
  // buffer then): the result must not change.
  auto shifted = std::make_unique<std::uint8_t[]>(size + 1);
  if (size > 0) std::memcpy(shifted.get() + 1, data, size);
  nl::Decoded again = nl::decode(std::span<const std::uint8_t>(shifted.get() + 1, size));
  if (again.messages != d.messages || again.errors != d.errors) __builtin_trap();
  return 0;
}
