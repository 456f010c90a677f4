"""Helpers for havip's kernel tier: the havipd runner, its configuration, and (from
tests/lib/havip_testlib, shared with tests/e2e and bench/ra_gap.py) polling, throwaway
namespaces and /proc look-ups.

Everything this tier creates is named with PREFIX (``havipk-<pid>-``) and is
removed again; the only processes it ends are the ones it started, by PID.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))  # havip_testlib

# Re-exported for the tests, which import them from here.
from havip_testlib.netns import NETNS_DIR, Netns, NetnsFactory, run_prefix  # noqa: E402,F401
from havip_testlib.proc import (alive, cmdline, descendants, find_processes,  # noqa: E402,F401
                                netns_inode_of, parent_pid, run, start_time, wait_for)
from havip_testlib.tier import havipctl_binary, havipd_binary  # noqa: E402,F401

PREFIX = run_prefix("k")

# `r1: backup -> primary (vip 169.254.0.1/24 on ha-r1 in NS)`
TRANSITION = re.compile(
    r"\s(?P<router>[A-Za-z0-9_.-]+): (?P<before>unknown|primary|backup) -> "
    r"(?P<after>unknown|primary|backup) \((?P<reason>.*)\)$")

# `STATUS=2 routers: 1 primary, 1 backup[, 1 unknown]` ("1 router" for one)
STATUS = re.compile(r"^STATUS=(\d+) routers?: (\d+) primary, (\d+) backup(?:, (\d+) unknown)?$",
                    re.M)


def status_counts(notification):
    """(total, primary, backup, unknown) from a notification's STATUS=, or None."""
    m = STATUS.search(notification or "")
    return tuple(int(g or 0) for g in m.groups()) if m else None


# ------------------------------------------------------------------------- havipd

def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):  # an inline table
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    return json.dumps(str(v))  # a JSON string is a valid TOML basic string


def _is_tables(v):
    return isinstance(v, (list, tuple)) and bool(v) and all(isinstance(x, dict) for x in v)


def render_table(path, table, array=False):
    """Lines of `[path]` (or `[[path]]`): scalar keys first, then each dict value
    as a sub-table `[path.key]` and each list of dicts as `[[path.key]]`."""
    lines = ["", f"[[{path}]]" if array else f"[{path}]"]
    subs = []
    for k, v in table.items():
        if isinstance(v, dict) or _is_tables(v):
            subs.append((k, v))
        else:
            lines.append(f"{k} = {toml_value(v)}")
    for k, v in subs:
        if isinstance(v, dict):
            lines += render_table(f"{path}.{k}", v)
        else:
            for item in v:
                lines += render_table(f"{path}.{k}", item, array=True)
    return lines


def router(name, ns, vip="169.254.0.1/24", interface="ha-r1", **extra):
    """One [[router]] table; ns is a Netns, a namespace name, or None (host)."""
    r = {"name": name}
    if ns is not None:
        r["namespace"] = ns.name if isinstance(ns, Netns) else ns
    r.update(interface=interface, vip=vip, **extra)
    return r


def render_config(daemon, routers):
    lines = ["[daemon]"] + [f"{k} = {toml_value(v)}" for k, v in daemon.items()]
    for r in routers:
        lines += render_table("router", r, array=True)
    return "\n".join(lines) + "\n"


class Havipd:
    """One havipd process: its config, NOTIFY_SOCKET listener, log and state files."""

    def __init__(self, binary, workdir, label="havipd"):
        self.binary = Path(binary)
        self.dir = workdir / label
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.dir / "havip.toml"
        self.state_dir = self.dir / "state"
        self.notify_path = self.dir / "notify.sock"
        self.control_path = self.dir / "ctl.sock"
        self.proc = None
        self.lines = []          # stdout+stderr lines, in order
        self.notifications = []  # sd_notify datagrams, decoded
        self.returncode = None
        self._threads = []
        self._sock = None
        self._closing = threading.Event()

    # -- configuration
    def write_config(self, routers, **daemon):
        # A run_dir of its own: havipd locks it (one havipd per run_dir), and
        # the default /run/havip would make concurrent test daemons refuse.
        settings = {"state_dir": str(self.state_dir), "hold_down_ms": 0,
                    "run_dir": str(self.dir / "run"),
                    "control_socket": str(self.control_path)}
        settings.update(daemon)
        self.config_path.write_text(render_config(settings, routers))

    def write_raw_config(self, text):
        self.config_path.write_text(text)

    # -- process
    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, *args, wait_ready=True, timeout=10.0, wrapper=(), umask=None):
        """Starts havipd (argv prefixed by `wrapper`, e.g. `ip netns exec NS`,
        which execs, so the PID stays havipd's) and waits for READY=1. A start after a
        stop() waits for this start's READY=1 (the last run's notifications are dropped)."""
        self._closing.clear()
        self.notifications = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(self.notify_path))
        self._sock.settimeout(0.05)
        env = {k: v for k, v in os.environ.items()
               if k not in ("JOURNAL_STREAM", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS")}
        env["NOTIFY_SOCKET"] = str(self.notify_path)
        self.proc = subprocess.Popen(
            [*wrapper, str(self.binary), "--config", str(self.config_path), *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=env, text=True, errors="replace",
            preexec_fn=None if umask is None else (lambda: os.umask(umask)))
        for target in (self._drain_output, self._drain_notify):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def _drain_output(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _drain_notify(self):
        while not self._closing.is_set():
            try:
                data = self._sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.notifications.append(data.decode(errors="replace"))

    def wait_ready(self, timeout=10.0):
        def ready():
            if not self.running():
                raise AssertionError(f"havipd exited {self.proc.returncode} before READY=1\n"
                                     + self.log_text())
            return self.notified("READY=1")
        wait_for(ready, timeout, what=lambda: "READY=1\n" + self.log_text())

    def signal(self, sig):
        if self.running():
            os.kill(self.proc.pid, sig)

    def reload(self):
        self.signal(signal.SIGHUP)

    def stop(self, timeout=1.0):
        """SIGTERM; asserts havipd exits 0 within timeout; returns the seconds it took."""
        assert self.running(), "havipd is not running\n" + self.log_text()
        start = time.monotonic()
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"havipd did not exit within {timeout} s of SIGTERM\n"
                                 + self.log_text())
        elapsed = time.monotonic() - start
        self.close()
        assert self.returncode == 0, (f"havipd exited {self.returncode} after SIGTERM\n"
                                      + self.log_text())
        return elapsed

    def kill(self):
        """Last resort for teardown: SIGKILL our own process, by PID."""
        if self.running():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.returncode = self.proc.wait(5)
        self.close()

    def teardown(self, timeout=5.0):
        """For a fixture's teardown: stop() when running (kill() as a last resort), else
        close(). Returns why the stop was not clean (stop()'s message), or None."""
        if not self.running():
            self.close()
            return None
        try:
            self.stop(timeout=timeout)
            return None
        except AssertionError as e:
            return str(e)
        finally:
            self.kill()

    def close(self):
        self._closing.set()
        for t in self._threads:
            t.join(5)
        self._threads.clear()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            self.notify_path.unlink(missing_ok=True)

    # -- state files
    def state_path(self, name):
        return self.state_dir / name / "state"

    def state(self, name):
        try:
            return self.state_path(name).read_text()
        except FileNotFoundError:
            return None

    def wait_state(self, name, value, timeout=5.0):
        wait_for(lambda: self.state(name) == value, timeout,
                 what=lambda: (f"state of {name} == {value!r} (is {self.state(name)!r})\n"
                               + self.log_text()))

    def wait_states(self, expected, timeout=5.0):
        wait_for(lambda: all(self.state(n) == v for n, v in expected.items()), timeout,
                 what=lambda: (f"states {expected} (are "
                               f"{ {n: self.state(n) for n in expected} })\n" + self.log_text()))

    # -- log and notifications
    def log_text(self):
        return "--- havipd output ---\n" + "\n".join(self.lines)

    def log_has(self, text):
        return any(text in line for line in self.lines)

    def wait_log(self, text, timeout=5.0):
        wait_for(lambda: self.log_has(text), timeout,
                 what=lambda: f"log line containing {text!r}\n" + self.log_text())

    def transitions(self, name=None):
        """[(router, from, to, reason)] from the log, in order."""
        out = []
        for line in list(self.lines):
            m = TRANSITION.search(line)
            if m and (name is None or m["router"] == name):
                out.append((m["router"], m["before"], m["after"], m["reason"]))
        return out

    def wait_transitions(self, name, expected, timeout=5.0):
        """Waits until `name` logged len(expected) transitions; asserts they are
        [(from, to), ...] == expected (logged when applied: the state file may follow)."""
        wait_for(lambda: len(self.transitions(name)) >= len(expected), timeout,
                 what=lambda: f"{len(expected)} transitions of {name}\n" + self.log_text())
        got = [t[1:3] for t in self.transitions(name)]
        assert got == expected, f"transitions of {name}: {got}\n" + self.log_text()

    def notified(self, field, since=0):
        """The first notification from index `since` on with a line equal to `field`."""
        for n in self.notifications[since:]:
            if field in n.split("\n"):
                return n
        return None

    def wait_notify(self, field, since=0, timeout=5.0):
        return wait_for(lambda: self.notified(field, since), timeout,
                        what=lambda: (f"notification {field!r} (got {self.notifications[since:]})\n"
                                      + self.log_text()))

    def ready_counts(self):
        """(total, primary, backup, unknown) sent with READY=1."""
        return status_counts(self.notified("READY=1"))

    def wait_status(self, total, primary, backup, unknown=0, since=0, timeout=5.0):
        """Waits for a STATUS= with these counts (from notification `since` on)."""
        want = (total, primary, backup, unknown)
        wait_for(lambda: any(status_counts(n) == want for n in self.notifications[since:]),
                 timeout, what=lambda: (f"STATUS with (total, primary, backup, unknown) = {want}"
                                        f" (got {self.notifications[since:]})\n"
                                        + self.log_text()))
