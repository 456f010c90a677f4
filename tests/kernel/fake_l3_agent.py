"""A fake Neutron L3 agent for havip's tests: the agent's side of Neutron's HA routers.

* `FakeL3Agent` is the unix-socket HTTP server the real agent runs at
  `<state_path>/keepalived-state-change` (neutron/agent/l3/ha.py,
  L3AgentKeepalivedStateChangeServer). It records every request (method, path,
  version, headers in their order and spelling, arrival time, the router's state
  file as it was at that moment, how it was answered) and answers per a mode that
  tests change at any time, for all routers or one:

      "200"    200 OK (what the real agent answers)
      "500"    500 Internal Server Error (any other status code works too)
      "hang"   never answers until `release()` or `stop()`
      "close"  closes the connection without answering

  `delay` (seconds) is waited before each "200"/"500"-style answer.

* `NeutronStatePath` is what the agent writes there: `ha_confs/<router_id>/keepalived.conf`
  the way Neutron does (ensure_tree 0755, then neutron_lib's replace_file: a temp file in
  the same directory renamed into place), the rmtree on router removal, and readers of the
  `state` file the monitor (havipd) writes.

* `keepalived_conf()` renders keepalived.conf after Neutron's KeepalivedConf (compare
  tests/unit/golden/keepalived/*.conf, which Neutron's own code generated).

* The `l3_agent` fixture is a factory: `l3_agent(state_path, mode="200")` -> a started
  FakeL3Agent, stopped at teardown. Import it into a test module to use it
  (`from fake_l3_agent import l3_agent  # noqa: F401`).

No module-level state: every agent owns its socket and threads.
"""

import json
import os
import shutil
import socket
import socketserver
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

SOCKET_NAME = "keepalived-state-change"
STATES = ("primary", "backup")


def random_router_id():
    """A router id as Neutron has them (a UUID4 string)."""
    return str(uuid.uuid4())


def ha_interface_name(port_id=None):
    """Neutron's HA interface name: 'ha-' + the first 11 characters of the HA port id."""
    return "ha-" + (port_id or str(uuid.uuid4()))[:11]


def port_name(prefix, port_id=None):
    """'qr-' / 'qg-' / 'sg-' + 11 characters of a port id, as Neutron names its devices."""
    return prefix + (port_id or str(uuid.uuid4()))[:11]


# --------------------------------------------------------------------- keepalived.conf

def keepalived_conf(ha_interface, vrid=1, advert_int=2, excluded=(), routes=(),
                    priority=50):
    """keepalived.conf text as neutron/agent/linux/keepalived.py writes it for an HA router.

    excluded: (cidr, dev[, scope]) entries of virtual_ipaddress_excluded (sorted by
    address, as Neutron does); routes: ready-made virtual_routes lines.
    """
    lines = ["global_defs {",
             "    notification_email_from neutron@openstack.local",
             "    router_id neutron",
             "}",
             f"vrrp_instance VR_{vrid} {{",
             "    state BACKUP",
             f"    interface {ha_interface}",
             f"    virtual_router_id {vrid}",
             f"    priority {priority}",
             "    garp_master_delay 60",
             "    nopreempt",
             f"    advert_int {advert_int}",
             "    track_interface {",
             f"        {ha_interface}",
             "    }",
             "    virtual_ipaddress {",
             f"        169.254.0.{vrid}/24 dev {ha_interface}",
             "    }"]
    if excluded:
        lines.append("    virtual_ipaddress_excluded {")
        for entry in sorted(excluded, key=lambda e: e[0]):
            cidr, dev = entry[0], entry[1]
            scope = f" scope {entry[2]}" if len(entry) > 2 and entry[2] else ""
            lines.append(f"        {cidr} dev {dev}{scope} no_track")
        lines.append("    }")
    if routes:
        lines.append("    virtual_routes {")
        lines += [f"        {r}" for r in routes]
        lines.append("    }")
    lines.append("}")
    return "\n".join(lines)  # Neutron writes no trailing newline


def signal_vip(vrid):
    return f"169.254.0.{vrid}/24"


# ------------------------------------------------------------------------- state_path

class NeutronStatePath:
    """A Neutron state_path as the L3 agent lays it out (NEUTRON.md, "Layout")."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    @property
    def ha_confs(self):
        return self.path / "ha_confs"

    @property
    def socket_path(self):
        return self.path / SOCKET_NAME

    def conf_dir(self, router_id):
        return self.ha_confs / router_id

    def conf_path(self, router_id):
        return self.conf_dir(router_id) / "keepalived.conf"

    def state_file(self, router_id):
        return self.conf_dir(router_id) / "state"

    def write_conf(self, router_id, text, mode=0o644):
        """Neutron's way: ensure_tree(conf_dir, 0755), then replace_file (temp file in the
        same directory, chmod, rename)."""
        d = self.conf_dir(router_id)
        d.mkdir(mode=0o755, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w+", dir=d, delete=False) as tmp:
            tmp.write(text)
        os.chmod(tmp.name, mode)
        os.rename(tmp.name, self.conf_path(router_id))

    def add_router(self, router_id, ha_interface, vrid=1, **conf):
        self.write_conf(router_id, keepalived_conf(ha_interface, vrid, **conf))

    def remove_router(self, router_id):
        """What HaRouter.disable_keepalived does after keepalived stopped: rmtree(conf_dir)."""
        shutil.rmtree(self.conf_dir(router_id), ignore_errors=False)

    def state(self, router_id):
        """The state file's content, None when it does not exist."""
        try:
            return self.state_file(router_id).read_text()
        except (FileNotFoundError, NotADirectoryError):
            return None


def neutron_havipd_config(state_path, run_dir, state_dir, hold_down_ms=0, manage_ipv6=False,
                          netns_dir=None, extra_daemon=None):
    """havip.toml for Neutron mode (paths may be Path or str)."""
    daemon = {"state_dir": str(state_dir), "run_dir": str(run_dir), "hold_down_ms": hold_down_ms,
              "control_socket": str(Path(run_dir) / "ctl.sock")}
    if netns_dir is not None:
        daemon["netns_dir"] = str(netns_dir)
    daemon.update(extra_daemon or {})
    lines = ["[daemon]"]
    for k, v in daemon.items():
        lines.append(f"{k} = {v if isinstance(v, int) else json.dumps(v)}")
    lines += ["", "[neutron]", f"state_path = {json.dumps(str(state_path))}",
              f"manage_ipv6 = {'true' if manage_ipv6 else 'false'}"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------- a conntrackd stand-in

# Plays conntrackd for Neutron's --enable_conntrackd (test_conntrackd.py, e2e
# test_neutron_compat.py): appends "ARGS state=STATE net:[INODE]" to conntrackd.calls
# beside the config it was given (-C), STATE being the router's state file beside it as it
# was when the command ran (havipd and the incumbent write it first). conntrackd.hang or
# conntrackd.fail beside the config makes it hang or exit 1.
CONNTRACKD_STANDIN = r"""#!/bin/sh
conf=; prev=
for a in "$@"; do [ "$prev" = "-C" ] && conf=$a; prev=$a; done
dir=${conf%/*}
state=$(cat "$dir/state" 2>/dev/null || echo none)
echo "$* state=$state $(readlink /proc/self/ns/net)" >> "$dir/conntrackd.calls"
[ -e "$dir/conntrackd.hang" ] && exec /bin/sleep 1000
if [ -e "$dir/conntrackd.fail" ]; then echo "stand-in: failing as told" >&2; exit 1; fi
exit 0
"""


def conntrackd_standin(directory):
    """The stand-in as `directory`/conntrackd (for PATH or an absolute binary)."""
    path = Path(directory) / "conntrackd"
    path.write_text(CONNTRACKD_STANDIN)
    path.chmod(0o755)
    return path


def conntrackd_calls(conf_dir):
    """The stand-in's records in conf_dir, in order."""
    f = Path(conf_dir) / "conntrackd.calls"
    return f.read_text().splitlines() if f.exists() else []


# ------------------------------------------------------------------------ the agent

@dataclass
class Request:
    seq: int
    t: float                      # time.monotonic() when the request head was read
    method: str
    path: str
    version: str
    headers: list                 # [(name, value)] as sent
    state_file: object = None     # ha_confs/<router>/state content at arrival (None: absent)
    answer: object = None         # status code sent, "close", "hang" (never answered), None
    t_answer: float = None
    body: bytes = b""
    extra: dict = field(default_factory=dict)

    def header(self, name):
        """The value of header `name` (case-insensitive); None when absent."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_count(self, name):
        return sum(1 for k, _ in self.headers if k.lower() == name.lower())

    @property
    def router(self):
        return self.header("X-Neutron-Router-Id")

    @property
    def state(self):
        return self.header("X-Neutron-State")

    @property
    def ok(self):
        return self.answer == 200

    def __str__(self):
        hdrs = ", ".join(f"{k}: {v}" for k, v in self.headers)
        return (f"#{self.seq} {self.method} {self.path} {self.version} [{hdrs}] "
                f"state_file={self.state_file!r} -> {self.answer}")


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeNeutronL3Agent/1"

    def log_message(self, fmt, *args):  # the base class needs a (host, port) address
        pass

    def _serve(self):
        agent = self.server.agent
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = agent._record(self, body)
        try:
            agent._answer(self, req)
        finally:
            agent._done(req)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _serve


class FakeL3Agent:
    """The L3 agent's keepalived-state-change server on a unix socket (see module doc)."""

    def __init__(self, socket_path, mode="200", state_path=None, delay=0.0):
        self.socket_path = Path(socket_path)
        # Where the state files are, to record each at arrival (default: the socket's dir).
        self.state_path = Path(state_path) if state_path else self.socket_path.parent
        self.mode = mode
        self.router_modes = {}
        self.delay = delay
        self.requests = []
        self.connections = 0           # accepted connections (requests or not)
        self.max_in_flight = {}        # router -> most requests open at once
        self._in_flight = {}
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._release = {}             # seq -> (Event, [answer])
        self._server = None
        self._thread = None
        self._stopping = threading.Event()

    # -- life cycle
    def start(self):
        if self.socket_path.exists() or self.socket_path.is_symlink():
            self.socket_path.unlink()
        self._stopping.clear()
        self._server = _Server(str(self.socket_path), _Handler, bind_and_activate=True)
        self._server.agent = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def running(self):
        return self._server is not None

    def stop(self):
        """Stops listening, removes the socket, lets hung requests go (unanswered)."""
        if self._server is None:
            return
        self._stopping.set()
        with self._lock:
            for ev, _ in self._release.values():
                ev.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self._server = None
        try:
            self.socket_path.unlink()
        except FileNotFoundError:
            pass

    # -- behaviour
    def set_mode(self, mode, router=None, delay=None):
        """Answer mode for every router (router=None) or for one router (overrides)."""
        with self._lock:
            if router is None:
                self.mode = mode
            elif mode is None:
                self.router_modes.pop(router, None)
            else:
                self.router_modes[router] = mode
            if delay is not None:
                self.delay = delay

    def release(self, answer=200, router=None):
        """Answers the hung requests (of `router`, or all) with `answer` (a status code
        or "close")."""
        with self._lock:
            for seq, (ev, box) in list(self._release.items()):
                req = self.requests[seq]
                if router is None or req.router == router:
                    box.append(answer)
                    ev.set()

    # -- server side
    def _record(self, handler, body):
        now = time.monotonic()
        router = handler.headers.get("X-Neutron-Router-Id")
        state_file = None
        extra = {}
        if router and "/" not in router and router not in (".", ".."):
            try:
                state_file = (self.state_path / "ha_confs" / router / "state").read_text()
            except OSError:
                state_file = None
            # What a conntrackd stand-in recorded before the request (test_conntrackd.py).
            calls = self.state_path / "ha_confs" / router / "conntrackd.calls"
            if calls.exists():
                extra["conntrackd_calls"] = calls.read_text().splitlines()
        with self._cond:
            req = Request(seq=len(self.requests), t=now, method=handler.command,
                          path=handler.path, version=handler.request_version,
                          headers=list(handler.headers.items()), state_file=state_file,
                          body=body, extra=extra)
            self.requests.append(req)
            n = self._in_flight.get(router, 0) + 1
            self._in_flight[router] = n
            self.max_in_flight[router] = max(self.max_in_flight.get(router, 0), n)
            self._cond.notify_all()
        return req

    def _done(self, req):
        with self._cond:
            self._in_flight[req.router] -= 1
            self._cond.notify_all()

    def _mode_for(self, req):
        with self._lock:
            return self.router_modes.get(req.router, self.mode), self.delay

    def _answer(self, handler, req):
        mode, delay = self._mode_for(req)
        if mode == "hang":
            ev, box = threading.Event(), []
            with self._lock:
                self._release[req.seq] = (ev, box)
            req.answer = "hang"
            ev.wait()
            with self._lock:
                self._release.pop(req.seq, None)
            if not box or self._stopping.is_set():
                handler.close_connection = True
                return
            mode = box[0]
            delay = 0
        if delay:
            time.sleep(delay)
        if mode == "close":
            req.answer = "close"
            req.t_answer = time.monotonic()
            handler.close_connection = True
            return
        status = int(mode)
        body = b"" if status == 200 else b"fake agent failure\n"
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "text/plain")
            handler.send_header("Content-Length", str(len(body)))
            handler.send_header("Connection", "close")
            handler.end_headers()
            if body:
                handler.wfile.write(body)
            handler.wfile.flush()
        except OSError:
            req.extra["write_error"] = True
        req.answer = status
        req.t_answer = time.monotonic()
        handler.close_connection = True

    # -- what the agent saw
    def all(self, router=None):
        with self._lock:
            reqs = list(self.requests)
        return [r for r in reqs if router is None or r.router == router]

    def delivered(self, router=None):
        """Requests answered 200 (the states the agent took), in arrival order."""
        return [r for r in self.all(router) if r.ok]

    def states(self, router):
        """X-Neutron-State of the delivered requests of `router`, in order."""
        return [r.state for r in self.delivered(router)]

    def last_state(self, router):
        d = self.delivered(router)
        return d[-1].state if d else None

    def in_flight(self, router=None):
        with self._lock:
            if router is None:
                return sum(self._in_flight.values())
            return self._in_flight.get(router, 0)

    def wait(self, predicate, timeout=5.0, what="", log=None):
        """Waits (re-checking on every request and at least every 50 ms) until
        predicate(self) is truthy; returns its value or raises AssertionError with what
        the agent recorded (and `log()` when given)."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self)
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                extra = ("\n" + log()) if log else ""
                raise AssertionError(f"fake L3 agent: timed out after {timeout} s waiting for "
                                     f"{what}\n{self.describe()}{extra}")
            with self._cond:
                self._cond.wait(min(left, 0.05))

    def wait_state(self, router, state, timeout=5.0, log=None, since=0):
        """Waits until the last delivered request of `router` (from request index `since`
        on) carries `state`; returns that Request."""
        def last(agent):
            d = [r for r in agent.delivered(router) if r.seq >= since]
            return d[-1] if d and d[-1].state == state else None
        return self.wait(last, timeout, f"{state!r} delivered for router {router}", log)

    def wait_requests(self, router, n, timeout=5.0, log=None):
        """Waits for at least n requests (answered or not) of `router`; returns them."""
        return self.wait(lambda a: (lambda r: r if len(r) >= n else None)(a.all(router)),
                         timeout, f"{n} requests for router {router}", log)

    def describe(self):
        reqs = self.all()
        head = f"--- fake L3 agent at {self.socket_path}: {len(reqs)} requests ---"
        return "\n".join([head] + [f"  {r.t:.3f} {r}" for r in reqs])


def probe(socket_path, router_id, state, timeout=2.0):
    """One request the way neutron-keepalived-state-change sends it (for self-tests)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(str(socket_path))
        s.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Neutron-Router-Id: {router_id}\r\n"
                   f"X-Neutron-State: {state}\r\nConnection: close\r\n\r\n").encode())
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace")
    finally:
        s.close()


@pytest.fixture
def l3_agent():
    """Factory: l3_agent(state_path, mode="200", start=True, **kw) -> FakeL3Agent at
    <state_path>/keepalived-state-change. Every agent is stopped at teardown."""
    agents = []

    def make(state_path, mode="200", start=True, **kw):
        sp = state_path.path if isinstance(state_path, NeutronStatePath) else Path(state_path)
        agent = FakeL3Agent(sp / SOCKET_NAME, mode=mode, state_path=sp, **kw)
        agents.append(agent)
        if start:
            agent.start()
        return agent

    yield make
    for a in agents:
        a.stop()
