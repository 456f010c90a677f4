#!/usr/bin/env python3
"""bench/ra_gap.py: the `ra-gap` part of bench/run (see docs/BENCHMARKS.md).

The RA gap a client sees across a keepalived failover, for one of two set-ups:

  havipd   one havipd watches both routers (two hosts merged into one) and, on the
           primary, sets the gateway sysctls and runs `radvd --nodaemon`; on the
           backup it kills radvd with SIGKILL;
  script   keepalived's notify_master / notify_backup / notify_fault / notify_stop run
           a shell script, the way sites do it today: on master `sysctl -w …` and
           `radvd -C conf -p pid` (radvd daemonizes); otherwise `kill $(cat pid)`
           (SIGTERM: radvd then sends a zero-lifetime "goodbye" RA) and `sysctl -w …`.

Topology (tests/e2e's, from tests/lib/havip_testlib/topology.py; one namespace per box,
`sw` plays the switches):

    r1: ha-r1 ── sw-ha-r1 ┐ br-ha ┌ sw-ha-r2 ── ha-r2 :r2   (VRRP, 169.254.192.x/18)
        qr-r1 ── sw-qr-r1 ┐ br-int ┌ sw-qr-r2 ── qr-r2      (same MAC, no kernel LLA)
        qg-r1 ── qg-r1p           │                qg-r2 ── qg-r2p
                            sw-client ── eth0 :client

As in Neutron, both internal ports have the same MAC and no kernel link-local; the
link-local fe80::<EUI-64> is a keepalived `virtual_ipaddress_excluded` entry, so it
lives on the VRRP master only and every RA, from either router, has the same source.
keepalived is configured as Neutron does (state BACKUP, nopreempt, equal priority), with
advert_int 1; radvd with MinRtrAdvInterval 3, MaxRtrAdvInterval 4 in both set-ups.

Recorded, in this process, on CLOCK_MONOTONIC: every RA and VRRP advert received on the
switch ports (which router sent it) and on the client's eth0 (AF_PACKET sockets opened
inside the namespaces), the client's IPv6 default route coming and going (rtnetlink,
RTMGRP_IPV6_ROUTE), and an `rdisc6` solicitation from the client every
--solicit-interval seconds. Failovers alternate r1 → r2 → r1 …: SIGTERM to the
primary's keepalived (a clean stop: priority-0 advert, VIPs removed), wait for the new
primary's first RA, restart the stopped keepalived (it stays backup: nopreempt), settle
for 3 s plus a random 0–4 s so that SIGTERM lands at a random phase of the RA interval.

Prints "ROW\\tsection\\tmetric\\tvalue\\tgoal\\tverdict" lines on stdout (bench/run's
table), progress on stderr, and one JSON line per failover to --raw if given.

Everything it creates is named --prefix… (namespaces) or lives in --workdir; the only
processes it ends are the ones it started and those running inside its own namespaces
(radvd started by a notify script), by PID.
"""

import argparse
import ctypes
import json
import os
import random
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "lib"))  # havip_testlib

from havip_testlib.keepalived import Keepalived  # noqa: E402
from havip_testlib.netns import NETNS_DIR  # noqa: E402
from havip_testlib.packets import decode_frame, packet_socket, receive  # noqa: E402
from havip_testlib.proc import stop_process, wait_for  # noqa: E402
from havip_testlib.topology import (QR_LLA, ROUTERS, VIP, Topology, havipd_config,  # noqa: E402
                                    radvd_conf, rdisc6_argv)

RTMGRP_IPV6_ROUTE = 0x400
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
RTPROT_RA = 9
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)
_HOME_NS = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)


def die_with_us():
    """preexec_fn: the child gets SIGTERM if this driver dies first (no orphan havipd or
    keepalived when the driver is killed)."""
    _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def log(text):
    print(f"  {text}", file=sys.stderr, flush=True)


class InNetns:
    """Runs a `with` block (this thread only) inside a named namespace; sockets opened
    there stay bound to it."""

    def __init__(self, name):
        self.fd = os.open(NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)

    def __enter__(self):
        if _libc.setns(self.fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")

    def __exit__(self, *exc):
        if _libc.setns(_HOME_NS, CLONE_NEWNET) != 0:
            os.abort()
        os.close(self.fd)


# ------------------------------------------------------------------------ recording

class Recorder(threading.Thread):
    """Packet and route recorder; .records is a list of (t, where, kind, fields)."""

    def __init__(self, ports, client_ns):
        super().__init__(daemon=True)
        self.socks = {}
        for ns, ifnames in ports.items():
            with InNetns(ns):
                for name in ifnames:
                    s = packet_socket(name)
                    self.socks[s.fileno()] = (s, name)
        with InNetns(client_ns):
            nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)  # NETLINK_ROUTE
            nl.bind((0, RTMGRP_IPV6_ROUTE))
        self.nl = nl
        self.records = []
        self.lock = threading.Lock()
        self.stopping = False

    def add(self, rec):
        with self.lock:
            self.records.append(rec)

    def select(self, where=None, kind=None, since=None, until=None):
        with self.lock:
            recs = list(self.records)
        return [r for r in recs if (where is None or r[1] == where)
                and (kind is None or r[2] == kind)
                and (since is None or r[0] >= since) and (until is None or r[0] <= until)]

    def _route(self, data, now):
        off = 0
        while off + 16 <= len(data):
            length, mtype = struct.unpack_from("=IH", data, off)
            if length < 16:
                break
            if mtype in (RTM_NEWROUTE, RTM_DELROUTE) and length >= 28:
                family, dst_len, _, _, table, proto = struct.unpack_from("=BBBBBB", data, off + 16)
                if family == socket.AF_INET6 and dst_len == 0 and proto == RTPROT_RA:
                    self.add((now, "client", "route",
                              {"present": mtype == RTM_NEWROUTE, "table": table}))
            off += (length + 3) & ~3

    def run(self):
        fds = list(self.socks) + [self.nl.fileno()]
        while not self.stopping:
            ready, _, _ = select.select(fds, [], [], 0.2)
            now = time.monotonic()
            for fd in ready:
                if fd == self.nl.fileno():
                    self._route(self.nl.recv(65536), now)
                    continue
                s, name = self.socks[fd]
                frame = receive(s)
                d = decode_frame(frame) if frame is not None else None
                if d:
                    kind = d.pop("kind")
                    self.add((now, name, kind, d))

    def stop(self):
        self.stopping = True
        self.join(2)
        for s, _ in self.socks.values():
            s.close()
        self.nl.close()

    def dump(self, path, t0):
        """Every record, one JSON line each, times in seconds from t0 (for diagnosis)."""
        with open(path, "w") as f:
            for t, where, kind, fields in self.select():
                f.write(json.dumps({"t": round(t - t0, 4), "at": where, "kind": kind, **fields}) + "\n")


class Solicitor(threading.Thread):
    """rdisc6 from the client every `interval` s; .results: (t_sent, t_done, lifetime|None)."""

    def __init__(self, client_ns, interval):
        super().__init__(daemon=True)
        self.argv = rdisc6_argv(client_ns, retries=1, timeout_ms=1000)
        self.interval = interval
        self.results = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            t0 = time.monotonic()
            lifetime = None
            try:
                p = subprocess.run(self.argv, capture_output=True, text=True, timeout=5)
                for line in p.stdout.splitlines():
                    if line.strip().startswith("Router lifetime"):
                        lifetime = int(line.split(":")[1].split()[0])
            except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
                pass
            self.results.append((t0, time.monotonic(), lifetime))
            self.stopping.wait(max(0.0, self.interval - (time.monotonic() - t0)))

    def stop(self):
        self.stopping.set()
        self.join(6)


# ------------------------------------------------------------------------- topology

class Lab:
    def __init__(self, args):
        self.args = args
        self.prefix = args.prefix
        self.work = Path(args.workdir)
        self.work.mkdir(parents=True, exist_ok=True)
        self.topo = Topology(self.work, self.prefix)
        self.ns = self.topo.names  # role -> namespace name, once built
        self.keepalived = {}       # router -> its current Keepalived
        self.all_keepalived = []   # every Keepalived we started
        self.started = []          # every other Popen we started (havipd)
        self.havipd = None
        self.recorder = None
        self.solicitor = None
        self.t0 = time.monotonic()

    def note(self, text, t=None):
        with open(self.work / "steps.log", "a") as f:
            f.write(f"{(t or time.monotonic()) - self.t0:9.4f}  {text}\n")

    def build(self):
        # all_forwarding: as Neutron's Namespace.create() does for every router namespace.
        # Without it keepalived's unsolicited neighbour adverts for the link-local lack the
        # Router flag on a router that was never primary, and the client drops its default
        # router until the first RA (see docs/BENCHMARKS.md).
        self.topo.build(ROUTERS, all_forwarding=bool(self.args.all_forwarding))
        self.topo.wait_carrier(10)
        time.sleep(2)  # DAD of the HA addresses' link-locals, bridge ports forwarding

    def start_recording(self):
        ports = {self.ns["sw"]: [f"sw-qr-{r}" for r in ROUTERS] + [f"sw-ha-{r}" for r in ROUTERS]}
        ports[self.ns["client"]] = ["eth0"]
        self.recorder = Recorder(ports, self.ns["client"])
        self.recorder.start()
        self.solicitor = Solicitor(self.ns["client"], self.args.solicit_interval)
        self.solicitor.start()

    # -- the two set-ups
    def notify_script(self):
        path = self.work / "notify.sh"
        path.write_text(f"""#!/bin/sh
# keepalived notify script, the way sites run radvd today: $1 = master|backup|fault|stop,
# $2 = router. Runs inside the router's namespace (keepalived's).
D={self.work}
echo "$(date +%s%N) begin $1 $2" >> $D/notify.log
case $1 in
master)
    sysctl -q -w net.ipv6.conf.all.forwarding=1 net.ipv6.conf.qg-$2.accept_ra=2 net.ipv6.conf.qg-$2.forwarding=1
    radvd -C $D/radvd-$2.conf -p $D/radvd-$2.pid -m logfile -l $D/radvd-$2.log
    ;;
*)
    [ -f $D/radvd-$2.pid ] && kill $(cat $D/radvd-$2.pid)
    sysctl -q -w net.ipv6.conf.qg-$2.accept_ra=0 net.ipv6.conf.qg-$2.forwarding=0
    ;;
esac
echo "$(date +%s%N) end $1 $2" >> $D/notify.log
""")
        path.chmod(0o755)
        for r in ROUTERS:
            conf = self.work / f"radvd-{r}.conf"
            conf.write_text(radvd_conf(r))
            conf.chmod(0o644)
        return path

    def start_keepalived(self, r):
        instance = ()
        if self.args.mode == "script":
            script = self.work / "notify.sh"
            instance = [f'notify_{what} "{script} {what} {r}"'
                        for what in ("master", "backup", "fault", "stop")]
        k = Keepalived(r, self.ns[r], self.work, router_id=f"{self.prefix}{r}",
                       global_defs=("script_user root",), instance=instance,
                       detailed_log=False, preexec_fn=die_with_us).start()
        self.keepalived[r] = k
        self.all_keepalived.append(k)

    def start_havipd(self):
        conf = self.work / "havipd.toml"
        conf.write_text(havipd_config(self.topo, self.work / "state", self.work / "run",
                                      self.args.hold_down_ms, ROUTERS))
        out = open(self.work / "havipd.log", "a")
        self.havipd = subprocess.Popen([self.args.havipd, "--config", str(conf)],
                                       stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, preexec_fn=die_with_us)
        out.close()
        self.started.append(self.havipd)
        self.wait(lambda: all(self.state(r) == "backup" for r in ROUTERS), 10,
                  "havipd: both routers 'backup'")

    def state(self, r):
        try:
            return (self.work / "state" / r / "state").read_text()
        except OSError:
            return None

    # -- observation helpers
    @staticmethod
    def wait(pred, timeout, what):
        return wait_for(pred, timeout, interval=0.02, what=what)

    def has_vip(self, r):
        return self.topo.has_addr(r, f"ha-{r}", VIP.split("/")[0])

    def master(self):
        masters = [r for r in ROUTERS if self.has_vip(r)]
        return masters[0] if len(masters) == 1 else None

    def ras(self, r, since=None, until=None):
        return self.recorder.select(f"sw-qr-{r}", "ra", since, until)

    # -- teardown
    def close(self):
        if self.solicitor:
            self.solicitor.stop()
            with open(self.work / "rdisc6.jsonl", "w") as f:
                for t0, t1, lifetime in self.solicitor.results:
                    f.write(json.dumps({"t": round(t0 - self.t0, 4), "done": round(t1 - self.t0, 4),
                                        "lifetime": lifetime}) + "\n")
        if self.recorder:
            self.recorder.stop()
            self.recorder.dump(self.work / "records.jsonl", self.t0)
        for k in reversed(self.all_keepalived):
            k.stop()
        for p in reversed(self.started):
            stop_process(p)
        # What still runs in our namespaces (a daemonized radvd), then the namespaces.
        self.topo.cleanup()


# ------------------------------------------------------------------------- failovers

def failover(lab, old, new, realtime_offset):
    """SIGTERM to old's keepalived; returns the figures of this failover."""
    rec = lab.recorder
    t_term = time.monotonic()
    lab.keepalived[old].terminate()
    lab.note(f"SIGTERM to keepalived of {old} (pid {lab.keepalived[old].pid})", t_term)
    first = lab.wait(lambda: lab.ras(new, since=t_term), 20, f"an RA from the new primary {new}")
    t_first_new = first[0][0]
    time.sleep(2.0)   # late RAs of the old primary (a goodbye), the client catching up
    lab.keepalived[old].proc.wait(10)
    t_end = time.monotonic()

    old_before = [r for r in lab.ras(old, until=t_term) if r[3]["lifetime"] > 0]
    old_after = lab.ras(old, since=t_term, until=t_end)
    client = rec.select("eth0", "ra", t_term - 10, t_end)
    # The client's view: the last RA with a router lifetime before the new primary's
    # first, and the first RA the client received from the new primary.
    c_before = [r for r in client if r[0] < t_first_new and r[3]["lifetime"] > 0]
    c_after = [r for r in client if r[0] >= t_first_new]
    zero = [r for r in client if r[0] >= t_term and r[3]["lifetime"] == 0]
    vrrp_new = [r for r in rec.select(f"sw-ha-{new}", "vrrp", t_term, t_end) if r[3]["prio"] > 0]
    vrrp_old0 = [r for r in rec.select(f"sw-ha-{old}", "vrrp", t_term, t_end) if r[3]["prio"] == 0]
    # The client's default route: time without one after SIGTERM.
    routes = rec.select("client", "route", t_term - 10, t_end)
    no_route_ms, gone_at = 0.0, None
    for t, _, _, f in routes:
        if not f["present"] and gone_at is None and t >= t_term:
            gone_at = t
        elif f["present"] and gone_at is not None:
            no_route_ms += (t - gone_at) * 1000
            gone_at = None
    if gone_at is not None:
        no_route_ms += (t_end - gone_at) * 1000
    sol = [s for s in lab.solicitor.results if t_term <= s[0] <= t_first_new]
    notify = []
    log = lab.work / "notify.log"
    if log.exists():
        for line in log.read_text().splitlines():
            ns_, what, role, r = line.split()
            t = int(ns_) / 1e9 - realtime_offset
            if t_term <= t <= t_end:
                notify.append({"t_ms": round((t - t_term) * 1000, 1), "what": what,
                               "role": role, "router": r})
    ms = lambda a, b: round((b - a) * 1000, 1)  # noqa: E731
    return {
        "from": old, "to": new,
        "sigterm_to_first_new_ra_ms": ms(t_term, t_first_new),
        "first_new_ra_lifetime": first[0][3]["lifetime"],
        "wire_gap_ms": ms(old_before[-1][0], t_first_new) if old_before else None,
        "client_gap_ms": ms(c_before[-1][0], c_after[0][0]) if c_before and c_after else None,
        "client_last_ra_before_sigterm_ms": ms(c_before[-1][0], t_term) if c_before else None,
        "sigterm_to_old_prio0_ms": ms(t_term, vrrp_old0[0][0]) if vrrp_old0 else None,
        "sigterm_to_new_master_advert_ms": ms(t_term, vrrp_new[0][0]) if vrrp_new else None,
        "new_master_advert_to_first_ra_ms": ms(vrrp_new[0][0], t_first_new) if vrrp_new else None,
        "old_ras_after_sigterm": len(old_after),
        "old_zero_lifetime_ras": [ms(t_term, r[0]) for r in old_after if r[3]["lifetime"] == 0],
        "client_zero_lifetime_ras": [ms(t_term, r[0]) for r in zero],
        "client_no_default_route_ms": round(no_route_ms, 1),
        "new_na_without_router_flag": sum(
            1 for r in rec.select(f"sw-qr-{new}", "na", t_term, t_end)
            if r[3]["target"] == QR_LLA and not r[3]["router"]),
        "solicitations_unanswered": sum(1 for s in sol if s[2] is None),
        "solicitations_zero_lifetime": sum(1 for s in sol if s[2] == 0),
        "notify": notify,
    }


def cpu_pressure_us():
    """/proc/pressure/cpu "some" total (µs some task waited for a CPU), or None."""
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        return int(some.rsplit("total=", 1)[1])
    except (OSError, IndexError, ValueError):
        return None


def rows(section, results, n_wanted, pressure=None):
    def row(metric, value, goal="-", verdict="-"):
        print(f"ROW\t{section}\t{metric}\t{value}\t{goal}\t{verdict}", flush=True)

    def med_max(key):
        v = [r[key] for r in results if r[key] is not None]
        if not v:
            return "-"
        return f"median {statistics.median(v):.0f} ms / max {max(v):.0f} ms (n={len(v)})"

    row(f"failovers ({' '.join(r['from'] + '→' + r['to'] for r in results)})",
        f"{len(results)}/{n_wanted}", str(n_wanted), "ok" if len(results) == n_wanted else "MISS")
    row("SIGTERM → first RA from the new primary (wire)", med_max("sigterm_to_first_new_ra_ms"))
    row("RA gap at the client: last RA of the old primary → first of the new",
        med_max("client_gap_ms"))
    row("… of which: last RA before SIGTERM (random phase; rdisc6 every "
        f"{results[0]['solicit'] if results else '?'} s)", med_max("client_last_ra_before_sigterm_ms"))
    row("SIGTERM → new master's first VRRP advert (keepalived)", med_max("sigterm_to_new_master_advert_ms"))
    row("new master's VRRP advert → its first RA (effects + radvd start)",
        med_max("new_master_advert_to_first_ra_ms"))
    zero = sum(len(r["client_zero_lifetime_ras"]) for r in results)
    row("zero-lifetime RAs the client received",
        f"{zero} in {sum(1 for r in results if r['client_zero_lifetime_ras'])} of {len(results)} failovers",
        "0", "ok" if zero == 0 else "MISS")
    lost = [r["client_no_default_route_ms"] for r in results if r["client_no_default_route_ms"] > 0]
    row("client lost its IPv6 default route after SIGTERM",
        f"in {len(lost)} of {len(results)} failovers"
        + (f", for {statistics.median(lost):.0f} ms median / {max(lost):.0f} ms max" if lost else ""),
        "0", "ok" if not lost else "MISS")
    row("new primary's neighbour adverts for the link-local without the Router flag",
        f"{sum(r['new_na_without_router_flag'] for r in results)} "
        f"(in {sum(1 for r in results if r['new_na_without_router_flag'])} failovers)")
    row("RAs from the old primary after SIGTERM",
        str(sum(r["old_ras_after_sigterm"] for r in results)))
    row("rdisc6 solicitations unanswered between SIGTERM and the first new RA",
        str(sum(r["solicitations_unanswered"] for r in results)))
    if pressure is not None:
        row("CPU pressure during the failovers (some task waiting for a CPU; ours included)",
            f"{pressure:.1f} % of the time")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("havipd", "script"), required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--havipd")
    ap.add_argument("--hold-down-ms", type=int, default=0)
    ap.add_argument("--failovers", type=int, default=6)
    ap.add_argument("--solicit-interval", type=float, default=1.0)
    ap.add_argument("--all-forwarding", type=int, choices=(0, 1), default=1,
                    help="1: net.ipv6.conf.all.forwarding=1 in the router namespaces from "
                         "the start, as Neutron does; 0: the kernel's default (0)")
    ap.add_argument("--label", required=True)
    ap.add_argument("--raw")
    args = ap.parse_args()
    if args.mode == "havipd" and not args.havipd:
        ap.error("--havipd is required with --mode havipd")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
    lab = Lab(args)
    section = f"ra-gap: {args.label}"
    results = []
    try:
        lab.build()
        lab.start_recording()
        if args.mode == "script":
            lab.notify_script()
        else:
            lab.start_havipd()
        # Staggered, so the two never time out together (a momentary double master that
        # only a hold-down would absorb).
        lab.start_keepalived("r1")
        time.sleep(0.5)
        lab.start_keepalived("r2")
        primary = lab.wait(lab.master, 15, "a VRRP master")
        lab.wait(lambda: lab.ras(primary), 10, f"an RA from {primary}")
        log(f"{args.label}: {primary} is primary; {args.failovers} failovers")
        realtime_offset = time.time() - time.monotonic()
        psi0, wall0 = cpu_pressure_us(), time.monotonic()
        rng = random.Random(7)
        for i in range(args.failovers):
            time.sleep(3 + rng.uniform(0, 4))
            backup = next(r for r in ROUTERS if r != primary)
            if not lab.ras(primary, since=time.monotonic() - 6):
                raise RuntimeError(f"{primary} is primary but sent no RA in 6 s")
            res = failover(lab, primary, backup, realtime_offset)
            res["solicit"] = args.solicit_interval
            results.append(res)
            log(f"{args.label}: failover {i + 1}: {primary} → {backup}: "
                f"SIGTERM → first RA {res['sigterm_to_first_new_ra_ms']} ms, client gap "
                f"{res['client_gap_ms']} ms, zero-lifetime RAs at the client "
                f"{res['client_zero_lifetime_ras']}, no default route "
                f"{res['client_no_default_route_ms']} ms")
            if args.raw:
                with open(args.raw, "a") as f:
                    f.write(json.dumps({"label": args.label, **res}) + "\n")
            lab.start_keepalived(primary)  # back as backup (nopreempt)
            primary = backup
            lab.wait(lambda: lab.master() == primary, 5, f"{primary} still master")
    finally:
        if results:
            psi1 = cpu_pressure_us()
            pressure = (100.0 * (psi1 - psi0) / 1e6 / (time.monotonic() - wall0)
                        if psi0 is not None and psi1 is not None else None)
            rows(section, results, args.failovers, pressure)
        lab.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
