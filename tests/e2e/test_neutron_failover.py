"""e2e, Neutron drop-in mode: two network nodes, one HA router, real keepalived, one havipd
per node, a fake L3 agent per node.

Each node has its own Neutron state_path with ha_confs/<router_id>/keepalived.conf as the L3
agent writes it (rendered by Debian's neutron code when installed, else the same template),
its own view of the router namespace named qrouter-<router_id> — the same router id on both
nodes, as in Neutron; since one host has one /run/netns, each node's havipd gets its own
`netns_dir` in which qrouter-<router_id> is a bind mount of that node's namespace (the real
namespaces are havipe-<pid>-node1/-node2, so the tier's clean-up finds them) — keepalived
started in that namespace with that keepalived.conf (advert_int 1 for speed; Neutron's
default is 2), and a fake L3 agent at <state_path>/keepalived-state-change.

Checked: both nodes start backup and notify it; the election makes exactly one primary;
SIGTERM to the primary's keepalived moves the role (state files and the agents' recorded
notifications, in order, with Neutron's headers, each sent after its state file was
written); a respawned keepalived stays backup (nopreempt) and nothing is notified; a second
failover moves the role back. A sampler checks that the two state files never say primary
at the same time. The audit stays quiet through all of it, and reports the primary's gateway
address (and the default route through it) once they are removed behind keepalived's back.
"""

import json
import threading
import time

import pytest

from e2e_lib import (PREFIX, Havipd, Keepalived, Topology, neutron_keepalived_conf, run,
                     wait_for)
from havip_testlib.tier import havipctl_binary
from fake_l3_agent import (FakeL3Agent, NeutronStatePath, ha_interface_name,
                           neutron_havipd_config, port_name, random_router_id)

ADVERT_INT = 1
VRID = 1
VIP = f"169.254.0.{VRID}"
NODES = ("node1", "node2")


class NeutronKeepalived(Keepalived):
    """keepalived on the L3 agent's own keepalived.conf (ha_confs/<router_id>/), with its
    pid files where Neutron's KeepalivedManager puts them (since Neutron 15.0.0):
    ha_confs/<router_id>.pid.keepalived and .pid.keepalived-vrrp, next to the router
    directories; havipd watches the VRRP child through the latter."""

    def __init__(self, label, ns, workdir, sp, router_id):
        super().__init__(label, ns, workdir)
        self.conf = sp.conf_path(router_id)
        self.files["main"] = sp.ha_confs / f"{router_id}.pid.keepalived"
        self.files["vrrp"] = sp.ha_confs / f"{router_id}.pid.keepalived-vrrp"

    def write_config(self):
        pass  # written by the agent (the test), as Neutron does


class NetworkNode:
    def __init__(self, label, real_ns, workdir, havipd_bin):
        self.label = label
        self.ns = real_ns                      # the namespace's name in /run/netns
        self.dir = workdir / label
        self.sp = NeutronStatePath(self.dir / "neutron")
        self.netns_dir = self.dir / "netns"    # this node's /run/netns
        self.netns_dir.mkdir(parents=True)
        self.mounts = []
        self.agent = FakeL3Agent(self.sp.socket_path, state_path=self.sp.path)
        self.havipd = Havipd(havipd_bin, self.dir, label="havipd")
        self.keepalived = []
        self.ha = ha_interface_name()          # each node's HA port is its own

    def expose(self, name):
        """<netns_dir>/<name> becomes this node's router namespace (a bind mount, as
        `ip netns add` makes one)."""
        target = self.netns_dir / name
        target.touch()
        run("mount", "--bind", f"/run/netns/{self.ns}", target)
        self.mounts.append(target)

    def start_havipd(self):
        self.havipd.write_raw_config(neutron_havipd_config(
            self.sp.path, self.havipd.dir / "run", self.havipd.dir / "state", hold_down_ms=0,
            netns_dir=self.netns_dir,
            # The audit often and with a short grace: it must stay quiet through every
            # failover below (the noise check) and see the removed gateway address.
            extra_daemon={"audit_interval_ms": 1000, "audit_grace_ms": 3000}))
        self.havipd.start()

    def start_keepalived(self, router_id):
        k = NeutronKeepalived(f"{self.label}-{len(self.keepalived) + 1}", self.ns, self.dir,
                              self.sp, router_id)
        self.keepalived.append(k)
        return k.start()

    def state(self, router_id):
        return self.sp.state(router_id)


class NeutronPair:
    def __init__(self, havipd_bin, workdir):
        self.workdir = workdir
        self.topo = Topology(workdir, PREFIX)
        self.router_id = random_router_id()
        self.qr = port_name("qr-")   # one Neutron port, the same on both nodes
        self.qg = port_name("qg-")
        self.nodes = {}
        self.havipd_bin = havipd_bin
        self.notes = []
        self.problems = []
        self.conf_how = None
        self.t0 = time.monotonic()

    def note(self, text):
        self.notes.append(f"{time.monotonic() - self.t0:7.3f}s  {text}")

    def build(self):
        t = self.topo
        t.add_ns("sw")
        sw = t.netns["sw"]
        sw.add_bridge("br-ha")
        for i, label in enumerate(NODES, start=1):
            ns = t.add_ns(label)
            node = NetworkNode(label, ns, self.workdir, self.havipd_bin)
            self.nodes[label] = node
            sw.add_veth_to(f"sw-ha{i}", node.ha, ns)
            t.ip(label, "addr", "add", f"169.254.192.{i}/18", "dev", node.ha)
            for dev in (self.qr, self.qg):
                t.ip(label, "link", "add", dev, "type", "veth", "peer", "name", dev + "p")
            for dev in (node.ha, self.qr, self.qr + "p", self.qg, self.qg + "p"):
                t.ip(label, "link", "set", dev, "up")
            sw.bridge_port(f"sw-ha{i}", "br-ha")
            node.expose(f"qrouter-{self.router_id}")
            text, self.conf_how = neutron_keepalived_conf(
                node.ha, VRID, advert_int=ADVERT_INT,
                excluded=[("10.0.0.1/24", self.qr, None),
                          ("203.0.113.10/24", self.qg, None),
                          ("fe80::f816:3eff:fe00:1/64", self.qr, "link")],
                routes=[("0.0.0.0/0", "203.0.113.1", self.qg)])
            node.sp.write_conf(self.router_id, text)
        t.wait_carrier()
        self.note(f"nodes built; router {self.router_id}; keepalived.conf by {self.conf_how}")

    def states(self):
        return {n: node.state(self.router_id) for n, node in self.nodes.items()}

    def has_vip(self, label):
        return self.topo.has_addr(label, self.nodes[label].ha, VIP)

    def delivered(self, label):
        return self.nodes[label].agent.states(self.router_id)

    def diagnostics(self):
        out = ["--- steps ---", *self.notes]
        for n, node in self.nodes.items():
            out.append(f"--- {n}: havipd ---")
            out += node.havipd.lines
            out.append(node.agent.describe())
            for k in node.keepalived:
                out.append(f"--- {n}: keepalived {k.router} (last lines) ---")
                out.append(k.log_tail(30))
        return "\n".join(out)

    def close(self):
        for node in self.nodes.values():
            problem = node.havipd.teardown(timeout=5.0)
            if problem:
                self.problems.append(problem.splitlines()[0])
        for node in self.nodes.values():
            for k in node.keepalived:
                try:
                    k.stop()
                except Exception as e:  # noqa: BLE001 - teardown goes on
                    self.problems.append(f"stopping keepalived {k.router}: {e}")
            node.agent.stop()
        for node in self.nodes.values():
            for m in node.mounts:
                p = run("umount", m, check=False)
                if p.returncode != 0:
                    run("umount", "-l", m, check=False)
                    self.problems.append(f"umount {m}: {p.stderr.strip()}")
        (self.workdir / "steps.log").write_text(self.diagnostics() + "\n")
        killed = self.topo.cleanup()
        if killed:
            self.problems.append(f"processes left in the namespaces (killed): {killed}")


class Sampler:
    """Reads both state files every few ms; records every moment both said primary."""

    def __init__(self, pair):
        self.pair = pair
        self.both_primary = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            s = self.pair.states()
            self.samples += 1
            if list(s.values()).count("primary") > 1:
                self.both_primary.append((time.monotonic() - self.pair.t0, s))
            time.sleep(0.003)

    def stop(self):
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def pair(e2e_ok, havipd_bin, workdir):
    p = NeutronPair(havipd_bin, workdir)
    try:
        yield p
    finally:
        p.close()
    assert not p.problems, "teardown: " + "; ".join(p.problems)


def audit(node):
    """The router's audit findings in `havipctl status --json`, as "KIND WHAT"."""
    out = run(str(havipctl_binary()), "--socket", str(node.havipd.dir / "run" / "ctl.sock"),
              "status", "--json").stdout
    (router,) = json.loads(out)["routers"]
    return sorted(f"{f['finding']} {f['what']}" for f in router["audit"])


def check_requests(pair):
    """Every request each agent got is what neutron-keepalived-state-change sends, sent
    after the state file held that state."""
    for label, node in pair.nodes.items():
        for req in node.agent.all():
            assert (req.method, req.path) == ("GET", "/"), f"{label}: {req}"
            assert req.router == pair.router_id, f"{label}: {req}"
            assert req.state in ("primary", "backup"), f"{label}: {req}"
            assert (req.header("Connection") or "").lower() == "close", f"{label}: {req}"
            assert req.state_file == req.state, \
                f"{label}: state file was {req.state_file!r} when {req} arrived"
            assert req.ok, f"{label}: {req}"


def test_neutron_failover_two_nodes(pair, capsys):
    p = pair
    rid = p.router_id
    try:
        p.build()
        for node in p.nodes.values():
            node.agent.start()
            node.start_havipd()
        p.note("agents and havipd ready on both nodes")
        for label, node in p.nodes.items():
            node.agent.wait_state(rid, "backup", log=p.diagnostics)
        assert p.states() == {"node1": "backup", "node2": "backup"}
        sampler = Sampler(p)

        # --- election: node1's keepalived first, node2's 1.5 s later (started together,
        # two equal-priority keepalived may both be master for a moment, which only a
        # hold-down absorbs; here it is 0, as the incumbent has none) ------------------
        p.nodes["node1"].start_keepalived(rid)
        time.sleep(1.5)
        p.nodes["node2"].start_keepalived(rid)
        p.note("keepalived started on both nodes")

        def elected():
            s = p.states()
            if sorted(s.values()) == ["backup", "primary"]:
                return next(n for n, v in s.items() if v == "primary")
            return None
        first = wait_for(elected, timeout=15, interval=0.02,
                         what=lambda: f"an election (states {p.states()})\n" + p.diagnostics())
        second = next(n for n in NODES if n != first)
        p.note(f"elected: {first}")
        p.nodes[first].agent.wait_state(rid, "primary", log=p.diagnostics)
        assert p.has_vip(first) and not p.has_vip(second)
        time.sleep(1.0)  # a few adverts: the backup's keepalived is settled
        assert p.delivered(first) == ["backup", "primary"], p.diagnostics()
        assert p.delivered(second) == ["backup"], p.diagnostics()

        # --- failover: SIGTERM to the primary's keepalived ---------------------------------
        t_term = time.monotonic()
        p.nodes[first].keepalived[-1].terminate()
        p.note(f"SIGTERM to keepalived on {first}")
        req_new = p.nodes[second].agent.wait_state(rid, "primary", timeout=10,
                                                   log=p.diagnostics)
        p.nodes[first].agent.wait_state(rid, "backup", timeout=10, log=p.diagnostics)
        takeover_ms = (req_new.t - t_term) * 1000
        p.note(f"{second} primary delivered {takeover_ms:.0f} ms after SIGTERM")
        p.nodes[first].keepalived[-1].proc.wait(10)
        assert p.states() == {first: "backup", second: "primary"}, p.diagnostics()
        assert p.has_vip(second) and not p.has_vip(first)

        # --- the agent's process monitor respawns keepalived: it stays backup (nopreempt) --
        p.nodes[first].start_keepalived(rid)
        p.note(f"keepalived respawned on {first}")
        time.sleep(3 * ADVERT_INT + 0.5)
        assert p.states() == {first: "backup", second: "primary"}, p.diagnostics()
        assert p.delivered(first) == ["backup", "primary", "backup"], p.diagnostics()
        assert p.delivered(second) == ["backup", "primary"], p.diagnostics()

        # --- and back -------------------------------------------------------------------
        t_term2 = time.monotonic()
        p.nodes[second].keepalived[-1].terminate()
        p.note(f"SIGTERM to keepalived on {second}")
        req_back = p.nodes[first].agent.wait_state(rid, "primary", timeout=10,
                                                   log=p.diagnostics)
        p.nodes[second].agent.wait_state(rid, "backup", timeout=10, log=p.diagnostics)
        back_ms = (req_back.t - t_term2) * 1000
        p.nodes[second].keepalived[-1].proc.wait(10)
        time.sleep(0.5)
        sampler.stop()

        assert p.states() == {first: "primary", second: "backup"}, p.diagnostics()
        assert p.has_vip(first) and not p.has_vip(second)
        assert p.delivered(first) == ["backup", "primary", "backup", "primary"], \
            p.diagnostics()
        assert p.delivered(second) == ["backup", "primary", "backup"], p.diagnostics()
        check_requests(p)
        assert not sampler.both_primary, \
            f"both nodes primary at once: {sampler.both_primary[:5]}\n" + p.diagnostics()
        for label, node in p.nodes.items():
            # (pid files taken for routers; info lines about keepalived's own pid file
            # while it is not started yet are expected)
            noise = [line for line in node.havipd.lines
                     if (".pid" in line and " info " not in line) or " error " in line
                     or " warn" in line]
            assert not noise, f"{label}: havipd logged\n" + "\n".join(noise)
        # The nodes' havipd saw exactly keepalived's transitions.
        for label, want in ((first, [("unknown", "backup"), ("backup", "primary"),
                                     ("primary", "backup"), ("backup", "primary")]),
                            (second, [("unknown", "backup"), ("backup", "primary"),
                                      ("primary", "backup")])):
            got = [t[1:3] for t in p.nodes[label].havipd.transitions(rid)]
            assert got == want, f"{label}: transitions {got}\n" + p.diagnostics()
            assert audit(p.nodes[label]) == [], p.diagnostics()

        # --- the audit: the primary's gateway address removed behind keepalived's back
        # (the kernel drops the default route through it): a black hole, reported ------
        p.topo.ip(first, "addr", "del", "203.0.113.10/24", "dev", p.qg)
        p.note(f"gateway address removed on {first}")
        want = [f"missing address 203.0.113.10/24 dev {p.qg}",
                f"missing route default via 203.0.113.1 dev {p.qg}"]
        wait_for(lambda: audit(p.nodes[first]) == want, timeout=10,
                 what=lambda: f"the audit on {first}: {audit(p.nodes[first])}")
        assert audit(p.nodes[second]) == []
        wait_for(lambda: any(f"audit: primary is missing address 203.0.113.10/24" in line
                             for line in p.nodes[first].havipd.lines), timeout=5,
                 what="the audit's log line")
    except AssertionError as e:
        raise AssertionError(f"{e}\n{p.diagnostics()}" if "--- steps ---" not in str(e)
                             else str(e)) from None
    with capsys.disabled():
        print(f"\n  neutron e2e ({p.conf_how} keepalived.conf): SIGTERM -> new primary "
              f"notified {takeover_ms:.0f} ms, back {back_ms:.0f} ms; "
              f"{sampler.samples} state samples, never two primaries")
