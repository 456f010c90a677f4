"""The speaker, keepalived's VRRP child, as src/netns/speaker.h finds it: by one /proc
scan per namespace, and from its pid file (keepalived -r, and Neutron's layout), checked
against real keepalived in throwaway namespaces through tests/kernel/speaker_probe.cc
($SPEAKER_PROBE, else build/tests/speaker_probe).

Namespaces are named hvspk-<pid>-… and deleted afterwards; the only processes ended are
the keepalived started here, by PID (whatever is left in our namespaces is ours). Needs
root and keepalived (installed with apt-get when missing, unless HAVIP_E2E_NO_APT=1);
skipped with the reason otherwise.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))  # havip_testlib

from fake_l3_agent import NeutronStatePath, ha_interface_name  # noqa: E402
from fake_l3_agent import keepalived_conf as neutron_keepalived_conf  # noqa: E402
from havip_testlib.netns import (NetnsFactory, kill_processes_in, netns_inode,  # noqa: E402
                                 netns_problem, pids_in_netns)
from havip_testlib.proc import (alive, netns_inode_of, parent_pid, proc_comm,  # noqa: E402
                                read_lines, wait_for, which)
from havip_testlib.tier import REPO, Tier  # noqa: E402

PREFIX = f"hvspk-{os.getpid()}-"


def _keepalived_problem():
    if which("keepalived"):
        return None
    if os.environ.get("HAVIP_E2E_NO_APT") == "1" or shutil.which("apt-get") is None:
        return "keepalived is not installed (HAVIP_E2E_NO_APT=1 or no apt-get to install it)"
    p = subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "keepalived"],
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    return None if which("keepalived") else f"apt-get install keepalived failed: {p.stderr[-200:]}"


TIER = Tier("speaker", PREFIX, lambda: netns_problem(
    PREFIX, "test_speaker", "it creates network namespaces and runs keepalived")
    or _keepalived_problem())


@pytest.fixture(scope="module")
def speaker_ok():
    TIER.require()
    yield
    TIER.check_leftovers()


@pytest.fixture(scope="module")
def probe_bin():
    binary = Path(os.environ.get("SPEAKER_PROBE") or REPO / "build" / "tests" / "speaker_probe")
    if not os.access(binary, os.X_OK):
        pytest.fail(f"speaker_probe {binary} is not there: build it (ninja -C build) "
                    f"or set SPEAKER_PROBE")
    return binary


@pytest.fixture
def nsf(speaker_ok, workdir):
    """Namespaces named PREFIX…; what still runs in them (ours) is killed, then they go."""
    factory = NetnsFactory(workdir, PREFIX)
    yield factory
    names = factory.names
    killed = kill_processes_in([n for n in names if (Path("/run/netns") / n).exists()])
    errors = factory.cleanup()
    assert not errors, f"could not delete namespaces: {errors}"
    assert not killed, f"left running in our namespaces (killed now): {killed}"


class Probe:
    def __init__(self, binary):
        self.binary = binary

    def __call__(self, *args):
        """(exit code, stdout lines, stderr) of speaker_probe ARGS."""
        p = subprocess.run([str(self.binary), *map(str, args)], capture_output=True, text=True,
                           timeout=30)
        return p.returncode, p.stdout.split("\n")[:-1], p.stderr.strip()

    def netns(self, name):
        """The speaker's pid in the namespace, or None (asserting the probe said "none")."""
        rc, out, err = self("netns", name)
        assert rc in (0, 1), f"speaker_probe netns {name}: exit {rc}: {err}"
        return int(out[0]) if rc == 0 else None

    def pid_file(self, path):
        rc, out, err = self("pid-file", path)
        assert rc == 0, f"speaker_probe pid-file {path}: exit {rc}: {err}"
        return int(out[0])

    def scan(self):
        """{netns inode: pid} of one scan."""
        rc, out, err = self("scan")
        assert rc == 0, err
        return {int(i): int(p) for i, p in (line.split() for line in out[:-1])}


@pytest.fixture
def probe(probe_bin):
    return Probe(probe_bin)


def read_pid(path):
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def conf(vrid, interface="ha-r1", auth_ah=False, ipv6=False, bfd=False):
    """A small keepalived.conf: one VRRP instance (AH-authenticated, or IPv6), and a BFD
    instance (keepalived then runs a BFD child that holds sockets of its own)."""
    vip = f"fd00:{vrid}::1/64" if ipv6 else f"169.254.0.{vrid}/24"
    auth = ("    authentication {\n        auth_type AH\n        auth_pass secret\n    }\n"
            if auth_ah else "")
    text = (f"global_defs {{\n    router_id hvspk{vrid}\n}}\n"
            f"vrrp_instance VR_{vrid} {{\n    state BACKUP\n    interface {interface}\n"
            f"    virtual_router_id {vrid}\n    priority 50\n    nopreempt\n    advert_int 1\n"
            f"{auth}    virtual_ipaddress {{\n        {vip} dev {interface}\n    }}\n}}\n")
    if bfd:
        text += "bfd_instance bfd1 {\n    neighbor_ip 169.254.0.99\n}\n"
    return text


class Keepalived:
    """keepalived --dont-fork in a namespace with explicit -p/-r/-c/-b pid files."""

    def __init__(self, ns, workdir, text):
        self.ns = ns
        self.dir = workdir / f"ka-{ns.name}"
        self.dir.mkdir()
        self.conf = self.dir / "keepalived.conf"
        self.conf.write_text(text)
        self.log = self.dir / "log"
        self.files = {k: self.dir / f"{k}.pid" for k in ("main", "vrrp", "checkers", "bfd")}
        self.proc = None

    def start(self):
        with open(self.log, "w") as log:
            # `ip netns exec` execs keepalived: the Popen's pid is keepalived's parent.
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.ns.name, which("keepalived"), "--dont-fork",
                 "--log-console", "--no-syslog", "-f", self.conf, "-p", self.files["main"],
                 "-r", self.files["vrrp"], "-c", self.files["checkers"], "-b", self.files["bfd"]],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        return self

    def vrrp_pid(self):
        """The VRRP child's pid (its -r file) when that process is alive, else None."""
        pid = read_pid(self.files["vrrp"])
        return pid if pid and alive(pid) and proc_comm(pid) == "keepalived" else None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log_text(self):
        return "\n".join(read_lines(self.log)[-30:])


@pytest.fixture
def keepalived(nsf, workdir):
    """Factory: keepalived(ns, conf_text) -> a started Keepalived; all stopped afterwards."""
    started = []

    def start(ns, text):
        k = Keepalived(ns, workdir, text).start()
        started.append(k)
        return k
    yield start
    for k in started:
        k.stop()


def wait_found(probe, k, previous=None, timeout=10):
    """Waits until keepalived's -r file names a live VRRP child (other than `previous`)
    and the scan finds that pid in its namespace; returns the pid."""
    def found():
        pid = k.vrrp_pid()
        return pid if pid and pid != previous and probe.netns(k.ns.name) == pid else None
    return wait_for(found, timeout, interval=0.05,
                    what=lambda: f"the VRRP child of keepalived in {k.ns.name} found "
                                 f"(-r file: {read_pid(k.files['vrrp'])}, probe: "
                                 f"{probe.netns(k.ns.name)})\n{k.log_text()}")


def keepalived_in(ns_name):
    return sorted(p for p in pids_in_netns(ns_name) if proc_comm(p) == "keepalived")


# ------------------------------------------------------------------------------ tests

def test_the_vrrp_child_is_found_in_each_namespace_and_none_without_keepalived(
        nsf, keepalived, probe):
    a, b, c, empty = (nsf.create(label) for label in ("a", "b", "v6", "empty"))
    ka = keepalived(a, conf(11, bfd=True))  # a parent, its VRRP child and a BFD child
    kb = keepalived(b, conf(12, auth_ah=True))  # sockets of protocol 51, not 112
    kc = keepalived(c, conf(13, ipv6=True))  # raw6
    found = {k.ns.name: wait_found(probe, k) for k in (ka, kb, kc)}

    for k in (ka, kb, kc):
        pid = found[k.ns.name]
        assert pid == read_pid(k.files["vrrp"])
        assert parent_pid(pid) == k.proc.pid == read_pid(k.files["main"])
        assert netns_inode_of(pid) == k.ns.inode()
        assert probe.pid_file(k.files["vrrp"]) == pid
    # keepalived's other processes: the parent and (a) the BFD child, which holds sockets.
    bfd = read_pid(ka.files["bfd"])
    assert bfd and parent_pid(bfd) == ka.proc.pid, ka.log_text()
    assert keepalived_in(a.name) == sorted([ka.proc.pid, found[a.name], bfd])
    assert probe.netns(empty.name) is None

    scan = probe.scan()
    for k in (ka, kb, kc):
        assert scan[k.ns.inode()] == found[k.ns.name]
    assert empty.inode() not in scan


def test_a_respawned_vrrp_child_is_found_and_the_pidfd_saw_the_old_one_exit(
        nsf, keepalived, probe):
    ns = nsf.create("respawn")
    k = keepalived(ns, conf(21))
    old = wait_found(probe, k)
    # The probe finds the speaker, opens a pidfd on it and waits for it to exit.
    watcher = subprocess.Popen([str(probe.binary), "netns", ns.name, "--wait", "10"],
                               stdout=subprocess.PIPE, text=True)
    assert watcher.stdout.readline().strip() == str(old)
    os.kill(old, signal.SIGKILL)  # keepalived's VRRP child, started here
    out, _ = watcher.communicate(timeout=15)
    assert watcher.returncode == 0 and out.strip() == "exited"

    new = wait_found(probe, k, previous=old)
    assert new != old and parent_pid(new) == k.proc.pid
    assert probe.pid_file(k.files["vrrp"]) == new
    assert keepalived_in(ns.name) == sorted([k.proc.pid, new])


def test_the_parent_is_no_speaker_and_pid_files_are_checked(nsf, keepalived, probe, workdir):
    ns = nsf.create("files")
    k = keepalived(ns, conf(31))
    pid = wait_found(probe, k)
    # A pid file names a keepalived without saying which: the parent's passes too.
    assert probe.pid_file(k.files["main"]) == k.proc.pid != pid
    link = workdir / "vrrp-link.pid"
    link.symlink_to(k.files["vrrp"])
    rc, _, err = probe("pid-file", link)
    assert rc == 2 and err.endswith(f"{link}: is a symbolic link")
    own = workdir / "own.pid"
    own.write_text(f"{os.getpid()}\n")
    rc, _, err = probe("pid-file", own)
    assert rc == 2 and f"pid {os.getpid()} is '{proc_comm(os.getpid())}', not keepalived" in err
    # After keepalived stops, its pid files name no process (or it removed them).
    k.stop()
    wait_for(lambda: not keepalived_in(ns.name), 10, what="keepalived gone")
    assert probe.netns(ns.name) is None
    if k.files["vrrp"].exists():
        rc, _, err = probe("pid-file", k.files["vrrp"])
        assert rc == 2 and f"no such process {pid}" in err


# ------------------------------------------------------------------------ Neutron

# What Neutron's own code (python3-neutron: KeepalivedManager) makes of a router: the pid
# files and keepalived's command line, printed as JSON. Run in a process of its own
# (oslo.config's CONF is global).
NEUTRON_LAYOUT = r"""
import json, sys
from oslo_config import cfg
from oslo_log import log as logging
from neutron.agent.linux import keepalived
from neutron.conf import common as common_conf
from neutron.conf.agent import common as agent_common
from neutron.conf.agent.l3 import ha as ha_conf
state_path, router_id, namespace = sys.argv[1:4]
cfg.CONF.register_cli_opts(common_conf.core_cli_opts)
agent_common.register_external_process_opts(cfg.CONF)
agent_common.register_process_monitor_opts(cfg.CONF)
ha_conf.register_l3_agent_ha_opts(cfg.CONF)
logging.register_options(cfg.CONF)
cfg.CONF(["--state_path", state_path], project="neutron", default_config_files=[])
m = keepalived.KeepalivedManager(router_id, keepalived.KeepalivedConf(), None,
                                 conf_path=cfg.CONF.ha_confs_path, namespace=namespace)
pm = m.get_process()
base = pm.get_pid_file_name()
vrrp = m.get_vrrp_pid_file_name(base)
conf = m.get_full_config_file_path("keepalived.conf")
cmd = m._get_keepalived_process_callback(m._get_vrrp_process(vrrp), conf)(base)
print(json.dumps({"ha_confs": cfg.CONF.ha_confs_path, "pid": base, "vrrp": vrrp,
                  "conf": conf, "cmd": cmd}))
"""


def neutron_layout(state_path, router_id, namespace):
    """Neutron's layout from Neutron's code when /usr/bin/python3 has it, else None."""
    p = subprocess.run(["/usr/bin/python3", "-c", NEUTRON_LAYOUT, str(state_path), router_id,
                        namespace], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        print(f"\nNeutron's code not usable here ({p.stderr.strip().splitlines()[-1:]}): "
              f"the layout of src/neutron/neutron.cc is used")
        return None
    return json.loads(p.stdout)


def test_neutron_layout_keepalived_started_with_neutrons_arguments(nsf, probe, workdir):
    router_id = str(uuid.uuid4())
    ns = nsf.create(name=f"{PREFIX}qrouter-{router_id}", veths=())
    ha = ha_interface_name()
    ns.add_veth(ha)
    sp = NeutronStatePath(workdir / "neutron")
    layout = neutron_layout(sp.path, router_id, ns.name)
    if layout is None:  # Neutron's arguments as KeepalivedManager builds them
        base = f"{sp.ha_confs}/{router_id}.pid.keepalived"
        layout = {"ha_confs": str(sp.ha_confs), "pid": base, "vrrp": base + "-vrrp",
                  "conf": str(sp.conf_path(router_id)),
                  "cmd": ["keepalived", "-P", "-f", str(sp.conf_path(router_id)),
                          "-p", base, "-r", base + "-vrrp"]}
    assert layout["ha_confs"] == str(sp.ha_confs) and layout["conf"] == str(sp.conf_path(router_id))
    sp.write_conf(router_id, neutron_keepalived_conf(ha, vrid=7, advert_int=1))

    # The C++ path is the one Neutron gives keepalived for its VRRP child.
    rc, out, err = probe("neutron-pid-file", sp.ha_confs, router_id)
    assert rc == 0, err
    assert out == [layout["vrrp"]] == [f"{sp.ha_confs}/{router_id}.pid.keepalived-vrrp"]

    # keepalived as the agent starts it: `ip netns exec qrouter-<id> keepalived -P -f … -p …
    # -r …`, daemonizing (the parent's pid is in the -p file).
    cmd = layout["cmd"]
    assert cmd[:2] == ["keepalived", "-P"], cmd
    subprocess.run(["ip", "netns", "exec", ns.name, which("keepalived"), *cmd[1:]],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True, timeout=30)
    parent = None
    try:
        def speaker():
            pid = read_pid(layout["vrrp"])
            return pid if pid and alive(pid) and probe.netns(ns.name) == pid else None
        pid = wait_for(speaker, 10, interval=0.05,
                       what=lambda: f"keepalived's VRRP child in {ns.name} "
                                    f"({sorted(p.name for p in sp.ha_confs.iterdir())})")
        parent = read_pid(layout["pid"])
        assert parent_pid(pid) == parent and proc_comm(parent) == "keepalived"
        assert netns_inode_of(parent) == netns_inode(ns.name)
        assert probe.pid_file(out[0]) == pid
        # -P: no checker child, so keepalived is two processes.
        assert keepalived_in(ns.name) == sorted([parent, pid])
        # Neither pid file is in the router's directory, which holds only its conf.
        assert sorted(p.name for p in sp.conf_dir(router_id).iterdir()) == ["keepalived.conf"]
    finally:
        parent = parent or read_pid(layout["pid"])
        if parent and proc_comm(parent) == "keepalived" and \
                netns_inode_of(parent) == netns_inode(ns.name):
            os.kill(parent, signal.SIGTERM)  # keepalived's parent, started here
            wait_for(lambda: not keepalived_in(ns.name), 10, what="keepalived stopped")
