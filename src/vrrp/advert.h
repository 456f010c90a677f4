// VRRP advertisements (VRRPv2, RFC 3768; VRRPv3, RFC 5798) decoded from the bytes
// a raw IPPROTO_VRRP socket reads, into values. No I/O: vrrp/listener.h reads them.
//
// What is checked, like keepalived's receive path (vrrp_check_packet) and the
// RFCs' "MUST verify" lists:
//  * IPv4: a version-4 header whose length (>= 20) and total length fit the bytes
//    read, protocol 112. Bytes past the total length (Ethernet padding; the kernel
//    trims them for raw sockets) are ignored. The IPv4 header checksum is not
//    checked again: the kernel dropped the packet before any socket saw it if it
//    was wrong.
//  * TTL / hop limit 255 when the destination is multicast (224.0.0.18, ff02::12),
//    so a multicast advert was sent on the link. A unicast advert (keepalived's
//    unicast_peer) is accepted with any TTL, as keepalived accepts it: keepalived
//    sends IPv4 unicast adverts with `unicast_ttl` (255 unless configured) and IPv6
//    ones with the socket's default hop limit (64).
//  * type 1 (advertisement); version 2 (IPv4 only) or 3; VRID 1..255; the length
//    is exactly the fixed header, the address count's addresses and (v2) the 8
//    bytes of authentication data; v2 auth type 0, 1 or 2.
//  * the checksum: v2 over the VRRP message; v3 over the IPv4 or IPv6
//    pseudo-header and the message (RFC 5798 §5.2.8). For a unicast IPv4 VRRPv3
//    advert the checksum keepalived up to 1.3.6 computed (and its
//    `old_unicast_checksum` still does) is accepted too: its pseudo-header has the
//    group 224.0.0.18 instead of the destination; keepalived accepts it as well.
// Not checked here (the caller knows what it expects): the advert interval, the
// VIPs and the v2 password. Every error is one short line starting "vrrp: ".
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "core/types.h"

namespace havip::vrrp {

inline constexpr int kProtocol = 112;  // IPPROTO_VRRP
inline constexpr int kTtl = 255;       // TTL / hop limit of an advert sent on the link
// The groups adverts are sent to: 224.0.0.18 and ff02::12.
inline constexpr std::array<std::uint8_t, 4> kGroup4{224, 0, 0, 18};
inline constexpr std::array<std::uint8_t, 16> kGroup6{0xff, 2, 0, 0, 0, 0, 0, 0,
                                                      0,    0, 0, 0, 0, 0, 0, 0x12};

struct Advert {
  int version = 0;            // 2 or 3
  std::uint8_t vrid = 0;      // 1..255
  std::uint8_t priority = 0;  // 0: the master is giving up (RFC 5798 §6.4.2 / 3768)
  Millis interval{0};         // v2: advert_int seconds*1000; v3: max adver int centiseconds*10
  IpPrefix source;            // the sender (full-length prefix: /32 or /128)
  std::vector<IpPrefix> addresses;  // the VIPs it advertises (/32 or /128)
  int auth_type = 0;                // v2 only (0 none, 1 simple text PASS, 2 AH)
  bool operator==(const Advert&) const = default;
};

// IPv4: `packet` is what a raw IPPROTO_VRRP (112) AF_INET socket reads: the IPv4
// header then VRRP.
tl::expected<Advert, std::string> decode_ipv4(std::span<const std::uint8_t> packet);

// IPv6: a raw AF_INET6 socket delivers no IPv6 header: `vrrp` is the VRRP message
// only; the source (an AF_INET6 prefix; its length is ignored), the destination
// and the hop limit come from recvmsg (msg_name, IPV6_PKTINFO and IPV6_HOPLIMIT).
tl::expected<Advert, std::string> decode_ipv6(std::span<const std::uint8_t> vrrp,
                                              const IpPrefix& source,
                                              const std::array<std::uint8_t, 16>& destination,
                                              int hop_limit);

}  // namespace havip::vrrp
