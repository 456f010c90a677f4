#!/usr/bin/env python3
"""Runs a command with a fake journald: inside a private mount namespace
(`unshare -m`), a tmpfs hides /run/systemd, a datagram socket is bound at
/run/systemd/journal/socket, and the command's stderr is a pipe named in
JOURNAL_STREAM — as systemd does for a service with StandardError=journal.

usage: journal_capture.py SECONDS OUT.json -- COMMAND...
Runs COMMAND, sends it SIGTERM after SECONDS, and writes the journal entries
it sent (a list of {FIELD: value}) and its stderr to OUT.json."""
import json
import os
import signal
import socket
import subprocess
import sys
import time


def parse_entry(data: bytes) -> dict:
    """The journal native protocol: FIELD=value lines, or FIELD\\n<le64 size><value>\\n."""
    entry, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            entry[k.decode()] = v.decode(errors="replace")
            i = nl + 1
        else:
            size = int.from_bytes(data[nl + 1:nl + 9], "little")
            entry[line.decode()] = data[nl + 9:nl + 9 + size].decode(errors="replace")
            i = nl + 9 + size + 1
    return entry


def main() -> int:
    seconds, out = float(sys.argv[1]), sys.argv[2]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run/systemd"], check=True)
    os.makedirs("/run/systemd/journal")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("/run/systemd/journal/socket")
    sock.settimeout(0.05)
    rfd, wfd = os.pipe()
    st = os.fstat(wfd)
    env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
    proc = subprocess.Popen(cmd, stderr=wfd, env=env)
    os.close(wfd)
    entries, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            entries.append(parse_entry(sock.recv(65536)))
        except socket.timeout:
            pass
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=5)
    while True:
        try:
            entries.append(parse_entry(sock.recv(65536)))
        except socket.timeout:
            break
    stderr = os.read(rfd, 1 << 20).decode(errors="replace")
    with open(out, "w") as f:
        json.dump({"entries": entries, "stderr": stderr, "returncode": proc.returncode}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
