#!/usr/bin/env python3
"""A tiny packet recorder for havip's e2e tier: Router Advertisements and VRRP adverts.

Run it inside a namespace (`ip netns exec NS python3 ra_capture.py IFNAME...`). It binds
one AF_PACKET socket per interface and prints one JSON object per line on stdout:

    {"ready": true}                                     once every socket is bound
    {"t": ..., "if": "sw-qr-r1", "kind": "ra", "src": "fe80::…", "mac": "fa:16:3e:…",
     "dst": "ff02::1", "lifetime": 12}
    {"t": ..., "if": "sw-ha-r1", "kind": "vrrp", "src": "169.254.192.1", "vrid": 1,
     "prio": 50}

`t` is CLOCK_MONOTONIC (system-wide, so the test can compare it with its own
time.monotonic()), taken when the frame is read. Only frames *received* on an interface
are recorded (not those the host sends out of it): on a bridge port's peer that means
"sent by whatever sits at the other end of that veth".

It exits on SIGTERM or when stdin closes. No third-party modules: the e2e tier does not
need tcpdump.
"""

import json
import os
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_8021Q = 0x8100
PACKET_OUTGOING = 4
IPPROTO_ICMPV6 = 58
IPPROTO_VRRP = 112
ND_ROUTER_ADVERT = 134


def mac_text(b):
    return ":".join(f"{x:02x}" for x in b)


def decode(frame):
    """The record for an RA or a VRRP advert in an Ethernet frame, else None."""
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
        next_header = ip[6]
        icmp = frame[off + 40:]
        if next_header != IPPROTO_ICMPV6 or icmp[0] != ND_ROUTER_ADVERT:
            return None
        return {"kind": "ra",
                "src": socket.inet_ntop(socket.AF_INET6, ip[8:24]),
                "dst": socket.inet_ntop(socket.AF_INET6, ip[24:40]),
                "mac": src_mac,
                "lifetime": struct.unpack_from("!H", icmp, 6)[0]}
    if ethertype == ETH_P_IP and len(frame) >= off + 20:
        ihl = (frame[off] & 0x0F) * 4
        if frame[off + 9] != IPPROTO_VRRP or len(frame) < off + ihl + 4:
            return None
        vrrp = frame[off + ihl:]
        return {"kind": "vrrp",
                "src": socket.inet_ntop(socket.AF_INET, frame[off + 12:off + 16]),
                "mac": src_mac, "vrid": vrrp[1], "prio": vrrp[2]}
    return None


def main(ifnames):
    socks = {}
    for name in ifnames:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((name, ETH_P_ALL))
        socks[s.fileno()] = (s, name)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    poller = select.poll()
    for fd in socks:
        poller.register(fd, select.POLLIN)
    poller.register(sys.stdin.fileno(), select.POLLIN | select.POLLHUP)
    while not stop:
        try:
            events = poller.poll(200)
        except InterruptedError:
            continue
        for fd, _ in events:
            if fd == sys.stdin.fileno():
                if not os.read(fd, 4096):
                    return 0
                continue
            s, name = socks[fd]
            try:
                frame, addr = s.recvfrom(65535)
            except BlockingIOError:
                continue
            now = time.monotonic()
            if addr[2] == PACKET_OUTGOING:
                continue
            record = decode(frame)
            if record is not None:
                record = {"t": now, "if": name, **record}
                out.write(json.dumps(record) + "\n")
                out.flush()
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: ra_capture.py IFNAME...")
    sys.exit(main(sys.argv[1:]))
