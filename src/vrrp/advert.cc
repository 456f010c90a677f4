#include "vrrp/advert.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>

namespace havip::vrrp {

namespace {

constexpr std::size_t kIpv4Header = 20;  // without options
constexpr std::size_t kVrrpHeader = 8;   // version/type .. checksum
constexpr std::size_t kAuthData = 8;     // VRRPv2's authentication data
constexpr std::uint8_t kTypeAdvert = 1;

tl::unexpected<std::string> fail(std::string why) { return tl::unexpected("vrrp: " + why); }

std::uint16_t be16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}

// The one's complement sum (RFC 1071) of `bytes` added to `acc`, not yet folded;
// an odd last byte is padded with zero.
std::uint32_t add(std::uint32_t acc, std::span<const std::uint8_t> bytes) {
  std::size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) acc += be16(bytes, i);
  if (i < bytes.size()) acc += static_cast<std::uint32_t>(bytes[i] << 8);
  return acc;
}

std::uint16_t fold(std::uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<std::uint16_t>(acc);
}

// The checksum field `message` should carry (bytes 6-7), given the sum of its
// pseudo-header: ~(pseudo + message with the field as zero). Bounded: at most
// 8 + 255 * 16 + 8 bytes.
std::uint16_t checksum(std::uint32_t pseudo_sum, std::span<const std::uint8_t> message) {
  std::uint32_t acc = add(pseudo_sum, message.first(6));
  acc = add(acc, message.subspan(kVrrpHeader));
  return static_cast<std::uint16_t>(~fold(acc));
}

// Whether the message's checksum field is right (RFC 1071: the sum over the
// pseudo-header and the message, field included, is all ones).
bool verified(std::uint32_t pseudo_sum, std::span<const std::uint8_t> message) {
  return fold(add(pseudo_sum, message)) == 0xffff;
}

// The sum of the pseudo-header of RFC 5798 §5.2.8: IPv4's (RFC 768 layout) or
// IPv6's (RFC 8200 §8.1). Either sums to the same words: the addresses, the
// protocol and the length (at most 8 + 255 * 16 here: one 16-bit word).
std::uint32_t pseudo(std::span<const std::uint8_t> src, std::span<const std::uint8_t> dst,
                     std::size_t length) {
  return add(add(static_cast<std::uint32_t>(kProtocol + length), src), dst);
}

IpPrefix host(int family, std::span<const std::uint8_t> bytes) {
  IpPrefix p;
  p.family = family;
  std::copy(bytes.begin(), bytes.end(), p.bytes.begin());
  p.length = static_cast<std::uint8_t>(bytes.size() * 8);
  return p;
}

// The VRRP message itself (after the IP header), for either family. `sum_for`
// gives the pseudo-header sum for VRRPv3 (`old` true: keepalived's old unicast
// form, tried only when `old_allowed`); `source` is the sender.
template <typename PseudoSum>
tl::expected<Advert, std::string> decode_message(int family, std::span<const std::uint8_t> msg,
                                                 IpPrefix source, PseudoSum sum_for,
                                                 bool old_allowed) {
  if (msg.size() < kVrrpHeader)
    return fail(fmt::format("message of {} bytes, shorter than the 8-byte header", msg.size()));
  int version = msg[0] >> 4;
  int type = msg[0] & 0x0f;
  if (version != 2 && version != 3)
    return fail(fmt::format("version {}, expected 2 or 3", version));
  if (version == 2 && family == AF_INET6) return fail("version 2 over IPv6, expected 3");
  if (type != kTypeAdvert) return fail(fmt::format("type {}, expected 1 (advertisement)", type));
  Advert a;
  a.version = version;
  a.vrid = msg[1];
  if (a.vrid == 0) return fail("VRID 0, expected 1..255");
  a.priority = msg[2];
  std::size_t count = msg[3];
  std::size_t size = family == AF_INET ? 4 : 16;
  std::size_t expected = kVrrpHeader + count * size + (version == 2 ? kAuthData : 0);
  if (msg.size() != expected)
    return fail(fmt::format("{} bytes for {} {} address{} (VRRPv{}), expected {}", msg.size(),
                            count, family == AF_INET ? "IPv4" : "IPv6", count == 1 ? "" : "es",
                            version, expected));
  if (version == 2) {
    a.auth_type = msg[4];
    if (a.auth_type > 2) return fail(fmt::format("auth type {}, expected 0, 1 or 2", a.auth_type));
    a.interval = Millis(msg[5] * 1000);
  } else {
    a.interval = Millis((be16(msg, 4) & 0x0fff) * 10);
  }
  std::uint32_t pseudo_sum = version == 2 ? 0 : sum_for(false);
  if (!verified(pseudo_sum, msg) && !(version == 3 && old_allowed && verified(sum_for(true), msg)))
    return fail(
        fmt::format("checksum {:#06x}, expected {:#06x}", be16(msg, 6), checksum(pseudo_sum, msg)));
  a.source = source;
  a.addresses.reserve(count);
  for (std::size_t i = 0; i < count; ++i)
    a.addresses.push_back(host(family, msg.subspan(kVrrpHeader + i * size, size)));
  return a;
}

}  // namespace

tl::expected<Advert, std::string> decode_ipv4(std::span<const std::uint8_t> packet) {
  if (packet.size() < kIpv4Header)
    return fail(
        fmt::format("IPv4 packet of {} bytes, shorter than its 20-byte header", packet.size()));
  if (int v = packet[0] >> 4; v != 4) return fail(fmt::format("IP version {}, expected 4", v));
  std::size_t header = (packet[0] & 0x0fu) * 4;
  std::size_t total = be16(packet, 2);
  if (header < kIpv4Header) return fail(fmt::format("IPv4 header length {}, less than 20", header));
  if (total < header || total > packet.size())
    return fail(fmt::format("IPv4 total length {} with a {}-byte header, {} bytes received", total,
                            header, packet.size()));
  if (int proto = packet[9]; proto != kProtocol)
    return fail(fmt::format("IP protocol {}, expected {}", proto, kProtocol));
  auto src = packet.subspan<12, 4>();
  auto dst = packet.subspan<16, 4>();
  bool multicast = (dst[0] & 0xf0) == 0xe0;
  if (int ttl = packet[8]; multicast && ttl != kTtl)
    return fail(fmt::format("TTL {}, expected {}", ttl, kTtl));
  auto msg = packet.subspan(header, total - header);
  auto sum_for = [&](bool old) {
    return pseudo(src, old ? std::span<const std::uint8_t>(kGroup4) : dst, msg.size());
  };
  return decode_message(AF_INET, msg, host(AF_INET, src), sum_for, !multicast);
}

tl::expected<Advert, std::string> decode_ipv6(std::span<const std::uint8_t> vrrp,
                                              const IpPrefix& source,
                                              const std::array<std::uint8_t, 16>& destination,
                                              int hop_limit) {
  if (source.family != AF_INET6)
    return fail(fmt::format("source {} is not an IPv6 address", source.to_string()));
  bool multicast = destination[0] == 0xff;
  if (multicast && hop_limit != kTtl)
    return fail(fmt::format("hop limit {}, expected {}", hop_limit, kTtl));
  auto src = std::span<const std::uint8_t>(source.bytes);
  auto sum_for = [&](bool) { return pseudo(src, destination, vrrp.size()); };
  return decode_message(AF_INET6, vrrp, host(AF_INET6, src), sum_for, false);
}

}  // namespace havip::vrrp
