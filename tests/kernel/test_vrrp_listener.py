"""vrrp::Listener against real keepalived: what a raw VRRP socket receives in a namespace
where no keepalived runs.

keepalived runs as master in namespace `ka` on ha-ka, a veth whose peer ha-obs is in
namespace `obs`; the probe (tests/kernel/vrrp_probe.cc, $VRRP_PROBE) listens in `obs`.
A witness AF_PACKET socket on ha-obs shows the adverts were on the wire when the probe
got none. A second probe in `ka`, joined on ha-ka, shows that keepalived's own multicast
adverts do not come back to a listener beside it.
"""

import ctypes
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from helpers import wait_for
from havip_testlib.keepalived import Keepalived
from havip_testlib.proc import which

pytestmark = pytest.mark.usefixtures("kernel_ok")

REPO = Path(__file__).resolve().parents[2]
CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4

V4 = {"family": "4", "ka": "10.77.0.1", "obs": "10.77.0.2"}
V6 = {"family": "6", "ka": "fd77::1", "obs": "fd77::2"}


def probe_binary():
    path = Path(os.environ.get("VRRP_PROBE") or REPO / "build" / "tests" / "vrrp_probe")
    if not os.access(path, os.X_OK):
        pytest.fail(f"vrrp_probe {path} is not there: build it (ninja -C build) or set VRRP_PROBE")
    return path


def in_netns(name, fn):
    """fn() run by a thread inside the named namespace (setns changes only that thread's
    namespace); what it creates, e.g. a socket, stays in that namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    result = {}

    def run():
        fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                result["error"] = OSError(ctypes.get_errno(), "setns")
                return
            result["value"] = fn()
        except Exception as e:  # noqa: BLE001 - handed to the caller
            result["error"] = e
        finally:
            os.close(fd)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


class Witness:
    """Counts the VRRP packets received on an interface (AF_PACKET, in its namespace)."""

    def __init__(self, ns, ifname):
        self.sock = in_netns(ns, lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                                       socket.htons(ETH_P_ALL)))
        self.sock.bind((ifname, ETH_P_ALL))
        self.sock.setblocking(False)

    def count(self):
        n = 0
        while True:
            try:
                frame, addr = self.sock.recvfrom(65535)
            except BlockingIOError:
                return n
            if addr[2] == PACKET_OUTGOING or len(frame) < 14 + 40:
                continue
            ethertype = int.from_bytes(frame[12:14], "big")
            if (ethertype == 0x0800 and frame[14 + 9] == 112) or \
                    (ethertype == 0x86DD and frame[14 + 6] == 112):
                n += 1

    def close(self):
        self.sock.close()


class Probe:
    """vrrp_probe in a namespace: its JSON lines (with the time each was read), and
    join/leave commands on its stdin."""

    def __init__(self, binary, ns, family):
        self.proc = subprocess.Popen([str(binary), ns, family], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        wait_for(lambda: self.events("ready"), 5, what=self.describe)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), json.loads(line)))

    def describe(self):
        return "vrrp_probe output:\n" + "\n".join(json.dumps(j) for _, j in self.lines)

    def events(self, kind, since=0.0):
        return [j for t, j in self.lines if j["event"] == kind and t >= since]

    def adverts(self, vrid, since=0.0):
        return [j for j in self.events("advert", since) if j["vrid"] == vrid]

    def command(self, line, reply):
        """Sends `join IF` / `leave IF`; returns the probe's answer (joined / left)."""
        answer = self._send(line, reply)
        assert answer["event"] == reply, self.describe()
        return answer

    def failed(self, line):
        """Sends a command that must fail; returns the probe's reason."""
        answer = self._send(line, "error")
        assert answer["event"] == "error", self.describe()
        return answer["reason"]

    def _send(self, line, reply):
        n = len(self.lines)
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

        def answer():
            return next((j for _, j in self.lines[n:] if j["event"] in (reply, "error")), None)
        return wait_for(answer, 5, what=self.describe)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        err = self.proc.stderr.read()
        self._reader.join(5)
        return err


class VrrpKeepalived(Keepalived):
    """keepalived as the only master of one instance on ha-ka."""

    def __init__(self, ns, workdir, version, vrid, vips, unicast=None):
        super().__init__(f"vrid{vrid}", ns, workdir)
        self.version, self.vrid, self.vips, self.unicast = version, vrid, vips, unicast

    def write_config(self):
        unicast = ""
        if self.unicast:
            src, peer = self.unicast
            unicast = f"    unicast_src_ip {src}\n    unicast_peer {{\n        {peer}\n    }}\n"
        vips = "".join(f"        {v}\n" for v in self.vips)
        self.conf.write_text(f"""\
global_defs {{
    router_id ka
    vrrp_version {self.version}
}}
vrrp_instance VI_{self.vrid} {{
    state MASTER
    interface ha-ka
    virtual_router_id {self.vrid}
    priority 150
    advert_int 1
{unicast}    virtual_ipaddress {{
{vips}    }}
}}
""")

    def wait_master(self, timeout=10.0):
        wait_for(lambda: any("Entering MASTER STATE" in line for line in self.log_lines()),
                 timeout, what=lambda: "keepalived MASTER\n" + self.log_tail())

    def log_lines(self):
        try:
            return self.log.read_text(errors="replace").splitlines()
        except OSError:
            return []


@pytest.fixture
def pair(netns):
    """Namespaces ka and obs joined by the veth ha-ka / ha-obs (up, DAD off), with
    10.77.0.1/24, fd77::1/64 on ha-ka and 10.77.0.2/24, fd77::2/64 on ha-obs."""
    if which("keepalived") is None:
        pytest.skip("keepalived is not installed (Debian: apt-get install keepalived)")
    ka, obs = netns.create("ka", veths=(), lo_up=True), netns.create("obs", veths=(), lo_up=True)
    for ns in (ka, obs):
        for scope in ("default", "all"):
            ns.sysctl(f"net.ipv6.conf.{scope}.accept_dad", "0")
    ka.add_veth_to("ha-ka", "ha-obs", obs.name)
    for ns, dev, n in ((ka, "ha-ka", 1), (obs, "ha-obs", 2)):
        ns.add_addr(f"10.77.0.{n}/24", dev)
        ns.add_addr(f"fd77::{n}/64", dev, "nodad")
        ns.ip("link", "set", dev, "up")
    return ka, obs


@pytest.fixture
def run(pair, workdir):
    """Starts keepalived and probes; stops them all (by PID) afterwards."""
    started = []

    class Runner:
        def keepalived(self, *args, **kw):
            k = VrrpKeepalived(pair[0].name, workdir, *args, **kw)
            started.append(k)
            return k.start()

        def probe(self, ns, family):
            p = Probe(probe_binary(), ns.name, family)
            started.append(p)
            return p

    yield Runner()
    errors = []
    for thing in reversed(started):
        if isinstance(thing, Probe):
            err = thing.stop()
            if thing.proc.returncode != 0:
                errors.append(f"vrrp_probe exited {thing.proc.returncode}: {err}")
        else:
            thing.stop()
    assert not errors, errors


def ifindex(ns, dev):
    return json.loads(ns.ip("-j", "link", "show", dev).stdout)[0]["ifindex"]


def link_local(ns, dev):
    out = json.loads(ns.ip("-j", "-6", "addr", "show", "dev", dev).stdout)
    return next(a["local"] for link in out for a in link.get("addr_info", [])
                if a.get("scope") == "link")


@pytest.mark.parametrize("version,family,vips", [
    (2, V4, ["10.77.0.100/24", "10.77.0.101/24"]),
    (3, V6, ["fd77::100/64", "fd77::101/64"]),
], ids=["v2-ipv4", "v3-ipv6"])
def test_multicast_adverts_need_a_join(pair, run, version, family, vips):
    ka, obs = pair
    vrid = 50 + version
    probe = run.probe(obs, family["family"])
    # Another one beside keepalived, joined on its interface: it gets none of
    # keepalived's own adverts (keepalived sends with multicast loop off).
    own = run.probe(ka, family["family"])
    own.command("join ha-ka", "joined")
    peer = run.probe(obs, family["family"])
    witness = Witness(obs.name, "ha-obs")
    k = run.keepalived(version, vrid, vips)
    k.wait_master()

    # Nobody in obs is a member of the group: the kernel drops the adverts that are
    # on the wire before any socket sees them.
    witness.count()
    time.sleep(2.5)
    on_wire = witness.count()
    assert on_wire >= 2, f"keepalived sent {on_wire} adverts in 2.5 s\n{k.log_tail()}"
    assert probe.events("advert") == [], probe.describe()

    joined = probe.command("join ha-obs", "joined")
    assert joined["ifindex"] == ifindex(obs, "ha-obs") and joined["count"] == 1
    since = time.monotonic()
    wait_for(lambda: len(probe.adverts(vrid, since)) >= 2, 5, what=probe.describe)
    a = probe.adverts(vrid, since)[0]
    source = f"{family['ka']}/32" if family["family"] == "4" else f"{link_local(ka, 'ha-ka')}/128"
    full = "/32" if family["family"] == "4" else "/128"
    assert a == {"event": "advert", "ifindex": joined["ifindex"], "version": version,
                 "vrid": vrid, "priority": 150, "interval_ms": 1000, "source": source,
                 "addresses": [v.split("/")[0] + full for v in vips], "auth_type": 0}
    assert probe.events("bad") == [], probe.describe()

    # Reference-counted: a second join and one leave keep the membership.
    assert probe.command("join ha-obs", "joined")["count"] == 2
    assert probe.command("leave ha-obs", "left")["count"] == 1
    since = time.monotonic()
    wait_for(lambda: probe.adverts(vrid, since), 3, what=probe.describe)
    # The last leave drops it: nothing arrives any more.
    assert probe.command("leave ha-obs", "left")["count"] == 0
    time.sleep(0.2)  # what was queued before the leave
    since = time.monotonic()
    witness.count()
    time.sleep(2.2)
    assert witness.count() >= 2
    assert probe.adverts(vrid, since) == [], probe.describe()

    # Another socket's membership is enough: with another listener in obs joined on
    # ha-obs, the adverts reach this one again without a join of its own.
    peer.command("join ha-obs", "joined")
    since = time.monotonic()
    wait_for(lambda: probe.adverts(vrid, since), 3, what=probe.describe)

    # The master's last advert, when keepalived stops: priority 0.
    k.terminate()
    wait_for(lambda: any(a["priority"] == 0 for a in probe.adverts(vrid)), 5,
             what=probe.describe)
    assert own.events("advert") == [] and own.events("bad") == [], own.describe()


@pytest.mark.parametrize("family", [V4, V6], ids=["v2-ipv4", "v3-ipv6"])
def test_unicast_adverts_arrive_without_a_join(pair, run, family):
    ka, obs = pair
    version = 2 if family["family"] == "4" else 3
    vrid = 60 + version
    vip = "10.77.0.110/24" if family["family"] == "4" else "fd77::110/64"
    probe = run.probe(obs, family["family"])
    k = run.keepalived(version, vrid, [vip], unicast=(family["ka"], family["obs"]))
    k.wait_master()
    wait_for(lambda: len(probe.adverts(vrid)) >= 2, 5, what=probe.describe)
    a = probe.adverts(vrid)[0]
    full = "/32" if family["family"] == "4" else "/128"
    assert a["source"] == family["ka"] + full
    assert a["addresses"] == [vip.split("/")[0] + full]
    assert a["ifindex"] == ifindex(obs, "ha-obs")
    assert probe.events("joined") == [] and probe.events("bad") == [], probe.describe()


def test_join_errors(pair, run):
    """One IPv4 socket joins at most net.ipv4.igmp_max_memberships groups (20 by default,
    per namespace): one per watched interface. The error says so."""
    _, obs = pair
    obs.add_veth("x1")
    obs.sysctl("net.ipv4.igmp_max_memberships", "1")
    probe = run.probe(obs, "4")
    probe.command("join ha-obs", "joined")
    assert probe.failed("join x1") == (
        f"join 224.0.0.18 on ifindex {ifindex(obs, 'x1')}: No buffer space available "
        "(more groups than net.ipv4.igmp_max_memberships)")
    # Not counted: the next leave of x1 does nothing, ha-obs is still joined once.
    probe.command("leave x1", "left")
    assert probe.command("join ha-obs", "joined")["count"] == 2
