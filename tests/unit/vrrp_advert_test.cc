// vrrp::decode_ipv4() / decode_ipv6() on real adverts sent by Debian's keepalived
// 2.2.7 (captured by tests/fuzz/tools/capture_vrrp.py, which also wrote them to
// tests/fuzz/corpus/vrrp_advert/), then on copies cut or patched to be wrong.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "vrrp/advert.h"

namespace havip::vrrp {

// Readable failures instead of byte dumps.
void PrintTo(const Advert& a, std::ostream* os) {
  *os << "Advert{v" << a.version << ", vrid " << int{a.vrid} << ", prio " << int{a.priority} << ", "
      << a.interval.count() << " ms, from " << a.source.to_string() << ", auth " << a.auth_type
      << ", [";
  for (const auto& p : a.addresses) *os << " " << p.to_string();
  *os << " ]}";
}

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes hex(std::string_view text) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2)
    out.push_back(
        static_cast<std::uint8_t>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16)));
  return out;
}

IpPrefix ip(std::string_view text) { return *IpPrefix::parse(text); }

// keepalived: vrrp_version 2, VRID 51, priority 150, advert_int 1,
// 10.77.0.100 and 10.77.0.101, from 10.77.0.1 to 224.0.0.18.
constexpr std::string_view kV2 =
    "45c0002c00010000ff70d0400a4d0001e000001221339602000133660a4d00640a4d00650000000000000000";
// The same instance stopping: priority 0.
constexpr std::string_view kV2Prio0 =
    "45c0002c00020000ff70d03f0a4d0001e0000012213300020001c9660a4d00640a4d00650000000000000000";
// VRID 52, advert_int 2, auth_type PASS, auth_pass s3cret, 10.77.0.102.
constexpr std::string_view kV2Pass =
    "45c0002800010000ff70d0440a4d0001e000001221349601010200fb0a4d00667333637265740000";
// VRID 55, unicast_src_ip 10.77.0.1, unicast_peer 10.77.0.2, 10.77.0.105.
constexpr std::string_view kV2Unicast =
    "45c0002800010000ff70a6080a4d00010a4d00022137960100013e100a4d00690000000000000000";
// vrrp_version 3, VRID 53, advert_int 0.5, 10.77.0.103 and 10.77.0.104.
constexpr std::string_view kV3 =
    "45c0002400010000ff70d0480a4d0001e0000012313596020032384c0a4d00670a4d0068";
// VRRPv3 unicast (VRID 57, 10.77.0.107) to 10.77.0.2: the pseudo-header has
// the destination.
constexpr std::string_view kV3Unicast =
    "45c0002000010000ff70a6100a4d00010a4d000231399601006418900a4d006b";
// The same with old_unicast_checksum (VRID 58, 10.77.0.108): the pseudo-header
// has 224.0.0.18 (keepalived up to 1.3.6).
constexpr std::string_view kV3UnicastOldSum =
    "45c0002000010000ff70a6100a4d00010a4d0002313a9601006442ca0a4d006c";
// IPv6 (header, then VRRP): VRID 54, advert_int 1, fd77::100 and fd77::101,
// from a link-local to ff02::12, hop limit 255.
constexpr std::string_view kV3Ipv6 =
    "6c06f9d2002870fffe8000000000000004f053fffe93c66aff0200000000000000000000000000123136960200641f"
    "56fd770000000000000000000000000100fd770000000000000000000000000101";
// IPv6 unicast (VRID 56, fd77::106) from fd77::1 to fd77::2: keepalived leaves
// the hop limit at the default, 64.
constexpr std::string_view kV3Ipv6Unicast =
    "6c0e601a00187040fd770000000000000000000000000001fd7700000000000000000000000000023138960100643e"
    "69fd770000000000000000000000000106";

// An IPv6 packet as recvmsg() gives it: the VRRP message, and the source,
// destination and hop limit from the header the socket does not deliver.
struct Ipv6 {
  Bytes vrrp;
  IpPrefix source;
  std::array<std::uint8_t, 16> destination{};
  int hop_limit = 0;
};

Ipv6 split(const Bytes& packet) {
  Ipv6 p;
  p.vrrp.assign(packet.begin() + 40, packet.end());
  p.source.family = AF_INET6;
  std::copy(packet.begin() + 8, packet.begin() + 24, p.source.bytes.begin());
  p.source.length = 128;
  std::copy(packet.begin() + 24, packet.begin() + 40, p.destination.begin());
  p.hop_limit = packet[7];
  return p;
}

tl::expected<Advert, std::string> decode6(const Ipv6& p) {
  return decode_ipv6(p.vrrp, p.source, p.destination, p.hop_limit);
}

std::string error4(const Bytes& packet) {
  auto a = decode_ipv4(packet);
  return a ? "decoded" : a.error();
}

std::string error6(const Ipv6& p) {
  auto a = decode6(p);
  return a ? "decoded" : a.error();
}

Advert advert(int version, int vrid, int priority, int ms, std::string_view source,
              std::vector<std::string_view> vips, int auth = 0) {
  Advert a;
  a.version = version;
  a.vrid = static_cast<std::uint8_t>(vrid);
  a.priority = static_cast<std::uint8_t>(priority);
  a.interval = Millis(ms);
  a.source = ip(source);
  for (auto v : vips) a.addresses.push_back(ip(v));
  a.auth_type = auth;
  return a;
}

// Rewrites the VRRPv2 checksum of an IPv4 packet (20-byte header) after a patch.
void fix_v2_checksum(Bytes& p) {
  p[26] = p[27] = 0;
  std::uint32_t sum = 0;
  for (std::size_t i = 20; i + 1 < p.size(); i += 2)
    sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  std::uint16_t ck = static_cast<std::uint16_t>(~sum);
  p[26] = static_cast<std::uint8_t>(ck >> 8);
  p[27] = static_cast<std::uint8_t>(ck);
}

TEST(VrrpAdvert, V2Ipv4) {
  EXPECT_EQ(decode_ipv4(hex(kV2)),
            advert(2, 51, 150, 1000, "10.77.0.1/32", {"10.77.0.100/32", "10.77.0.101/32"}));
}

TEST(VrrpAdvert, V2Ipv4PriorityZeroWhenTheMasterStops) {
  EXPECT_EQ(decode_ipv4(hex(kV2Prio0)),
            advert(2, 51, 0, 1000, "10.77.0.1/32", {"10.77.0.100/32", "10.77.0.101/32"}));
}

TEST(VrrpAdvert, V2Ipv4SimplePassword) {
  EXPECT_EQ(decode_ipv4(hex(kV2Pass)),
            advert(2, 52, 150, 2000, "10.77.0.1/32", {"10.77.0.102/32"}, 1));
}

TEST(VrrpAdvert, V2Ipv4Unicast) {
  EXPECT_EQ(decode_ipv4(hex(kV2Unicast)),
            advert(2, 55, 150, 1000, "10.77.0.1/32", {"10.77.0.105/32"}));
}

TEST(VrrpAdvert, V3Ipv4IntervalInCentiseconds) {
  EXPECT_EQ(decode_ipv4(hex(kV3)),
            advert(3, 53, 150, 500, "10.77.0.1/32", {"10.77.0.103/32", "10.77.0.104/32"}));
}

TEST(VrrpAdvert, V3Ipv4UnicastWithEitherChecksum) {
  EXPECT_EQ(decode_ipv4(hex(kV3Unicast)),
            advert(3, 57, 150, 1000, "10.77.0.1/32", {"10.77.0.107/32"}));
  EXPECT_EQ(decode_ipv4(hex(kV3UnicastOldSum)),
            advert(3, 58, 150, 1000, "10.77.0.1/32", {"10.77.0.108/32"}));
  // The old form does not depend on the destination; the new one does.
  Bytes old_sum = hex(kV3UnicastOldSum), new_sum = hex(kV3Unicast);
  old_sum[19] = new_sum[19] = 3;  // to 10.77.0.3
  EXPECT_TRUE(decode_ipv4(old_sum));
  EXPECT_EQ(error4(new_sum), "vrrp: checksum 0x1890, expected 0x188f");
}

TEST(VrrpAdvert, V3Ipv6) {
  EXPECT_EQ(decode6(split(hex(kV3Ipv6))), advert(3, 54, 150, 1000, "fe80::4f0:53ff:fe93:c66a/128",
                                                 {"fd77::100/128", "fd77::101/128"}));
}

TEST(VrrpAdvert, V3Ipv6UnicastWithAnyHopLimit) {
  auto p = split(hex(kV3Ipv6Unicast));
  ASSERT_EQ(p.hop_limit, 64);
  EXPECT_EQ(decode6(p), advert(3, 56, 150, 1000, "fd77::1/128", {"fd77::106/128"}));
}

TEST(VrrpAdvert, Ipv6SourceLengthIsIgnored) {
  auto p = split(hex(kV3Ipv6));
  p.source.length = 64;
  ASSERT_TRUE(decode6(p));
  EXPECT_EQ(decode6(p)->source.length, 128);
}

TEST(VrrpAdvert, EthernetPaddingAfterTheTotalLengthIsIgnored) {
  Bytes p = hex(kV2Pass);
  p.resize(46, 0);  // a 60-byte Ethernet frame
  EXPECT_EQ(decode_ipv4(p), decode_ipv4(hex(kV2Pass)));
}

TEST(VrrpAdvert, IpOptionsAreSkipped) {
  // A 24-byte header: Router Alert (RFC 2113) in front of the same message.
  Bytes p = hex(kV2Pass);
  Bytes q(p.begin(), p.begin() + 20);
  q.insert(q.end(), {0x94, 0x04, 0x00, 0x00});
  q.insert(q.end(), p.begin() + 20, p.end());
  q[0] = 0x46;
  q[3] = static_cast<std::uint8_t>(q.size());
  EXPECT_EQ(decode_ipv4(q), decode_ipv4(p));
}

TEST(VrrpAdvert, RecomputedChecksumIsAccepted) {
  // Our own checksum, for a patched VRID: the decoder's sum agrees with it.
  Bytes p = hex(kV2);
  p[21] = 200;
  fix_v2_checksum(p);
  ASSERT_EQ(p[26] << 8 | p[27], 0x3366 - 149);
  ASSERT_TRUE(decode_ipv4(p)) << decode_ipv4(p).error();
  EXPECT_EQ(decode_ipv4(p)->vrid, 200);
}

TEST(VrrpAdvert, NoAddressesIsAccepted) {
  // keepalived sends count 0 for an instance without virtual_ipaddress.
  Bytes p = hex(kV2);
  p.erase(p.begin() + 28, p.begin() + 36);
  p[3] = static_cast<std::uint8_t>(p.size());
  p[23] = 0;
  fix_v2_checksum(p);
  ASSERT_TRUE(decode_ipv4(p)) << decode_ipv4(p).error();
  EXPECT_TRUE(decode_ipv4(p)->addresses.empty());
}

// ------------------------------------------------------------------ malformed

TEST(VrrpAdvertBad, Short) {
  Bytes p = hex(kV2);
  EXPECT_EQ(error4({}), "vrrp: IPv4 packet of 0 bytes, shorter than its 20-byte header");
  EXPECT_EQ(error4(Bytes(p.begin(), p.begin() + 19)),
            "vrrp: IPv4 packet of 19 bytes, shorter than its 20-byte header");
  EXPECT_EQ(error4(Bytes(p.begin(), p.begin() + 43)),
            "vrrp: IPv4 total length 44 with a 20-byte header, 43 bytes received");
  // Cut at the total length too: what is left is shorter than VRRP's header.
  Bytes cut(p.begin(), p.begin() + 27);
  cut[3] = 27;
  EXPECT_EQ(error4(cut), "vrrp: message of 7 bytes, shorter than the 8-byte header");
  auto six = split(hex(kV3Ipv6));
  six.vrrp.resize(7);
  EXPECT_EQ(error6(six), "vrrp: message of 7 bytes, shorter than the 8-byte header");
  six.vrrp.clear();
  EXPECT_EQ(error6(six), "vrrp: message of 0 bytes, shorter than the 8-byte header");
}

TEST(VrrpAdvertBad, Ipv4Header) {
  Bytes p = hex(kV2);
  p[0] = 0x44;
  EXPECT_EQ(error4(p), "vrrp: IPv4 header length 16, less than 20");
  p[0] = 0x4f;
  EXPECT_EQ(error4(p), "vrrp: IPv4 total length 44 with a 60-byte header, 44 bytes received");
  p[0] = 0x65;
  EXPECT_EQ(error4(p), "vrrp: IP version 6, expected 4");
  p = hex(kV2);
  p[2] = p[3] = 0;
  EXPECT_EQ(error4(p), "vrrp: IPv4 total length 0 with a 20-byte header, 44 bytes received");
  p = hex(kV2);
  p[9] = 51;  // AH: keepalived's auth_type AH puts an AH header before VRRP
  EXPECT_EQ(error4(p), "vrrp: IP protocol 51, expected 112");
}

TEST(VrrpAdvertBad, WrongChecksum) {
  Bytes p = hex(kV2);
  p[31] ^= 1;  // 10.77.0.100 -> 10.77.0.101
  EXPECT_EQ(error4(p), "vrrp: checksum 0x3366, expected 0x3365");
  p = hex(kV2);
  p[27] = 0x67;
  EXPECT_EQ(error4(p), "vrrp: checksum 0x3367, expected 0x3366");
}

TEST(VrrpAdvertBad, V3ChecksumCoversTheDestination) {
  Bytes p = hex(kV3);
  p[19] = 19;  // to 224.0.0.19: the pseudo-header no longer matches
  EXPECT_EQ(error4(p), "vrrp: checksum 0x384c, expected 0x384b");
  auto six = split(hex(kV3Ipv6));
  six.destination[15] = 0x13;
  EXPECT_EQ(error6(six), "vrrp: checksum 0x1f56, expected 0x1f55");
  six = split(hex(kV3Ipv6));
  six.source.bytes[15] ^= 1;
  EXPECT_EQ(error6(six), "vrrp: checksum 0x1f56, expected 0x1f55");
}

TEST(VrrpAdvertBad, OldUnicastChecksumOnlyForUnicast) {
  // The old form sums 224.0.0.18 into the pseudo-header; sent to another group
  // it is not accepted (multicast adverts were always summed correctly).
  Bytes p = hex(kV3UnicastOldSum);
  p[16] = 224, p[17] = 0, p[18] = 0, p[19] = 19;
  EXPECT_EQ(error4(p), "vrrp: checksum 0x42ca, expected 0x42c9");
}

TEST(VrrpAdvertBad, WrongTtl) {
  Bytes p = hex(kV2);
  p[8] = 254;
  EXPECT_EQ(error4(p), "vrrp: TTL 254, expected 255");
  p = hex(kV3);
  p[8] = 1;
  EXPECT_EQ(error4(p), "vrrp: TTL 1, expected 255");
  auto six = split(hex(kV3Ipv6));
  six.hop_limit = 64;
  EXPECT_EQ(error6(six), "vrrp: hop limit 64, expected 255");
  // Unicast: any TTL, as keepalived accepts (its unicast_ttl).
  p = hex(kV2Unicast);
  p[8] = 64;
  EXPECT_TRUE(decode_ipv4(p));
}

TEST(VrrpAdvertBad, CountMismatch) {
  Bytes p = hex(kV2);
  p[23] = 3;
  EXPECT_EQ(error4(p), "vrrp: 24 bytes for 3 IPv4 addresses (VRRPv2), expected 28");
  p[23] = 1;
  EXPECT_EQ(error4(p), "vrrp: 24 bytes for 1 IPv4 address (VRRPv2), expected 20");
  p = hex(kV3);
  p[23] = 255;
  EXPECT_EQ(error4(p), "vrrp: 16 bytes for 255 IPv4 addresses (VRRPv3), expected 1028");
  auto six = split(hex(kV3Ipv6));
  six.vrrp[3] = 1;
  EXPECT_EQ(error6(six), "vrrp: 40 bytes for 1 IPv6 address (VRRPv3), expected 24");
  six = split(hex(kV3Ipv6));
  six.vrrp.push_back(0);
  EXPECT_EQ(error6(six), "vrrp: 41 bytes for 2 IPv6 addresses (VRRPv3), expected 40");
}

TEST(VrrpAdvertBad, WrongVersionOrType) {
  Bytes p = hex(kV2);
  p[20] = 0x11;
  EXPECT_EQ(error4(p), "vrrp: version 1, expected 2 or 3");
  p[20] = 0x41;
  EXPECT_EQ(error4(p), "vrrp: version 4, expected 2 or 3");
  p[20] = 0x22;
  EXPECT_EQ(error4(p), "vrrp: type 2, expected 1 (advertisement)");
  p[20] = 0x20;
  EXPECT_EQ(error4(p), "vrrp: type 0, expected 1 (advertisement)");
  // A v2 packet read as v3: no authentication data, so the length is wrong.
  p[20] = 0x31;
  EXPECT_EQ(error4(p), "vrrp: 24 bytes for 2 IPv4 addresses (VRRPv3), expected 16");
  auto six = split(hex(kV3Ipv6));
  six.vrrp[0] = 0x21;
  EXPECT_EQ(error6(six), "vrrp: version 2 over IPv6, expected 3");
}

TEST(VrrpAdvertBad, VridZeroAndAuthType) {
  Bytes p = hex(kV2);
  p[21] = 0;
  EXPECT_EQ(error4(p), "vrrp: VRID 0, expected 1..255");
  p = hex(kV2);
  p[24] = 3;
  EXPECT_EQ(error4(p), "vrrp: auth type 3, expected 0, 1 or 2");
}

TEST(VrrpAdvertBad, Ipv6SourceMustBeIpv6) {
  auto six = split(hex(kV3Ipv6));
  six.source = ip("10.0.0.1/32");
  EXPECT_EQ(error6(six), "vrrp: source 10.0.0.1/32 is not an IPv6 address");
  six.source = IpPrefix{};
  EXPECT_EQ(error6(six), "vrrp: source - is not an IPv6 address");
}

TEST(VrrpAdvertBad, EverySingleByteChangeOfTheMessageIsCaught) {
  // The checksum catches any one changed bit the field checks let through (the
  // reserved bits of VRRPv3's interval word too: they are summed).
  for (auto packet : {kV2, kV2Pass, kV3}) {
    Bytes good = hex(packet);
    for (std::size_t i = 20; i < good.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        Bytes p = good;
        p[i] ^= static_cast<std::uint8_t>(1 << bit);
        EXPECT_FALSE(decode_ipv4(p)) << "byte " << i << " bit " << bit;
      }
    }
  }
}

}  // namespace
}  // namespace havip::vrrp
