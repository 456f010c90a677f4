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

from e2e_lib import Havipd, NETNS_DIR, run, wait_for, which
from helpers import parent_pid
from fake_l3_agent import (FakeL3Agent, NeutronStatePath, ha_interface_name,
                           neutron_havipd_config, random_router_id, signal_vip)

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
