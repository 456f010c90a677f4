"""Effects of a role change in real namespaces: IPv6 sysctls, extra sysctls, radvd,
services, hooks, shutdown and --dry-run (DESIGN.md §3.4-3.8, NEUTRON.md)."""

import os
import signal
import time
from pathlib import Path

import pytest

from helpers import (alive, cmdline, descendants, find_processes, netns_inode_of, parent_pid,
                     router, run, wait_for)

pytestmark = pytest.mark.usefixtures("kernel_ok")

VIP = "169.254.0.1/24"
RADVD = "/usr/sbin/radvd"
PREFIX = "fd00:1::/64"
HOOK_ENV = {"PATH", "HAVIP_ROUTER", "HAVIP_ROLE", "HAVIP_PREVIOUS_ROLE", "HAVIP_NAMESPACE"}


def radvd_table(ifname="qr-r1"):
    return {"interface": [{"name": ifname, "prefixes": [{"prefix": PREFIX, "mode": "slaac"}]}]}


def script(workdir, name, body):
    """An executable /bin/sh script in workdir."""
    path = workdir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def wait_sysctls(d, ns, expected, timeout=5.0):
    """Polls `sysctl -n` in ns until every key has its expected value."""
    keys = list(expected)
    want = tuple(str(expected[k]) for k in keys)
    got = []

    def match():
        got[:] = [ns.sysctl_get(*keys)]
        return got[0] == want
    wait_for(match, timeout, interval=0.05,
             what=lambda: (f"sysctls in {ns.name}: want {dict(zip(keys, want))}, "
                           f"got {dict(zip(keys, got[0]))}\n" + d.log_text()))


def gw_sysctls(qg):
    return (f"net.ipv6.conf.{qg}.accept_ra", f"net.ipv6.conf.{qg}.forwarding",
            "net.ipv6.conf.all.forwarding")


def expect_gw(d, ns, qg, accept_ra, forwarding, all_forwarding):
    keys = gw_sysctls(qg)
    wait_sysctls(d, ns, dict(zip(keys, (accept_ra, forwarding, all_forwarding))))


def radvd_pids(run_dir, name="r1"):
    """Live radvd processes of router `name` (the main one and its privsep child)."""
    return find_processes("--pidfile", run_dir / name / "radvd.pid")


def radvd_main(d, run_dir, name="r1", exclude=()):
    """The radvd that havipd started (its direct child), or None. `exclude`: processes of
    an earlier radvd: once that one is killed, its privsep child is reparented to havipd
    (a subreaper) for the moment until havipd ends it, and would look like a new radvd."""
    mains = [p for p in radvd_pids(run_dir, name)
             if parent_pid(p) == d.pid and p not in exclude]
    assert len(mains) <= 1, f"more than one radvd for {name}: {mains}\n" + d.log_text()
    return mains[0] if mains else None


def group_members(pgid):
    """Live (non-zombie) processes in process group pgid."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(entry.name))
    return out


def all_gone(pids, groups=()):
    """True when none of pids is alive and every process group in groups is empty."""
    return not any(alive(p) for p in pids) and not any(group_members(g) for g in groups)


def children_running(d, argv):
    """Live direct children of havipd whose argv is exactly `argv`."""
    argv = [str(a) for a in argv]
    return [p for p in descendants(d.pid)
            if parent_pid(p) == d.pid and cmdline(p) == argv and alive(p)]


def rdisc6(ns, ifname, wait_ms, tries):
    """rdisc6 from inside ns on ifname: (exit code, output)."""
    proc = run("ip", "netns", "exec", ns.name, "rdisc6", "-1", "-r", tries, "-w", wait_ms,
               ifname, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def ra_namespace(netns):
    """A namespace with ha-r1 and qr-r1 (peer qr-r1p) whose link-locals are usable at once."""
    ns = netns.create()
    ns.sysctl("net.ipv6.conf.default.accept_dad", 0)  # before qr-r1 exists
    ns.sysctl("net.ipv6.conf.all.forwarding", 1)       # radvd warns without it
    ns.add_veth("qr-r1")
    return ns


# ------------------------------------------------------------------ sysctls

def test_ipv6_sysctl_matrix(netns, havipd):
    ns1 = netns.create(veths=("ha-r1", "qg-r1"))
    ns2 = netns.create(veths=("ha-r1", "qg-r2"))
    for ns, qg in ((ns1, "qg-r1"), (ns2, "qg-r2")):
        ns.sysctl("net.ipv6.conf.all.forwarding", 1)  # also sets qg forwarding = 1
        ns.sysctl(f"net.ipv6.conf.{qg}.accept_ra", 2)
    d = havipd([router("r1", ns1, gateway_interface="qg-r1"),
                router("r2", ns2, gateway_interface="qg-r2", ipv6_gateway=True)])

    # Backup at start: the gateway neither forwards nor takes RAs; all.forwarding
    # is left as it was (turning it off makes the kernel send MLD reports).
    assert d.state("r1") == "backup" and d.state("r2") == "backup"
    expect_gw(d, ns1, "qg-r1", 0, 0, 1)
    expect_gw(d, ns2, "qg-r2", 0, 0, 1)

    # Primary without an IPv6 gateway: accept_ra=2 (RAs while forwarding).
    ns1.sysctl("net.ipv6.conf.all.forwarding", 0)
    ns1.add_addr(VIP)
    d.wait_state("r1", "primary")
    expect_gw(d, ns1, "qg-r1", 2, 1, 1)

    # Primary with a static IPv6 gateway: accept_ra=0.
    ns2.sysctl("net.ipv6.conf.all.forwarding", 0)
    ns2.sysctl("net.ipv6.conf.qg-r2.accept_ra", 1)
    ns2.add_addr(VIP)
    d.wait_state("r2", "primary")
    expect_gw(d, ns2, "qg-r2", 0, 1, 1)

    # Backup that was primary: gateway off, all.forwarding still 1.
    ns1.del_addr(VIP)
    d.wait_state("r1", "backup")
    expect_gw(d, ns1, "qg-r1", 0, 0, 1)
    ns2.del_addr(VIP)
    d.wait_state("r2", "backup")
    expect_gw(d, ns2, "qg-r2", 0, 0, 1)
    d.wait_transitions("r1", [("unknown", "backup"), ("backup", "primary"),
                              ("primary", "backup")])


def test_gateway_interface_that_appears_later_gets_its_sysctls(netns, havipd):
    ns = netns.create(veths=("ha-r1", "qg-x"))
    d = havipd([router("r1", ns, gateway_interface="qg-r1"),
                router("r2", ns, vip="169.254.0.2/24", gateway_interface="qg-r2"),
                router("r3", ns, vip="169.254.0.3/24", gateway_interface="qg-r3")])
    ns.add_addr(VIP)
    ns.add_addr("169.254.0.2/24")
    d.wait_states({"r1": "primary", "r2": "primary", "r3": "backup"})

    # Created after the router became primary (Neutron bug #1585246).
    ns.add_veth("qg-r1")
    expect_gw(d, ns, "qg-r1", 2, 1, 1)
    # Renamed into the configured name.
    ns.ip("link", "set", "qg-x", "down")
    ns.ip("link", "set", "qg-x", "name", "qg-r2")
    ns.ip("link", "set", "qg-r2", "up")
    expect_gw(d, ns, "qg-r2", 2, 1, 1)
    # A backup's gateway that appears gets the backup values (accept_ra
    # defaults to 1; forwarding is inherited from all.forwarding = 1).
    ns.add_veth("qg-r3")
    expect_gw(d, ns, "qg-r3", 0, 0, 1)
    for name in ("r1", "r2", "r3"):
        d.wait_log(f"{name}: gateway interface appeared")


def test_extra_sysctls_per_role(netns, havipd):
    ns = netns.create(veths=("ha-r1", "qr.1"))
    extra = [
        # dotted form, both roles
        {"key": "net.ipv4.conf.all.arp_ignore", "primary": "1", "backup": "0"},
        # path form; empty backup value: left alone on backup
        {"key": "net/ipv4/conf/ha-r1/arp_announce", "primary": "2", "backup": ""},
        # an interface name with a dot needs the path form; primary left alone
        {"key": "net/ipv4/conf/qr.1/arp_ignore", "primary": "", "backup": "2"},
    ]
    keys = ["net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.ha-r1.arp_announce",
            "net/ipv4/conf/qr.1/arp_ignore"]
    ns.sysctl(keys[0], 3)
    ns.sysctl(keys[1], 1)
    d = havipd([router("r1", ns, sysctl=extra)])

    wait_sysctls(d, ns, dict(zip(keys, ("0", "1", "2"))))  # backup
    ns.sysctl(keys[2], 0)
    ns.add_addr(VIP)
    d.wait_state("r1", "primary")
    wait_sysctls(d, ns, dict(zip(keys, ("1", "2", "0"))))  # primary
    ns.del_addr(VIP)
    d.wait_state("r1", "backup")
    wait_sysctls(d, ns, dict(zip(keys, ("0", "2", "2"))))  # backup again


# -------------------------------------------------------------------- radvd

def test_radvd_runs_in_the_namespace_only_while_primary(netns, havipd, workdir):
    ns = ra_namespace(netns)
    run_dir = workdir / "run"
    d = havipd([router("r1", ns, radvd=radvd_table())], run_dir=str(run_dir),
               radvd_binary=RADVD)
    conf, pidfile = run_dir / "r1" / "radvd.conf", run_dir / "r1" / "radvd.pid"
    assert radvd_pids(run_dir) == [] and not conf.exists()

    ns.add_addr(VIP)
    d.wait_state("r1", "primary")
    pid = wait_for(lambda: radvd_main(d, run_dir), timeout=5,
                   what=lambda: "radvd started by havipd\n" + d.log_text())
    assert cmdline(pid) == [RADVD, "--nodaemon", "--config", str(conf), "--pidfile",
                            str(pidfile), "--logmethod", "stderr"]
    assert netns_inode_of(pid) == ns.inode(), "radvd is not in the router's namespace"
    assert netns_inode_of(pid) != netns_inode_of(os.getpid())
    assert run("ip", "netns", "identify", pid).stdout.strip() == ns.name
    text = conf.read_text()
    assert "interface qr-r1" in text and f"prefix {PREFIX}" in text, text
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() == str(pid), timeout=5,
             what=lambda: f"radvd's pid file with {pid}\n" + d.log_text())
    d.wait_log("r1: radvd: ")  # its stderr reaches our log, prefixed

    # A host on qr-r1's link hears the router.
    code, out = rdisc6(ns, "qr-r1p", 2000, 3)
    assert code == 0 and f"Prefix                   : {PREFIX}" in out, out

    procs = radvd_pids(run_dir)  # radvd and its privsep child
    ns.del_addr(VIP)
    d.wait_state("r1", "backup")
    wait_for(lambda: all_gone(procs, [pid]) and radvd_pids(run_dir) == [], timeout=1.0,
             what=lambda: f"radvd gone (left: {radvd_pids(run_dir)})\n" + d.log_text())
    wait_for(lambda: not conf.exists() and not pidfile.exists(), timeout=1.0,
             what=lambda: f"{conf} and {pidfile} removed\n" + d.log_text())
    d.wait_log("r1: radvd stopped (killed by SIGKILL)")
    # And the link hears nothing any more.
    code, out = rdisc6(ns, "qr-r1p", 1500, 1)
    assert code != 0 and PREFIX not in out, out


def test_killed_radvd_is_respawned(netns, havipd, workdir):
    ns = ra_namespace(netns)
    run_dir = workdir / "run"
    pidfile = run_dir / "r1" / "radvd.pid"
    ns.add_addr(VIP)
    d = havipd([router("r1", ns, radvd=radvd_table())], run_dir=str(run_dir),
               radvd_binary=RADVD)
    assert d.state("r1") == "primary"
    first = wait_for(lambda: radvd_main(d, run_dir), timeout=5,
                     what=lambda: "radvd started\n" + d.log_text())
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() == str(first), timeout=5,
             what=lambda: f"radvd's pid file with {first}\n" + d.log_text())

    # The first radvd and its privsep child, which it forks after writing its pid file:
    # waited for, or, reparented to havipd after the kill, it would pass for a new radvd.
    before = set(wait_for(lambda: [p for p in radvd_pids(run_dir) if parent_pid(p) == first]
                          and radvd_pids(run_dir), timeout=5,
                          what=lambda: "the first radvd's privsep child\n" + d.log_text()))
    os.kill(first, signal.SIGKILL)  # a process havipd started, by PID
    killed = time.monotonic()
    second = wait_for(lambda: radvd_main(d, run_dir, exclude=before),
                      timeout=1.5, what=lambda: "a new radvd\n" + d.log_text())
    assert time.monotonic() - killed < 1.5
    assert netns_inode_of(second) == ns.inode()
    d.wait_log("r1: radvd exited unexpectedly (killed by SIGKILL); restarting in 100ms")
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() == str(second),
             timeout=5, what=lambda: f"radvd's pid file with {second}\n" + d.log_text())
    # Nothing of the first radvd is left (its privsep child included).
    wait_for(lambda: all(parent_pid(p) in (d.pid, second) for p in radvd_pids(run_dir)),
             timeout=2, what=lambda: f"only the second radvd's processes "
                                     f"{[(p, parent_pid(p)) for p in radvd_pids(run_dir)]}")


def test_stale_radvd_pid_file_does_not_block_radvd(netns, havipd, workdir):
    # Neutron bugs #1561046, #2033980: a pid file left behind (here naming a live,
    # unrelated process: this pytest) must not keep radvd from starting.
    ns = ra_namespace(netns)
    run_dir = workdir / "run"
    pidfile = run_dir / "r1" / "radvd.pid"
    pidfile.parent.mkdir(parents=True)
    pidfile.write_text(f"{os.getpid()}\n")
    ns.add_addr(VIP)
    d = havipd([router("r1", ns, radvd=radvd_table())], run_dir=str(run_dir),
               radvd_binary=RADVD)
    assert d.state("r1") == "primary"
    pid = wait_for(lambda: radvd_main(d, run_dir), timeout=5,
                   what=lambda: "radvd started\n" + d.log_text())
    # radvd writes it once set up; a CI run under load once took over 5 s.
    wait_for(lambda: pidfile.read_text().strip() == str(pid), timeout=15,
             what=lambda: (f"radvd's pid file with {pid} (it says {pidfile.read_text()!r})\n"
                           + d.log_text()))
    assert not d.log_has("radvd exited unexpectedly"), d.log_text()


def test_radvd_left_by_a_crashed_havipd_does_not_run_on_a_backup(netns, havipd, workdir):
    # DESIGN.md §3.7 "radvd never runs on a BACKUP"; NEUTRON.md #1632099 (a
    # SIGKILLed monitor orphaned its child) and #1561046 (stale pid files).
    ns = ra_namespace(netns)
    run_dir = workdir / "run"
    routers = [router("r1", ns, radvd=radvd_table())]
    ns.add_addr(VIP)
    first = havipd(routers, run_dir=str(run_dir), radvd_binary=RADVD)
    wait_for(lambda: radvd_main(first, run_dir), timeout=5,
             what=lambda: "radvd started\n" + first.log_text())
    orphans = radvd_pids(run_dir)
    try:
        first.kill()  # havipd crashes: SIGKILL, no chance to clean up
        ns.del_addr(VIP)  # meanwhile the VIP moved to the other node
        second = havipd(routers, run_dir=str(run_dir), radvd_binary=RADVD)
        assert second.state("r1") == "backup"
        wait_for(lambda: radvd_pids(run_dir) == [], timeout=2,
                 what=lambda: (f"no radvd on a backup; still running: "
                               f"{[(p, parent_pid(p), cmdline(p)) for p in radvd_pids(run_dir)]}"
                               f" (started by the crashed havipd: {orphans})\n"
                               + second.log_text()))
        # Primary again: the new havipd's own radvd runs and stays up.
        ns.add_addr(VIP)
        second.wait_state("r1", "primary")
        pid = wait_for(lambda: radvd_main(second, run_dir), timeout=5,
                       what=lambda: "the new havipd's radvd\n" + second.log_text())
        pidfile = run_dir / "r1" / "radvd.pid"
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() == str(pid),
                 timeout=5, what=lambda: f"radvd's pid file with {pid}\n" + second.log_text())
        assert not second.log_has("radvd exited unexpectedly"), second.log_text()
    finally:
        for p in orphans:  # radvd started by our first havipd, by PID
            if alive(p) and "--pidfile" in cmdline(p):
                os.kill(p, signal.SIGKILL)


def test_missing_radvd_binary_is_a_clear_error(netns, havipd, workdir):
    ns = netns.create()
    run_dir = workdir / "run"
    missing = workdir / "no-such-dir" / "radvd"
    d = havipd([router("r1", ns, radvd=radvd_table(),
                       sysctl=[{"key": "net.ipv4.conf.all.arp_ignore", "primary": "1",
                                "backup": "0"}])],
               run_dir=str(run_dir), radvd_binary=str(missing))
    ns.add_addr(VIP)
    d.wait_state("r1", "primary")

    def error_line():
        return [line for line in d.lines
                if " error " in line and "r1: " in line and str(missing) in line
                and "No such file or directory" in line]
    wait_for(error_line, timeout=5, what=lambda: "an error naming the missing radvd\n"
                                                 + d.log_text())
    # The other effects still happened, and the role is still right.
    wait_sysctls(d, ns, {"net.ipv4.conf.all.arp_ignore": "1"})
    assert d.state("r1") == "primary"
    ns.del_addr(VIP)
    d.wait_state("r1", "backup")
    wait_sysctls(d, ns, {"net.ipv4.conf.all.arp_ignore": "0"})
    assert d.running()


# ----------------------------------------------------------------- services

def test_services_run_only_while_primary(netns, havipd, workdir):
    ns = netns.create()
    stubborn = script(workdir, "stubborn.sh",
                      "trap '' TERM\necho up\nwhile :; do /bin/sleep 0.05; done\n")
    sleep_argv = ["/bin/sleep", "1000"]
    d = havipd([router("r1", ns, service=[
        {"command": sleep_argv, "stop_timeout_ms": 2000},
        {"command": [str(stubborn)], "stop_timeout_ms": 300}])])
    assert children_running(d, sleep_argv) == []

    ns.add_addr(VIP)
    d.wait_state("r1", "primary")
    sleeper = wait_for(lambda: children_running(d, sleep_argv), timeout=5,
                       what=lambda: "the sleep service\n" + d.log_text())[0]
    holdout = wait_for(lambda: children_running(d, ["/bin/sh", str(stubborn)]), timeout=5,
                       what=lambda: "the stubborn service\n" + d.log_text())[0]
    assert netns_inode_of(sleeper) == ns.inode() == netns_inode_of(holdout)
    env = set(open(f"/proc/{sleeper}/environ", "rb").read().decode().split("\0"))
    assert {"HAVIP_ROUTER=r1", f"HAVIP_NAMESPACE={ns.name}"} <= env, env
    d.wait_log("r1: service stubborn.sh: up")

    ns.del_addr(VIP)
    d.wait_state("r1", "backup")
    wait_for(lambda: not alive(sleeper), timeout=2,
             what=lambda: "the sleep service stopped\n" + d.log_text())
    d.wait_log("r1: service sleep stopped (killed by SIGTERM)")
    # SIGTERM is ignored: SIGKILL after stop_timeout_ms, to the whole group.
    wait_for(lambda: all_gone([holdout], [holdout]), timeout=3,
             what=lambda: "the stubborn service and its group killed\n" + d.log_text())
    d.wait_log("r1: service stubborn.sh did not stop within 300ms; killing it")
    d.wait_log("r1: service stubborn.sh stopped (killed by SIGKILL)")
    assert children_running(d, sleep_argv) == []

    ns.add_addr(VIP)  # and they come back on the next primary
    d.wait_state("r1", "primary")
    wait_for(lambda: children_running(d, sleep_argv), timeout=5,
             what=lambda: "the sleep service again\n" + d.log_text())


def test_a_child_havipd_may_not_signal_is_reported(netns, havipd, workdir):
    """Without CAP_KILL (a unit that forgot it), a service that dropped to
    another user cannot be stopped: havipd must say so, not go quiet (its
    process group also holds a root process, which kill(-pgid) does reach)."""
    ns = netns.create()
    dropped = script(workdir, "dropped.sh",
                     "/bin/sleep 1000 &\n"
                     "exec /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups "
                     "/bin/sleep 1001\n")
    d = havipd([router("r1", ns, service=[{"command": [str(dropped)], "stop_timeout_ms": 300}])],
               start_args={"wrapper": ("/usr/bin/setpriv", "--bounding-set=-kill",
                                       "--inh-caps=-kill")})
    ns.add_addr(VIP)
    d.wait_state("r1", "primary")
    leader = wait_for(lambda: children_running(d, ["/bin/sleep", "1001"]), timeout=5,
                      what=lambda: "the service as nobody\n" + d.log_text())[0]
    ns.del_addr(VIP)
    d.wait_state("r1", "backup")
    d.wait_log(f"r1: cannot send SIGTERM to service dropped.sh (pid {leader}): "
               "Operation not permitted")
    assert alive(leader)
    os.kill(leader, signal.SIGKILL)  # the test's own clean-up, with the CAP_KILL havipd lacks


# -------------------------------------------------------------------- hooks

# A hook that appends "$1 PREVIOUS->ROLE ROUTER NAMESPACE N NAMES, net:[INODE]" to $2:
# N and NAMES from /proc/$$/environ, exactly what havipd passed (`env` would add
# the PWD that dash sets), INODE its network namespace. "OVERLAP" if two ran at once.
RECORD = r"""out=$2
mkdir "$out.lock" 2>/dev/null || echo "OVERLAP $1" >> "$out"
names=$(tr '\0' '\n' < /proc/$$/environ | sed 's/=.*//' | sort | tr '\n' ',')
count=$(tr '\0' '\n' < /proc/$$/environ | wc -l)
netns=$(readlink /proc/self/ns/net)
roles="$HAVIP_PREVIOUS_ROLE->$HAVIP_ROLE"
echo "$1 $roles $HAVIP_ROUTER $HAVIP_NAMESPACE $count $names $netns" >> "$out"
echo "hello from $1"
/bin/sleep 0.02
rmdir "$out.lock"
"""


# A hook that outlives any timeout: it starts two sleeps (one in the background,
# one it waits for) and writes its own PID and theirs to $1, then "waiting".
SLOW = """/bin/sleep 1000 &
echo $! > "$1.tmp"
/bin/sleep 1001 &
echo $! >> "$1.tmp"
echo $$ >> "$1.tmp"
mv "$1.tmp" "$1"
echo waiting
wait
"""


def log_time(d, text):
    """Seconds (since midnight) of the first log line containing text."""
    line = next(line for line in d.lines if text in line)
    hms = line.split()[1]
    h, m, sec = hms.split(":")
    return int(h) * 3600 + int(m) * 60 + float(sec)


def hook_processes(path):
    """The PIDs SLOW wrote (empty until it wrote them all)."""
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def read_records(path):
    return path.read_text().splitlines() if path.exists() else []


def test_hooks_run_in_order_with_their_environment(netns, havipd, workdir):
    ns = netns.create()
    record = script(workdir, "record.sh", RECORD)
    out = workdir / "hooks.out"
    d = havipd([router("r1", ns, hook=[{"command": [str(record), "A", str(out)]},
                                       {"command": [str(record), "B", str(out)]}])])
    flaps = 3
    ns.batch([f"addr add {VIP} dev ha-r1\naddr del {VIP} dev ha-r1"] * flaps +
             [f"addr add {VIP} dev ha-r1"])
    d.wait_state("r1", "primary")
    steps = ["unknown->backup"] + ["backup->primary", "primary->backup"] * flaps + \
        ["backup->primary"]
    d.wait_transitions("r1", [tuple(s.split("->")) for s in steps])
    wait_for(lambda: len(read_records(out)) >= 2 * len(steps), timeout=10,
             what=lambda: f"{2 * len(steps)} hook runs, got {read_records(out)}\n"
                          + d.log_text())
    records = read_records(out)
    assert not [r for r in records if r.startswith("OVERLAP")], records

    nsref = f"net:[{ns.inode()}]"
    env_names = ",".join(sorted(HOOK_ENV)) + ","
    expected = [f"{hook} {step} r1 {ns.name} 5 {env_names} {nsref}"
                for step in steps for hook in "AB"]
    assert records == expected, "\n".join(records) + "\n" + d.log_text()
    d.wait_log("r1: hook record.sh (backup): hello from A")
    d.wait_log("r1: hook record.sh (primary): hello from B")
    d.wait_log("r1: hook record.sh (primary) finished: exit code 0")


def test_hook_past_its_timeout_is_killed_with_its_process_group(netns, havipd, workdir):
    ns = netns.create()
    pids = workdir / "hook.pids"
    slow = script(workdir, "slow.sh", SLOW)
    record = script(workdir, "record.sh", RECORD)
    out = workdir / "hooks.out"
    d = havipd([router("r1", ns, hook=[
        {"command": [str(slow), str(pids)], "timeout_ms": 300},
        {"command": [str(record), "after", str(out)]}])], start=False)
    d.start("--log-level", "debug")  # for "started (pid N)" with its time

    d.wait_log("r1: hook slow.sh (backup): waiting")
    hook_pids = hook_processes(pids)
    assert len(hook_pids) == 3, hook_pids
    shell = hook_pids[-1]
    timed_out = "r1: hook slow.sh (backup) timed out after 300ms; killing its process group"
    d.wait_log(timed_out)
    ran = log_time(d, timed_out) - log_time(d, f"r1: hook slow.sh (backup) started (pid {shell})")
    # (the timeout counts from the batch that queued the hook, a few ms before it starts)
    assert 0.25 <= ran < 1.5, (ran, d.log_text())
    wait_for(lambda: all_gone(hook_pids, [shell]), timeout=2,
             what=lambda: (f"the hook and its children {hook_pids} killed "
                           f"(alive: {[p for p in hook_pids if alive(p)]}, "
                           f"group: {group_members(shell)})\n" + d.log_text()))
    d.wait_log("r1: hook slow.sh (backup) finished: killed by SIGKILL")
    # The next hook still runs.
    wait_for(lambda: read_records(out), timeout=5,
             what=lambda: "the next hook\n" + d.log_text())
    assert read_records(out)[0].startswith("after unknown->backup r1 "), read_records(out)


# ------------------------------------------------------------------ shutdown

def test_sigterm_stops_every_child(netns, havipd, workdir):
    ns = ra_namespace(netns)
    run_dir = workdir / "run"
    stubborn = script(workdir, "stubborn.sh",
                      "trap '' TERM\nwhile :; do /bin/sleep 0.05; done\n")
    pids = workdir / "hook.pids"
    slow = script(workdir, "slow.sh", SLOW)
    ns.add_addr(VIP)
    d = havipd([router("r1", ns, radvd=radvd_table(),
                       service=[{"command": ["/bin/sleep", "1000"], "stop_timeout_ms": 2000},
                                {"command": [str(stubborn)], "stop_timeout_ms": 1000}],
                       hook=[{"command": [str(slow), str(pids)], "timeout_ms": 60000}])],
               run_dir=str(run_dir), radvd_binary=RADVD)
    assert d.state("r1") == "primary"
    wait_for(lambda: radvd_main(d, run_dir), timeout=5,
             what=lambda: "radvd\n" + d.log_text())
    wait_for(lambda: children_running(d, ["/bin/sleep", "1000"]), timeout=5,
             what=lambda: "the service\n" + d.log_text())
    wait_for(lambda: children_running(d, ["/bin/sh", str(stubborn)]), timeout=5,
             what=lambda: "the stubborn service\n" + d.log_text())
    hook_pids = wait_for(lambda: hook_processes(pids), timeout=5,
                         what=lambda: "the hook and its children\n" + d.log_text())
    ours = set(descendants(d.pid)) | set(radvd_pids(run_dir)) | set(hook_pids)
    # radvd (and its privsep child), 2 services (and a sleep), the hook and its 2 sleeps
    assert len(ours) >= 6, ours

    def pgid(p):
        try:
            return os.getpgid(p)
        except ProcessLookupError:  # a child that ended meanwhile (e.g. a configtest)
            return None

    groups = {pgid(p) for p in descendants(d.pid) if parent_pid(p) == d.pid} - {None}
    groups.add(hook_pids[-1])

    took = d.stop(timeout=3.0)
    assert took < 3.0
    # SIGKILL is asynchronous: give the killed ones a moment to be gone; an
    # orphan would stay.
    wait_for(lambda: all_gone(ours, groups), timeout=2.0,
             what=lambda: (f"nothing left after SIGTERM: "
                           f"{ {p: (cmdline(p), parent_pid(p)) for p in ours if alive(p)} } "
                           f"groups { {g: group_members(g) for g in groups} }\n"
                           + d.log_text()))
    assert radvd_pids(run_dir) == []
    assert not find_processes("/bin/sh", str(stubborn))
    assert d.log_has("r1: radvd stopped (killed by SIGKILL)"), d.log_text()
    assert d.log_has("r1: service sleep stopped (killed by SIGTERM)"), d.log_text()


# ------------------------------------------------------------------ dry run

def test_dry_run_changes_nothing(netns, havipd, workdir):
    ns = netns.create(veths=("ha-r1", "qg-r1", "qr-r1"))
    run_dir = workdir / "run"
    record = script(workdir, "record.sh", RECORD)
    out = workdir / "hooks.out"
    keys = gw_sysctls("qg-r1") + ("net.ipv4.conf.all.arp_ignore",)
    before = ns.sysctl_get(*keys)
    d = havipd([router("r1", ns, gateway_interface="qg-r1", radvd=radvd_table(),
                       sysctl=[{"key": "net.ipv4.conf.all.arp_ignore", "primary": "1",
                                "backup": "2"}],
                       service=[{"command": ["/bin/sleep", "1000"]}],
                       hook=[{"command": [str(record), "A", str(out)]}])],
               start=False, run_dir=str(run_dir), radvd_binary=RADVD)
    d.start("--dry-run")
    d.wait_log(f"r1: dry-run: would write 'backup' to {d.state_path('r1')}")
    d.wait_log("r1: dry-run: would start hook record.sh (backup)")
    ns.add_addr(VIP)
    d.wait_log(f"r1: dry-run: would write 'primary' to {d.state_path('r1')}")
    for line in (
            f"dry-run: would set net/ipv6/conf/all/forwarding = 1 in {ns.name}",
            f"dry-run: would set net/ipv6/conf/qg-r1/accept_ra = 2 in {ns.name}",
            f"dry-run: would set net/ipv6/conf/qg-r1/forwarding = 1 in {ns.name}",
            f"dry-run: would set net/ipv4/conf/all/arp_ignore = 1 in {ns.name}",
            f"dry-run: would write {run_dir}/r1/radvd.conf",
            f"r1: dry-run: would start radvd: {RADVD} --nodaemon",
            "r1: dry-run: would start service sleep: /bin/sleep 1000",
            f"r1: dry-run: would start hook record.sh (primary): {record} A {out}"):
        d.wait_log(line)
    mark = len(d.lines)
    ns.del_addr(VIP)
    for line in (
            f"r1: dry-run: would write 'backup' to {d.state_path('r1')}",
            f"dry-run: would set net/ipv6/conf/qg-r1/accept_ra = 0 in {ns.name}",
            f"dry-run: would set net/ipv6/conf/qg-r1/forwarding = 0 in {ns.name}",
            f"dry-run: would set net/ipv4/conf/all/arp_ignore = 2 in {ns.name}",
            "dry-run: would send SIGKILL",  # radvd
            "dry-run: would send SIGTERM",  # the service
            f"dry-run: would remove {run_dir}/r1/radvd.conf",
            "r1: dry-run: would start hook record.sh (backup)"):
        wait_for(lambda: any(line in x for x in d.lines[mark:]), timeout=5,
                 what=lambda: f"log line containing {line!r} after the VIP went\n"
                              + d.log_text())

    assert descendants(d.pid) == [], [cmdline(p) for p in descendants(d.pid)]
    assert ns.sysctl_get(*keys) == before
    assert d.state("r1") is None and not d.state_dir.exists()
    assert not run_dir.exists() and not out.exists()
    assert radvd_pids(run_dir) == []
