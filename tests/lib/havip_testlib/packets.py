"""AF_PACKET capture: Router Advertisements, neighbour adverts and VRRP adverts.

Shared by tests/e2e/ra_capture.py (a recorder run inside a namespace) and
bench/ra_gap.py (sockets opened in the namespaces from the driver itself). Only frames
*received* on an interface count (not those the host sends out of it): on a bridge
port's peer that means "sent by whatever sits at the other end of that veth".
"""

import socket
import struct

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_8021Q = 0x8100
PACKET_OUTGOING = 4
IPPROTO_ICMPV6 = 58
IPPROTO_VRRP = 112
ND_ROUTER_ADVERT = 134
ND_NEIGHBOR_ADVERT = 136


def packet_socket(ifname):
    """An AF_PACKET socket bound to ifname (in the current network namespace)."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((ifname, ETH_P_ALL))
    return s


def receive(sock):
    """The next frame received on sock, None when there was none or it was one the host
    sent out of the interface."""
    try:
        frame, addr = sock.recvfrom(65535)
    except BlockingIOError:
        return None
    return None if addr[2] == PACKET_OUTGOING else frame


def mac_text(b):
    return ":".join(f"{x:02x}" for x in b)


def decode_frame(frame):
    """The record ({"kind": "ra" | "na" | "vrrp", ...}) for a Router Advertisement, a
    neighbour advert or a VRRP advert in an Ethernet frame, else None."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    off = 14
    if ethertype == ETH_P_8021Q and len(frame) >= 18:
        ethertype = struct.unpack_from("!H", frame, 16)[0]
        off = 18
    src_mac = mac_text(frame[6:12])
    if ethertype == ETH_P_IPV6 and len(frame) >= off + 40 + 8:
        ip = frame[off:off + 40]
        icmp = frame[off + 40:]
        if ip[6] != IPPROTO_ICMPV6:
            return None
        addrs = {"src": socket.inet_ntop(socket.AF_INET6, ip[8:24]),
                 "dst": socket.inet_ntop(socket.AF_INET6, ip[24:40]), "mac": src_mac}
        if icmp[0] == ND_ROUTER_ADVERT:
            return {"kind": "ra", **addrs, "lifetime": struct.unpack_from("!H", icmp, 6)[0]}
        if icmp[0] == ND_NEIGHBOR_ADVERT and len(icmp) >= 24:
            # The R flag: a neighbour advertised without it stops being a router for the
            # client (RFC 4861 7.2.5), which drops it from its default router list.
            return {"kind": "na", **addrs,
                    "target": socket.inet_ntop(socket.AF_INET6, icmp[8:24]),
                    "router": bool(icmp[4] & 0x80), "solicited": bool(icmp[4] & 0x40)}
        return None
    if ethertype == ETH_P_IP and len(frame) >= off + 20:
        ihl = (frame[off] & 0x0F) * 4
        if frame[off + 9] != IPPROTO_VRRP or len(frame) < off + ihl + 4:
            return None
        vrrp = frame[off + ihl:]
        return {"kind": "vrrp",
                "src": socket.inet_ntop(socket.AF_INET, frame[off + 12:off + 16]),
                "mac": src_mac, "vrid": vrrp[1], "prio": vrrp[2]}
    return None
