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
"sent by whatever sits at the other end of that veth". The decoding is
tests/lib/havip_testlib/packets.py's (shared with bench/ra_gap.py).

It exits on SIGTERM or when stdin closes. No third-party modules: the e2e tier does not
need tcpdump.
"""

import json
import os
import select
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))  # havip_testlib

from havip_testlib.packets import decode_frame, packet_socket, receive  # noqa: E402

KINDS = ("ra", "vrrp")  # what the e2e tier looks at


def main(ifnames):
    socks = {}
    for name in ifnames:
        s = packet_socket(name)
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
            frame = receive(s)
            now = time.monotonic()
            record = decode_frame(frame) if frame is not None else None
            if record is not None and record["kind"] in KINDS:
                record = {"t": now, "if": name, **record}
                out.write(json.dumps(record) + "\n")
                out.flush()
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: ra_capture.py IFNAME...")
    sys.exit(main(sys.argv[1:]))
