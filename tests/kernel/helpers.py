"""Helpers for havip's kernel tier: polling, throwaway namespaces, a havipd runner.

Everything this tier creates is named with PREFIX (``havipk-<pid>-``) and is
removed again; the only processes it ends are the ones it started, by PID.
"""

import itertools
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

PREFIX = f"havipk-{os.getpid()}-"
NETNS_DIR = Path("/run/netns")
REPO = Path(__file__).resolve().parents[2]
DEFAULT_HAVIPD = REPO / "build" / "src" / "havipd"

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


def havipd_binary():
    return Path(os.environ.get("HAVIPD") or DEFAULT_HAVIPD)


def havipctl_binary():
    """havipctl: $HAVIPCTL, else beside havipd (both are built in src/)."""
    return Path(os.environ.get("HAVIPCTL") or havipd_binary().with_name("havipctl"))


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


def run(*argv, check=True, timeout=30):
    """Runs a command, returns its CompletedProcess; a failure names the command."""
    argv = [str(a) for a in argv]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: "
                           f"{proc.stderr.strip() or proc.stdout.strip()}")
    return proc


# --------------------------------------------------------------------- namespaces

class Netns:
    """One network namespace created by this tier (see NetnsFactory)."""

    def __init__(self, name, workdir):
        self.name = name
        self._workdir = workdir

    def __repr__(self):
        return f"Netns({self.name})"

    def ip(self, *args, check=True):
        return run("ip", "-n", self.name, *args, check=check)

    def add_veth(self, ifname="ha-r1", peer=None):
        """A veth pair inside the namespace, both ends up (so it has carrier)."""
        peer = peer or ifname + "p"
        self.ip("link", "add", ifname, "type", "veth", "peer", "name", peer)
        self.ip("link", "set", ifname, "up")
        self.ip("link", "set", peer, "up")

    def sysctl(self, key, value):
        run("ip", "netns", "exec", self.name, "sysctl", "-qw", f"{key}={value}")

    def sysctl_get(self, *keys):
        """`sysctl -n` of each key inside the namespace (dotted, or a path with '/'),
        as a tuple of strings."""
        out = run("ip", "netns", "exec", self.name, "sysctl", "-n", *keys).stdout
        return tuple(out.split("\n")[:len(keys)])

    def inode(self):
        """The namespace's inode, as /proc/PID/ns/net of a process inside shows it."""
        return os.stat(NETNS_DIR / self.name).st_ino

    def add_addr(self, cidr, dev="ha-r1", *flags):
        self.ip("addr", "add", cidr, "dev", dev, *flags)

    def del_addr(self, cidr, dev="ha-r1"):
        self.ip("addr", "del", cidr, "dev", dev)

    def addr_info(self, cidr, dev="ha-r1"):
        """The `ip -j` entry for cidr on dev, or None when it is not there."""
        local, _, plen = cidr.partition("/")
        family = "-6" if ":" in local else "-4"
        out = self.ip("-j", family, "addr", "show", "dev", dev).stdout
        for link in json.loads(out or "[]"):
            for a in link.get("addr_info", []):
                if a.get("local") == local and str(a.get("prefixlen")) == plen:
                    return a
        return None

    def batch_file(self, lines, label="batch"):
        path = self._workdir / f"{self.name}-{label}.ip"
        path.write_text("".join(line + "\n" for line in lines))
        return path

    def batch(self, lines, label="batch"):
        """Runs `ip -n NS -batch FILE` and waits for it."""
        self.ip("-batch", self.batch_file(lines, label))

    def batch_async(self, lines, label="batch"):
        """Starts `ip -n NS -batch FILE`; the caller waits for the Popen."""
        path = self.batch_file(lines, label)
        return subprocess.Popen(["ip", "-n", self.name, "-batch", str(path)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


_counter = itertools.count(1)  # namespace names: PREFIX + a number (+ label)


class NetnsFactory:
    """Creates uniquely named namespaces and deletes every one of them at the end."""

    def __init__(self, workdir):
        self._workdir = workdir
        self._names = []

    def name(self, label=""):
        """A fresh name (not created yet; still cleaned up if it gets created)."""
        name = f"{PREFIX}{next(_counter)}{'-' + label if label else ''}"
        self._names.append(name)
        return name

    def create(self, label="", name=None, veths=("ha-r1",)):
        """`ip netns add` (a fresh name, or `name`) plus a veth pair per name in veths."""
        name = name or self.name(label)
        if name not in self._names:
            self._names.append(name)
        run("ip", "netns", "add", name)
        ns = Netns(name, self._workdir)
        for ifname in veths:
            ns.add_veth(ifname)
        return ns

    def delete(self, ns):
        run("ip", "netns", "del", ns.name if isinstance(ns, Netns) else ns)

    def cleanup(self):
        errors = []
        for name in self._names:
            if (NETNS_DIR / name).exists():
                proc = run("ip", "netns", "del", name, check=False)
                if proc.returncode != 0:
                    errors.append(f"{name}: {proc.stderr.strip()}")
        self._names.clear()
        return errors




def our_namespaces():
    """Names under /run/netns that this pytest process created and still exist."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(PREFIX))


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


def proc_state(pid):
    """The process's state letter (field 3 of /proc/PID/stat), None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def alive(pid):
    """True while pid exists and is not a zombie (an unreaped zombie is not running)."""
    return proc_state(pid) not in (None, "Z")


def cmdline(pid):
    """The process's argv as a list ([] when gone or a zombie)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")[:-1]


def parent_pid(pid):
    """The process's parent PID (field 4 of /proc/PID/stat), None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


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


def start_time(pid):
    """The process's start time (field 22 of /proc/PID/stat), None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


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
        which execs, so the PID stays havipd's) and waits for READY=1."""
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
