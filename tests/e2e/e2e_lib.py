"""Helpers for havip's e2e tier: a Neutron-like HA topology, keepalived, packet capture.

Everything this tier creates is named with PREFIX (``havipe-<pid>-``) and removed again;
the only processes it ends are the ones it started (or that were started inside its own
namespaces), by PID.

Topology (one namespace per box; `sw` plays the switches of both networks):

        r1 (router)                  sw                        r2 (router)
    ha-r1 169.254.192.1/18 ── sw-ha-r1 ┐ br-ha ┌ sw-ha-r2 ── ha-r2 169.254.192.2/18
    qr-r1 (MAC M, no auto LLA) ─ sw-qr-r1 ┐ br-int ┌ sw-qr-r2 ─ qr-r2 (MAC M, no auto LLA)
    qg-r1 ── qg-r1p (both in r1)          sw-client                   qg-r2 ── qg-r2p
                                             │
                                        eth0 (client)

As in Neutron, both routers' internal ports have the same MAC M (it is one Neutron
port), the kernel generates no IPv6 link-local on them (`addrgenmode none`), and the
link-local fe80::<EUI-64 of M> is a keepalived `virtual_ipaddress_excluded` entry: it
lives only on the VRRP master, so radvd on the primary — whichever router that is —
always sends from the same source address, and clients keep the same default router.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE.parent / "kernel"))

from helpers import Havipd, descendants, havipd_binary, run, wait_for  # noqa: E402,F401

PREFIX = f"havipe-{os.getpid()}-"
NETNS_DIR = Path("/run/netns")
CAPTURE_SCRIPT = HERE / "ra_capture.py"

# Neutron's base MAC is fa:16:3e; its EUI-64 link-local flips the U/L bit (fa -> f8).
QR_MAC = "fa:16:3e:00:0e:2e"
VIP = "169.254.0.1/24"
PREFIX6 = "fd00:1::/64"

# command -> Debian package
TOOLS = {"ip": "iproute2", "keepalived": "keepalived", "radvd": "radvd", "rdisc6": "ndisc6"}


def lla_of(mac):
    """The EUI-64 IPv6 link-local address the kernel derives from mac."""
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 0x02
    words = [(b[0] << 8) | b[1], (b[2] << 8) | 0xFF, 0xFE00 | b[3], (b[4] << 8) | b[5]]
    return "fe80::" + ":".join(f"{w:x}" for w in words)


QR_LLA = lla_of(QR_MAC)


# ----------------------------------------------------------------------- requirements

def which(cmd):
    return shutil.which(cmd, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


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


def netns_problem():
    """None when this process can build the topology, else why not."""
    if os.geteuid() != 0:
        return "the e2e tier needs root (namespaces, bridges, keepalived, radvd)"
    if which("ip") is None:
        return "the e2e tier needs iproute2's `ip`"
    name = f"{PREFIX}probe"
    proc = run("ip", "netns", "add", name, check=False)
    if proc.returncode != 0:
        return f"`ip netns add` failed: {proc.stderr.strip() or proc.returncode}"
    try:
        for argv, what in (
                (["link", "add", "br-probe", "type", "bridge"], "a bridge"),
                (["link", "add", "v-probe", "type", "veth", "peer", "name", "v-probep"],
                 "a veth pair"),
                (["link", "set", "v-probe", "master", "br-probe"], "a bridge port")):
            p = run("ip", "-n", name, *argv, check=False)
            if p.returncode != 0:
                return f"cannot create {what} in a namespace: {p.stderr.strip()}"
    finally:
        run("ip", "netns", "del", name, check=False)
    return None


# ---------------------------------------------------------------------- processes

def proc_comm(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def netns_inode(name):
    try:
        return os.stat(NETNS_DIR / name).st_ino
    except OSError:
        return None


def pid_netns_inode(pid):
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def pids_in_netns(name):
    """PIDs of the processes whose network namespace is `name` (`ip netns pids`)."""
    p = run("ip", "netns", "pids", name, check=False)
    return [int(x) for x in p.stdout.split()] if p.returncode == 0 else []


def read_lines(path):
    try:
        return Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return []


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
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self._thread.join(5)
        self._err.close()


class Keepalived:
    """keepalived --dont-fork --vrrp in a namespace, configured the way Neutron does."""

    def __init__(self, router, ns, workdir, priority=50):
        self.router = router
        self.ns = ns
        self.dir = workdir
        self.conf = workdir / f"keepalived-{router}.conf"
        self.log = workdir / f"keepalived-{router}.log"
        self.files = {k: workdir / f"keepalived-{router}.{k}.pid"
                      for k in ("main", "vrrp", "checkers", "bfd")}
        self.proc = None
        self._log = None
        self.priority = priority

    def write_config(self):
        # Neutron's template (neutron/agent/linux/keepalived.py), with advert_int 1 for a
        # fast test. keepalived adds IPv6 VIPs with IFA_F_NODAD and ignores `scope` for
        # them, so the link-local is usable at once and carries no scope keyword here.
        self.conf.write_text(f"""\
global_defs {{
    notification_email_from neutron@openstack.local
    router_id {PREFIX}{self.router}
}}
vrrp_instance VR_1 {{
    state BACKUP
    interface ha-{self.router}
    virtual_router_id 1
    priority {self.priority}
    garp_master_delay 60
    nopreempt
    advert_int 1
    track_interface {{
        ha-{self.router}
    }}
    virtual_ipaddress {{
        {VIP} dev ha-{self.router}
    }}
    virtual_ipaddress_excluded {{
        {QR_LLA}/64 dev qr-{self.router}
    }}
}}
""")

    def start(self):
        self.write_config()
        self._log = open(self.log, "w")
        # `ip netns exec` (and `stdbuf`, which makes the log line-buffered so a failure
        # report shows it) exec keepalived in place: the Popen PID is keepalived's.
        stdbuf = [which("stdbuf"), "-oL"] if which("stdbuf") else []
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, *stdbuf, which("keepalived"), "--dont-fork",
             "--log-console", "--log-detail", "--no-syslog", "--vrrp",
             "--use-file", str(self.conf),
             "--pid", str(self.files["main"]), "--vrrp_pid", str(self.files["vrrp"]),
             "--checkers_pid", str(self.files["checkers"]), "--bfd_pid", str(self.files["bfd"])],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def vrrp_child(self):
        try:
            pid = int(self.files["vrrp"].read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if proc_comm(pid) == "keepalived" else None

    def terminate(self):
        """SIGTERM to keepalived's parent, by PID (a clean stop: it removes the VIPs and
        sends a priority-0 advert)."""
        os.kill(self.proc.pid, signal.SIGTERM)

    def stop(self, timeout=5.0):
        if self.proc is None:
            return
        child = self.vrrp_child()
        if self.running():
            self.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if child and proc_comm(child) == "keepalived" and \
                pid_netns_inode(child) == netns_inode(self.ns):
            os.kill(child, signal.SIGKILL)
        if self._log:
            self._log.close()
            self._log = None

    def log_tail(self, n=25):
        return "\n".join(read_lines(self.log)[-n:])


class Topology:
    """The namespaces of one e2e run; builds them and deletes every one of them."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.names = {}

    def ns(self, role):
        return self.names[role]

    def add_ns(self, role):
        name = f"{PREFIX}{role}"
        self.names[role] = name
        run("ip", "netns", "add", name)
        self.ip(role, "link", "set", "lo", "up")
        return name

    def ip(self, role, *args, check=True):
        return run("ip", "-n", self.names[role], *args, check=check)

    def sysctl(self, role, key):
        """A sysctl's value as read inside the namespace (key with dots or slashes)."""
        path = "/proc/sys/" + key.replace(".", "/") if "/" not in key else "/proc/sys/" + key
        return run("ip", "netns", "exec", self.names[role], "cat", path).stdout.strip()

    def set_sysctl(self, role, key, value):
        run("ip", "netns", "exec", self.names[role], "sysctl", "-qw", f"{key}={value}")

    def build(self, routers=("r1", "r2")):
        for role in ("sw", *routers, "client"):
            self.add_ns(role)
        for br in ("br-ha", "br-int"):
            self.ip("sw", "link", "add", br, "type", "bridge", "stp_state", "0",
                    "mcast_snooping", "0")
            self.ip("sw", "link", "set", br, "up")
        for i, r in enumerate(routers, start=1):
            ns = self.names[r]
            # HA network
            self.ip("sw", "link", "add", f"sw-ha-{r}", "type", "veth",
                    "peer", "name", f"ha-{r}", "netns", ns)
            self.ip(r, "addr", "add", f"169.254.192.{i}/18", "dev", f"ha-{r}")
            # internal network: the same MAC on both routers, no kernel link-local
            self.ip("sw", "link", "add", f"sw-qr-{r}", "type", "veth",
                    "peer", "name", f"qr-{r}", "netns", ns)
            self.ip(r, "link", "set", f"qr-{r}", "address", QR_MAC, "addrgenmode", "none")
            # gateway port (only its sysctls matter here)
            self.ip(r, "link", "add", f"qg-{r}", "type", "veth", "peer", "name", f"qg-{r}p")
            for dev in (f"ha-{r}", f"qr-{r}", f"qg-{r}", f"qg-{r}p"):
                self.ip(r, "link", "set", dev, "up")
            for dev, br in ((f"sw-ha-{r}", "br-ha"), (f"sw-qr-{r}", "br-int")):
                self.ip("sw", "link", "set", dev, "master", br)
                self.ip("sw", "link", "set", dev, "up")
        # the client: DAD off so rdisc6 has a usable link-local source at once
        self.ip("sw", "link", "add", "sw-client", "type", "veth",
                "peer", "name", "eth0", "netns", self.names["client"])
        self.set_sysctl("client", "net.ipv6.conf.eth0.accept_dad", "0")
        self.ip("client", "link", "set", "eth0", "up")
        self.ip("sw", "link", "set", "sw-client", "master", "br-int")
        self.ip("sw", "link", "set", "sw-client", "up")

    def wait_carrier(self, timeout=5.0):
        def all_up():
            for role, name in self.names.items():
                out = run("ip", "-n", name, "-j", "link", "show").stdout
                for link in json.loads(out or "[]"):
                    if link["ifname"] == "lo":
                        continue
                    if "LOWER_UP" not in link.get("flags", []):
                        return False
            return True
        wait_for(all_up, timeout, interval=0.05, what="carrier on every link")

    def has_addr(self, role, dev, addr):
        out = self.ip(role, "-j", "addr", "show", "dev", dev, check=False).stdout
        for link in json.loads(out or "[]"):
            for a in link.get("addr_info", []):
                if a.get("local") == addr:
                    return True
        return False

    def cleanup(self):
        """Kills (by PID) whatever still runs in our namespaces, deletes them; returns
        [(namespace, pid, comm)] of the processes it had to kill."""
        killed = []
        for name in self.names.values():
            for pid in pids_in_netns(name):
                comm = proc_comm(pid)
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append((name, pid, comm))
                except ProcessLookupError:
                    pass
        for name in self.names.values():
            if (NETNS_DIR / name).exists():
                run("ip", "netns", "del", name, check=False)
        return killed


def rdisc6(topo, timeout_ms=1500, retries=2):
    """Solicits one RA from the client; returns (source address or None, output)."""
    p = run("ip", "netns", "exec", topo.ns("client"), which("rdisc6"), "-1", "-n",
            "-r", str(retries), "-w", str(timeout_ms), "eth0", check=False,
            timeout=retries * timeout_ms / 1000 + 5)
    src = None
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("from "):
            src = line.split()[1]
    return src, (p.stdout + p.stderr).strip()


def parent_of(pid):
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


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
                and proc_comm(parent_of(p)) != "radvd":
            out.append((p, pid_netns_inode(p)))
    return out


# ------------------------------------------------------------------------- cluster

def havipd_config(topo, state_dir, run_dir, hold_down_ms, routers=("r1", "r2")):
    """havip.toml: one havipd watching both routers (two hosts merged into one)."""
    lines = ["[daemon]",
             f"state_dir = {json.dumps(str(state_dir))}",
             f"control_socket = {json.dumps(str(Path(run_dir) / 'ctl.sock'))}",
             f"run_dir = {json.dumps(str(run_dir))}",
             f"hold_down_ms = {hold_down_ms}",
             f"radvd_binary = {json.dumps(which('radvd'))}"]
    for r in routers:
        lines += ["",
                  "[[router]]",
                  f'name = "{r}"',
                  f"namespace = {json.dumps(topo.ns(r))}",
                  f'interface = "ha-{r}"',
                  f'vip = "{VIP}"',
                  f'gateway_interface = "qg-{r}"',
                  "",
                  "[[router.radvd.interface]]",
                  f'name = "qr-{r}"',
                  f'prefixes = [{{ prefix = "{PREFIX6}", mode = "slaac" }}]',
                  "min_interval = 3",
                  "max_interval = 4"]
    return "\n".join(lines) + "\n"


class Cluster:
    """Two routers (keepalived + one shared havipd), a switch and a client, with packet
    captures on the switch ports and the client; torn down completely by close()."""

    ROUTERS = ("r1", "r2")

    def __init__(self, havipd_bin, workdir, hold_down_ms):
        self.workdir = workdir
        self.hold_down_ms = hold_down_ms
        self.topo = Topology(workdir)
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

    def start_havipd(self):
        self.havipd.write_raw_config(havipd_config(
            self.topo, self.havipd.dir / "state", self.havipd.dir / "run", self.hold_down_ms,
            self.ROUTERS))
        self.havipd.start()
        self.note(f"havipd ready (pid {self.havipd.pid})")

    def start_keepalived(self, stagger=0.0):
        """Starts keepalived in every router, `stagger` seconds apart. Started together,
        two keepalived with equal priority time out together now and then and are both
        master for a few ms until the lower address yields: havipd's hold-down absorbs
        that (as Neutron's does); a stagger avoids it when the hold-down is 0."""
        for i, r in enumerate(self.ROUTERS):
            if i and stagger:
                time.sleep(stagger)
            self.keepalived[r] = Keepalived(r, self.topo.ns(r), self.workdir).start()
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
        clean_stop = False
        if self.havipd.running():
            try:
                self.havipd.stop(timeout=5.0)
                clean_stop = True
            except AssertionError as e:
                self.problems.append(str(e).splitlines()[0])
            finally:
                self.havipd.kill()
        else:
            self.havipd.close()
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
