"""Commands, polling and /proc look-ups for havip's test tiers and benchmarks."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path


def which(cmd):
    """shutil.which, also looking in /usr/sbin and /sbin (not on a user's PATH)."""
    return shutil.which(cmd, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def run(*argv, check=True, timeout=30):
    """Runs a command, returns its CompletedProcess; a failure names the command."""
    argv = [str(a) for a in argv]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: "
                           f"{proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def wait_for(predicate, timeout=5.0, interval=0.01, what=None):
    """Polls predicate() until it is truthy (and returns it) or the deadline passes.

    `what` describes the wait for the failure message; it may be a callable
    (e.g. one that adds the daemon's log).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = what() if callable(what) else (what or getattr(predicate, "__name__", ""))
            raise AssertionError(f"timed out after {timeout} s waiting for {text}")
        time.sleep(interval)


def read_lines(path):
    """The file's lines ([] when it cannot be read)."""
    try:
        return Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return []


def stop_process(proc, timeout=5.0):
    """SIGTERM to a Popen we started, SIGKILL after `timeout` s; waits for it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# ------------------------------------------------------------------------ /proc

def descendants(pid):
    """PIDs of every live descendant of pid (via /proc/PID/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = list(Path(f"/proc/{p}/task").glob("*"))
        except OSError:  # p exited meanwhile
            continue
        for task in tasks:
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            for k in map(int, kids):
                if k not in out:
                    out.append(k)
                    todo.append(k)
    return out


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (field 3 on), None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def proc_state(pid):
    """The process's state letter (field 3 of /proc/PID/stat), None when gone."""
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def alive(pid):
    """True while pid exists and is not a zombie (an unreaped zombie is not running)."""
    return proc_state(pid) not in (None, "Z")


def parent_pid(pid):
    """The process's parent PID (field 4 of /proc/PID/stat), None when gone."""
    fields = _stat_fields(pid)
    try:
        return int(fields[1]) if fields else None
    except (ValueError, IndexError):
        return None


def start_time(pid):
    """The process's start time (field 22 of /proc/PID/stat), None when gone."""
    fields = _stat_fields(pid)
    return fields[19] if fields else None


def proc_comm(pid):
    """The process's command name (/proc/PID/comm), None when gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def cmdline(pid):
    """The process's argv as a list ([] when gone or a zombie)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")[:-1]


def netns_inode_of(pid):
    """The inode of pid's network namespace, None when gone."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def find_processes(*fragment):
    """PIDs of the live (non-zombie) processes whose argv contains `fragment`
    as consecutive arguments."""
    fragment = [str(a) for a in fragment]
    n = len(fragment)
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        argv = cmdline(pid)
        if any(argv[i:i + n] == fragment for i in range(len(argv) - n + 1)) and alive(pid):
            out.append(pid)
    return sorted(out)
