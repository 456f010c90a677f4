"""e2e: a VRRP failover between two routers running real keepalived, watched by havipd.

Two router namespaces run keepalived the way OpenStack Neutron configures it (state
BACKUP, nopreempt, equal priority; advert_int 1 for speed); one havipd watches both
(two hosts merged into one for the test) and, on the primary, sets the IPv6 sysctls on
the gateway port and runs radvd on the internal port. A client namespace on the internal
network solicits RAs with rdisc6, and every RA and VRRP advert is recorded on the switch
ports, so each RA can be attributed to the router that sent it even though both routers
send from the same link-local and MAC (as in Neutron).

Checked: RAs come only from the primary; after SIGTERM to the primary's keepalived, RAs
resume from the new primary, from the same link-local address, with no overlap and no
zero-lifetime "goodbye" RA; the sysctl matrix holds in both namespaces at every step;
radvd killed on the primary is respawned and advertises again.

Printed: the RA gap (last RA of the old primary → first RA of the new one) and its parts.
Environment: HAVIP_E2E_HOLD_DOWN_MS (default 1000; below 100 the two keepalived are
started 0.5 s apart, because when they time out together both are master for a few ms,
which only a hold-down absorbs), HAVIP_E2E_RESULTS=FILE (append the figures as one JSON
line), HAVIP_E2E_KEEP=1 (keep the work directory).
"""

import json
import os
import signal
import time

from e2e_lib import QR_LLA, QR_MAC, VIP, rdisc6, wait_for

# Neutron's matrix (NEUTRON.md); the routers here have no static IPv6 gateway.
PRIMARY_SYSCTLS = {"qg.accept_ra": "2", "qg.forwarding": "1", "all.forwarding": "1"}
BACKUP_SYSCTLS = {"qg.accept_ra": "0", "qg.forwarding": "0"}


def check_sysctls(c, router, role, all_forwarding=None):
    want = dict(PRIMARY_SYSCTLS if role == "primary" else BACKUP_SYSCTLS)
    if all_forwarding is not None:
        want["all.forwarding"] = all_forwarding
    got = {k: v for k, v in c.sysctls(router).items() if k in want}
    assert got == want, f"{router} ({role}): sysctls {got}, expected {want}"


def elected(c):
    s = {r: c.havipd.state(r) for r in c.ROUTERS}
    if sorted(s.values()) == ["backup", "primary"]:
        return next(r for r, v in s.items() if v == "primary")
    return None


def fmt_ms(seconds):
    return f"{seconds * 1000:.0f} ms"


def test_failover(cluster, capsys):
    c = cluster
    topo = c.topo
    vip = VIP.split("/")[0]
    c.build()
    c.start_captures()

    # --- havipd first: with no keepalived yet both routers are backup --------------
    c.start_havipd()
    c.havipd.wait_states({"r1": "backup", "r2": "backup"})
    for r in c.ROUTERS:
        check_sysctls(c, r, "backup", all_forwarding="0")
    assert c.radvd() == {"r1": [], "r2": []}, "radvd runs although no router is primary"

    # --- election ---------------------------------------------------------------------
    t_start = time.monotonic()
    # Both at once (the interesting case) unless the hold-down is too short to absorb
    # keepalived's own momentary double master when both time out together.
    c.start_keepalived(stagger=0.0 if c.hold_down_ms >= 100 else 0.5)
    primary = wait_for(lambda: elected(c), timeout=15, interval=0.02,
                       what=lambda: (f"an election (states "
                                     f"{ {r: c.havipd.state(r) for r in c.ROUTERS} })"))
    backup = next(r for r in c.ROUTERS if r != primary)
    c.note(f"elected: {primary} primary, {backup} backup "
           f"({fmt_ms(time.monotonic() - t_start)} after starting keepalived)")

    # The kernel agrees: the signal VIP and the link-local live on the primary only.
    assert topo.has_addr(primary, f"ha-{primary}", vip)
    assert not topo.has_addr(backup, f"ha-{backup}", vip)
    assert topo.has_addr(primary, f"qr-{primary}", QR_LLA)
    assert not topo.has_addr(backup, f"qr-{backup}", QR_LLA)

    wait_for(lambda: c.radvd()[primary], timeout=5, what=f"radvd in {primary}")
    check_sysctls(c, primary, "primary")
    check_sysctls(c, backup, "backup", all_forwarding="0")
    running = c.radvd()
    assert running[backup] == [] and len(running[primary]) == 1, f"radvd: {running}"
    old_radvd = running[primary][0]

    wait_for(lambda: c.sw_ras(primary), timeout=6, what=f"an RA from {primary}")
    src, out = topo_rdisc6(c)
    assert src == QR_LLA, f"rdisc6 before the failover: answer from {src}, not {QR_LLA}\n{out}"
    # At least one periodic RA too (MaxRtrAdvInterval 4 s) before the failover.
    first = c.sw_ras(primary)[0]["t"]
    wait_for(lambda: len(c.sw_ras(primary)) >= 3 and time.monotonic() - first > 4.2,
             timeout=10, what=f"three RAs from {primary}")
    assert c.sw_ras(backup) == [], f"RAs from the backup {backup}: {c.sw_ras(backup)}"

    # --- failover: SIGTERM to the primary's keepalived --------------------------------
    t_term = time.monotonic()
    c.keepalived[primary].terminate()
    c.note(f"SIGTERM to keepalived of {primary} (pid {c.keepalived[primary].pid})")
    c.havipd.wait_states({primary: "backup", backup: "primary"}, timeout=10)
    c.note("havipd: roles swapped")
    wait_for(lambda: c.sw_ras(backup, since=t_term), timeout=8,
             what=f"an RA from the new primary {backup}")
    c.note(f"first RA from {backup}")
    src, out = topo_rdisc6(c)
    assert src == QR_LLA, f"rdisc6 after the failover: answer from {src}, not {QR_LLA}\n{out}"

    c.keepalived[primary].proc.wait(5)
    assert topo.has_addr(backup, f"ha-{backup}", vip)
    assert not topo.has_addr(primary, f"ha-{primary}", vip)
    assert topo.has_addr(backup, f"qr-{backup}", QR_LLA)
    assert not topo.has_addr(primary, f"qr-{primary}", QR_LLA)
    check_sysctls(c, backup, "primary")
    # A backup that was primary: all.forwarding is left as it was (1).
    check_sysctls(c, primary, "backup", all_forwarding="1")
    running = c.radvd()
    assert running[primary] == [] and len(running[backup]) == 1, f"radvd: {running}"
    assert not os.path.exists(f"/proc/{old_radvd}"), f"old radvd {old_radvd} still exists"
    run_dir = c.havipd.dir / "run"
    assert (run_dir / backup / "radvd.conf").is_file()
    assert not (run_dir / primary / "radvd.conf").exists(), "radvd.conf left on the backup"

    # radvd dying on the primary is respawned (its stale pid file must not block it).
    victim = running[backup][0]
    t_kill = time.monotonic()
    os.kill(victim, signal.SIGKILL)  # a radvd our havipd started in our namespace
    c.note(f"SIGKILL to radvd {victim} of {backup}")
    respawned = wait_for(lambda: [p for p in c.radvd()[backup] if p != victim], timeout=5,
                         what=f"radvd respawned in {backup}")
    wait_for(lambda: c.sw_ras(backup, since=t_kill), timeout=5,
             what=f"an RA from the respawned radvd {respawned} of {backup}")
    c.note(f"radvd {respawned} of {backup} sends RAs")

    # Keep watching for a periodic RA from the new primary (and any stray from the old).
    t_first_new = c.sw_ras(backup, since=t_term)[0]["t"]
    wait_for(lambda: len(c.sw_ras(backup)) >= 3 and time.monotonic() - t_first_new > 4.2,
             timeout=10, what=f"three RAs from {backup}")
    t_end = time.monotonic()
    time.sleep(0.2)  # let the capture flush what arrived up to t_end

    # --- what the wire saw -------------------------------------------------------------
    old = c.sw_ras(primary)
    new = c.sw_ras(backup)
    assert old and new
    assert not [r for r in new if r["t"] < t_term], \
        f"RAs from {backup} while it was backup: {[r for r in new if r['t'] < t_term]}"
    last_old = max(r["t"] for r in old)
    first_new = min(r["t"] for r in new)
    assert last_old < first_new, \
        (f"overlap: {primary} sent an RA at {last_old - t_term:+.3f}s from SIGTERM, "
         f"after {backup}'s first at {first_new - t_term:+.3f}s")
    for r in old + new:
        assert (r["src"], r["mac"]) == (QR_LLA, QR_MAC), f"RA from an unexpected source: {r}"
        assert r["lifetime"] > 0, f"zero-lifetime RA (radvd stopped gracefully?): {r}"
    seen = c.client_ras()
    assert seen and {(r["src"], r["mac"]) for r in seen} == {(QR_LLA, QR_MAC)}, \
        f"the client saw RAs from {sorted({(r['src'], r['mac']) for r in seen})}"
    assert [r for r in seen if r["t"] < t_term] and [r for r in seen if r["t"] > t_term]
    route = topo.ip("client", "-6", "route", "show", "default").stdout
    assert f"via {QR_LLA} dev eth0" in route, f"client default route: {route!r}"
    assert c.radvd()[primary] == [], f"radvd runs again on the backup {primary}"
    # Exactly the transitions keepalived made, none invented or lost (with a hold-down,
    # a momentary double master at election is dropped, not applied).
    got = {r: [t[1:3] for t in c.havipd.transitions(r)] for r in c.ROUTERS}
    assert got == {primary: [("unknown", "backup"), ("backup", "primary"),
                             ("primary", "backup")],
                   backup: [("unknown", "backup"), ("backup", "primary")]}, \
        f"havipd's transitions: {got}"

    # --- figures -----------------------------------------------------------------------
    old_after_term = [r for r in old if r["t"] >= t_term]
    resign = [v for v in c.vrrp(primary, since=t_term) if v["prio"] == 0]
    takeover = [v for v in c.vrrp(backup, since=t_term) if v["prio"] > 0]
    figures = {
        "hold_down_ms": c.hold_down_ms,
        "ra_gap_ms": round((first_new - last_old) * 1000, 1),
        "sigterm_to_first_new_ra_ms": round((first_new - t_term) * 1000, 1),
        "last_old_ra_before_sigterm_ms": round((t_term - last_old) * 1000, 1),
        "old_ras_after_sigterm": len(old_after_term),
        "sigterm_to_prio0_advert_ms": round((resign[0]["t"] - t_term) * 1000, 1)
        if resign else None,
        "sigterm_to_new_master_advert_ms": round((takeover[0]["t"] - t_term) * 1000, 1)
        if takeover else None,
        "new_master_advert_to_first_ra_ms": round((first_new - takeover[0]["t"]) * 1000, 1)
        if takeover else None,
        "election_double_master": all(
            any(v["prio"] > 0 for v in c.vrrp(r) if v["t"] < t_term) for r in c.ROUTERS),
        "ras_from_old_primary": len(old),
        "ras_from_new_primary": len(new),
        "observed_s": round(t_end - t_start, 1),
    }
    c.note("figures: " + json.dumps(figures))
    if os.environ.get("HAVIP_E2E_RESULTS"):
        with open(os.environ["HAVIP_E2E_RESULTS"], "a") as f:
            f.write(json.dumps(figures) + "\n")
    with capsys.disabled():
        print(f"\n  e2e failover {primary} -> {backup} (hold_down_ms {c.hold_down_ms}):"
              f"\n    RA gap (last RA of the old primary -> first of the new): "
              f"{figures['ra_gap_ms']:.0f} ms"
              f"\n    SIGTERM -> first RA from the new primary: "
              f"{figures['sigterm_to_first_new_ra_ms']:.0f} ms"
              f" (keepalived takeover {figures['sigterm_to_new_master_advert_ms']} ms,"
              f" then hold-down + radvd start {figures['new_master_advert_to_first_ra_ms']} ms)"
              f"\n    last RA of the old primary {figures['last_old_ra_before_sigterm_ms']:.0f}"
              f" ms before SIGTERM; {len(old_after_term)} after it")


def topo_rdisc6(c):
    src, out = rdisc6(c.topo)
    c.note(f"rdisc6: {src}")
    return src, out
