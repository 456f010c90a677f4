"""e2e: a plain keepalived host (issue 14, README "A plain keepalived host").

Two router namespaces play two hosts, each with its own keepalived and its own havipd.
havip.toml names no interface and no VIP: only `[keepalived] config` (and, for the
instance `lan`, radvd and the gateway sysctls, attached by name). keepalived.conf has
two instances: `lan` (IPv4, with the qr- port's link-local that radvd sends from) and
`v6` (IPv6, VRRPv3), each tracking a file in havipd's track_dir with weight 0.

Checked, with real keepalived and radvd:
* roles and radvd follow a failover (keepalived stopped, started again);
* radvd made to fail on the primary (its binary replaced by one that exits at once):
  the track file moves the router to the peer, which starts its radvd; fixed again,
  the track file clears after track_failure_timeout_ms and the router comes back
  (preempt, higher priority);
* `havipctl drain` moves every router to the peer and says so; `undrain` gives them
  back: without nopreempt they come back, with nopreempt they stay with the peer.
"""

import json
import os
import subprocess
import time

import pytest

from e2e_lib import (PREFIX, QR_LLA, Keepalived, Topology, radvd_processes, wait_for,
                     which)
from havip_testlib.netns import netns_inode
from havip_testlib.tier import havipctl_binary
from helpers import Havipd

HOSTS = ("r1", "r2")
PRIORITY = {"r1": 150, "r2": 100}
LAN_VIP = "10.77.0.1/24"
V6_VIP = "fd00:77::1/64"
TRACK_GRACE_MS = 1500
TRACK_FAILURE_TIMEOUT_MS = 4000


def keepalived_conf(host, router_id, track_dir, nopreempt):
    pre = "    nopreempt\n" if nopreempt else ""
    state = "BACKUP"
    return f"""\
global_defs {{
    router_id {router_id}
}}
track_file havip_lan {{
    file "{track_dir}/lan"
}}
track_file havip_v6 {{
    file "{track_dir}/v6"
}}
vrrp_instance lan {{
    state {state}
    interface ha-{host}
    virtual_router_id 77
    priority {PRIORITY[host]}
    advert_int 1
{pre}    virtual_ipaddress {{
        {LAN_VIP}
    }}
    virtual_ipaddress_excluded {{
        {QR_LLA}/64 dev qr-{host}
    }}
    track_file {{
        havip_lan weight 0
    }}
}}
vrrp_instance v6 {{
    state {state}
    interface ha-{host}
    virtual_router_id 78
    version 3
    priority {PRIORITY[host]}
    advert_int 1
{pre}    virtual_ipaddress {{
        {V6_VIP}
    }}
    track_file {{
        havip_v6 weight 0
    }}
}}
"""


class HostKeepalived(Keepalived):
    def __init__(self, host, ns, workdir, track_dir, nopreempt):
        super().__init__(host, ns, workdir, router_id=f"{PREFIX}{host}")
        self.track_dir = track_dir
        self.nopreempt = nopreempt

    def write_config(self):
        self.conf.write_text(keepalived_conf(self.router, self.router_id, self.track_dir,
                                             self.nopreempt))


class Hosts:
    """Two hosts: a namespace, keepalived and havipd each; torn down by close()."""

    def __init__(self, havipd_bin, workdir, nopreempt):
        self.workdir = workdir
        self.topo = Topology(workdir, PREFIX)
        self.havipd = {h: Havipd(havipd_bin, workdir, label=f"havipd-{h}") for h in HOSTS}
        self.keepalived = {}
        self.nopreempt = nopreempt
        self.radvd_wrapper = {h: workdir / f"radvd-{h}" for h in HOSTS}
        self.problems = []

    def track_dir(self, h):
        return self.havipd[h].dir / "track"

    def track(self, h, router):
        try:
            return (self.track_dir(h) / router).read_text().strip()
        except OSError:
            return None

    def build(self):
        self.topo.build(HOSTS)
        self.topo.wait_carrier()

    def set_radvd(self, h, working):
        w = self.radvd_wrapper[h]
        tmp = w.with_suffix(".tmp")
        tmp.write_text(f"#!/bin/sh\nexec {which('radvd')} \"$@\"\n" if working
                       else "#!/bin/sh\nexit 1\n")
        tmp.chmod(0o755)
        os.replace(tmp, w)

    def start_havipd(self, h):
        d = self.havipd[h]
        self.set_radvd(h, True)
        d.write_raw_config(f"""\
[daemon]
state_dir = "{d.state_dir}"
run_dir = "{d.dir / 'run'}"
control_socket = "{d.control_path}"
hold_down_ms = 500
radvd_binary = "{self.radvd_wrapper[h]}"
track_grace_ms = {TRACK_GRACE_MS}
track_failure_timeout_ms = {TRACK_FAILURE_TIMEOUT_MS}

[keepalived]
config = "{self.workdir / f'keepalived-{h}.conf'}"
namespace = "{self.topo.ns(h)}"
track_dir = "{self.track_dir(h)}"

[[router]]
name = "lan"
gateway_interface = "qg-{h}"

[[router.radvd.interface]]
name = "qr-{h}"
prefixes = [{{ prefix = "fd00:1::/64", mode = "slaac" }}]
min_interval = 3
max_interval = 4
""")
        d.start()

    def write_keepalived_conf(self, h):
        """keepalived.conf first: havipd reads it; havipd before keepalived: keepalived
        ignores a track file whose directory is missing when it starts."""
        self.keepalived[h] = HostKeepalived(h, self.topo.ns(h), self.workdir, self.track_dir(h),
                                            self.nopreempt)
        self.keepalived[h].write_config()

    def start_keepalived(self, h):
        if h not in self.keepalived or self.keepalived[h].proc is not None:
            self.write_keepalived_conf(h)
        self.keepalived[h].start()

    def ctl(self, h, *args, check=True, timeout=60):
        p = subprocess.run([str(havipctl_binary()), "--socket", str(self.havipd[h].control_path),
                            *args], capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"havipctl {' '.join(args)} on {h}: exit {p.returncode}\n"
                                 f"{p.stdout}\n{p.stderr}")
        return p

    def status(self, h):
        return {r["name"]: r for r in json.loads(self.ctl(h, "status", "--json").stdout)["routers"]}

    def roles(self, router):
        return {h: self.status(h)[router]["role"] for h in HOSTS}

    def primary_of(self, router):
        r = self.roles(router)
        prim = [h for h, role in r.items() if role == "primary"]
        return prim[0] if len(prim) == 1 and sorted(r.values()).count("primary") == 1 else None

    def radvd(self, h):
        return [p for p, ino in radvd_processes(self.havipd[h].pid)
                if ino == netns_inode(self.topo.ns(h))]

    def wait_primary(self, router, host, timeout=20):
        other = next(x for x in HOSTS if x != host)
        wait_for(lambda: self.roles(router) == {host: "primary", other: "backup"}
                 or self.roles(router)[other] == "fault" and self.roles(router)[host] == "primary",
                 timeout=timeout, interval=0.1,
                 what=lambda: f"{router} primary on {host}: {self.roles(router)}")

    def close(self):
        for h, d in self.havipd.items():
            problem = d.teardown(timeout=5.0)
            if problem:
                self.problems.append(f"havipd {h}: {problem.splitlines()[0]}")
        for k in self.keepalived.values():
            try:
                k.stop()
            except Exception as e:  # noqa: BLE001 - teardown goes on
                self.problems.append(f"stopping keepalived {k.router}: {e}")
        others = [k for k in self.topo.cleanup() if k[2] != "radvd"]
        if others:
            self.problems.append(f"processes left in the namespaces (killed): {others}")

    def diagnostics(self):
        out = []
        for h, d in self.havipd.items():
            out.append((f"havipd {h}", "\n".join(d.lines)))
        for h, k in self.keepalived.items():
            out.append((f"keepalived {h}", k.log_tail(60)))
        return out


@pytest.fixture
def hosts_factory(e2e_ok, havipd_bin, workdir):
    """make(nopreempt) -> Hosts; torn down afterwards, also on failure (what the daemons
    and keepalived said is printed then: pytest shows it for a failed test)."""
    made = []

    def make(nopreempt=False):
        h = Hosts(havipd_bin, workdir, nopreempt)
        made.append(h)
        return h
    yield make
    for h in made:
        for title, text in h.diagnostics():
            print(f"----- {title}\n{text}")
        h.close()
    for h in made:
        assert not h.problems, "teardown: " + "; ".join(h.problems)


def up(hosts):
    hosts.build()
    for h in HOSTS:
        hosts.write_keepalived_conf(h)
        hosts.start_havipd(h)
    # r1 first: with the higher priority and preempt it is master anyway.
    for h in HOSTS:
        hosts.start_keepalived(h)
    hosts.wait_primary("lan", "r1")
    hosts.wait_primary("v6", "r1")
    wait_for(lambda: hosts.radvd("r1"), timeout=10, what="radvd on r1")
    assert not hosts.radvd("r2")


def test_routers_come_from_keepalived_conf_and_follow_a_failover(hosts_factory):
    hosts = hosts_factory()
    up(hosts)
    cfg = hosts.havipd["r1"].config_path.read_text()
    keys = [line.split("=")[0].strip() for line in cfg.splitlines() if "=" in line]
    assert "interface" not in keys and "vip" not in keys and "namespace" in keys
    s = hosts.status("r1")
    assert set(s) == {"lan", "v6"}
    assert s["lan"]["namespace"] == hosts.topo.ns("r1")
    assert hosts.track("r1", "lan") == "0" and hosts.track("r1", "v6") == "0"
    assert hosts.topo.sysctl("r1", "net/ipv6/conf/qg-r1/forwarding") == "1"

    # keepalived stopped on r1: r2 takes both routers and starts its radvd.
    hosts.keepalived["r1"].stop()
    hosts.wait_primary("lan", "r2")
    hosts.wait_primary("v6", "r2")
    wait_for(lambda: hosts.radvd("r2"), timeout=10, what="radvd on r2")
    wait_for(lambda: not hosts.radvd("r1"), timeout=5, what="no radvd on r1")
    # Back: r1 has the higher priority and preempts.
    hosts.start_keepalived("r1")
    hosts.wait_primary("lan", "r1")
    wait_for(lambda: hosts.radvd("r1"), timeout=10, what="radvd on r1 again")


def test_failing_radvd_moves_the_router_through_the_track_file(hosts_factory):
    hosts = hosts_factory()
    up(hosts)
    hosts.set_radvd("r1", False)
    for pid in hosts.radvd("r1"):
        os.kill(pid, 9)
    # Failing for track_grace_ms on the primary: the failure value, keepalived FAULT.
    wait_for(lambda: hosts.track("r1", "lan") == "-254", timeout=TRACK_GRACE_MS / 1000 + 10,
             what=lambda: f"the failure value in r1's track file: {hosts.track('r1', 'lan')}")
    assert hosts.track("r1", "v6") == "0", "v6 has no failing effect"
    hosts.wait_primary("lan", "r2")
    wait_for(lambda: hosts.radvd("r2"), timeout=10, what="radvd on r2")
    s = hosts.status("r1")["lan"]
    assert s["role"] in ("backup", "fault")
    assert "failed" in json.dumps(s["track"]), s
    assert hosts.roles("v6")["r1"] == "primary", "only the failing router moves"

    # Fixed: the failure is kept for track_failure_timeout_ms after the router left,
    # then cleared; r1 (priority 150, preempt) takes the router back and radvd runs.
    hosts.set_radvd("r1", True)
    wait_for(lambda: hosts.track("r1", "lan") == "0",
             timeout=TRACK_FAILURE_TIMEOUT_MS / 1000 + 10, what="the track file cleared")
    hosts.wait_primary("lan", "r1")
    wait_for(lambda: hosts.radvd("r1"), timeout=10, what="radvd on r1 again")


@pytest.mark.parametrize("nopreempt", [False, True], ids=["preempt", "nopreempt"])
def test_drain_moves_every_router_and_undrain_gives_them_back(hosts_factory, nopreempt):
    hosts = hosts_factory(nopreempt=nopreempt)
    up(hosts)
    p = hosts.ctl("r1", "drain", "--timeout", "30")
    for router in ("lan", "v6"):
        assert router in p.stdout and "moved" in p.stdout, p.stdout
        assert hosts.roles(router)["r1"] != "primary", "drain waits until the VIP is gone"
        assert hosts.track("r1", router) == "-254"
        hosts.wait_primary(router, "r2")  # the peer's keepalived, then its hold-down
    assert all(s["drained"] for s in hosts.status("r1").values())
    wait_for(lambda: hosts.radvd("r2"), timeout=10, what="radvd on r2")

    # Drained survives a restart of havipd.
    hosts.havipd["r1"].stop()
    hosts.havipd["r1"].start()
    assert all(s["drained"] for s in hosts.status("r1").values())
    assert hosts.track("r1", "lan") == "-254"

    hosts.ctl("r1", "undrain")
    wait_for(lambda: hosts.track("r1", "lan") == "0" and hosts.track("r1", "v6") == "0",
             timeout=5, what="the track files cleared")
    if nopreempt:
        time.sleep(5)  # keepalived's master-down interval, and then some
        assert hosts.primary_of("lan") == "r2" and hosts.primary_of("v6") == "r2"
    else:
        hosts.wait_primary("lan", "r1")
        hosts.wait_primary("v6", "r1")
