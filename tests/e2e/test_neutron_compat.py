"""e2e, Neutron compatibility: the incumbent `neutron-keepalived-state-change` (Debian's
neutron-l3-agent package) and havipd watch the same router namespaces through the same
scripted VIP changes; each has its own state_path and its own fake L3 agent. Asserted: the
same state files (bytes), the same notification headers (method, path, Host,
X-Neutron-Router-Id, X-Neutron-State, Connection: close), each sent after the state file
was written, and the same sequence of states where the incumbent is deterministic (paced
changes: it reports every change; havipd runs with hold_down_ms = 0, as the incumbent has
no hold-down). For a burst of changes the incumbent reports each one; havipd's states must
be a subsequence of them ending in the same final state (it may coalesce: latest wins).

The package is installed with apt-get when missing (skipped when that fails, when
HAVIP_E2E_NO_APT=1 forbids it, or when HAVIP_NO_NEUTRON=1).
"""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from e2e_lib import Havipd, NETNS_DIR, netns_inode, run, wait_for, which
from helpers import parent_pid
from fake_l3_agent import (FakeL3Agent, NeutronStatePath, conntrackd_calls, conntrackd_standin,
                           ha_interface_name, neutron_havipd_config, random_router_id,
                           signal_vip)

INCUMBENT = "neutron-keepalived-state-change"
NEUTRON_HEADERS = ("Host", "X-Neutron-Router-Id", "X-Neutron-State", "Connection")

_neutron_reason = None


def neutron_unavailable():
    """Why the incumbent cannot run here (installing it when needed), or None."""
    global _neutron_reason
    if _neutron_reason is not None:
        return _neutron_reason or None
    reason = ""
    if os.environ.get("HAVIP_NO_NEUTRON") == "1":
        reason = "the Neutron compatibility test is disabled (HAVIP_NO_NEUTRON=1)"
    elif which(INCUMBENT) is None:
        if os.environ.get("HAVIP_E2E_NO_APT") == "1":
            reason = f"{INCUMBENT} is not installed (package neutron-l3-agent; HAVIP_E2E_NO_APT=1)"
        elif shutil.which("apt-get") is None:
            reason = f"{INCUMBENT} is not installed and there is no apt-get"
        else:
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends",
                   "neutron-l3-agent"]
            print(f"\ninstalling neutron-l3-agent for the compatibility test: {' '.join(cmd)}")
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
                if proc.returncode != 0:  # stale package lists: update once and retry
                    subprocess.run(["apt-get", "update", "-q"], capture_output=True,
                                   timeout=300, env=env)
                    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                                          env=env)
            except (OSError, subprocess.TimeoutExpired) as e:
                proc = None
                reason = f"`{' '.join(cmd)}` failed: {e}"
            if which(INCUMBENT) is None and not reason:
                tail = ((proc.stderr or proc.stdout).strip().splitlines() or [""])[-1]
                reason = f"`{' '.join(cmd)}` exited {proc.returncode}: {tail}"
    _neutron_reason = reason
    return reason or None


@pytest.fixture(scope="module")
def neutron_ok(e2e_ok):
    reason = neutron_unavailable()
    if reason:
        print(f"\nhavip Neutron compatibility test skipped: {reason}")
        pytest.skip(reason)


class Incumbent:
    """One neutron-keepalived-state-change, started with the L3 agent's arguments
    (HaRouter._get_state_change_monitor_callback). It daemonizes (double fork) and forks
    a helper for the namespace: its processes are found by their arguments, which hold
    this test's private state_path, so no other process is ever signalled."""

    def __init__(self, sp, router_id, ns, ha, vip):
        self.sp = sp
        self.router_id = router_id
        self.ns = ns
        self.conf_dir = sp.conf_dir(router_id)
        self.log = self.conf_dir / "neutron-keepalived-state-change.log"
        self.pid_file = sp.path / "external" / "pids" / f"{router_id}.monitor.pid"
        self.argv = [which(INCUMBENT), f"--router_id={router_id}", f"--namespace={ns}",
                     f"--conf_dir={self.conf_dir}", f"--log-file={self.log}",
                     f"--monitor_interface={ha}", f"--monitor_cidr={vip}",
                     f"--pid_file={self.pid_file}", f"--state_path={sp.path}",
                     f"--user={os.geteuid()}", f"--group={os.getegid()}"]
        self.pid = None
        self._launcher = None

    def launch(self):
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self._launcher = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                          text=True)

    def wait_started(self, timeout=30):
        try:
            out, _ = self._launcher.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._launcher.kill()
            out, _ = self._launcher.communicate()
            raise AssertionError(f"{INCUMBENT} did not daemonize within {timeout} s: {out}")
        assert self._launcher.returncode == 0, f"{INCUMBENT} exited " \
            f"{self._launcher.returncode}: {out}\n{self.log_tail()}"

        def pid():
            try:
                p = int(self.pid_file.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                return None
            return p if self.ours(p) else None
        self.pid = wait_for(pid, 10, what=f"{self.pid_file}")

    def wait_subscribed(self, timeout=30):
        """Waits until one of its processes holds a netlink socket in its namespace subscribed to
        IPv4 address events. The incumbent reads the initial state and subscribes in two
        threads at once, and only then: a change before that is missed for good
        (NEUTRON.md, "VIP set before the monitor started"; #1818614). On a loaded machine
        that window lasts seconds; the test changes nothing inside it."""
        def subscribed():
            inodes = set()
            for p in self.processes():
                try:
                    fds = os.listdir(f"/proc/{p}/fd")
                except OSError:
                    continue
                for fd in fds:
                    try:
                        link = os.readlink(f"/proc/{p}/fd/{fd}")
                    except OSError:
                        continue
                    if link.startswith("socket:["):
                        inodes.add(int(link[8:-1]))
            # /proc/net/netlink there: sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
            table = subprocess.run(["ip", "netns", "exec", self.ns, "cat", "/proc/net/netlink"],
                                   capture_output=True, text=True).stdout.splitlines()[1:]
            return any(int(f[1]) == 0 and int(f[3], 16) & 0x10 and int(f[9]) in inodes
                       for f in (line.split() for line in table) if len(f) >= 10)
        wait_for(subscribed, timeout,
                 what=f"{INCUMBENT} of {self.router_id} subscribed to address events in {self.ns}")

    def ours(self, pid):
        """pid is one of this monitor's processes (setproctitle joins its argv with spaces,
        so the command line is matched as text)."""
        try:
            text = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
            state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        text = text.replace("\0", " ") + " "
        return state != "Z" and f"--router_id={self.router_id} " in text and \
            f"--state_path={self.sp.path} " in text

    def processes(self):
        """Every live process of this monitor (found by its unique arguments)."""
        return sorted(int(e.name) for e in Path("/proc").iterdir()
                      if e.name.isdigit() and self.ours(int(e.name)))

    def stop(self):
        """SIGTERM to the daemon (as the agent does); returns its processes."""
        procs = self.processes()
        if self.pid is None or self.pid not in procs:
            self.pid = min(procs) if procs else None  # the daemon is the parent
        for p in procs:
            if p == self.pid or parent_pid(p) not in procs:
                os.kill(p, signal.SIGTERM)
        return procs

    def kill_leftovers(self):
        left = self.processes()
        for p in left:
            os.kill(p, signal.SIGKILL)
        return left

    def log_tail(self, n=20):
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        # Its DEBUG lines about every netlink message are long: keep the informative ones.
        keep = [l for l in lines if "keepalived_state_change" in l or "ERROR" in l
                or "Traceback" in l]
        return "\n".join(keep[-n:])


class Router:
    def __init__(self, vrid):
        self.id = random_router_id()
        self.ns = f"qrouter-{self.id}"
        self.ha = ha_interface_name()
        self.vip = signal_vip(vrid)
        self.vrid = vrid

    def ip(self, *args):
        return run("ip", "-n", self.ns, *args)

    def add_vip(self):
        self.ip("addr", "add", self.vip, "dev", self.ha)

    def del_vip(self):
        self.ip("addr", "del", self.vip, "dev", self.ha)


class Side:
    """One implementation with its own state_path and fake agent."""

    def __init__(self, name, path):
        self.name = name
        self.sp = NeutronStatePath(path)
        self.agent = FakeL3Agent(self.sp.socket_path, state_path=self.sp.path)

    def states(self, r):
        return self.agent.states(r.id)


class Compat:
    def __init__(self, workdir, havipd_bin):
        self.workdir = workdir
        self.routers = []
        self.namespaces = []
        self.inc = Side("incumbent", workdir / "incumbent")
        self.hav = Side("havipd", workdir / "havip")
        self.havipd = Havipd(havipd_bin, workdir, label="havipd")
        self.incumbents = []
        self.notes = []
        self.problems = []
        self.t0 = time.monotonic()

    def note(self, text):
        self.notes.append(f"{time.monotonic() - self.t0:7.3f}s  {text}")

    def add_router(self):
        r = Router(len(self.routers) + 1)
        self.namespaces.append(r.ns)
        run("ip", "netns", "add", r.ns)
        r.ip("link", "set", "lo", "up")
        r.ip("link", "add", r.ha, "type", "veth", "peer", "name", r.ha + "p")
        r.ip("link", "set", r.ha, "up")
        r.ip("link", "set", r.ha + "p", "up")
        for side in (self.inc, self.hav):
            side.sp.add_router(r.id, r.ha, r.vrid)
        self.routers.append(r)
        return r

    def diagnostics(self):
        out = ["--- steps ---", *self.notes, "--- havipd ---", *self.havipd.lines]
        for side in (self.inc, self.hav):
            out.append(f"[{side.name}] " + side.agent.describe())
        for i in self.incumbents:
            out.append(f"--- incumbent {i.router_id} log (state lines) ---")
            out.append(i.log_tail())
        return "\n".join(out)

    def close(self):
        problem = self.havipd.teardown(timeout=5.0)
        if problem:
            self.problems.append(problem.splitlines()[0])
        for i in self.incumbents:
            try:
                i.stop()
            except ProcessLookupError:
                pass
        # Its SIGTERM handler joins a thread for up to 5 s.
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and any(i.processes() for i in self.incumbents):
            time.sleep(0.05)
        for i in self.incumbents:
            left = i.kill_leftovers()
            if left:
                self.note(f"incumbent {i.router_id}: SIGKILLed {left} after SIGTERM + 8 s")
        for side in (self.inc, self.hav):
            side.agent.stop()
        (self.workdir / "compat.log").write_text(self.diagnostics() + "\n")
        for ns in self.namespaces:
            if (NETNS_DIR / ns).exists():
                p = run("ip", "netns", "del", ns, check=False)
                if p.returncode != 0:
                    self.problems.append(f"ip netns del {ns}: {p.stderr.strip()}")


@pytest.fixture
def compat(neutron_ok, havipd_bin, workdir):
    c = Compat(workdir, havipd_bin)
    try:
        yield c
    finally:
        c.close()
    assert not c.problems, "teardown: " + "; ".join(c.problems)


def neutron_headers(req):
    return {h.lower(): (req.header(h) or "").lower() if h == "Connection" else req.header(h)
            for h in NEUTRON_HEADERS}


def test_same_state_files_and_notifications_as_the_incumbent(compat, capsys):
    c = compat
    try:
        _scenario(c)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{c.diagnostics()}") from None
    with capsys.disabled():
        print("\n  compat: " + "; ".join(
            f"{r.id[:8]} incumbent {c.inc.states(r)} / havipd {c.hav.states(r)}"
            for r in c.routers))
        modes = {side.name: oct(os.stat(side.sp.state_file(c.routers[0].id)).st_mode & 0o777)
                 for side in (c.inc, c.hav)}
        print(f"  state file modes: {modes} (the incumbent daemonizes with umask 0)")


def _scenario(c):
    r1 = c.add_router()           # backup at start
    r2 = c.add_router()
    r2.add_vip()                  # primary at start (VIP there before either monitor)
    for side in (c.inc, c.hav):
        side.agent.start()
    c.note(f"routers {r1.id} (no VIP) and {r2.id} (VIP)")

    c.havipd.write_raw_config(neutron_havipd_config(
        c.hav.sp.path, c.havipd.dir / "run", c.havipd.dir / "state", hold_down_ms=0))
    c.havipd.start()
    for r in (r1, r2):
        i = Incumbent(c.inc.sp, r.id, r.ns, r.ha, r.vip)
        c.incumbents.append(i)
        i.launch()
    for i in c.incumbents:
        i.wait_started()
    c.note("havipd ready, incumbents daemonized: " +
           ", ".join(str(i.pid) for i in c.incumbents))
    for i in c.incumbents:
        i.wait_subscribed()
    c.note("incumbents subscribed")

    expected = {r1.id: ["backup"], r2.id: ["primary"]}

    def settle(r, want, timeout=10):
        for side in (c.inc, c.hav):
            side.agent.wait_state(r.id, want, timeout=timeout, log=c.diagnostics)
            wait_for(lambda: side.sp.state(r.id) == want, timeout,
                     what=lambda: f"{side.name}: state file of {r.id} == {want!r}")

    settle(r1, "backup", timeout=20)
    settle(r2, "primary", timeout=20)
    c.note("initial states notified by both")

    # Paced changes: each one settles in both before the next (the incumbent reports each).
    script = [(r1, "add"), (r2, "del"), (r1, "del"), (r2, "add"), (r1, "add"), (r2, "del")]
    for r, op in script:
        want = "primary" if op == "add" else "backup"
        r.add_vip() if op == "add" else r.del_vip()
        c.note(f"{op} VIP of {r.id[:8]}")
        settle(r, want)
        expected[r.id].append(want)
        for side in (c.inc, c.hav):
            assert side.states(r) == expected[r.id], \
                f"{side.name}: states of {r.id}: {side.states(r)}, expected {expected[r.id]}"

    # A burst on r1, unpaced: del, add, del, add (final: primary).
    paced = {side.name: len(side.states(r1)) for side in (c.inc, c.hav)}
    burst = [f"address del {r1.vip} dev {r1.ha}", f"address add {r1.vip} dev {r1.ha}",
             f"address del {r1.vip} dev {r1.ha}", f"address add {r1.vip} dev {r1.ha}"]
    batch = c.workdir / "burst.ip"
    batch.write_text("\n".join(burst) + "\n")
    run("ip", "-n", r1.ns, "-batch", batch)
    c.note("burst on r1: del, add, del, add")
    burst_states = ["backup", "primary", "backup", "primary"]
    c.inc.agent.wait(lambda a: len(a.states(r1.id)) >= paced["incumbent"] + 4, 15,
                     "the incumbent's 4 burst notifications", c.diagnostics)
    settle(r1, "primary")
    time.sleep(1.5)               # anything late would show now

    inc_burst = c.inc.states(r1)[paced["incumbent"]:]
    hav_burst = c.hav.states(r1)[paced["havipd"]:]
    assert inc_burst == burst_states, f"incumbent's burst: {inc_burst}"
    it = iter(inc_burst)
    assert hav_burst and all(s in it for s in hav_burst) and hav_burst[-1] == "primary", \
        f"havipd's burst states {hav_burst} are not a subsequence of {inc_burst} ending primary"

    # Same final state files, byte for byte.
    for r in (r1, r2):
        a, b = c.inc.sp.state_file(r.id).read_bytes(), c.hav.sp.state_file(r.id).read_bytes()
        assert a == b, f"state files of {r.id}: incumbent {a!r}, havipd {b!r}"
    assert c.hav.sp.state(r1.id) == "primary" and c.hav.sp.state(r2.id) == "backup"

    # Same requests: the Neutron headers, in both; each after its state file was written.
    for side in (c.inc, c.hav):
        for req in side.agent.all():
            assert (req.method, req.path, req.version) == ("GET", "/", "HTTP/1.1"), \
                f"{side.name}: {req}"
            assert req.ok, f"{side.name}: {req}"
            h = neutron_headers(req)
            assert h["host"] == "127.0.0.1" and h["connection"] == "close", \
                f"{side.name}: {req}"
            assert h["x-neutron-router-id"] in (r1.id, r2.id), f"{side.name}: {req}"
            assert h["x-neutron-state"] in ("primary", "backup"), f"{side.name}: {req}"
            for name in NEUTRON_HEADERS:
                assert req.header_count(name) == 1, f"{side.name}: {name} not once: {req}"
    # The state file is written before the notification (exact for the paced part).
    for side in (c.inc, c.hav):
        for r in (r1, r2):
            reqs = side.agent.delivered(r.id)
            paced_reqs = reqs[:len(expected[r.id])]
            for req in paced_reqs:
                assert req.state_file == req.state, \
                    f"{side.name}: state file {req.state_file!r} when {req} arrived"
    c.note("compared")


# ------------------------------------------------------ conntrackd (--enable_conntrackd)
#
# Debian 12's monitor (Zed) has no --enable_conntrackd (Neutron 26.0.0, 2025.1, added it).
# The incumbent here is Neutron's current one, the dash script bin/neutron-keepalived-
# state-change (tests/e2e/neutron/, verbatim), run as HaRouter._get_state_change_monitor_
# callback runs it when ha_conntrackd_enabled is set, with a recording conntrackd
# (fake_l3_agent.CONNTRACKD_STANDIN) first in its PATH; havipd gets the same stand-in as
# [neutron] conntrackd_binary. Both sides' L3 agents record, at each notification, the
# commands run so far, so each notification is compared with the commands before it.

SHELL_INCUMBENT = Path(__file__).resolve().parent / "neutron" / "neutron-keepalived-state-change.sh"


def shell_incumbent_unavailable():
    if os.environ.get("HAVIP_NO_NEUTRON") == "1":
        return "the Neutron compatibility test is disabled (HAVIP_NO_NEUTRON=1)"
    for tool in ("curl", "mkfifo", "awk", "ps"):
        if which(tool) is None:
            return f"{tool} is not installed (Neutron's current monitor needs it)"
    return None


@pytest.fixture
def ct_compat(e2e_ok, havipd_bin, workdir):
    reason = shell_incumbent_unavailable()
    if reason:
        print(f"\nhavip conntrackd compatibility test skipped: {reason}")
        pytest.skip(reason)
    c = Compat(workdir, havipd_bin)
    try:
        yield c
    finally:
        c.close()
    assert not c.problems, "teardown: " + "; ".join(c.problems)


class ShellIncumbent:
    """Neutron's current monitor, with the L3 agent's arguments and --enable_conntrackd. It
    does not daemonize: its processes (itself, its loop, `ip monitor`) are its process
    group, which it leads, so no other process is ever signalled."""

    def __init__(self, sp, router_id, ns, ha, vip, bindir):
        self.router_id = router_id
        self.conf_dir = sp.conf_dir(router_id)
        self.log = self.conf_dir / "neutron-keepalived-state-change.log"
        self.pid_file = sp.path / "external" / "pids" / f"{router_id}.monitor.pid"
        self.argv = [str(SHELL_INCUMBENT), "--router_id", router_id, "--namespace", ns,
                     "--conf_dir", str(self.conf_dir), "--log-file", str(self.log),
                     "--monitor_interface", ha, "--monitor_cidr", vip,
                     "--pid_file", str(self.pid_file), "--state_path", str(sp.path),
                     "--user", str(os.geteuid()), "--group", str(os.getegid()),
                     "--enable_conntrackd"]
        self.env = dict(os.environ, PATH=f"{bindir}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        self.pid = None
        self._proc = None

    def launch(self):
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.conf_dir / "monitor.out", "wb") as out:
            self._proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        self.pid = self._proc.pid

    def processes(self):
        out = []
        for e in Path("/proc").iterdir():
            if not e.name.isdigit():
                continue
            try:
                fields = (e / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[2]) == self.pid:
                out.append(int(e.name))
        return sorted(out)

    def stop(self):
        """SIGTERM to its process group (as the agent's SIGTERM to the script, whose trap
        then stops its children); returns its processes."""
        procs = self.processes()
        if procs:
            os.killpg(self.pid, signal.SIGTERM)
        return procs

    def kill_leftovers(self):
        left = self.processes()
        if left:
            os.killpg(self.pid, signal.SIGKILL)
        if self._proc is not None:
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        return left

    def log_tail(self, n=20):
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


def conntrackd_blocks(side, r):
    """[(state, commands run since the notification before)] per delivered notification of
    r, with the side's state_path written as $state_path; and the commands run after the
    last one."""
    def neutral(calls):
        return [x.replace(str(side.sp.path), "$state_path") for x in calls]
    out, before = [], 0
    for req in side.agent.delivered(r.id):
        calls = req.extra.get("conntrackd_calls", [])
        out.append((req.state, neutral(calls[before:])))
        before = len(calls)
    return out, neutral(conntrackd_calls(side.sp.conf_dir(r.id))[before:])


def test_same_conntrackd_commands_as_the_incumbent(ct_compat, capsys):
    c = ct_compat
    try:
        inc_initial = _conntrackd_scenario(c)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{c.diagnostics()}") from None
    with capsys.disabled():
        print("\n  conntrackd compat: the incumbent's initial commands, per router: " +
              "; ".join(f"{state} {' '.join(x.split()[2] for x in calls)}"
                        for state, calls in inc_initial))


def _conntrackd_scenario(c):
    bindir = c.workdir / "bin"
    bindir.mkdir()
    standin = conntrackd_standin(bindir)
    r1 = c.add_router()           # backup at start
    r2 = c.add_router()
    r2.add_vip()                  # primary at start
    for r in (r1, r2):            # what the agent writes when ha_conntrackd_enabled is set
        for side in (c.inc, c.hav):
            (side.sp.conf_dir(r.id) / "conntrackd.conf").write_text("# conntrackd.conf\n")
    for side in (c.inc, c.hav):
        side.agent.start()
    c.havipd.write_raw_config(neutron_havipd_config(
        c.hav.sp.path, c.havipd.dir / "run", c.havipd.dir / "state", hold_down_ms=0) +
        f"conntrackd_binary = \"{standin}\"\n")
    c.havipd.start()
    for r in (r1, r2):
        i = ShellIncumbent(c.inc.sp, r.id, r.ns, r.ha, r.vip, bindir)
        c.incumbents.append(i)
        i.launch()
    c.note("havipd ready, incumbents started: " + ", ".join(str(i.pid) for i in c.incumbents))

    def settle(r, want, count, timeout=10):
        for side in (c.inc, c.hav):
            side.agent.wait(lambda a: len(a.states(r.id)) >= count, timeout,
                            f"{side.name}: {count} notifications of {r.id}", c.diagnostics)
            assert side.states(r)[-1] == want, f"{side.name}: {side.states(r)}"

    # The script notifies its initial state at the first line `ip monitor` prints (its
    # `while read` loop): an address it ignores (not the VIP) is added and removed in the
    # namespace until it has.
    for r in (r1, r2):
        def initial_told(r=r):
            if c.inc.agent.states(r.id):
                return True
            r.ip("addr", "add", "10.255.255.1/32", "dev", "lo")
            r.ip("addr", "del", "10.255.255.1/32", "dev", "lo")
            return False
        wait_for(initial_told, 20, interval=0.3, what=f"the incumbent's initial state of {r.id}")
    settle(r1, "backup", 1, timeout=20)
    settle(r2, "primary", 1, timeout=20)
    c.note("initial states notified by both")

    states = {r1.id: ["backup"], r2.id: ["primary"]}
    for r, op in [(r1, "add"), (r2, "del"), (r1, "del"), (r2, "add")]:
        want = "primary" if op == "add" else "backup"
        r.add_vip() if op == "add" else r.del_vip()
        c.note(f"{op} VIP of {r.id[:8]}")
        states[r.id].append(want)
        settle(r, want, len(states[r.id]))
    time.sleep(1.5)               # a late command would show now

    options = {"primary": ["-c", "-f", "-R", "-B"], "backup": ["-t", "-n"]}
    inc_initial = []
    for r in (r1, r2):
        inode = netns_inode(r.ns)

        def block(state):
            return [f"-C $state_path/ha_confs/{r.id}/conntrackd.conf {o} state={state} "
                    f"net:[{inode}]" for o in options[state]]
        want = [(s, block(s)) for s in states[r.id]]
        hav, hav_late = conntrackd_blocks(c.hav, r)
        inc, inc_late = conntrackd_blocks(c.inc, r)
        assert hav == want, f"havipd's conntrackd commands of {r.id}: {hav}\nexpected {want}"
        assert not hav_late and not inc_late, f"commands after the last notification: " \
            f"havipd {hav_late}, incumbent {inc_late}"
        # Every change: the same commands, in the same order, the state file written before
        # them, in the namespace, all before the notification.
        assert inc[1:] == hav[1:], f"incumbent's conntrackd commands of {r.id}: {inc}\n" \
            f"havipd's: {hav}"
        # The initial state: the script runs them twice (handle_initial_state, then again
        # with the initial notification at the first `ip monitor` line); havipd once, as
        # the Python monitor of 2025.1-2026.1 did (docs/NEUTRON.md).
        state, calls = want[0]
        assert inc[0] == (state, calls + calls), f"incumbent's initial commands: {inc[0]}"
        inc_initial.append(inc[0])
    c.note("compared")
    return inc_initial
