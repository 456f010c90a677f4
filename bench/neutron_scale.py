#!/usr/bin/env python3
"""havipd's Neutron drop-in mode against the incumbent `neutron-keepalived-state-change`,
side by side at N routers (default N = 1, 10, 50), and havipd alone at a larger N (1,000).

For each (implementation, N), with a fresh state_path holding N routers' keepalived.conf
(Neutron's layout, tests/unit/golden/keepalived/minimal.conf shape):

  start-up    launch → READY=1 (havipd, NOTIFY_SOCKET) and launch → the first notification
              of every router received by the fake L3 agent (both implementations always
              notify the initial state)
  memory      RSS and PSS (/proc/PID/smaps_rollup) summed over every process: for the
              incumbent every monitor and all their descendants (found by the unique
              --state_path in their command line, then by parentage)
  idle        voluntary + nonvoluntary context switches of every thread
              (/proc/PID/task/*/status) and CPU time over IDLE_S seconds of no change
  mass        the signal VIP added in all N namespaces as fast as one thread can send
              rtnetlink requests, then removed: last change → last state file written
              and → last notification received
  latency     one VIP change at a time (round-robin over the routers, alternating add and
              del), timed from just before the rtnetlink sendto() to the state file's
              inotify event (IN_CLOSE_WRITE / IN_MOVED_TO, content checked) and to the fake
              agent's receipt of the notification (full request head read)

Everything runs in this one process: the namespaces are driven through rtnetlink sockets
opened inside each namespace (no fork/exec of `ip` per change), the fake L3 agent is a
single-threaded epoll server on <state_path>/keepalived-state-change (listen backlog
4096) answering 200 + Connection: close, the inotify reader is a thread. All times are
CLOCK_MONOTONIC; the Python readers add tens of µs to havipd's figures (upper bounds).

Namespaces are qrouter-<uuid4>, created with `ip -batch` and recorded in
<workdir>/namespaces.txt; they are deleted at exit (also on Ctrl-C / SIGTERM), and only
processes this script started (and their descendants) are signalled, by PID.

usage: sudo bench/neutron_scale.py [--sizes 1,10,50] [--havip-only 1000] [--inc-k 30]
                                   [--hav-k 200] [--idle-s 10] [--json OUT]
                                   [--routes] [--audit-interval-ms MS]
(--routes --audit-interval-ms 0 / 10000: what the audit's route dumps cost when idle)
"""

import argparse
import ctypes
import json
import os
import random
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
HAVIPD = Path(os.environ.get("HAVIPD") or HERE.parent / "build" / "src" / "havipd")
INCUMBENT = shutil.which("neutron-keepalived-state-change") or \
    "/usr/bin/neutron-keepalived-state-change"

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000

# ------------------------------------------------------------------------- rtnetlink

NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_NEWADDR, RTM_DELADDR = 16, 20, 21
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 1, 4, 0x200, 0x400
NLMSG_ERROR = 2
IFA_ADDRESS, IFA_LOCAL = 1, 2
IFF_UP = 1
_seq = 0


def _attr(kind, data):
    ln = 4 + len(data)
    return struct.pack("HH", ln, kind) + data + b"\0" * ((4 - ln % 4) % 4)


def _msg(kind, flags, body):
    global _seq
    _seq += 1
    return struct.pack("IHHII", 16 + len(body), kind, flags, _seq, 0) + body


def _ack(sock):
    data = sock.recv(65536)
    _, kind, _, _, _ = struct.unpack_from("IHHII", data)
    if kind == NLMSG_ERROR:
        err = struct.unpack_from("i", data, 16)[0]
        if err:
            raise OSError(-err, os.strerror(-err))


def link_up(sock, index):
    sock.send(_msg(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK,
                   struct.pack("BxHiII", socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP)))
    _ack(sock)


def addr_msg(add, index, ip, plen):
    a = socket.inet_aton(ip)
    body = struct.pack("BBBBI", socket.AF_INET, plen, 0, 0, index) + \
        _attr(IFA_LOCAL, a) + _attr(IFA_ADDRESS, a)
    if add:
        return _msg(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body)
    return _msg(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, body)


class InNetns:
    """Moves the calling thread into a namespace for the `with` block."""

    def __init__(self, ns):
        self.ns = ns

    def __enter__(self):
        self.home = os.open(f"/proc/thread-self/ns/net", os.O_RDONLY)
        fd = os.open(f"/run/netns/{self.ns}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns {self.ns}")
        finally:
            os.close(fd)

    def __exit__(self, *exc):
        libc.setns(self.home, CLONE_NEWNET)
        os.close(self.home)


# --------------------------------------------------------------------------- routers

OPTIONS = {"routes": False, "audit_interval_ms": None}  # set from the command line

class Router:
    def __init__(self, i):
        self.id = str(uuid.uuid4())
        self.ns = f"qrouter-{self.id}"
        self.ha = "ha-" + str(uuid.uuid4())[:11]
        self.peer = "hp-" + self.ha[3:]
        hi, lo = divmod(i, 254)
        self.vip = f"169.254.{hi}.{lo + 1}"   # unique per router; /24
        self.vrid = lo + 1
        self.sock = None
        self.index = None
        self.has_vip = False

    def conf(self):
        ha = self.ha
        return "\n".join([
            "global_defs {", "    notification_email_from neutron@openstack.local",
            "    router_id neutron", "}", f"vrrp_instance VR_{self.vrid} {{",
            "    state BACKUP", f"    interface {ha}", f"    virtual_router_id {self.vrid}",
            "    priority 50", "    garp_master_delay 60", "    nopreempt", "    advert_int 2",
            "    track_interface {", f"        {ha}", "    }", "    virtual_ipaddress {",
            f"        {self.vip}/24 dev {ha}", "    }"] + ([
                "    virtual_routes {",
                f"        0.0.0.0/0 via {self.vip.rsplit('.', 1)[0]}.254 dev {ha} no_track",
                "    }"] if OPTIONS["routes"] else []) + ["}"])

    def change(self, add):
        """One rtnetlink change; returns (t_before_sendto, t_after_ack)."""
        msg = addr_msg(add, self.index, self.vip, 24)
        t0 = time.monotonic()
        self.sock.send(msg)
        t1 = time.monotonic()
        _ack(self.sock)
        self.has_vip = add
        return t0, t1


def make_namespaces(routers, work, record):
    batch = work / "ns.batch"
    batch.write_text("".join(f"netns add {r.ns}\n" for r in routers))
    with open(record, "a") as f:          # recorded before creation: deleted even if half done
        f.write("".join(r.ns + "\n" for r in routers))
    subprocess.run(["ip", "-batch", str(batch)], check=True)
    for r in routers:                     # no IPv6: no DAD/link-local events in the runs
        with InNetns(r.ns):
            for k in ("all", "default"):
                Path(f"/proc/sys/net/ipv6/conf/{k}/disable_ipv6").write_text("1")
    batch.write_text("".join(
        f"link add {r.ha} netns {r.ns} type veth peer name {r.peer} netns {r.ns}\n"
        for r in routers))
    subprocess.run(["ip", "-batch", str(batch)], check=True)
    for r in routers:
        with InNetns(r.ns):
            r.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
            r.sock.bind((0, 0))
            r.index = socket.if_nametoindex(r.ha)
            link_up(r.sock, r.index)
            link_up(r.sock, socket.if_nametoindex(r.peer))


def delete_namespaces(record):
    try:
        names = [n for n in Path(record).read_text().split() if n.startswith("qrouter-")]
    except OSError:
        return
    names = [n for n in names if os.path.exists(f"/run/netns/{n}")]
    if names:
        subprocess.run(["ip", "-force", "-batch", "-"], input="".join(
            f"netns del {n}\n" for n in names), text=True, capture_output=True)


# ------------------------------------------------------------ observers: agent, inotify

class Observer:
    """Fake L3 agent (epoll, one thread) + inotify on every router's conf dir."""

    def __init__(self, state_path, routers):
        self.sp = Path(state_path)
        self.routers = {r.id: r for r in routers}
        self.notes = {r.id: [] for r in routers}   # (t, state)
        self.files = {r.id: [] for r in routers}   # (t, content)
        self.cv = threading.Condition()
        self.stop_r, self.stop_w = os.pipe()
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        path = self.sp / "keepalived-state-change"
        path.unlink(missing_ok=True)
        self.srv.bind(str(path))
        self.srv.listen(4096)
        self.srv.setblocking(False)
        self.ino = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        self.wd = {}
        for r in routers:
            d = self.sp / "ha_confs" / r.id
            wd = libc.inotify_add_watch(self.ino, str(d).encode(), 0x8 | 0x80)  # CLOSE_WRITE|MOVED_TO
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {d}")
            self.wd[wd] = r.id
        self.threads = [threading.Thread(target=self._agent, daemon=True),
                        threading.Thread(target=self._inotify, daemon=True)]
        for t in self.threads:
            t.start()

    def close(self):
        os.write(self.stop_w, b"x")
        for t in self.threads:
            t.join(5)
        self.srv.close()
        os.close(self.ino)
        os.close(self.stop_r)
        os.close(self.stop_w)

    def _agent(self):
        ep = select.epoll()
        ep.register(self.srv.fileno(), select.EPOLLIN)
        ep.register(self.stop_r, select.EPOLLIN)
        conns = {}
        while True:
            for fd, _ in ep.poll():
                if fd == self.stop_r:
                    for c, _ in conns.values():
                        c.close()
                    ep.close()
                    return
                if fd == self.srv.fileno():
                    while True:
                        try:
                            c, _ = self.srv.accept()
                        except BlockingIOError:
                            break
                        c.setblocking(False)
                        conns[c.fileno()] = (c, bytearray())
                        ep.register(c.fileno(), select.EPOLLIN)
                    continue
                c, buf = conns[fd]
                try:
                    data = c.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                buf += data
                if b"\r\n\r\n" in buf or not data:
                    t = time.monotonic()
                    head = bytes(buf).split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
                    h = {}
                    for line in head[1:]:
                        k, _, v = line.partition(":")
                        h[k.strip().lower()] = v.strip()
                    rid, st = h.get("x-neutron-router-id"), h.get("x-neutron-state")
                    if data:
                        try:
                            c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                                   b"Connection: close\r\n\r\n")
                        except OSError:
                            pass
                    ep.unregister(fd)
                    c.close()
                    del conns[fd]
                    if rid in self.notes:
                        with self.cv:
                            self.notes[rid].append((t, st))
                            self.cv.notify_all()

    def _inotify(self):
        while True:
            rl, _, _ = select.select([self.ino, self.stop_r], [], [])
            if self.stop_r in rl:
                return
            t = time.monotonic()
            try:
                data = os.read(self.ino, 1 << 20)
            except BlockingIOError:
                continue
            off, hits = 0, []
            while off < len(data):
                wd, mask, _, ln = struct.unpack_from("iIII", data, off)
                name = data[off + 16:off + 16 + ln].rstrip(b"\0")
                off += 16 + ln
                if name == b"state" and wd in self.wd:
                    rid = self.wd[wd]
                    try:
                        content = (self.sp / "ha_confs" / rid / "state").read_text()
                    except OSError:
                        content = None
                    hits.append((rid, content))
            if hits:
                with self.cv:
                    for rid, content in hits:
                        self.files[rid].append((t, content))
                    self.cv.notify_all()

    def wait(self, pred, timeout):
        deadline = time.monotonic() + timeout
        with self.cv:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cv.wait(min(left, 0.05))
        return True

    @staticmethod
    def first_after(lst, t0, want):
        for t, v in lst:
            if t >= t0 and v == want:
                return t
        return None


# ---------------------------------------------------------------------- processes

def proc_table():
    ppid, cmd = {}, {}
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            st = open(f"/proc/{e}/stat").read()
            fields = st.rsplit(")", 1)[1].split()
            if fields[0] == "Z":
                continue
            ppid[int(e)] = int(fields[1])
            cmd[int(e)] = open(f"/proc/{e}/cmdline", "rb").read().replace(b"\0", b" ")
        except OSError:
            continue
    return ppid, cmd


def family(roots_pred):
    """Live PIDs matching roots_pred(pid, cmdline) plus all their descendants."""
    ppid, cmd = proc_table()
    ours = {p for p in cmd if roots_pred(p, cmd[p])}
    grew = True
    while grew:
        grew = False
        for p, pp in ppid.items():
            if pp in ours and p not in ours:
                ours.add(p)
                grew = True
    return sorted(ours)


def memory(pids):
    rss = pss = 0
    for p in pids:
        try:
            for line in open(f"/proc/{p}/smaps_rollup"):
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            pass
    return rss / 1024, pss / 1024   # MiB


def counters(pids):
    """{(pid, tid): (ctxt switches, cpu ticks)} over every thread."""
    out = {}
    for p in pids:
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tids:
            try:
                cs = 0
                for line in open(f"/proc/{p}/task/{t}/status"):
                    if line.startswith(("voluntary_ctxt", "nonvoluntary_ctxt")):
                        cs += int(line.split()[1])
                f = open(f"/proc/{p}/task/{t}/stat").read().rsplit(")", 1)[1].split()
                out[(p, t)] = (cs, int(f[11]) + int(f[12]))
            except OSError:
                pass
    return out


def idle(pids, seconds):
    a = counters(pids)
    time.sleep(seconds)
    b = counters(pids)
    common = set(a) & set(b)
    wake = sum(b[k][0] - a[k][0] for k in common)
    ticks = sum(b[k][1] - a[k][1] for k in common)
    return wake, ticks * 1000 / os.sysconf("SC_CLK_TCK"), len(set(a) ^ set(b))


def cpu_pressure():
    try:
        return open("/proc/pressure/cpu").readline().split()[1].split("=")[1]
    except OSError:
        return "?"


def kill_pids(pids, grace=8.0):
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") and
                                              _alive(p) for p in pids):
        time.sleep(0.05)
    left = [p for p in pids if _alive(p)]
    for p in left:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


def _alive(p):
    try:
        return open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# ----------------------------------------------------------------- implementations

class Havipd:
    name = "havipd"

    def __init__(self, work, routers):
        self.work, self.routers = work, routers
        self.proc = None
        self.ready_t = None
        conf = work / "havip.toml"
        conf.write_text(
            "[daemon]\n"
            f'state_dir = "{work}/havip-state"\nrun_dir = "{work}/run"\n'
            f'control_socket = "{work}/ctl.sock"\n'
            'hold_down_ms = 0\nstate_sync = "deferred"\n'
            + (f'audit_interval_ms = {OPTIONS["audit_interval_ms"]}\n'
               if OPTIONS["audit_interval_ms"] is not None else "") + "\n"

            f'[neutron]\nstate_path = "{work}/sp"\n')
        self.conf = conf

    def start(self):
        ns = self.work / "notify.sock"
        self.nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.nsock.bind(str(ns))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WATCHDOG", "LISTEN"))}
        env["NOTIFY_SOCKET"] = str(ns)
        self.log = open(self.work / "havipd.log", "w")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([str(HAVIPD), "--config", str(self.conf)],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)

        def reader():
            while True:
                try:
                    d = self.nsock.recv(4096)
                except OSError:
                    return
                if b"READY=1" in d and self.ready_t is None:
                    self.ready_t = time.monotonic()
        threading.Thread(target=reader, daemon=True).start()
        return t0

    def pids(self):
        return family(lambda p, c: self.proc and p == self.proc.pid)

    def stop(self):
        left = kill_pids(self.pids(), grace=10)
        if self.proc:
            self.proc.wait(10)
        self.nsock.close()
        self.log.close()
        return left


class Incumbents:
    name = "incumbent"

    def __init__(self, work, routers):
        self.work, self.routers = work, routers
        self.sp = work / "sp"
        self.launchers = []
        self.mark = f"--state_path={self.sp} ".encode()

    def argv(self, r):
        d = self.sp / "ha_confs" / r.id
        return [INCUMBENT, f"--router_id={r.id}", f"--namespace={r.ns}", f"--conf_dir={d}",
                f"--log-file={d}/neutron-keepalived-state-change.log",
                f"--monitor_interface={r.ha}", f"--monitor_cidr={r.vip}/24",
                f"--pid_file={self.sp}/external/pids/{r.id}.monitor.pid",
                f"--state_path={self.sp}", f"--user={os.geteuid()}", f"--group={os.getegid()}"]

    def start(self):
        (self.sp / "external" / "pids").mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        for r in self.routers:
            self.launchers.append(subprocess.Popen(
                self.argv(r), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
        return t0

    def pids(self):
        mine = {p.pid for p in self.launchers}
        return family(lambda p, c: p in mine or self.mark in c + b" ")

    def stop(self):
        for p in self.launchers:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                pass
        return kill_pids(self.pids(), grace=10)


# ------------------------------------------------------------------------ one phase

def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = max(0, min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1)))))
    return xs[k]


def run_phase(kind, n, routers, root, args, log):
    work = root / f"{kind}-{n}"
    (work / "sp" / "ha_confs").mkdir(parents=True)
    for r in routers:
        d = work / "sp" / "ha_confs" / r.id
        d.mkdir(mode=0o755)
        (d / "keepalived.conf").write_text(r.conf())
    obs = Observer(work / "sp", routers)
    impl = (Havipd if kind == "havipd" else Incumbents)(work, routers)
    res = {"impl": kind, "n": n, "psi_cpu_avg10_start": cpu_pressure()}
    slow = kind == "incumbent"
    try:
        # --- start-up
        t0 = impl.start()
        ok = obs.wait(lambda: all(obs.notes[r.id] for r in routers), 60 + n * 3)
        res["startup_all_notified_s"] = (max(obs.notes[r.id][0][0] for r in routers) - t0) \
            if ok else None
        res["startup_all_files_s"] = (max(obs.files[r.id][0][0] for r in routers) - t0) \
            if all(obs.files[r.id] for r in routers) else None
        if kind == "havipd":
            obs.wait(lambda: impl.ready_t is not None, 10)
            res["startup_ready_s"] = impl.ready_t - t0 if impl.ready_t else None
        else:
            for p in impl.launchers:
                p.wait(30)
        initial = {obs.notes[r.id][0][1] for r in routers if obs.notes[r.id]}
        res["initial_states"] = sorted(s or "?" for s in initial)
        log(f"  start-up: all {n} notified after {res['startup_all_notified_s']}")
        if not ok:
            raise RuntimeError(f"{kind} N={n}: not every router notified")
        time.sleep(2.0 if slow else 0.5)
        # --- memory + idle
        pids = impl.pids()
        res["processes"] = len(pids)
        res["rss_mib"], res["pss_mib"] = memory(pids)
        res["idle_wakeups"], res["idle_cpu_ms"], res["idle_thread_churn"] = \
            idle(pids, args.idle_s)
        res["idle_s"] = args.idle_s
        log(f"  {len(pids)} processes, RSS {res['rss_mib']:.1f} MiB, PSS "
            f"{res['pss_mib']:.1f} MiB; idle {res['idle_wakeups']} wake-ups, "
            f"{res['idle_cpu_ms']:.0f} ms CPU in {args.idle_s} s")
        # --- mass failover: add in all, then del in all
        for add, want in ((True, "primary"), (False, "backup")):
            tstart = time.monotonic()
            last = 0.0
            for r in routers:
                last = r.change(add)[1]
            okm = obs.wait(lambda: all(
                Observer.first_after(obs.notes[r.id], tstart, want) and
                Observer.first_after(obs.files[r.id], tstart, want) for r in routers),
                60 + n)
            if okm:
                ln = max(Observer.first_after(obs.notes[r.id], tstart, want) for r in routers)
                lf = max(Observer.first_after(obs.files[r.id], tstart, want) for r in routers)
                res[f"mass_{want}"] = {"changes_s": last - tstart, "last_file_s": lf - last,
                                       "last_notify_s": ln - last}
            else:
                res[f"mass_{want}"] = None
            log(f"  mass → {want}: {res[f'mass_{want}']}")
            time.sleep(1.5 if slow else 0.3)
        # --- latency, one change at a time
        k = args.inc_k if slow else args.hav_k
        lat_f, lat_n, missed = [], [], 0
        for i in range(k):
            r = routers[i % len(routers)]
            add = not r.has_vip
            want = "primary" if add else "backup"
            time.sleep(random.uniform(0.05, 1.05) if slow else random.uniform(0.001, 0.002))
            t0, _ = r.change(add)
            okl = obs.wait(lambda: Observer.first_after(obs.notes[r.id], t0, want) and
                           Observer.first_after(obs.files[r.id], t0, want), 10)
            if not okl:
                missed += 1
                continue
            lat_f.append(Observer.first_after(obs.files[r.id], t0, want) - t0)
            lat_n.append(Observer.first_after(obs.notes[r.id], t0, want) - t0)
        res["latency_n"] = len(lat_f)
        res["latency_missed"] = missed
        for name, xs in (("file", lat_f), ("notify", lat_n)):
            res[f"lat_{name}"] = {"p50": pct(xs, 50), "p90": pct(xs, 90), "p99": pct(xs, 99),
                                  "max": max(xs) if xs else None}
        log(f"  latency n={len(lat_f)}: file p50 {res['lat_file']['p50'] * 1e3:.3f} ms p99 "
            f"{res['lat_file']['p99'] * 1e3:.3f} ms; notify p50 "
            f"{res['lat_notify']['p50'] * 1e3:.3f} ms p99 {res['lat_notify']['p99'] * 1e3:.3f} ms")
        res["psi_cpu_avg10_end"] = cpu_pressure()
    finally:
        left = impl.stop()
        if left:
            res["sigkilled"] = left
        obs.close()
        for r in routers:                 # back to no VIP for the next phase
            if r.has_vip:
                try:
                    r.change(False)
                except OSError:
                    r.has_vip = False
    return res


def safe_phase(kind, n, routers, root, args, log):
    try:
        return run_phase(kind, n, routers, root, args, log)
    except Exception as e:          # one failed phase does not lose the others
        log(f"  {kind} N={n} FAILED: {e!r}")
        return {"impl": kind, "n": n, "error": repr(e)}


# ---------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1,10,50")
    ap.add_argument("--havip-only", default="1000")
    ap.add_argument("--inc-k", type=int, default=30, help="incumbent latency samples per N")
    ap.add_argument("--hav-k", type=int, default=200, help="havipd latency samples per N")
    ap.add_argument("--idle-s", type=float, default=10.0)
    ap.add_argument("--workdir-parent", default="/var/lib")
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-incumbent", action="store_true")
    ap.add_argument("--routes", action="store_true",
                    help="a default route in every keepalived.conf (virtual_routes): the audit "
                         "then dumps each router's routes")
    ap.add_argument("--audit-interval-ms", type=int, default=None,
                    help="havip.toml's audit_interval_ms (default: havipd's, 10000; 0: off)")
    args = ap.parse_args()
    OPTIONS["routes"] = args.routes
    OPTIONS["audit_interval_ms"] = args.audit_interval_ms
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces, setns)")
    if not HAVIPD.exists():
        subprocess.run(["ninja", "-C", str(HAVIPD.parent.parent)], check=True)
    sizes = [int(x) for x in args.sizes.split(",") if x]
    big = [int(x) for x in args.havip_only.split(",") if x]
    nmax = max(sizes + big)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))

    root = Path(args.workdir_parent) / f"havipn-{os.getpid()}"
    root.mkdir()
    record = root / "namespaces.txt"
    t_begin = time.monotonic()

    def log(s):
        print(f"[{time.monotonic() - t_begin:7.1f}s] {s}", flush=True)

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    results = []
    fs = subprocess.run(["stat", "-f", "-c", "%T", str(root)], capture_output=True,
                        text=True).stdout.strip()
    meta = {"nproc": os.cpu_count(), "kernel": os.uname().release, "fs": fs, "root": str(root),
            "cmd": " ".join(sys.argv), "psi_start": open("/proc/pressure/cpu").read()}
    routers = []
    try:
        routers = [Router(i) for i in range(nmax)]
        log(f"creating {nmax} namespaces qrouter-<uuid> (list in {record})")
        make_namespaces(routers, root, record)
        log("namespaces ready")
        time.sleep(1)
        for n in sizes:
            for kind in (() if args.no_incumbent else ("incumbent",)) + ("havipd",):
                log(f"{kind} N={n}")
                results.append(safe_phase(kind, n, routers[:n], root, args, log))
        for n in big:
            log(f"havipd N={n}")
            results.append(safe_phase("havipd", n, routers[:n], root, args, log))
    finally:
        log("cleaning up: namespaces")
        for r in routers:
            if r.sock:
                r.sock.close()
        delete_namespaces(record)
        meta["psi_end"] = open("/proc/pressure/cpu").read()
        meta["runtime_s"] = time.monotonic() - t_begin
        out = {"meta": meta, "results": results}
        text = json.dumps(out, indent=1, default=str)
        (root / "results.json").write_text(text)
        if args.json:
            Path(args.json).write_text(text)
        log(f"done in {meta['runtime_s']:.0f} s; results in {root}/results.json")
    print_table(results)


def fmt_ms(s):
    if s is None:
        return "–"
    return f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s"


def print_table(results):
    print("| impl | N | procs | RSS MiB | PSS MiB | start-up (all notified) | READY | "
          "idle wake-ups / CPU | mass → primary (file / notify) | mass → backup | "
          "event→file p50/p99 | event→notify p50/p99 (n) |")
    print("|" + "---|" * 12)
    for r in results:
        mp, mb = r.get("mass_primary"), r.get("mass_backup")
        m = lambda x: f"{fmt_ms(x['last_file_s'])} / {fmt_ms(x['last_notify_s'])}" if x else "–"
        lf, ln = r.get("lat_file", {}), r.get("lat_notify", {})
        print(f"| {r['impl']} | {r['n']} | {r.get('processes')} | {r.get('rss_mib', 0):.1f} | "
              f"{r.get('pss_mib', 0):.1f} | {fmt_ms(r.get('startup_all_notified_s'))} | "
              f"{fmt_ms(r.get('startup_ready_s'))} | {r.get('idle_wakeups')} / "
              f"{r.get('idle_cpu_ms', 0):.0f} ms | {m(mp)} | {m(mb)} | "
              f"{fmt_ms(lf.get('p50'))} / {fmt_ms(lf.get('p99'))} | "
              f"{fmt_ms(ln.get('p50'))} / {fmt_ms(ln.get('p99'))} ({r.get('latency_n')}) |")


if __name__ == "__main__":
    main()
