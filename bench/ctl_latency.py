#!/usr/bin/env python3
"""havipctl status latency, as a client sees it: connect to havipd's control
socket, send one status request, read the whole answer. Prints a ROW line
(bench/run's table format) with p50 / p99 / max over N requests.

    bench/ctl_latency.py SOCKET N LABEL
"""
import json
import socket
import statistics
import sys
import time


def one(path):
    start = time.perf_counter_ns()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(b'{"command": "status"}\n')
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    answer = json.loads(data)
    if answer.get("ok") is False or "routers" not in json.dumps(answer):
        raise SystemExit(f"unexpected answer: {data[:200]!r}")
    return (time.perf_counter_ns() - start) / 1e6


def main():
    path, n, label = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    times = []
    for _ in range(n):
        times.append(one(path))
        time.sleep(0.005)
    times.sort()
    p50 = statistics.median(times)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"ROW\tchatty child\thavipctl status answered, {label}: p50 / p99 / max"
          f"\t{p50:.2f} / {p99:.2f} / {times[-1]:.2f} ms\t-\t-", flush=True)


if __name__ == "__main__":
    main()
