"""Neutron drop-in mode against the real kernel and a fake L3 agent (NEUTRON.md, DESIGN.md
§3.10): routers discovered from <state_path>/ha_confs/<router_id>/keepalived.conf, watched
in qrouter-<router_id> (or snat-<router_id>), the state file written the incumbent's way and
the L3 agent told over <state_path>/keepalived-state-change exactly like
neutron-keepalived-state-change does.

Namespaces are named as Neutron names them (qrouter-<uuid>, snat-<uuid>, random uuids);
every one created is recorded and deleted. The fake agent (fake_l3_agent.py) records each
request with the state file as it was when the request arrived, so "the state file is
written before the notification" is checked too. Every wait polls with a deadline.
"""

import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from fake_l3_agent import (NeutronStatePath, ha_interface_name, keepalived_conf, l3_agent,  # noqa: F401
                           neutron_havipd_config, port_name, random_router_id, signal_vip)
from fault_helpers import StoppedThreads, threads_named
from helpers import (NETNS_DIR, alive, cmdline, find_processes, havipctl_binary,  # noqa: F401
                     netns_inode_of, parent_pid, wait_for)

pytestmark = pytest.mark.usefixtures("kernel_ok")

CREATED = []  # every namespace name this module created (qrouter-/snat-<uuid>)


@pytest.fixture(scope="module", autouse=True)
def no_namespace_left():
    yield
    left = [n for n in CREATED if (NETNS_DIR / n).exists()]
    for n in left:
        os.system(f"ip netns del {n} 2>/dev/null")
    assert not left, f"namespaces left behind: {left}"


class Router:
    """One Neutron HA router on this node: its namespace(s), HA interface and signal VIP."""

    def __init__(self, node, vrid, snat=False, qrouter=True, ports=False):
        self.node = node
        self.id = random_router_id()
        self.ha = ha_interface_name()
        self.qg = port_name("qg-")  # gateway and internal port (created when `ports`)
        self.qr = port_name("qr-")
        self.vrid = vrid
        self.vip = signal_vip(vrid)
        self.qrouter = self._ns(f"qrouter-{self.id}", ports) if qrouter else None
        self.snat = self._ns(f"snat-{self.id}") if snat else None

    def _ns(self, name, ports=False):
        CREATED.append(name)
        ns = self.node.netns.create(name=name, veths=(self.ha,))
        if ports:
            ns.sysctl("net.ipv6.conf.default.accept_dad", 0)  # usable link-locals at once
            ns.add_veth(self.qg)
            ns.add_veth(self.qr)
        return ns

    def add_snat(self):
        self.snat = self._ns(f"snat-{self.id}")
        return self.snat

    @property
    def ns(self):
        """The namespace the VIP counts in (snat- when it exists, as DVR-HA)."""
        return self.snat or self.qrouter

    def add_vip(self, ns=None):
        (ns or self.ns).add_addr(self.vip, self.ha)

    def del_vip(self, ns=None):
        (ns or self.ns).del_addr(self.vip, self.ha)

    def conf(self, **kw):
        return keepalived_conf(self.ha, self.vrid, **kw)

    def write_conf(self, text=None):
        self.node.sp.write_conf(self.id, text if text is not None else self.conf())

    def state(self):
        return self.node.sp.state(self.id)


class Node:
    """One network node: a Neutron state_path, a fake L3 agent and a havipd in Neutron mode."""

    def __init__(self, netns, agent_factory, havipd, workdir):
        self.netns = netns
        self._agent_factory = agent_factory
        self._havipd_factory = havipd
        self.workdir = workdir
        self.sp = NeutronStatePath(workdir / "neutron")
        self.agent = None
        self.d = None
        self._vrid = 0

    def router(self, vip=False, conf=True, **kw):
        self._vrid += 1
        r = Router(self, self._vrid, **kw)
        if vip:
            r.add_vip()
        if conf:
            r.write_conf()
        return r

    def start_agent(self, mode="200", **kw):
        self.agent = self._agent_factory(self.sp, mode=mode, **kw)
        return self.agent

    def start_havipd(self, manage_ipv6=False, **kw):
        d = self._havipd_factory(start=False)
        d.write_raw_config(neutron_havipd_config(
            self.sp.path, d.dir / "run", d.dir / "state", hold_down_ms=0,
            manage_ipv6=manage_ipv6))
        d.start(**kw)
        self.d = d
        return d

    def log(self):
        parts = []
        if self.d is not None:
            parts.append(self.d.log_text())
        if self.agent is not None:
            parts.append(self.agent.describe())
        return "\n".join(parts)

    def wait_state(self, r, value, timeout=5.0):
        wait_for(lambda: r.state() == value, timeout,
                 what=lambda: f"state file of {r.id} == {value!r} (is {r.state()!r})\n"
                 + self.log())

    def wait_delivered(self, r, value, timeout=5.0, since=0):
        return self.agent.wait_state(r.id, value, timeout=timeout, log=self.log, since=since)

    def wait_both(self, r, value, timeout=5.0, since=0):
        """The state file says `value` and the agent took `value` as the router's last."""
        self.wait_state(r, value, timeout)
        return self.wait_delivered(r, value, timeout, since)

    def quiet(self, r, seconds=0.5):
        """Asserts that no request for r arrives for `seconds`; returns the requests so far."""
        before = len(self.agent.all(r.id))
        time.sleep(seconds)
        after = self.agent.all(r.id)
        assert len(after) == before, (f"unexpected requests for {r.id}: {after[before:]}\n"
                                      + self.log())
        return after


@pytest.fixture
def node(netns, l3_agent, havipd, workdir):  # noqa: F811 - l3_agent is the imported fixture
    """Arguments in this order so the agent outlives havipd and namespaces outlive both."""
    return Node(netns, l3_agent, havipd, workdir)


def check_request(req, router_id, state):
    """Exactly what neutron-keepalived-state-change sends (NEUTRON.md)."""
    assert (req.method, req.path) == ("GET", "/"), str(req)
    assert req.router == router_id, str(req)
    assert req.state == state, str(req)
    assert (req.header("Connection") or "").lower() == "close", str(req)
    for h in ("X-Neutron-Router-Id", "X-Neutron-State", "Connection"):
        assert req.header_count(h) == 1, f"header {h} sent {req.header_count(h)} times: {req}"
    # The state file is written before the notification.
    assert req.state_file == state, f"state file was {req.state_file!r} when {req} arrived"


# ------------------------------------------------------------------------------ start-up

def test_initial_states_are_written_and_notified(node):
    node.start_agent()
    primary = node.router(vip=True)   # VIP there before havipd starts
    backup = node.router()
    node.start_havipd()

    for r, role in ((primary, "primary"), (backup, "backup")):
        node.wait_both(r, role)
        path = node.sp.state_file(r.id)
        assert path.read_bytes() == role.encode(), "state file: exactly the word, no newline"
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    for r, role in ((primary, "primary"), (backup, "backup")):
        reqs = node.quiet(r, 0.3)
        assert [q.state for q in reqs] == [role], \
            f"{r.id}: initial state notified once, got {[str(q) for q in reqs]}\n" + node.log()
        check_request(reqs[0], r.id, role)


def test_restart_notifies_the_initial_state_again(node):
    node.start_agent()
    a, b = node.router(vip=True), node.router()
    node.start_havipd()
    node.wait_both(a, "primary")
    node.wait_both(b, "backup")
    node.d.stop()

    seen = len(node.agent.all())
    node.start_havipd()
    # The incumbent notifies its initial state at every start (#1916022), even unchanged.
    node.wait_delivered(a, "primary", since=seen)
    node.wait_delivered(b, "backup", since=seen)


# ------------------------------------------------------------------------- transitions

def test_vip_added_then_deleted(node):
    node.start_agent()
    r = node.router()
    node.start_havipd()
    node.wait_both(r, "backup")

    r.add_vip()
    req = node.wait_both(r, "primary")
    check_request(req, r.id, "primary")

    r.del_vip()
    req = node.wait_both(r, "backup")
    check_request(req, r.id, "backup")
    assert node.agent.states(r.id) == ["backup", "primary", "backup"], node.log()
    assert node.agent.max_in_flight[r.id] == 1


@pytest.mark.parametrize("final", ["primary", "backup"])
def test_rapid_flaps_deliver_the_final_state_last(node, final):
    # A slow agent (50 ms per answer) so that changes pile up while a request is open.
    node.start_agent(delay=0.05)
    r = node.router()
    other = node.router()
    node.start_havipd()
    node.wait_both(r, "backup")
    node.wait_both(other, "backup")

    lines = []
    for _ in range(40):
        lines += [f"address add {r.vip} dev {r.ha}", f"address del {r.vip} dev {r.ha}"]
    if final == "primary":
        lines.append(f"address add {r.vip} dev {r.ha}")
    since = len(node.agent.all())
    r.ns.batch(lines, label="flaps")   # returns when the kernel has made every change
    other.add_vip()

    # Settled: the state file and the last request since the flaps say `final`, nothing is
    # in flight, and havipd's last logged transition of r is to `final`, for 0.3 s on end.
    def settled():
        tr = node.d.transitions(r.id)
        d = [q for q in node.agent.delivered(r.id) if q.seq >= since]
        return (r.state() == final and tr and tr[-1][2] == final and d
                and d[-1].state == final and node.agent.in_flight(r.id) == 0)
    stable_since = [None]

    def stable():
        if not settled():
            stable_since[0] = None
            return False
        stable_since[0] = stable_since[0] or time.monotonic()
        return time.monotonic() - stable_since[0] >= 0.3
    wait_for(stable, 10, what=lambda: f"router {r.id} settled in {final}\n" + node.log())
    node.wait_both(other, "primary")
    reqs = node.quiet(r, 0.5)
    assert reqs[-1].state == final and reqs[-1].ok, \
        f"the last request must carry the final state {final}\n" + node.log()
    assert node.agent.max_in_flight[r.id] == 1, \
        "more than one request in flight for one router (requests could be reordered)"
    assert r.state() == final


# ------------------------------------------------------------------- discovery (inotify)

def test_router_appearing_after_start_is_picked_up_and_dropped_when_removed(node):
    node.start_agent()
    assert not node.sp.ha_confs.exists()
    node.start_havipd()

    # The agent creates the namespace, then ha_confs/<id>/keepalived.conf (ensure_tree +
    # temp file + rename): havipd watches state_path for ha_confs to appear.
    a = node.router()
    node.wait_both(a, "backup")
    # keepalived's pid files live next to the router dirs (KeepalivedManager: pids_path is
    # ha_confs): ha_confs/<id>.pid.keepalived and <id>.pid.keepalived-vrrp (before Neutron
    # 15.0.0: <id>.pid and <id>.pid-vrrp) are not routers.
    suffixes = (".pid", ".pid-vrrp", ".pid.keepalived", ".pid.keepalived-vrrp")
    for suffix in suffixes:
        (node.sp.ha_confs / f"{a.id}{suffix}").write_text("4242")
    a.add_vip()
    node.wait_both(a, "primary")

    # A second router once ha_confs exists; this one's VIP is up before its conf is written.
    b = node.router(conf=False, vip=True)
    time.sleep(0.2)
    assert b.state() is None and not node.agent.all(b.id), "tracked before its keepalived.conf"
    b.write_conf()
    node.wait_both(b, "primary")

    # Removal the way HaRouter.delete does it: keepalived stops (removing the VIP; the
    # agent waits for it to exit), then rmtree(ha_confs/<id>), then the namespace goes.
    a.del_vip()
    wait_for(lambda: a.state() == "backup", timeout=5, what=lambda: "backup\n" + node.log())
    node.sp.remove_router(a.id)
    node.d.wait_log(f"router {a.id} removed")
    time.sleep(0.3)
    assert not node.sp.conf_dir(a.id).exists(), \
        (f"{node.sp.conf_dir(a.id)} re-created after the agent removed it: "
         f"{os.listdir(node.sp.conf_dir(a.id))}\n" + node.log())
    seen = len(node.agent.all(a.id))
    a.add_vip()                      # no longer a Neutron router of this node
    time.sleep(0.3)
    assert len(node.agent.all(a.id)) == seen, "a removed router was notified\n" + node.log()
    assert not node.sp.conf_dir(a.id).exists()

    # The other router is undisturbed.
    b.del_vip()
    node.wait_both(b, "backup")
    for suffix in suffixes:
        (node.sp.ha_confs / f"{a.id}{suffix}").unlink()
    time.sleep(0.2)
    # (Lines about the keepalived process itself name its pid file: not noise.)
    noise = [line for line in node.d.lines if ".pid" in line and "keepalived" not in line]
    assert not noise, "pid files in ha_confs taken for routers:\n" + "\n".join(noise)
    assert node.d.running()


def test_namespace_deleted_and_recreated(node):
    # The namespace goes (agent clean-up) while ha_confs stays: the router is unknown, which
    # is never sent to the agent nor written; a new namespace is decided and notified.
    node.start_agent()
    r, other = node.router(vip=True), node.router()
    node.start_havipd()
    node.wait_both(r, "primary")
    node.wait_both(other, "backup")
    seen = len(node.agent.all(r.id))
    node.netns.delete(r.qrouter)
    node.d.wait_log(f"{r.id}: primary -> unknown")
    time.sleep(0.3)
    assert len(node.agent.all(r.id)) == seen, "notified while unknown\n" + node.log()
    assert r.state() == "primary", "the state file is left as it was (no 'unknown' in it)"
    assert all(q.state in ("primary", "backup") for q in node.agent.all()), node.log()

    r.qrouter = node.netns.create(name=r.qrouter.name, veths=(r.ha,))  # VIP absent now
    node.wait_both(r, "backup")
    r.add_vip()
    node.wait_both(r, "primary")
    node.quiet(other, 0.1)


def test_ha_confs_removed_and_recreated(node):
    # The whole ha_confs directory goes (agent clean-up) and comes back (agent restart).
    node.start_agent()
    a, b = node.router(vip=True), node.router()
    node.start_havipd()
    node.wait_both(a, "primary")
    node.wait_both(b, "backup")
    shutil.rmtree(node.sp.ha_confs)
    node.d.wait_log(f"router {a.id} removed")
    node.d.wait_log(f"router {b.id} removed")
    seen = len(node.agent.all())
    a.write_conf()
    b.write_conf()
    # Found again: the initial state of each is written and notified again.
    node.wait_state(a, "primary")
    node.wait_state(b, "backup")
    node.wait_delivered(a, "primary", since=seen)
    node.wait_delivered(b, "backup", since=seen)
    b.add_vip()
    node.wait_both(b, "primary")


def write_conf_in(ha_confs, r):
    """r's keepalived.conf in another ha_confs tree (one being built aside)."""
    (ha_confs / r.id).mkdir(parents=True, exist_ok=True)
    (ha_confs / r.id / "keepalived.conf").write_text(r.conf())


@pytest.mark.parametrize("how", ["mv-mkdir", "mv-in", "bind-mount"])
def test_ha_confs_replaced_by_another_tree_is_followed(node, how, request):
    """ha_confs renamed away and re-created, replaced by a tree renamed in or a bind mount
    over it: without a reload the new tree's routers are served and the ones only in the
    old tree dropped (issue 11). (A symlinked ha_confs is read, but state files are never
    written through a symlink: see the state_path test for a symlink swap.)"""
    node.start_agent()
    ha = node.sp.ha_confs
    a, b = node.router(vip=True), node.router()
    c = node.router(conf=False)
    node.start_havipd()
    node.wait_both(a, "primary")
    node.wait_both(b, "backup")
    new = node.sp.path / "v2"
    for r in (a, c):
        write_conf_in(new, r)
    if how == "mv-mkdir":
        ha.rename(node.sp.path / "old")
        ha.mkdir()
        for r in (a, c):
            write_conf_in(ha, r)
    elif how == "mv-in":
        ha.rename(node.sp.path / "old")
        new.rename(ha)
    else:
        subprocess.run(["mount", "--bind", str(new), str(ha)], check=True)
        request.addfinalizer(lambda: subprocess.run(["umount", "-l", str(ha)]))
    node.d.wait_log(f"router {b.id} removed")
    node.wait_state(c, "backup")
    c.add_vip()
    node.wait_both(c, "primary")
    a.del_vip()  # in both trees: followed all along, its state file now in the new one
    node.wait_both(a, "backup")
    d = node.router()  # added to the new tree later: its watch is the new one's
    node.wait_both(d, "backup")
    assert not node.d.log_has("reload"), node.log()


@pytest.mark.parametrize("how", ["mv-in", "symlink-swap"])
def test_state_path_replaced_by_another_tree_is_followed(node, how):
    """state_path itself renamed away and another tree renamed in, or (a symlink) pointed
    at another tree (issue 11). No agent: its socket goes with the old tree."""
    sp = node.sp.path
    if how == "symlink-swap":
        sp.rename(node.workdir / "neutron.v1")
        sp.symlink_to("neutron.v1")
    a, b = node.router(vip=True), node.router()
    c = node.router(conf=False)
    node.start_havipd()
    node.wait_state(a, "primary")
    node.wait_state(b, "backup")
    new = node.workdir / "neutron.new"
    for r in (a, c):
        write_conf_in(new / "ha_confs", r)
    if how == "mv-in":
        sp.rename(node.workdir / "neutron.old")
        new.rename(sp)
    else:
        tmp = node.workdir / "neutron.tmp"
        tmp.symlink_to("neutron.new")
        tmp.rename(sp)
    node.d.wait_log(f"router {b.id} removed")
    node.wait_state(c, "backup")
    c.add_vip()
    node.wait_state(c, "primary")
    a.del_vip()
    node.wait_state(a, "backup")
    # Deleted and re-created: followed again.
    if sp.is_symlink():
        sp.unlink()
    else:
        shutil.rmtree(sp)
    node.d.wait_log(f"router {a.id} removed")
    write_conf_in(node.sp.ha_confs, b)
    node.wait_state(b, "backup")
    b.add_vip()
    node.wait_state(b, "primary")


def test_broken_keepalived_conf_affects_only_its_router(node):
    node.start_agent()
    a, b = node.router(), node.router()
    broken = node.router(conf=False)
    bad = a.conf().replace(a.vip, "169.254.0.300/24")
    node.sp.write_conf(broken.id, bad)   # broken from the start
    node.start_havipd()
    node.wait_both(a, "backup")
    node.wait_both(b, "backup")
    assert broken.state() is None and not node.agent.all(broken.id), node.log()
    wait_for(lambda: any(broken.id in line and "keepalived.conf" in line and " error " in line
                         for line in node.d.lines), 5,
             what=lambda: "an error naming the broken router\n" + node.log())

    # A router's conf turns bad: it keeps its last good configuration, others go on.
    node.sp.write_conf(a.id, "vrrp_instance VR_1 {\n    virtual_ipaddress {\n")
    wait_for(lambda: any(a.id in line and "keepalived.conf" in line and " error " in line
                         for line in node.d.lines), 5,
             what=lambda: "an error naming the router whose conf broke\n" + node.log())
    a.add_vip()
    node.wait_both(a, "primary")
    b.add_vip()
    node.wait_both(b, "primary")

    # The broken one, fixed, is tracked from then on.
    broken.write_conf()
    node.wait_both(broken, "backup")
    broken.add_vip()
    node.wait_both(broken, "primary")
    assert node.d.running()


def test_ha_confs_entries_that_are_no_router_id_are_ignored(node):
    """Directory names under ha_confs become path components and namespace
    names: a non-UTF-8 or over-long one is said once and ignored; the real
    routers go on."""
    node.start_agent()
    a = node.router()
    good = a.conf()
    for name in ("bad\udcffname", "x" * 65, "with space"):  # \udcff: the byte 0xff
        node.sp.write_conf(name, good)
    node.start_havipd()
    node.wait_both(a, "backup")
    for shown in ("bad\\xffname", "x" * 65, "with space"):
        node.d.wait_log(f"ha_confs/{shown}: not a router id")
    a.add_vip()
    node.wait_both(a, "primary")
    assert not any("/bad\\xffname/state" in str(p) for p in node.sp.ha_confs.rglob("state"))
    assert sum(1 for line in node.d.lines if "not a router id" in line) == 3, node.log()


def test_keepalived_conf_rewrites_that_keep_the_signal_vip_change_nothing(node):
    # The agent rewrites keepalived.conf on every floating IP or port change; as long as
    # the HA interface and the signal VIP stay, nothing is notified or re-decided.
    node.start_agent()
    r = node.router(vip=True)
    node.start_havipd()
    node.wait_both(r, "primary")
    fips = []
    for i in range(5):
        fips.append((f"203.0.113.{20 + i}/32", "qg-8e1f0c2d-4a"))
        r.write_conf(r.conf(excluded=[("10.0.0.1/24", "qr-1a2b3c4d-5e")] + fips,
                            routes=["0.0.0.0/0 via 203.0.113.1 dev qg-8e1f0c2d-4a no_track"]))
        time.sleep(0.05)
    reqs = node.quiet(r, 0.7)
    assert [q.state for q in reqs] == ["primary"], node.log()
    assert [t[1:3] for t in node.d.transitions(r.id)] == [("unknown", "primary")], node.log()
    assert r.state() == "primary"


def test_changed_ha_interface_in_keepalived_conf_is_followed(node):
    # A new HA port (the router was re-scheduled): the router is watched on the new one.
    node.start_agent()
    r = node.router(vip=True)
    node.start_havipd()
    node.wait_both(r, "primary")
    new_ha = ha_interface_name()
    r.ns.add_veth(new_ha)
    r.write_conf(keepalived_conf(new_ha, r.vrid))
    node.wait_both(r, "backup")                       # no VIP on the new HA interface
    r.ns.add_addr(r.vip, new_ha)
    node.wait_both(r, "primary")


# ------------------------------------------------------------------ the agent misbehaves

@pytest.mark.parametrize("failure", ["500", "close"])
def test_agent_failing_then_answering_gets_the_final_state(node, failure):
    node.start_agent(mode=failure)
    r = node.router(vip=True)
    node.start_havipd()
    node.wait_state(r, "primary")
    # Retried with backoff while the agent fails.
    node.agent.wait_requests(r.id, 3, timeout=5, log=node.log)
    r.del_vip()
    node.wait_state(r, "backup")
    node.agent.wait(lambda a: any(q.state == "backup" for q in a.all(r.id)), 5,
                    "a retry carrying the new state", node.log)
    assert not node.agent.delivered(), node.log()

    node.agent.set_mode("200")
    req = node.wait_delivered(r, "backup", timeout=10)
    check_request(req, r.id, "backup")
    # Delivered: no more retries, and nothing older delivered after it.
    reqs = node.quiet(r, 0.7)
    assert reqs[-1] is req, node.log()
    assert node.agent.max_in_flight[r.id] == 1


def test_removed_router_pending_notification_is_dropped(node):
    # The incumbent monitor is killed when its router goes; havipd forgets the router's
    # pending retries instead of telling the agent about a router it no longer has.
    node.start_agent()
    gone, stays = node.router(vip=True), node.router()
    node.agent.set_mode("500", router=gone.id)
    node.start_havipd()
    node.wait_both(stays, "backup")
    node.agent.wait_requests(gone.id, 2, log=node.log)
    node.sp.remove_router(gone.id)
    node.d.wait_log(f"router {gone.id} removed")
    t_removed = time.monotonic()
    node.agent.set_mode(None, router=gone.id)      # the agent would answer now
    time.sleep(2.5)                                 # beyond the next retries (backoff)
    late = [q for q in node.agent.all(gone.id) if q.t > t_removed + 0.05]
    assert not late, "requests for a removed router:\n" + "\n".join(map(str, late)) \
        + "\n" + node.log()
    stays.add_vip()
    node.wait_both(stays, "primary")


@pytest.mark.parametrize("absent", ["missing", "stale"])
def test_agent_absent_at_first_then_started(node, absent):
    if absent == "stale":
        # A socket file nobody listens on (the agent died): connect() is refused.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(node.sp.socket_path))
        s.close()
    r = node.router()
    node.start_havipd()
    node.wait_state(r, "backup")
    r.add_vip()
    node.wait_state(r, "primary")
    time.sleep(1.0)
    assert node.d.running()

    node.start_agent()
    req = node.wait_delivered(r, "primary", timeout=10)
    check_request(req, r.id, "primary")
    node.quiet(r, 0.5)
    assert node.agent.states(r.id)[-1] == "primary"


def test_hung_agent_request_does_not_hold_up_other_routers(node):
    node.start_agent()
    stuck = node.router()
    node.agent.set_mode("hang", router=stuck.id)
    others = [node.router(), node.router()]
    node.start_havipd()
    node.agent.wait_requests(stuck.id, 1, log=node.log)
    for r in others:
        node.wait_both(r, "backup")

    # Other routers are notified promptly, change after change, while stuck's request
    # hangs; stuck's own later changes wait behind its open request (one at a time).
    for step, role in enumerate(["primary", "backup", "primary"]):
        t0 = time.monotonic()
        for r in others:
            r.add_vip() if role == "primary" else r.del_vip()
        stuck.add_vip() if role == "primary" else stuck.del_vip()
        for r in others:
            node.wait_both(r, role, timeout=2)
        node.wait_state(stuck, role, timeout=2)
        assert time.monotonic() - t0 < 2
    assert node.agent.max_in_flight[stuck.id] == 1, node.log()
    assert node.agent.in_flight(stuck.id) == 1

    # The agent answers the hung request: stuck's current state follows.
    node.agent.set_mode(None, router=stuck.id)
    node.agent.release(200, router=stuck.id)
    node.wait_delivered(stuck, "primary", timeout=5)
    assert node.agent.max_in_flight[stuck.id] == 1, node.log()


def test_many_hung_requests_do_not_hold_up_a_healthy_router(node):
    # DESIGN.md §3.4: one router's failure never blocks another router. Here more routers
    # than havipd keeps connections open for (16) have a request the agent never answers.
    node.start_agent()
    hung = [node.router() for _ in range(20)]
    for r in hung:
        node.agent.set_mode("hang", router=r.id)
    good = node.router()
    node.start_havipd()
    node.agent.wait(lambda a: sum(a.in_flight(r.id) for r in hung) >= 16, 5,
                    "hung requests open", node.log)
    node.wait_both(good, "backup", timeout=3)
    good.add_vip()
    node.wait_both(good, "primary", timeout=3)
    good.del_vip()
    node.wait_both(good, "backup", timeout=3)
    node.agent.release(200)


def test_sigterm_with_a_hung_request_exits_promptly(node):
    node.start_agent(mode="hang")
    r = node.router(vip=True)
    node.start_havipd()
    node.agent.wait_requests(r.id, 1, log=node.log)
    took = node.d.stop(timeout=2.0)
    assert took < 1.5, f"havipd took {took:.2f} s to stop with a hung request\n" + node.log()
    assert r.state() == "primary"


# ------------------------------------------------------------------------------ DVR-HA

def test_dvr_ha_vip_in_snat_namespace_counts(node):
    node.start_agent()
    r = node.router(snat=True)       # qrouter-<id> and snat-<id>, HA port in both here
    node.start_havipd()
    node.wait_both(r, "backup")

    # The VIP in qrouter- does not count when snat- exists.
    r.add_vip(r.qrouter)
    node.quiet(r, 0.5)
    assert r.state() == "backup"

    r.add_vip(r.snat)
    node.wait_both(r, "primary")
    r.del_vip(r.snat)
    node.wait_both(r, "backup")


def test_dvr_ha_snat_namespace_appearing_later_is_followed(node):
    node.start_agent()
    r = node.router()
    node.start_havipd()
    node.wait_both(r, "backup")

    snat = r.add_snat()
    r.add_vip(snat)
    node.wait_both(r, "primary", timeout=8)

    # The snat namespace goes (the router's SNAT part moved away): qrouter- counts again.
    node.netns.delete(snat)
    r.snat = None
    node.d.wait_log(f"router {r.id} changed: {r.vip} on {r.ha} in qrouter-{r.id}")
    node.wait_both(r, "backup")
    r.add_vip(r.qrouter)
    node.wait_both(r, "primary")


# ------------------------------------------------------------- manage_ipv6 = true

RADVD = "/usr/sbin/radvd"


def neutron_radvd_conf(qr, prefix="fd00:1::/64", mtu=1450):
    """<state_path>/ra/<id>.radvd.conf as neutron/agent/linux/ra.py renders it (SLAAC)."""
    return (f"interface {qr}\n{{\n   AdvSendAdvert on;\n   MinRtrAdvInterval 30;\n"
            f"   MaxRtrAdvInterval 100;\n   AdvLinkMTU {mtu};\n\n   prefix {prefix}\n   {{\n"
            f"        AdvOnLink on;\n        AdvAutonomous on;\n   }};\n\n"
            f"   route fe80::a9fe:a9fe/128 {{\n   }};\n}};\n")


def write_radvd_conf(sp, router_id, text):
    """The agent's way (ensure the dir, temp file + rename)."""
    d = sp.path / "ra"
    d.mkdir(mode=0o755, exist_ok=True)
    with tempfile.NamedTemporaryFile("w+", dir=d, delete=False) as tmp:
        tmp.write(text)
    os.chmod(tmp.name, 0o644)
    os.rename(tmp.name, d / f"{router_id}.radvd.conf")


def radvd_of(node, r):
    """The radvd havipd runs for r (its direct child, found by the agent's pid file path)."""
    pid_file = node.sp.path / "external" / "pids" / f"{r.id}.pid.radvd"
    mains = [p for p in find_processes("--pidfile", pid_file) if parent_pid(p) == node.d.pid]
    assert len(mains) <= 1, f"more than one radvd for {r.id}: {mains}\n" + node.log()
    return mains[0] if mains else None


def gw_sysctls(r):
    return r.ns.sysctl_get(f"net.ipv6.conf.{r.qg}.accept_ra", f"net.ipv6.conf.{r.qg}.forwarding",
                           "net.ipv6.conf.all.forwarding")


def wait_gw(node, r, want, timeout=5.0):
    got = []
    wait_for(lambda: got.append(gw_sysctls(r)) or got[-1] == want, timeout, interval=0.05,
             what=lambda: f"{r.qg} accept_ra, forwarding, all.forwarding == {want} "
             f"(got {got[-1] if got else None})\n" + node.log())


@pytest.mark.parametrize("ipv6_gateway", [False, True], ids=["slaac-gw", "static-ipv6-gw"])
def test_manage_ipv6_sysctls_and_radvd_follow_the_role(node, ipv6_gateway):
    node.start_agent()
    r = node.router(conf=False, ports=True)
    routes = [f"0.0.0.0/0 via 203.0.113.1 dev {r.qg} no_track"]
    if ipv6_gateway:
        routes.append(f"::/0 via fe80::1 dev {r.qg} no_track")
    r.write_conf(r.conf(excluded=[("203.0.113.10/24", r.qg), ("fd00:1::1/64", r.qr),
                                  ("fe80::f816:3eff:fe00:1/64", r.qr, "link")],
                        routes=routes))
    ra_text = neutron_radvd_conf(r.qr)
    write_radvd_conf(node.sp, r.id, ra_text)
    pid_file = node.sp.path / "external" / "pids" / f"{r.id}.pid.radvd"
    pid_file.parent.mkdir(parents=True)  # the agent's ProcessManager made it (pid files)
    node.start_havipd(manage_ipv6=True)
    node.wait_both(r, "backup")
    wait_gw(node, r, ("0", "0", "0"))
    assert radvd_of(node, r) is None

    # Primary: Neutron's matrix and radvd in the router's namespace with the agent's config
    # and pid file (so the agent's process manager takes it for its own).
    r.add_vip()
    node.wait_both(r, "primary")
    wait_gw(node, r, ("0" if ipv6_gateway else "2", "1", "1"))
    pid = wait_for(lambda: radvd_of(node, r), 5,
                   what=lambda: "radvd for the primary\n" + node.log())
    assert netns_inode_of(pid) == r.ns.inode(), "radvd is not in qrouter-<id>"
    argv = cmdline(pid)
    conf = argv[argv.index("--config") + 1]
    assert open(conf).read() == ra_text
    assert r.id in conf, f"the router id must be in radvd's command line: {argv}"
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() == str(pid), 5,
             what=lambda: f"{pid_file} with {pid}\n" + node.log())

    # Backup: radvd SIGKILLed at once (NEUTRON.md allows 10 s), sysctls off, all.forwarding
    # left as it was.
    r.del_vip()
    node.wait_both(r, "backup")
    wait_for(lambda: not alive(pid) and radvd_of(node, r) is None, 2,
             what=lambda: "radvd gone on the backup\n" + node.log())
    wait_gw(node, r, ("0", "0", "1"))

    # The agent removes its radvd.conf on backup and may be down when the router becomes
    # primary again: havipd runs radvd with the config last seen.
    (node.sp.path / "ra" / f"{r.id}.radvd.conf").unlink()
    node.agent.stop()
    r.add_vip()
    node.wait_state(r, "primary")
    pid2 = wait_for(lambda: radvd_of(node, r), 5,
                    what=lambda: "radvd from the last seen config\n" + node.log())
    argv = cmdline(pid2)
    assert open(argv[argv.index("--config") + 1]).read() == ra_text
    wait_gw(node, r, ("0" if ipv6_gateway else "2", "1", "1"))


def test_manage_ipv6_gateway_added_while_primary_gets_its_sysctls(node):
    # NEUTRON.md #1585246: accept_ra was not set when the gateway came after the transition.
    node.start_agent()
    r = node.router(conf=False, ports=True, vip=True)
    r.write_conf(r.conf(excluded=[("10.0.0.1/24", r.qr)]))      # no gateway yet
    node.start_havipd(manage_ipv6=True)
    node.wait_both(r, "primary")
    r.write_conf(r.conf(excluded=[("10.0.0.1/24", r.qr), ("203.0.113.10/24", r.qg)],
                        routes=[f"0.0.0.0/0 via 203.0.113.1 dev {r.qg} no_track"]))
    wait_gw(node, r, ("2", "1", "1"))
    reqs = node.quiet(r, 0.5)
    assert [q.state for q in reqs] == ["primary"], "the role did not change\n" + node.log()
    assert r.state() == "primary"


def test_manage_ipv6_radvd_runs_without_the_agents_pid_directory(node):
    # On a fresh node (the agent down, or nothing else of its has written a pid file yet)
    # <state_path>/external/pids does not exist: radvd must run anyway (its pid file is
    # there), or the primary sends no RA.
    node.start_agent()
    r = node.router(conf=False, ports=True)
    r.write_conf(r.conf(excluded=[("203.0.113.10/24", r.qg), ("fd00:1::1/64", r.qr)],
                        routes=[f"0.0.0.0/0 via 203.0.113.1 dev {r.qg} no_track"]))
    write_radvd_conf(node.sp, r.id, neutron_radvd_conf(r.qr))
    assert not (node.sp.path / "external").exists()
    r.add_vip()
    node.start_havipd(manage_ipv6=True)
    node.wait_both(r, "primary")
    pid = wait_for(lambda: radvd_of(node, r), 5,
                   what=lambda: "radvd for the primary\n" + node.log())
    time.sleep(0.5)
    assert alive(pid) and radvd_of(node, r) == pid, \
        "radvd does not stay up\n" + node.log()
    assert not node.d.log_has("radvd exited unexpectedly"), node.log()


def test_manage_ipv6_start_with_existing_namespace_logs_no_error(node):
    # Everything is in place before havipd starts (a restart on a running node): nothing
    # in that is an error worth logging.
    node.start_agent()
    r = node.router(conf=False, ports=True)
    r.write_conf(r.conf(excluded=[("203.0.113.10/24", r.qg), ("fd00:1::1/64", r.qr)],
                        routes=[f"0.0.0.0/0 via 203.0.113.1 dev {r.qg} no_track"]))
    write_radvd_conf(node.sp, r.id, neutron_radvd_conf(r.qr))
    (node.sp.path / "external" / "pids").mkdir(parents=True)
    node.start_havipd(manage_ipv6=True)
    node.wait_both(r, "backup")
    r.add_vip()
    node.wait_both(r, "primary")
    wait_for(lambda: radvd_of(node, r), 5, what=lambda: "radvd\n" + node.log())
    errors = [line for line in node.d.lines if " error " in line]
    assert not errors, "errors logged on a healthy start:\n" + "\n".join(errors)


def test_a_removed_routers_directory_is_never_re_created(node):
    """ha_confs/<id> is Neutron's: a state file write that comes after Neutron
    removed it (keepalived's VIP removal racing the agent's rmtree) leaves it
    gone instead of re-creating it. The race is made certain by holding
    havipd's state writer thread (ptrace) across the VIP removal and the rmtree."""
    node.start_agent()
    r = node.router(vip=True)
    node.start_havipd()
    node.wait_both(r, "primary")
    stall = StoppedThreads(threads_named(node.d.pid, "havip-state"))
    try:
        stall.stop()
        r.del_vip()
        node.d.wait_log(f"{r.id}: primary -> backup")   # its write is queued, held
        shutil.rmtree(node.sp.conf_dir(r.id))
        node.d.wait_log(f"router {r.id} removed")
    finally:
        stall.release()
    time.sleep(0.3)  # a negative check: the held write has run by now
    assert not node.sp.conf_dir(r.id).exists(), os.listdir(node.sp.conf_dir(r.id))
    assert not node.d.log_has("cannot write state file"), node.log()
    assert node.d.running(), node.log()


def test_without_libcurl_everything_but_the_notification_works(node, workdir):
    """libcurl is loaded (dlopen) only by Neutron mode's notifier: a missing or
    broken one is reported, and the state files and transitions go on."""
    broken = workdir / "broken-libcurl"
    broken.mkdir()
    (broken / "libcurl.so.4").write_bytes(b"not an ELF file")
    node.start_agent()
    r = node.router(vip=True)
    node.start_havipd(wrapper=("env", f"LD_LIBRARY_PATH={broken}"))
    wait_for(lambda: node.sp.state(r.id) == "primary", timeout=5,
             what=lambda: "the state file without libcurl\n" + node.log())
    node.d.wait_log("neutron: the L3 agent cannot be notified: cannot load libcurl.so.4: "
                    f"{broken}/libcurl.so.4:")
    r.del_vip()
    wait_for(lambda: node.sp.state(r.id) == "backup", timeout=5,
             what=lambda: "backup without libcurl\n" + node.log())
    assert node.d.running(), node.log()
    time.sleep(0.3)  # a negative check: nothing reaches the agent
    assert node.agent.all() == [], node.log()


# ---------------------------------------------------------- keepalived's VRRP process

def test_keepalived_vrrp_pid_file_as_neutron_lays_it_out(node, workdir):
    """The VRRP child's pid file is <ha_confs>/<id>.pid.keepalived-vrrp, beside the
    router's directory (KeepalivedManager since Neutron 15.0.0). havipd watches that
    process; when it dies and nobody else advertises, the router stays primary, flagged
    stale, nothing removed. A stand-in named keepalived (a copy of sleep) plays the child."""
    fake = workdir / "keepalived"
    shutil.copy("/bin/sleep", fake)
    procs = [subprocess.Popen([str(fake), "600"])]
    node.start_agent()
    r = node.router(vip=True, conf=False)
    r.write_conf(keepalived_conf(r.ha, r.vrid, advert_int=1))
    pid_file = node.sp.ha_confs / f"{r.id}.pid.keepalived-vrrp"
    pid_file.write_text(f"{procs[0].pid}\n")
    (node.sp.ha_confs / f"{r.id}.pid.keepalived").write_text("1\n")  # the parent's: not read
    try:
        node.start_havipd()
        node.wait_both(r, "primary")

        def router_status():
            out = subprocess.run([str(havipctl_binary()), "--socket",
                                  str(node.d.dir / "run" / "ctl.sock"), "status", "--json"],
                                 capture_output=True, text=True, timeout=10)
            assert out.returncode == 0, out.stderr
            return next(x for x in json.loads(out.stdout)["routers"] if x["name"] == r.id)

        wait_for(lambda: router_status()["speaker"] == procs[0].pid, timeout=3,
                 what=lambda: f"speaker {procs[0].pid}: {router_status()}\n" + node.log())
        procs[0].kill()
        procs[0].wait()
        wait_for(lambda: router_status()["speaker"] == "down", timeout=2,
                 what=lambda: f"speaker down: {router_status()}\n" + node.log())
        node.d.wait_log(f"{r.id}: keepalived (pid {procs[0].pid}) exited")
        # advert_int 1, priority 50: master-down 3 s + 0.8 s skew.
        wait_for(lambda: router_status()["stale_vip"], timeout=6,
                 what=lambda: f"stale VIP: {router_status()}\n" + node.log())
        s = router_status()
        assert s["role"] == "primary", s
        assert r.state() == "primary"
        assert r.ns.has_addr(r.ha, r.vip.split("/")[0]), "the VIP was removed"

        # keepalived back (a new pid in the same file): followed again.
        procs.append(subprocess.Popen([str(fake), "600"]))
        pid_file.write_text(f"{procs[1].pid}\n")
        wait_for(lambda: router_status()["speaker"] == procs[1].pid, timeout=3,
                 what=lambda: f"speaker {procs[1].pid}: {router_status()}\n" + node.log())
        assert not router_status()["stale_vip"]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
