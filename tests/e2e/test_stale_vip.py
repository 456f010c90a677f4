"""e2e: keepalived's liveness and the other hosts' adverts (issue 13, docs/STATES.md).

Two router namespaces run real keepalived (Neutron's template, advert_int 1, priority 50)
and one havipd watches both (two hosts merged into one), told each router's VRID and the
link-local keepalived holds on its qr- port. Checked:

* SIGKILL of the primary's keepalived (parent and VRRP child together) leaves its VIP
  behind; the peer takes over; havipd moves the dead host's router to `fault` within
  three advert intervals plus one second, kills its radvd and removes its addresses:
  afterwards exactly one host holds the VIP and RAs come only from the new primary.
  keepalived started again: the router follows the VIP again (backup).
* The same kill with the peer's keepalived stopped beforehand: nobody else can serve,
  so the router stays primary, flagged stale, and nothing is removed.
* Two keepalived with different auth_pass both become master: with observe_vrrp,
  split brain is reported for both routers.
"""

import json
import os
import signal
import subprocess
import time

from e2e_lib import PREFIX, QR_LLA, VIP, Keepalived, wait_for
from havip_testlib.tier import havipctl_binary

ADVERT_S = 1.0
VRRP_LINES = ("vrid = 1", "advert_interval_ms = 1000", "priority = 50")


def router_lines(r):
    return (*VRRP_LINES, f'addresses = ["{QR_LLA}/64 dev qr-{r}"]')


def status(c):
    out = subprocess.run([str(havipctl_binary()), "--socket",
                          str(c.havipd.dir / "run" / "ctl.sock"), "status", "--json"],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    return {r["name"]: r for r in json.loads(out.stdout)["routers"]}


def elect(c):
    def elected():
        s = {r: c.havipd.state(r) for r in c.ROUTERS}
        if sorted(s.values()) == ["backup", "primary"]:
            return next(r for r, v in s.items() if v == "primary")
        return None
    primary = wait_for(elected, timeout=15, interval=0.05, what="an election")
    wait_for(lambda: c.radvd()[primary], timeout=5, what=f"radvd in {primary}")
    # havipd has found both keepalived VRRP processes.
    wait_for(lambda: all(isinstance(s["speaker"], int) for s in status(c).values()),
             timeout=5, what=lambda: f"both speakers found: {status(c)}")
    return primary, next(r for r in c.ROUTERS if r != primary)


def kill_keepalived(k):
    """SIGKILL to keepalived's parent and its VRRP child together: nothing is cleaned
    up, the VIPs stay on the interfaces."""
    child = k.vrrp_child()
    assert child, f"no VRRP child of keepalived {k.router}"
    os.kill(child, signal.SIGKILL)
    os.kill(k.pid, signal.SIGKILL)
    k.proc.wait(5)
    return child


def holds_vip(c, r):
    return c.topo.has_addr(r, f"ha-{r}", VIP.split("/")[0])


def test_dead_keepalived_with_a_peer_is_a_fault(cluster):
    c = cluster
    c.build()
    c.start_captures()
    c.start_havipd(router=router_lines)
    c.start_keepalived()
    primary, backup = elect(c)
    c.note(f"elected {primary}")

    t_kill = time.monotonic()
    child = kill_keepalived(c.keepalived[primary])
    c.note(f"SIGKILL keepalived of {primary} (parent {c.keepalived[primary].pid}, child {child})")
    assert holds_vip(c, primary), "the VIP went with keepalived: nothing stale to test"

    wait_for(lambda: status(c)[primary]["role"] == "fault", timeout=10, interval=0.02,
             what=lambda: f"{primary} in fault: {status(c)[primary]}")
    took = time.monotonic() - t_kill
    c.note(f"{primary} fault after {took:.2f} s")
    # The peer's master-down interval is 3 adverts + (256-50)/256 of one: 3.8 s.
    assert took <= 3 * ADVERT_S + 1.0 + 0.3, f"fault after {took:.2f} s"
    s = status(c)[primary]
    assert s["speaker"] == "down" and s["peer"], s
    assert "advertises as master for VRID 1" in s["reason"], s

    wait_for(lambda: not holds_vip(c, primary), timeout=2, what="the VIP released")
    assert not c.topo.has_addr(primary, f"qr-{primary}", QR_LLA), "link-local not released"
    assert c.radvd()[primary] == [], "radvd still runs on the fault router"
    c.havipd.wait_state(primary, "backup", timeout=2)  # what the state file says
    wait_for(lambda: c.havipd.state(backup) == "primary", timeout=5, what="the new primary")
    assert holds_vip(c, backup)
    assert [r for r in c.ROUTERS if holds_vip(c, r)] == [backup]
    t_settled = time.monotonic()
    wait_for(lambda: c.sw_ras(backup, since=t_settled), timeout=8,
             what=f"an RA from the new primary {backup}")
    time.sleep(1.0)
    assert c.sw_ras(primary, since=t_settled) == [], "RAs from the fault router"
    assert c.havipd.log_has(f"{primary}: released"), c.havipd.log_text()

    # keepalived back: the router follows the VIP again (BACKUP, nopreempt).
    c.keepalived[primary] = Keepalived(
        primary, c.topo.ns(primary), c.workdir, router_id=f"{PREFIX}{primary}-2").start()
    wait_for(lambda: status(c)[primary]["role"] == "backup", timeout=5,
             what=lambda: f"{primary} back to backup: {status(c)[primary]}")
    assert isinstance(status(c)[primary]["speaker"], int)
    time.sleep(2 * ADVERT_S)
    assert status(c)[backup]["role"] == "primary"
    assert [r for r in c.ROUTERS if holds_vip(c, r)] == [backup]


def test_dead_keepalived_without_a_peer_stays_primary_flagged_stale(cluster):
    c = cluster
    c.build()
    c.start_havipd(router=router_lines)
    c.start_keepalived()
    primary, backup = elect(c)
    c.keepalived[backup].stop()  # cleanly: it held nothing
    wait_for(lambda: status(c)[backup]["speaker"] == "down", timeout=3,
             what="the backup's keepalived seen gone")

    t_kill = time.monotonic()
    kill_keepalived(c.keepalived[primary])
    wait_for(lambda: status(c)[primary]["stale_vip"], timeout=8, interval=0.05,
             what=lambda: f"{primary} flagged stale: {status(c)[primary]}")
    c.note(f"stale after {time.monotonic() - t_kill:.2f} s")
    s = status(c)[primary]
    assert s["role"] == "primary" and s["speaker"] == "down", s
    assert "no other host advertises" in s["alert"], s
    time.sleep(2 * ADVERT_S)
    assert holds_vip(c, primary) and c.topo.has_addr(primary, f"qr-{primary}", QR_LLA)
    assert c.radvd()[primary], "radvd stopped although nobody else serves"
    assert c.havipd.state(primary) == "primary"
    assert c.havipd.log_has(f"{primary}: stale VIP:"), c.havipd.log_text()


def test_mismatched_auth_pass_is_split_brain(cluster):
    """Both keepalived ignore each other's adverts (bad password) and both are master. A
    keepalived master restarts its advert timer on every advert it receives, valid or
    not, so one of the two often falls silent for good: only a host that hears the
    other can see split brain (the fleet sees both primaries: HavipMultiplePrimaries)."""
    c = cluster
    c.build()
    c.start_captures()
    c.start_havipd(daemon=("observe_vrrp = true",), router=router_lines)
    c.start_keepalived(instance=lambda r: (
        "authentication {", "    auth_type PASS", f"    auth_pass pw-{r}", "}"))
    wait_for(lambda: all(c.havipd.state(r) == "primary" for r in c.ROUTERS), timeout=15,
             what=lambda: f"both primary: { {r: c.havipd.state(r) for r in c.ROUTERS} }")
    t_both = time.monotonic()
    wait_for(lambda: any(s["split_brain"] for s in status(c).values()),
             timeout=3 * ADVERT_S + 3, what=lambda: f"split brain: {status(c)}")
    time.sleep(3 * ADVERT_S + 1)
    # Every host that has heard the other master advertise for 3 intervals reports it.
    for r in c.ROUTERS:
        other = next(x for x in c.ROUTERS if x != r)
        heard = [p["t"] for p in c.vrrp(other, since=t_both)]
        # The longest run of the other's adverts (no gap of a master-down interval).
        run, best = heard[:1], heard[:1]
        for t in heard[1:]:
            run = run + [t] if t - run[-1] < 3.5 * ADVERT_S else [t]
            best = run if run[-1] - run[0] > best[-1] - best[0] else best
        time.sleep(0.2)
        s = status(c)[r]
        assert s["role"] == "primary", s
        if best and best[-1] - best[0] >= 3.2 * ADVERT_S:
            assert s["split_brain"], f"{r} heard {other} for {best[-1] - best[0]:.1f} s: {s}"
            assert "advertises as master for VRID 1" in s["alert"], s
            assert c.havipd.log_has(f"{r}: split brain:"), c.havipd.log_text()
        c.note(f"{r}: heard {other} {len(heard)} times; split brain {s['split_brain']}")
