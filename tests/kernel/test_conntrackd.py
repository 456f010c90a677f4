"""conntrackd on every role (docs/NEUTRON.md "conntrackd"), against the real kernel:
Neutron's commands (`-c -f -R -B` on primary, `-t -n` on backup, the initial state
included) run in the router's namespace, after the state file is written and before
the L3 agent hears of the state; failures and timeouts are logged and counted
(havip_effect_failures_total{effect="conntrackd"}) and hold up no other router.

A recording stand-in plays conntrackd (fake_l3_agent.CONNTRACKD_STANDIN): it appends its
arguments, the router's state file as it was when it ran, and its network namespace to
conntrackd.calls beside the config it was given (-C). One test runs Debian's real
conntrackd daemon in a namespace and havipd's commands against it; the last one, a dry run.
"""

import os
import subprocess
from pathlib import Path

import pytest

from fake_l3_agent import (NeutronStatePath, conntrackd_calls, conntrackd_standin,  # noqa: F401
                           ha_interface_name, keepalived_conf, l3_agent, neutron_havipd_config,
                           random_router_id, signal_vip)
from fault_helpers import metric
from helpers import router, wait_for

pytestmark = pytest.mark.usefixtures("kernel_ok")

VIP = "169.254.0.1/24"
PRIMARY = ["-c", "-f", "-R", "-B"]
BACKUP = ["-t", "-n"]
CONNTRACKD = "/usr/sbin/conntrackd"
standin = conntrackd_standin
calls = conntrackd_calls


def expected(conf, options, state, ns):
    return [f"-C {conf} {o} state={state} net:[{ns.inode()}]" for o in options]


def wait_calls(conf_dir, want, log, timeout=5.0):
    wait_for(lambda: calls(conf_dir) == want, timeout,
             what=lambda: f"conntrackd calls {want}, got {calls(conf_dir)}\n{log()}")


def failures(d, name):
    return metric(d, f'havip_effect_failures_total{{router="{name}",effect="conntrackd"}}') or 0


def test_generic_router_runs_the_commands_in_its_namespace_after_its_state_file(
        netns, havipd, workdir):
    ns = netns.create()
    binary = standin(workdir)
    d = havipd(start=False)
    conf_dir = d.state_dir / "r1"  # beside the state file, which the stand-in reads
    conf = conf_dir / "conntrackd.conf"
    d.write_config([router("r1", ns, conntrackd={"config": str(conf), "binary": str(binary)}),
                    router("r2", ns, interface="ha-r2")])
    ns.add_veth("ha-r2")
    d.start()
    want = expected(conf, BACKUP, "backup", ns)  # the initial state too
    wait_calls(conf_dir, want, d.log_text)
    ns.add_addr(VIP)
    d.wait_state("r1", "primary")
    want += expected(conf, PRIMARY, "primary", ns)
    wait_calls(conf_dir, want, d.log_text)
    ns.del_addr(VIP)
    d.wait_state("r1", "backup")
    want += expected(conf, BACKUP, "backup", ns)
    wait_calls(conf_dir, want, d.log_text)
    d.wait_log("r1: conntrackd -n (backup) finished: exit code 0")
    assert not calls(d.state_dir / "r2"), "a router without conntrackd ran it"
    assert failures(d, "r1") == 0


def test_failures_and_timeouts_are_counted_and_hold_up_no_other_router(netns, havipd, workdir):
    ns = netns.create()
    ns.add_veth("ha-r2")
    binary = standin(workdir)
    dirs = {n: workdir / f"ct-{n}" for n in ("r1", "r2")}
    for p in dirs.values():
        p.mkdir()
    (dirs["r1"] / "conntrackd.fail").touch()

    def ct(n, **kw):
        return {"config": str(dirs[n] / "conntrackd.conf"), "binary": str(binary), **kw}
    d = havipd([router("r1", ns, conntrackd=ct("r1", timeout_ms=2000)),
                router("r2", ns, interface="ha-r2", conntrackd=ct("r2"))])
    wait_for(lambda: failures(d, "r1") == 2, 5, what=lambda: "2 failures\n" + d.log_text())
    d.wait_log("r1: conntrackd -t (backup) finished: exit code 1")
    d.wait_log("stand-in: failing as told")
    assert len(calls(dirs["r1"])) == 2  # the second command ran after the first failed

    # r1's commands hang: r2's transitions go on meanwhile; r1's follow after the timeouts.
    (dirs["r1"] / "conntrackd.fail").unlink()
    (dirs["r1"] / "conntrackd.hang").touch()
    ns.add_addr(VIP, "ha-r1")
    ns.add_addr(VIP, "ha-r2")
    wait_calls(dirs["r2"], expected(dirs["r2"] / "conntrackd.conf", BACKUP + PRIMARY, "none", ns),
               d.log_text)
    # r2 is done while r1's first command still hangs (2 s), not after it.
    assert failures(d, "r1") == 2 and len(calls(dirs["r1"])) == 3, \
        f"r2 waited for r1: {calls(dirs['r1'])}\n" + d.log_text()
    wait_for(lambda: failures(d, "r1") == 6, 12,  # a timeout is one failure
             what=lambda: f"4 timeouts, got {failures(d, 'r1')}\n" + d.log_text())
    d.wait_log("r1: conntrackd -c (primary) timed out after 2000ms")
    assert [c.split()[2] for c in calls(dirs["r1"])] == BACKUP + PRIMARY
    assert failures(d, "r2") == 0


# ---------------------------------------------------------------------- Neutron mode

def neutron_router(netns):
    """A router id, its HA interface and its qrouter- namespace (with that interface)."""
    rid, ha = random_router_id(), ha_interface_name()
    ns = netns.create(name=f"qrouter-{rid}", veths=(ha,))
    return rid, ha, ns


def test_neutron_routers_with_a_conntrackd_conf_run_the_incumbents_commands(
        netns, havipd, workdir, l3_agent):  # noqa: F811
    sp = NeutronStatePath(workdir / "neutron")
    binary = standin(workdir)
    with_ct = neutron_router(netns)
    without = neutron_router(netns)
    for vrid, (rid, ha, _ns) in enumerate((with_ct, without), 1):
        sp.conf_dir(rid).mkdir(parents=True, exist_ok=True)
        if rid == with_ct[0]:  # the agent writes it before keepalived.conf (ha_router.process)
            (sp.conf_dir(rid) / "conntrackd.conf").write_text("# conntrackd.conf\n")
        sp.write_conf(rid, keepalived_conf(ha, vrid))
    agent = l3_agent(sp)
    d = havipd(start=False)
    d.write_raw_config(neutron_havipd_config(sp.path, d.dir / "run", d.state_dir) +
                       f'conntrackd_binary = "{binary}"\n')
    d.start()
    rid, ha, ns = with_ct
    conf = sp.conf_dir(rid) / "conntrackd.conf"
    want = expected(conf, BACKUP, "backup", ns)
    wait_calls(sp.conf_dir(rid), want, d.log_text)
    agent.wait_state(rid, "backup")
    # The notification came after the commands (the agent recorded the calls at arrival).
    assert agent.delivered(rid)[0].extra["conntrackd_calls"] == want
    ns.add_addr(signal_vip(1), ha)
    agent.wait_state(rid, "primary")
    want += expected(conf, PRIMARY, "primary", ns)
    assert calls(sp.conf_dir(rid)) == want
    assert agent.delivered(rid)[-1].extra["conntrackd_calls"] == want
    assert agent.delivered(rid)[-1].state_file == "primary"

    # No conntrackd.conf: nothing; once the agent writes one, the next state runs them.
    rid2, ha2, ns2 = without
    agent.wait_state(rid2, "backup")
    assert not calls(sp.conf_dir(rid2))
    (sp.conf_dir(rid2) / "conntrackd.conf").write_text("# conntrackd.conf\n")
    d.wait_log(f"router {rid2} changed")
    ns2.add_addr(signal_vip(2), ha2)
    agent.wait_state(rid2, "primary")
    assert calls(sp.conf_dir(rid2)) == expected(sp.conf_dir(rid2) / "conntrackd.conf", PRIMARY,
                                                 "primary", ns2)


# ---------------------------------------------------------------- the real conntrackd

REAL_CONF = """General {{
    HashSize 8192
    HashLimit 65536
    LogFile {dir}/conntrackd.log
    Syslog off
    LockFile {dir}/conntrackd.lock
    UNIX {{
        Path {dir}/conntrackd.ctl
    }}
    SocketBufferSize 262142
    SocketBufferSizeMaxGrown 655355
    Filter From Kernelspace {{
        Protocol Accept {{ TCP SCTP DCCP }}
        Address Ignore {{ IPv4_address 127.0.0.1 }}
    }}
}}
Sync {{
    Mode FTFW {{
        DisableExternalCache Off
    }}
    Multicast {{
        IPv4_address 225.0.0.50
        Group 3781
        IPv4_interface 169.254.192.1
        Interface ha-r1
        Checksum on
    }}
}}
"""


def conntrackd_pids(conf):
    """conntrackd daemons started with this config (never any other process)."""
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                argv = (p / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[0].endswith(b"conntrackd") and b"-d" in argv and str(conf).encode() in argv:
                out.append(int(p.name))
    return out


def test_real_conntrackd_takes_the_commands_in_the_routers_namespace(netns, havipd, workdir):
    if not os.access(CONNTRACKD, os.X_OK):
        reason = f"{CONNTRACKD} is not installed (Debian package conntrackd)"
        print(f"\n{reason}")
        pytest.skip(reason)
    ns = netns.create()
    ns.ip("addr", "add", "169.254.192.1/18", "dev", "ha-r1")
    ctdir = workdir / "ct"
    ctdir.mkdir()
    conf = ctdir / "conntrackd.conf"
    conf.write_text(REAL_CONF.format(dir=ctdir))
    # As the L3 agent starts it (ConntrackdManager.spawn): `conntrackd -d -C CONF`.
    p = subprocess.run(["ip", "netns", "exec", ns.name, CONNTRACKD, "-d", "-C", str(conf)],
                       capture_output=True, text=True, timeout=10)
    if p.returncode != 0:
        reason = f"conntrackd cannot run in a namespace here: {p.stderr.strip()}"
        print(f"\n{reason}")
        pytest.skip(reason)
    try:
        wait_for(lambda: (ctdir / "conntrackd.ctl").exists(), 5, what="conntrackd's socket")
        d = havipd([router("r1", ns, conntrackd={"config": str(conf)})])
        d.wait_log("r1: conntrackd -n (backup) finished: exit code 0")
        ns.add_addr(VIP)
        d.wait_state("r1", "primary")
        for o in PRIMARY:
            d.wait_log(f"r1: conntrackd {o} (primary) finished: exit code 0")
        assert failures(d, "r1") == 0, d.log_text()
        # conntrackd stopped: the commands fail (it is not there to take them), counted.
        subprocess.run(["ip", "netns", "exec", ns.name, CONNTRACKD, "-C", str(conf), "-k"],
                       capture_output=True, timeout=10)
        wait_for(lambda: not conntrackd_pids(conf), 5, what="conntrackd to stop")
        ns.del_addr(VIP)
        d.wait_state("r1", "backup")
        wait_for(lambda: failures(d, "r1") == 2, 5,
                 what=lambda: "2 failures without the daemon\n" + d.log_text())
        d.wait_log("r1: conntrackd -t (backup) finished: exit code 1")
    finally:
        for pid in conntrackd_pids(conf):
            os.kill(pid, 9)


def test_dry_run_says_each_command_in_turn_and_runs_none(netns, havipd, workdir):
    ns = netns.create()
    binary = standin(workdir)
    conf = workdir / "conntrackd.conf"
    d = havipd([router("r1", ns, conntrackd={"config": str(conf), "binary": str(binary),
                                             "timeout_ms": 60000})], start=False)
    d.start("--dry-run")
    for o in BACKUP:  # one after the other, without waiting for the timeout
        d.wait_log(f"r1: dry-run: would start conntrackd {o} (backup): {binary} -C {conf} {o}",
                   timeout=3)
    ns.add_addr(VIP)
    for o in PRIMARY:
        d.wait_log(f"r1: dry-run: would start conntrackd {o} (primary): {binary} -C {conf} {o}",
                   timeout=3)
    d.wait_log("r1: conntrackd -B (primary) finished: exit code 0")
    assert not calls(workdir), "a dry run ran conntrackd"
    assert not d.log_has("timed out"), d.log_text()
