#!/usr/bin/env python3
"""Writes the VRRP decoder's seed corpus: real adverts sent by keepalived.

Run as root from the repository root:
    tests/fuzz/tools/capture_vrrp.py tests/fuzz/corpus/vrrp_advert

It creates two network namespaces `hvvrrp-<pid>-a` and `hvvrrp-<pid>-b` joined by
a veth pair (va 10.77.0.1/24, fd77::1/64 in a; vb 10.77.0.2/24, fd77::2/64 in b;
DAD off), and for each scenario below runs keepalived (--vrrp, state MASTER) in a
and records, on vb in b, the first advert and the priority-0 advert keepalived sends
when it stops (SIGTERM, by PID). Each file holds one IP packet as havipd's raw
socket sees it: IPv4 with its header, cut to the header's total length (no
Ethernet padding); IPv6 with its 40-byte header in front of the VRRP message
(tests/fuzz/vrrp_advert_fuzz.cc splits it off). The namespaces are deleted
afterwards. Needs keepalived (Debian: apt-get install keepalived).
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

PREFIX = f"hvvrrp-{os.getpid()}-"
NS_A, NS_B = PREFIX + "a", PREFIX + "b"
ETH_P_ALL, PACKET_OUTGOING, IPPROTO_VRRP = 0x0003, 4, 112

# name: (global_defs lines, vrrp_instance lines)
SCENARIOS = {
    "v2-ipv4": (["vrrp_version 2"],
                ["virtual_router_id 51", "advert_int 1",
                 "virtual_ipaddress {", "10.77.0.100/24", "10.77.0.101/24", "}"]),
    "v2-ipv4-pass": (["vrrp_version 2"],
                     ["virtual_router_id 52", "advert_int 2",
                      "authentication {", "auth_type PASS", "auth_pass s3cret", "}",
                      "virtual_ipaddress {", "10.77.0.102/24", "}"]),
    "v2-ipv4-unicast": (["vrrp_version 2"],
                        ["virtual_router_id 55", "advert_int 1",
                         "unicast_src_ip 10.77.0.1", "unicast_peer {", "10.77.0.2", "}",
                         "virtual_ipaddress {", "10.77.0.105/24", "}"]),
    "v3-ipv4": (["vrrp_version 3"],
                ["virtual_router_id 53", "advert_int 0.5",
                 "virtual_ipaddress {", "10.77.0.103/24", "10.77.0.104/24", "}"]),
    "v3-ipv4-unicast": (["vrrp_version 3"],
                        ["virtual_router_id 57", "advert_int 1",
                         "unicast_src_ip 10.77.0.1", "unicast_peer {", "10.77.0.2", "}",
                         "virtual_ipaddress {", "10.77.0.107/24", "}"]),
    # keepalived before 1.3.6 summed the group 224.0.0.18 into the checksum's
    # pseudo-header instead of the unicast destination; keepalived still accepts it.
    "v3-ipv4-unicast-oldsum": (["vrrp_version 3"],
                               ["virtual_router_id 58", "advert_int 1",
                                "old_unicast_checksum",
                                "unicast_src_ip 10.77.0.1", "unicast_peer {", "10.77.0.2", "}",
                                "virtual_ipaddress {", "10.77.0.108/24", "}"]),
    "v3-ipv6": (["vrrp_version 3"],
                ["virtual_router_id 54", "advert_int 1",
                 "virtual_ipaddress {", "fd77::100/64", "fd77::101/64", "}"]),
    "v3-ipv6-unicast": (["vrrp_version 3"],
                        ["virtual_router_id 56", "advert_int 1",
                         "unicast_src_ip fd77::1", "unicast_peer {", "fd77::2", "}",
                         "virtual_ipaddress {", "fd77::106/64", "}"]),
}


def sh(*cmd):
    subprocess.run(cmd, check=True)


def conf(global_defs, instance):
    g = "".join(f"    {line}\n" for line in global_defs)
    i = "".join(f"    {line}\n" for line in instance)
    return (f"global_defs {{\n    router_id hvvrrp\n{g}}}\n"
            f"vrrp_instance VI {{\n    state MASTER\n    interface va\n    priority 150\n"
            f"{i}}}\n")


def ip_packet(frame):
    """The IP packet carrying VRRP in an Ethernet frame (IPv4 cut to its total
    length), else None."""
    if len(frame) < 14:
        return None
    ethertype = int.from_bytes(frame[12:14], "big")
    pkt = frame[14:]
    if ethertype == 0x0800 and len(pkt) >= 20 and pkt[9] == IPPROTO_VRRP:
        return pkt[:int.from_bytes(pkt[2:4], "big")]
    if ethertype == 0x86DD and len(pkt) >= 40 and pkt[6] == IPPROTO_VRRP:
        return pkt[:40 + int.from_bytes(pkt[4:6], "big")]
    return None


def capture(ifname, out_first, out_prio0, pid_file):
    """Runs inside b: writes the first advert, waits for keepalived (the PID in
    pid_file, in a) to be stopped by the parent, writes the priority-0 advert."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((ifname, ETH_P_ALL))
    s.settimeout(15)
    got_first = False
    with open(pid_file, "w") as f:  # tells the parent we are listening
        f.write("ready\n")
    while True:
        frame, addr = s.recvfrom(65535)
        if addr[2] == PACKET_OUTGOING:
            continue
        pkt = ip_packet(frame)
        if pkt is None:
            continue
        vrrp = pkt[(pkt[0] & 0x0F) * 4:] if pkt[0] >> 4 == 4 else pkt[40:]
        if not got_first and vrrp[2] != 0:
            with open(out_first, "wb") as f:
                f.write(pkt)
            got_first = True
        elif got_first and vrrp[2] == 0:
            with open(out_prio0, "wb") as f:
                f.write(pkt)
            return


def wait_file(path, timeout=10):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {path}")
        time.sleep(0.05)


def scenario(name, out, work):
    global_defs, instance = SCENARIOS[name]
    cfg = os.path.join(work, f"{name}.conf")
    with open(cfg, "w") as f:
        f.write(conf(global_defs, instance))
    first, prio0 = os.path.join(out, name), os.path.join(out, name + "-prio0")
    ready = os.path.join(work, f"{name}.ready")
    cap = subprocess.Popen(["ip", "netns", "exec", NS_B, sys.executable,
                            os.path.abspath(__file__), "--capture", "vb", first, prio0, ready])
    wait_file(ready)
    pids = {k: os.path.join(work, f"{name}.{k}.pid") for k in ("main", "vrrp", "checkers")}
    keepalived = subprocess.Popen(
        ["ip", "netns", "exec", NS_A, "keepalived", "--dont-fork", "--log-console",
         "--no-syslog", "--vrrp", "--use-file", cfg, "--pid", pids["main"],
         "--vrrp_pid", pids["vrrp"], "--checkers_pid", pids["checkers"]],
        stdout=open(os.path.join(work, f"{name}.log"), "w"), stderr=subprocess.STDOUT)
    try:
        wait_file(first, timeout=15)
    finally:
        os.kill(keepalived.pid, signal.SIGTERM)
        keepalived.wait(10)
    cap.wait(15)
    print(f"{name}: {os.path.getsize(first)} bytes, {name}-prio0: {os.path.getsize(prio0)} bytes")


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "--capture":
        capture(*sys.argv[2:])
        return
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUT_DIR")
    out = os.path.abspath(sys.argv[1])
    os.makedirs(out, exist_ok=True)
    sh("ip", "netns", "add", NS_A)
    try:
        sh("ip", "netns", "add", NS_B)
        for ns in (NS_A, NS_B):
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0")
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", NS_A, "link", "add", "va", "type", "veth", "peer", "name", "vb",
           "netns", NS_B)
        for ns, dev, n in ((NS_A, "va", 1), (NS_B, "vb", 2)):
            sh("ip", "-n", ns, "addr", "add", f"10.77.0.{n}/24", "dev", dev)
            sh("ip", "-n", ns, "addr", "add", f"fd77::{n}/64", "dev", dev, "nodad")
            sh("ip", "-n", ns, "link", "set", dev, "up")
        time.sleep(0.5)  # the link-locals
        with tempfile.TemporaryDirectory(prefix=PREFIX) as work:
            for name in SCENARIOS:
                scenario(name, out, work)
    finally:
        for ns in (NS_A, NS_B):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
