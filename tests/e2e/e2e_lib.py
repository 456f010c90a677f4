"""Helpers for havip's e2e tier: a Neutron-like HA topology, keepalived, packet capture.

Everything this tier creates is named with PREFIX (``havipe-<pid>-``) and removed again;
the only processes it ends are the ones it started (or that were started inside its own
namespaces), by PID.

The topology (tests/lib/havip_testlib/topology.py, shared with bench/ra_gap.py): a
switch namespace with the bridges br-ha and br-int, two router namespaces r1 and r2 whose
internal ports share one MAC and whose link-local is a keepalived VIP, as in Neutron, and
a client namespace.
"""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE.parent / "kernel"))  # helpers (Havipd), fake_l3_agent
sys.path.insert(0, str(HERE.parent / "lib"))     # havip_testlib

# Some are re-exported for the tests and conftest.py, which import them from here.
from havip_testlib.keepalived import Keepalived  # noqa: E402
from havip_testlib.netns import NETNS_DIR, netns_inode, run_prefix  # noqa: E402,F401
from havip_testlib.proc import (descendants, netns_inode_of, parent_pid, proc_comm,  # noqa: E402
                                read_lines, run, stop_process, wait_for, which)
from havip_testlib.tier import havipd_binary  # noqa: E402,F401
from havip_testlib.topology import (QR_LLA, QR_MAC, VIP, Topology,  # noqa: E402,F401
                                    havipd_config, rdisc6)
from helpers import Havipd  # noqa: E402

PREFIX = run_prefix("e")
CAPTURE_SCRIPT = HERE / "ra_capture.py"

# command -> Debian package
TOOLS = {"ip": "iproute2", "keepalived": "keepalived", "radvd": "radvd", "rdisc6": "ndisc6"}


# ----------------------------------------------------------------------- requirements

def missing_tools():
    return sorted(cmd for cmd in TOOLS if which(cmd) is None)


def ensure_tools():
    """None when every tool is there (installing missing ones with apt-get unless
    HAVIP_E2E_NO_APT=1), else why the tier cannot run."""
    missing = missing_tools()
    if not missing:
        return None
    packages = sorted({TOOLS[c] for c in missing})
    if os.environ.get("HAVIP_E2E_NO_APT") == "1":
        return f"missing {', '.join(missing)} (packages {' '.join(packages)}; HAVIP_E2E_NO_APT=1)"
    if shutil.which("apt-get") is None:
        return f"missing {', '.join(missing)} and no apt-get to install {' '.join(packages)}"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"missing {', '.join(missing)}; `{' '.join(cmd)}` failed: {e}"
    still = missing_tools()
    if still:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        return (f"missing {', '.join(still)}; `{' '.join(cmd)}` exited {proc.returncode}: "
                f"{tail[0]}")
    return None


# ------------------------------------------------------------------------ capture

class Capture:
    """ra_capture.py running in one namespace; records arrive in .records."""

    def __init__(self, ns, ifnames, workdir):
        self.ns = ns
        self.ifnames = list(ifnames)
        self.records = []
        self.errors = workdir / f"capture-{ns}.err"
        self._err = open(self.errors, "w")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-u", str(CAPTURE_SCRIPT),
             *self.ifnames],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, text=True)
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise AssertionError(f"packet capture in {ns} did not start: "
                                 + "\n".join(read_lines(self.errors)))

    def _drain(self):
        for line in self.proc.stdout:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("ready"):
                self._ready.set()
            else:
                self.records.append(rec)
        self._ready.set()

    def ras(self, ifname=None, since=None):
        return [r for r in list(self.records) if r["kind"] == "ra"
                and (ifname is None or r["if"] == ifname)
                and (since is None or r["t"] >= since)]

    def vrrp(self, ifname=None, since=None):
        return [r for r in list(self.records) if r["kind"] == "vrrp"
                and (ifname is None or r["if"] == ifname)
                and (since is None or r["t"] >= since)]

    def stop(self):
        stop_process(self.proc)
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self._thread.join(5)
        self._err.close()


def radvd_processes(havipd_pid):
    """[(pid, netns inode)] of the radvd instances under havipd: the processes havipd
    started (not `radvd --configtest`, not radvd's own privilege-separation child)."""
    out = []
    for p in descendants(havipd_pid):
        try:
            argv = Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if proc_comm(p) == "radvd" and b"--configtest" not in argv \
                and proc_comm(parent_pid(p)) != "radvd":
            out.append((p, netns_inode_of(p)))
    return out


# ------------------------------------------------------------------------- cluster

class Cluster:
    """Two routers (keepalived + one shared havipd), a switch and a client, with packet
    captures on the switch ports and the client; torn down completely by close()."""

    ROUTERS = ("r1", "r2")

    def __init__(self, havipd_bin, workdir, hold_down_ms):
        self.workdir = workdir
        self.hold_down_ms = hold_down_ms
        self.topo = Topology(workdir, PREFIX)
        self.keepalived = {}
        self.captures = {}
        self.havipd = Havipd(havipd_bin, workdir)
        self.problems = []     # teardown findings (orphans, unclean exits)
        self.notes = []        # what the test did, with timestamps, for diagnostics
        self.t0 = time.monotonic()

    def note(self, text):
        self.notes.append(f"{time.monotonic() - self.t0:7.3f}s  {text}")

    # -- set-up steps, in the order a test calls them
    def build(self):
        self.topo.build(self.ROUTERS)
        self.topo.wait_carrier()
        self.note("topology up")

    def start_captures(self):
        ports = [f"sw-qr-{r}" for r in self.ROUTERS] + [f"sw-ha-{r}" for r in self.ROUTERS]
        self.captures["sw"] = Capture(self.topo.ns("sw"), ports, self.workdir)
        self.captures["client"] = Capture(self.topo.ns("client"), ["eth0"], self.workdir)
        self.note("captures running")

    def start_havipd(self, daemon=(), router=lambda r: ()):
        """daemon, router: more lines for havip.toml (topology.havipd_config)."""
        self.havipd.write_raw_config(havipd_config(
            self.topo, self.havipd.dir / "state", self.havipd.dir / "run", self.hold_down_ms,
            self.ROUTERS, daemon=daemon, router=router))
        self.havipd.start(*(["--log-level", os.environ["HAVIP_E2E_DEBUG"]] if os.environ.get("HAVIP_E2E_DEBUG") else []))
        self.note(f"havipd ready (pid {self.havipd.pid})")

    def start_keepalived(self, stagger=0.0, instance=lambda r: ()):
        """Starts keepalived in every router, `stagger` seconds apart. Started together,
        two keepalived with equal priority time out together now and then and are both
        master for a few ms until the lower address yields: havipd's hold-down absorbs
        that (as Neutron's does); a stagger avoids it when the hold-down is 0."""
        for i, r in enumerate(self.ROUTERS):
            if i and stagger:
                time.sleep(stagger)
            self.keepalived[r] = Keepalived(
                r, self.topo.ns(r), self.workdir, router_id=f"{PREFIX}{r}",
                global_defs=("notification_email_from neutron@openstack.local",),
                instance=instance(r)).start()
        self.note("keepalived started: " + ", ".join(
            f"{r} pid {k.pid}" for r, k in self.keepalived.items()))

    # -- observations
    def sw_ras(self, router, since=None):
        return self.captures["sw"].ras(f"sw-qr-{router}", since)

    def client_ras(self, since=None):
        return self.captures["client"].ras("eth0", since)

    def vrrp(self, router, since=None):
        return self.captures["sw"].vrrp(f"sw-ha-{router}", since)

    def sysctls(self, router):
        t = self.topo
        return {"qg.accept_ra": t.sysctl(router, f"net/ipv6/conf/qg-{router}/accept_ra"),
                "qg.forwarding": t.sysctl(router, f"net/ipv6/conf/qg-{router}/forwarding"),
                "all.forwarding": t.sysctl(router, "net/ipv6/conf/all/forwarding")}

    def radvd(self):
        """{router: [pid, ...]} of the radvd processes havipd runs, by namespace."""
        inodes = {netns_inode(self.topo.ns(r)): r for r in self.ROUTERS}
        out = {r: [] for r in self.ROUTERS}
        for pid, ino in radvd_processes(self.havipd.pid):
            out.setdefault(inodes.get(ino, f"netns inode {ino}"), []).append(pid)
        return out

    def diagnostics(self):
        """[(title, text)] for a failure report."""
        out = [("e2e steps", "\n".join(self.notes))]
        out.append(("havipd output", "\n".join(self.havipd.lines)))
        for r, k in self.keepalived.items():
            out.append((f"keepalived {r} (last lines)", k.log_tail(40)))
        recs = []
        for name, cap in self.captures.items():
            for rec in list(cap.records):
                recs.append((rec["t"], name, rec))
        recs.sort(key=lambda x: x[0])
        out.append(("packets (RA and VRRP) as captured",
                    "\n".join(f"{t - self.t0:7.3f}s {name:6} {json.dumps(rec)}"
                              for t, name, rec in recs)))
        for name, cap in self.captures.items():
            err = "\n".join(read_lines(cap.errors))
            if err:
                out.append((f"capture {name} stderr", err))
        return out

    # -- teardown
    def close(self):
        for cap in self.captures.values():
            try:
                cap.stop()
            except Exception as e:  # noqa: BLE001 - teardown must go on
                self.problems.append(f"stopping the capture in {cap.ns}: {e}")
        was_running = self.havipd.running()
        problem = self.havipd.teardown(timeout=5.0)
        if problem:
            self.problems.append(problem.splitlines()[0])
        clean_stop = was_running and not problem
        for k in self.keepalived.values():
            try:
                k.stop()
            except Exception as e:  # noqa: BLE001
                self.problems.append(f"stopping keepalived {k.router}: {e}")
        (self.workdir / "havipd.log").write_text("\n".join(self.havipd.lines) + "\n")
        (self.workdir / "steps.log").write_text("\n".join(self.notes) + "\n")
        killed = self.topo.cleanup()
        radvd_left = [k for k in killed if k[2] == "radvd"]
        if clean_stop and radvd_left:
            self.problems.append(f"radvd outlived havipd's clean SIGTERM exit: {radvd_left}")
        others = [k for k in killed if k[2] != "radvd"]
        if others:
            self.problems.append(f"processes left in the namespaces (killed): {others}")


# ------------------------------------------------------------------ Neutron mode helpers
# (used by test_neutron_*.py; nothing above depends on them)

NEUTRON_PYTHON = "/usr/bin/python3"  # Debian's neutron lives in the system interpreter

# Runs Debian's neutron code (neutron/agent/linux/keepalived.py) to render an HA router's
# keepalived.conf exactly as the L3 agent does (HaRouter._init_keepalived_manager: state
# BACKUP, nopreempt, priority 50, the HA network 169.254.192.0/18, track_interface).
_NEUTRON_KEEPALIVED_GEN = r"""
import json, sys
from oslo_config import cfg
from neutron.conf.agent.l3 import config as l3_config
from neutron.conf.agent.l3 import keepalived as ka_config
l3_config.register_l3_agent_config_opts(l3_config.OPTS, cfg.CONF)
ka_config.register_l3_agent_keepalived_opts()
from neutron.agent.linux import keepalived
spec = json.loads(sys.argv[1])
inst = keepalived.KeepalivedInstance(
    'BACKUP', spec['ha'], spec['vrid'], ['169.254.192.0/18'], nopreempt=True,
    advert_int=spec['advert_int'], priority=50)
inst.track_interfaces.append(spec['ha'])
for cidr, dev, scope in spec['excluded']:
    inst.add_vip(cidr, dev, scope)
for dst, via, dev in spec['routes']:
    inst.virtual_routes.gateway_routes.append(keepalived.KeepalivedVirtualRoute(dst, via, dev))
conf = keepalived.KeepalivedConf()
conf.add_instance(inst)
sys.stdout.write(conf.get_config_str())
"""


def neutron_keepalived_conf(ha, vrid, advert_int=2, excluded=(), routes=()):
    """(text, how): keepalived.conf for an HA router, rendered by Debian's neutron code when
    it is installed ("neutron"), else by fake_l3_agent.keepalived_conf, the same template
    ("template"). excluded: (cidr, dev, scope or None); routes: (dst, via, dev)."""
    spec = {"ha": ha, "vrid": vrid, "advert_int": advert_int,
            "excluded": [list(e) for e in excluded], "routes": [list(r) for r in routes]}
    if os.access(NEUTRON_PYTHON, os.X_OK):
        p = subprocess.run([NEUTRON_PYTHON, "-c", _NEUTRON_KEEPALIVED_GEN, json.dumps(spec)],
                           capture_output=True, text=True, timeout=60)
        if p.returncode == 0 and "vrrp_instance" in p.stdout:
            return p.stdout, "neutron"
    from fake_l3_agent import keepalived_conf
    lines = [f"{d} via {v} dev {dev} no_track" for d, v, dev in routes]
    return keepalived_conf(ha, vrid, advert_int=advert_int, excluded=excluded,
                           routes=lines), "template"
