#!/usr/bin/env python3
"""bench/vrrp_observe.py: what observe_vrrp costs havipd, per router (docs/BENCHMARKS.md).

Two namespaces joined by a veth pair: havipd watches N routers on one interface of the
first (VRIDs 1..N, one VIP each, track_speaker = false); a sender in the second
namespace plays the peers, one VRRPv2 advert per router per --interval seconds (the
master's adverts a backup hears all day). Measured over --seconds each, from
/proc/<havipd>/stat and status: havipd's CPU time, its wake-ups (voluntary context
switches) and its RSS, with observe_vrrp off and on.

Run as root:  python3 bench/vrrp_observe.py --havipd build/src/havipd [--routers 200]
Everything is named hvbvrrp-<pid>-* and removed again; only processes it started are
ended, by PID.
"""

import argparse
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PREFIX = f"hvbvrrp-{os.getpid()}-"
NS_A, NS_B = PREFIX + "a", PREFIX + "b"


def sh(*argv):
    subprocess.run(argv, check=True, capture_output=True)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def advert(vrid, vip):
    body = struct.pack("!BBBBBBH", 0x21, vrid, 100, 1, 0, 1, 0) + socket.inet_aton(vip) + b"\0" * 8
    c = checksum(body)
    return body[:6] + struct.pack("!H", c) + body[8:]


def sender(n, interval):
    """Runs inside the peer namespace (`ip netns exec`), until killed."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("10.98.0.2"))
    packets = [advert(i + 1, vip_of(i)) for i in range(n)]
    while True:
        t0 = time.monotonic()
        for p in packets:
            s.sendto(p, ("224.0.0.18", 0))
            time.sleep(interval / n / 2)
        time.sleep(max(0.0, interval - (time.monotonic() - t0)))


def vip_of(i):
    return f"10.97.{i // 250}.{i % 250 + 1}"


def proc_figures(pid):
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    cpu = (int(f[11]) + int(f[12])) / tck
    status = Path(f"/proc/{pid}/status").read_text()
    vcs = sum(int(l.split()[1]) for l in status.splitlines() if l.startswith("voluntary_ctxt"))
    rss = next(int(l.split()[1]) for l in status.splitlines() if l.startswith("VmRSS"))
    return cpu, vcs, rss


def run(havipd, n, observe, seconds, interval, workdir):
    conf = workdir / f"havip-{observe}.toml"
    lines = ["[daemon]", f'state_dir = "{workdir}/state"', f'run_dir = "{workdir}/run"',
             f'control_socket = "{workdir}/ctl.sock"', f"observe_vrrp = {str(observe).lower()}",
             "track_speaker = false"]
    for i in range(n):
        lines += ["", "[[router]]", f'name = "r{i + 1}"', f'namespace = "{NS_A}"',
                  'interface = "veth-a"', f'vip = "{vip_of(i)}/32"', f"vrid = {i + 1}",
                  "advert_interval_ms = 1000", "priority = 100"]
    conf.write_text("\n".join(lines) + "\n")
    log = open(workdir / f"havipd-{observe}.log", "w")
    d = subprocess.Popen([havipd, "--config", str(conf), "--log-level", "warn"],
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        time.sleep(5)  # read, decided, state files written, readers joined
        c0, v0, _ = proc_figures(d.pid)
        time.sleep(seconds)
        c1, v1, rss = proc_figures(d.pid)
    finally:
        d.send_signal(signal.SIGTERM)
        d.wait(10)
        log.close()
    return c1 - c0, v1 - v0, rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--havipd")
    ap.add_argument("--routers", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--send", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.send:
        return sender(a.routers, a.interval)
    if not 1 <= a.routers <= 255:
        sys.exit("--routers: 1..255 (VRIDs on one interface)")
    workdir = Path(tempfile.mkdtemp(prefix=PREFIX))
    peer = None
    try:
        sh("ip", "netns", "add", NS_A)
        sh("ip", "netns", "add", NS_B)
        sh("ip", "-n", NS_A, "link", "add", "veth-a", "type", "veth", "peer", "name", "veth-b",
           "netns", NS_B)
        sh("ip", "-n", NS_A, "addr", "add", "10.98.0.1/24", "dev", "veth-a")
        sh("ip", "-n", NS_B, "addr", "add", "10.98.0.2/24", "dev", "veth-b")
        for ns, dev in ((NS_A, "veth-a"), (NS_B, "veth-b")):
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        peer = subprocess.Popen(["ip", "netns", "exec", NS_B, sys.executable, __file__, "--send",
                                 "--routers", str(a.routers), "--interval", str(a.interval)])
        print(f"{a.routers} routers, one advert each per {a.interval:g} s from a peer, "
              f"{a.seconds:g} s measured")
        for observe in (False, True):
            cpu, wakeups, rss = run(a.havipd, a.routers, observe, a.seconds, a.interval,
                                    workdir)
            adverts = a.routers * a.seconds / a.interval if observe else 0
            per = f", {cpu / adverts * 1e6:.1f} µs CPU per advert" if adverts else ""
            print(f"observe_vrrp={str(observe).lower():5}  CPU {cpu / a.seconds * 100:.2f} %"
                  f" ({cpu * 1000 / a.seconds / a.routers:.3f} ms/s per router{per}),"
                  f" {wakeups / a.seconds:.1f} wake-ups/s, RSS {rss / 1024:.1f} MiB")
    finally:
        if peer:
            peer.kill()
            peer.wait()
        for ns in (NS_A, NS_B):
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True)
        if not os.environ.get("KEEP"): subprocess.run(["rm", "-rf", str(workdir)])


if __name__ == "__main__":
    main()
