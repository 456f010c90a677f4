// libFuzzer target for the VRRP advert decoder (vrrp/advert.h). The input is one
// IP packet: decode_ipv4() reads it whole; when it is at least 40 bytes long it is
// also taken as an IPv6 header and its payload, as recvmsg() hands them to
// decode_ipv6() (source, destination and hop limit from the header's fields, the
// rest as the VRRP message). Besides crashes, leaks and undefined behaviour it
// checks what the decoder promises:
//  * an error is one line starting "vrrp: ";
//  * an advert is version 2 (IPv4 only) or 3, VRID 1..255, an auth type only in v2
//    and at most 2, an interval of whole seconds up to 255 s (v2) or centiseconds
//    up to 40.95 s (v3); its source and addresses are full-length prefixes of the
//    packet's family, nothing set past the address size;
//  * its fields are the message's bytes: VRID, priority, the address count and
//    each address, and the IPv4 source is the header's;
//  * decoding is independent of the buffer's alignment.
// Seeds: real adverts from keepalived (tests/fuzz/tools/capture_vrrp.py).
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "vrrp/advert.h"

namespace {

using havip::IpPrefix;
using havip::vrrp::Advert;
using Result = tl::expected<Advert, std::string>;

void check_prefix(const IpPrefix& p, int family) {
  std::size_t size = family == AF_INET ? 4 : 16;
  if (p.family != family || p.length != size * 8) __builtin_trap();
  for (std::size_t i = size; i < p.bytes.size(); ++i)
    if (p.bytes[i] != 0) __builtin_trap();
}

bool same_bytes(const IpPrefix& p, std::span<const std::uint8_t> bytes) {
  return std::equal(bytes.begin(), bytes.end(), p.bytes.begin());
}

// `msg`: the VRRP message the advert must have come from.
void check(const Result& r, int family, std::span<const std::uint8_t> msg) {
  if (!r) {
    const std::string& e = r.error();
    if (e.rfind("vrrp: ", 0) != 0 || e.size() <= 6 || e.find('\n') != std::string::npos)
      __builtin_trap();
    return;
  }
  const Advert& a = *r;
  if (a.version != 2 && a.version != 3) __builtin_trap();
  if (a.version == 2 && family != AF_INET) __builtin_trap();
  if (a.vrid == 0) __builtin_trap();
  if (a.version == 3 && a.auth_type != 0) __builtin_trap();
  if (a.auth_type < 0 || a.auth_type > 2) __builtin_trap();
  auto ms = a.interval.count();
  if (a.version == 2 && (ms % 1000 != 0 || ms < 0 || ms > 255000)) __builtin_trap();
  if (a.version == 3 && (ms % 10 != 0 || ms < 0 || ms > 40950)) __builtin_trap();
  check_prefix(a.source, family);
  std::size_t size = family == AF_INET ? 4 : 16;
  if (msg.size() < 8 || a.vrid != msg[1] || a.priority != msg[2] || a.addresses.size() != msg[3] ||
      msg.size() < 8 + a.addresses.size() * size)
    __builtin_trap();
  for (std::size_t i = 0; i < a.addresses.size(); ++i) {
    check_prefix(a.addresses[i], family);
    if (!same_bytes(a.addresses[i], msg.subspan(8 + i * size, size))) __builtin_trap();
  }
  (void)a.source.to_string();
}

struct Results {
  Result v4;
  std::optional<Result> v6;  // inputs of 40 bytes or more
  bool operator==(const Results&) const = default;
};

Results run(std::span<const std::uint8_t> data) {
  Result v4 = havip::vrrp::decode_ipv4(data);
  if (v4) {
    // Accepted: the header was sane, so these reads are in range.
    std::size_t header = (data[0] & 0x0fu) * 4;
    std::size_t total = static_cast<std::size_t>(data[2] << 8 | data[3]);
    if (header < 20 || total > data.size() || total < header) __builtin_trap();
    if (!same_bytes(v4->source, data.subspan(12, 4))) __builtin_trap();
    check(v4, AF_INET, data.subspan(header, total - header));
  } else {
    check(v4, AF_INET, {});
  }

  if (data.size() < 40) return {v4, std::nullopt};
  IpPrefix source;
  source.family = AF_INET6;
  std::copy(data.begin() + 8, data.begin() + 24, source.bytes.begin());
  source.length = 128;
  std::array<std::uint8_t, 16> destination{};
  std::copy(data.begin() + 24, data.begin() + 40, destination.begin());
  auto vrrp = data.subspan(40);
  Result v6 = havip::vrrp::decode_ipv6(vrrp, source, destination, data[7]);
  if (v6 && !same_bytes(v6->source, data.subspan(8, 16))) __builtin_trap();
  check(v6, AF_INET6, vrrp);
  return {v4, v6};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Results first = run(std::span<const std::uint8_t>(data, size));

  // The same bytes at an odd address: the same results.
  auto shifted = std::make_unique<std::uint8_t[]>(size + 1);
  if (size > 0) std::memcpy(shifted.get() + 1, data, size);
  if (run(std::span<const std::uint8_t>(shifted.get() + 1, size)) != first) __builtin_trap();
  return 0;
}
