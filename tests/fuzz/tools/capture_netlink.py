#!/usr/bin/env python3
"""Writes the netlink decoder's seed corpus: real rtnetlink datagrams.

Run as root from the repository root:
    tests/fuzz/tools/capture_netlink.py tests/fuzz/corpus/netlink_decode

It creates a network namespace `hvf-corpus` with a veth pair, and inside
it dumps links and addresses, then records the live events of adding and
removing IPv4/IPv6 addresses, a rename and a deletion, and an NLMSG_ERROR
(both an ACK and a real error). Every datagram received becomes one file.
The namespace is deleted afterwards.
"""
import os
import socket
import struct
import subprocess
import sys

NS = "hvf-corpus"
RTM_NEWLINK, RTM_GETLINK, RTM_NEWADDR, RTM_GETADDR = 16, 18, 20, 22
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 1, 4, 0x300
NLMSG_DONE, NLMSG_ERROR = 3, 2
RTMGRP_LINK, RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR = 1, 0x10, 0x100


def sh(*cmd):
    subprocess.run(cmd, check=True)


def in_ns(*cmd):
    sh("ip", "-n", NS, *cmd)


def request(sock, seq, msg_type, flags, family):
    # nlmsghdr + a 16-byte ifinfomsg (its first byte is the family; also
    # long enough for ifaddrmsg).
    body = struct.pack("BxHiII", family, 0, 0, 0, 0)
    sock.send(struct.pack("=LHHLL", 16 + len(body), msg_type, flags, seq, 0) + body)


def drain(sock, out, name, until_done=False):
    n = 0
    while True:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        path = os.path.join(out, f"{name}-{n:02}")
        with open(path, "wb") as f:
            f.write(data)
        n += 1
        if until_done:
            (length, msg_type) = struct.unpack_from("=LH", data)
            # The last datagram of a dump holds NLMSG_DONE (maybe after others).
            off = 0
            while off + 16 <= len(data):
                (length, msg_type) = struct.unpack_from("=LH", data, off)
                if msg_type in (NLMSG_DONE, NLMSG_ERROR):
                    return
                off += (length + 3) & ~3 if length else len(data)


def child(out):
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.bind((0, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
    request(sock, 1, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, socket.AF_UNSPEC)
    drain(sock, out, "dump-link", until_done=True)
    request(sock, 2, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, socket.AF_UNSPEC)
    drain(sock, out, "dump-addr", until_done=True)
    sock.setblocking(False)
    steps = [
        ("new-addr4", ["addr", "add", "169.254.0.1/24", "dev", "hvf0"]),
        ("new-addr6", ["addr", "add", "fd00::1/64", "dev", "hvf0", "nodad"]),
        ("new-addr6-tentative", ["addr", "add", "fd00::2/64", "dev", "hvf0"]),
        ("new-ptp", ["addr", "add", "10.1.0.1", "peer", "10.1.0.2/32", "dev", "hvf0"]),
        ("del-addr4", ["addr", "del", "169.254.0.1/24", "dev", "hvf0"]),
        ("del-addr6", ["addr", "del", "fd00::1/64", "dev", "hvf0"]),
        ("link-down", ["link", "set", "hvf0", "down"]),
        ("link-rename", ["link", "set", "hvf0", "name", "hvf-renamed"]),
        ("link-del", ["link", "del", "hvf-renamed"]),
    ]
    import time
    for name, cmd in steps:
        subprocess.run(["ip"] + cmd, check=True)
        time.sleep(0.05)
        drain(sock, out, name)
    # An ACK (error 0) and an error (-EINVAL: a bad RTM_NEWADDR).
    request(sock, 3, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, socket.AF_UNSPEC)
    time.sleep(0.05)
    drain(sock, out, "ack")
    request(sock, 4, RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK, socket.AF_INET)
    time.sleep(0.05)
    drain(sock, out, "error")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
        return
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUT_DIR")
    out = os.path.abspath(sys.argv[1])
    os.makedirs(out, exist_ok=True)
    subprocess.run(["ip", "netns", "del", NS], stderr=subprocess.DEVNULL)
    sh("ip", "netns", "add", NS)
    try:
        in_ns("link", "add", "hvf0", "type", "veth", "peer", "name", "hvf1")
        in_ns("link", "set", "hvf1", "up")
        in_ns("link", "set", "hvf0", "up")
        in_ns("link", "set", "lo", "up")
        in_ns("addr", "add", "192.0.2.1/24", "dev", "hvf0")
        in_ns("addr", "add", "2001:db8::1/64", "dev", "hvf0", "nodad")
        sh("ip", "netns", "exec", NS, sys.executable, os.path.abspath(__file__), "--child", out)
    finally:
        sh("ip", "netns", "del", NS)


if __name__ == "__main__":
    main()
