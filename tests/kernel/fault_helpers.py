"""Helpers for test_faults.py (fault injection, issue 6): havipctl metrics, the
sanitized-build skip, RSS and descriptors, a tiny tmpfs, a reader of state files,
a fake radvd, and stopping one thread of havipd (a stalled fsync).

Kept apart from helpers.py so that the fault tests need no change there.
"""

import ctypes
import os
import re
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers import havipctl_binary, run

SANITIZED = os.environ.get("HAVIP_SANITIZED") == "1"


def skip_if_sanitized(what, why="too slow there"):
    """Skips (with a printed reason) the tests that cannot run under ASan."""
    if SANITIZED:
        reason = (f"HAVIP_SANITIZED=1: {what} left out under ASan+UBSan ({why}); "
                  "it runs in the plain pass")
        print(f"\nskipped: {reason}")
        pytest.skip(reason)


# ------------------------------------------------------------------------- havipctl

def ctl(d, *args, check=True, timeout=10):
    argv = [str(havipctl_binary()), "--socket", str(d.control_path), *map(str, args)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"havipctl {' '.join(map(str, args))}: exit {p.returncode}\n"
                             f"{p.stderr}\n" + d.log_text())
    return p


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def metrics(d):
    """{name or name{labels}: value} from `havipctl metrics`."""
    out = {}
    for line in ctl(d, "metrics").stdout.splitlines():
        m = _SAMPLE.match(line)
        if m:
            out[m[1] + (m[2] or "")] = float(m[3])
    return out


def metric(d, name):
    return metrics(d).get(name)


# ------------------------------------------------------------------------ processes

def rss_kib(pid):
    """VmRSS of pid in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def script(workdir, name, body):
    """An executable /bin/sh script in workdir."""
    path = workdir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def fake_radvd(workdir, crashing, real="/usr/sbin/radvd"):
    """A radvd_binary that passes `--configtest`, exits 1 at once for the routers
    in `crashing` (by $HAVIP_ROUTER) and execs the real radvd for the others
    (or, when radvd is not installed, stands in for it with its arguments
    kept in its command line)."""
    cases = " | ".join(crashing) if crashing else "__none__"
    healthy = (f'exec {real} "$@"' if os.access(real, os.X_OK)
               else "while :; do /bin/sleep 1; done")
    return script(workdir, "fake-radvd", f"""for a in "$@"; do
  [ "$a" = --configtest ] && exit 0
done
case "$HAVIP_ROUTER" in
  {cases}) echo "fake radvd for $HAVIP_ROUTER: crashing"; exit 1 ;;
esac
{healthy}
""")


# --------------------------------------------------------------------------- tmpfs

@contextmanager
def tiny_tmpfs(path, size="64k", nr_inodes=None):
    """A tmpfs mounted at path for the duration; always unmounted (lazily if busy)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size},mode=0755" + (f",nr_inodes={nr_inodes}" if nr_inodes else "")
    run("mount", "-t", "tmpfs", "-o", opts, f"havip-fault-{os.getpid()}", path)
    try:
        yield path
    finally:
        if run("umount", path, check=False).returncode != 0:
            run("umount", "-l", path, check=False)


def remount(path, mode):
    run("mount", "-o", f"remount,{mode}", path)


# ---------------------------------------------------------------------- state files

class StateReader(threading.Thread):
    """Reads state files in a loop until stopped: counts what it saw, per content."""

    def __init__(self, paths):
        super().__init__(daemon=True)
        self.paths = list(paths)
        self.seen = {}       # content -> count
        self.samples = 0
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            for p in self.paths:
                try:
                    with open(p, "rb") as f:
                        data = f.read()
                except FileNotFoundError:
                    data = None
                self.samples += 1
                self.seen[data] = self.seen.get(data, 0) + 1

    def stop(self):
        self._halt.set()
        self.join(10)

    def bad(self):
        return {k: v for k, v in self.seen.items() if k not in (b"primary", b"backup")}


def log_lines_matching(d, regex, start=0):
    pat = re.compile(regex)
    out = []
    for line in list(d.lines)[start:]:
        m = pat.search(line)
        if m:
            out.append(m)
    return out


def to_ms(text):
    """'100ms', '1.6s', '1600ms', '2s' -> milliseconds."""
    m = re.fullmatch(r"([0-9.]+)(ms|s|min)", text)
    assert m, f"not a duration: {text!r}"
    return float(m[1]) * {"ms": 1, "s": 1000, "min": 60000}[m[2]]


# ---------------------------------------------------------------- a stalled thread

PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207
WALL = 0x40000000


class StoppedThread:
    """Stops one thread of another process (only that thread: PTRACE_SEIZE +
    PTRACE_INTERRUPT, no group stop) until release(); the thread that called
    stop() must call release()."""

    def __init__(self, tid):
        self.tid = tid
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                                      ctypes.c_void_p]
        self._libc.ptrace.restype = ctypes.c_long
        self.seized = False

    def _ptrace(self, request):
        if self._libc.ptrace(request, self.tid, None, None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"ptrace({request:#x}, {self.tid}): {os.strerror(err)}")

    def stop(self):
        self._ptrace(PTRACE_SEIZE)
        self.seized = True
        self._ptrace(PTRACE_INTERRUPT)
        os.waitpid(self.tid, WALL)  # it is stopped now
        return self

    def release(self):
        """Lets the thread run on (PTRACE_DETACH); harmless when it is gone."""
        if self.seized:
            self.seized = False
            try:
                self._ptrace(PTRACE_DETACH)
            except ProcessLookupError:
                # The process exited while we held the thread (what havipd
                # should do): the thread is now a traced zombie that only
                # its tracer can reap, and until then the process cannot
                # finish exiting.
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    try:
                        pid, _ = os.waitpid(self.tid, WALL | os.WNOHANG)
                    except ChildProcessError:
                        break
                    if pid:
                        break
                    time.sleep(0.01)


def thread_named(pid, name):
    """The TID of pid's one thread called `name` (havipd names its helper
    threads: havip-state writes the state files, havip-fsync syncs them)."""
    tids = []
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            comm = Path(f"/proc/{pid}/task/{t}/comm").read_text().strip()
        except FileNotFoundError:
            continue
        if comm == name:
            tids.append(int(t))
    assert len(tids) == 1, f"expected one thread {name} in havipd {pid}: {tids}"
    return tids[0]


def threads_named(pid, name):
    """The TIDs of pid's threads called `name` (havip-state: the state
    writer's pool, started with havipd)."""
    tids = []
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            if Path(f"/proc/{pid}/task/{t}/comm").read_text().strip() == name:
                tids.append(int(t))
        except FileNotFoundError:
            continue
    assert tids, f"no thread {name} in havipd {pid}"
    return tids


class StoppedThreads:
    """StoppedThread for each of `tids`: a stalled disk stalls every writer."""

    def __init__(self, tids):
        self.threads = [StoppedThread(t) for t in tids]

    def stop(self):
        for t in self.threads:
            t.stop()
        return self

    def release(self):
        for t in self.threads:
            t.release()


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))
