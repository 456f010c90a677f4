#!/usr/bin/env python3
"""Stands in for the Neutron L3 agent's end of neutron-keepalived-state-change.

The incumbent monitor writes its state file, then POSTs to the agent over the unix
socket <state_path>/keepalived-state-change and raises when the answer is not 200
(which wedges its reading thread). This answers 200 to every request, like the agent,
and logs "router state" per request so the bench can see the notifications arrived.

usage: fake_l3_agent.py SOCKET_PATH
"""
import os
import socketserver
import sys


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        headers = {}
        while True:
            line = self.rfile.readline()
            if not line or line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if length:
            self.rfile.read(length)
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        print(headers.get("x-neutron-router-id", "?"), headers.get("x-neutron-state", "?"),
              flush=True)


def main():
    path = sys.argv[1]
    if os.path.exists(path):
        os.unlink(path)
    with socketserver.UnixStreamServer(path, Handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
