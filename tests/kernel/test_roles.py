"""Role decisions on one router: VIP add/remove, hold-down, IPv6 DAD, renames, atomic files."""

import os
import threading
import time

import pytest

from helpers import router, wait_for

pytestmark = pytest.mark.usefixtures("kernel_ok")

VIP = "169.254.0.1/24"


def test_vip_add_and_remove_flip_the_state_file(netns, havipd):
    ns = netns.create()
    d = havipd([router("r1", ns)])
    assert d.state("r1") == "backup"

    ns.add_addr(VIP)
    d.wait_state("r1", "primary")
    ns.del_addr(VIP)
    d.wait_state("r1", "backup")
    ns.add_addr(VIP)
    d.wait_state("r1", "primary")

    d.wait_transitions("r1", [
        ("unknown", "backup"), ("backup", "primary"), ("primary", "backup"),
        ("backup", "primary")])
    assert d.transitions("r1")[1][3] == f"vip {VIP} on ha-r1 in {ns.name}"
    assert d.transitions("r1")[2][3] == f"no vip {VIP} on ha-r1 in {ns.name}"


def test_other_addresses_and_prefix_lengths_are_not_the_vip(netns, havipd):
    ns = netns.create(veths=("ha-r1", "qr-x"))
    d = havipd([router("r1", ns), router("sentinel", ns, vip="169.254.0.9/24")])
    ns.add_addr("169.254.0.1/16")        # same address, other prefix length
    ns.add_addr("169.254.0.2/24")        # other address on the interface
    ns.add_addr(VIP, "qr-x")             # the VIP on another interface
    # Once the sentinel flips, havipd has seen every earlier change.
    ns.add_addr("169.254.0.9/24")
    d.wait_state("sentinel", "primary")
    assert d.state("r1") == "backup"
    d.wait_transitions("r1", [("unknown", "backup")])


def test_runtime_vip_waits_for_the_router_hold_down(netns, havipd):
    ns = netns.create()
    d = havipd([router("r1", ns, hold_down_ms=1000)], hold_down_ms=0)
    assert d.state("r1") == "backup"

    # A VIP that goes again within the hold-down never makes the router primary.
    ns.add_addr(VIP)
    ns.del_addr(VIP)
    added = time.monotonic()
    ns.add_addr(VIP)
    d.wait_state("r1", "primary", timeout=6)
    assert time.monotonic() - added >= 1.0 - 0.02, d.log_text()
    d.wait_transitions("r1", [("unknown", "backup"), ("backup", "primary")])


def test_ipv6_vip_is_primary_only_after_dad(netns, havipd):
    ns = netns.create()
    # Both veth ends are up, so the link has carrier and DAD really runs.
    d = havipd([router("r6", ns, vip="fd00::1/64"),
                router("nodad", ns, vip="fd00::2/64")])
    assert d.state("r6") == "backup"

    ns.add_addr("fd00::1/64")
    assert "tentative" in ns.addr_info("fd00::1/64")  # DAD takes about a second
    saw_tentative = 0
    while True:
        # State first, flag second: a primary seen while the address is still
        # tentative afterwards was primary while tentative.
        state = d.state("r6")
        info = ns.addr_info("fd00::1/64")
        if not info.get("tentative"):
            break
        assert state == "backup", f"primary while DAD is running: {info}\n{d.log_text()}"
        saw_tentative += 1
        time.sleep(0.01)
    assert saw_tentative > 0
    d.wait_state("r6", "primary")

    # nodad: usable at once, so primary at once.
    ns.add_addr("fd00::2/64", "ha-r1", "nodad")
    assert "tentative" not in ns.addr_info("fd00::2/64")
    d.wait_state("nodad", "primary", timeout=1)


def test_ipv6_vip_that_fails_dad_is_not_present(netns, havipd):
    ns = netns.create()
    d = havipd([router("r6", ns, vip="fd00::3/64"),
                router("sentinel", ns, vip="fd00::9/64")])
    # Someone else on the link already has the address: DAD fails.
    ns.add_addr("fd00::3/64", "ha-r1p", "nodad")
    ns.add_addr("fd00::3/64")
    wait_for(lambda: ns.addr_info("fd00::3/64").get("dadfailed"), timeout=10,
             what=lambda: f"DAD failure: {ns.addr_info('fd00::3/64')}")
    ns.add_addr("fd00::9/64", "ha-r1", "nodad")
    d.wait_state("sentinel", "primary")
    assert d.state("r6") == "backup", d.log_text()
    d.wait_transitions("r6", [("unknown", "backup")])


def test_vip_on_a_renamed_interface_is_backup(netns, havipd):
    ns = netns.create()
    ns.add_addr(VIP)
    d = havipd([router("r1", ns)])
    assert d.state("r1") == "primary"

    ns.ip("link", "set", "ha-r1", "down")  # a link is renamed while down
    ns.ip("link", "set", "ha-r1", "name", "ha-renamed")
    d.wait_state("r1", "backup")
    assert ns.addr_info(VIP, dev="ha-renamed") is not None  # the VIP is still there

    ns.ip("link", "set", "ha-renamed", "name", "ha-r1")
    d.wait_state("r1", "primary")
    d.wait_transitions("r1", [
        ("unknown", "primary"), ("primary", "backup"), ("backup", "primary")])


def test_state_file_is_never_torn_while_the_vip_flaps(netns, havipd):
    ns = netns.create()
    d = havipd([router("r1", ns)])
    path = d.state_path("r1")
    seen = {}
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                with open(path, "rb") as f:
                    value = f.read()
            except FileNotFoundError:
                value = b"<missing>"
            seen[value] = seen.get(value, 0) + 1

    t = threading.Thread(target=reader)
    t.start()
    try:
        flaps = 200
        ns.batch([f"addr add {VIP} dev ha-r1\naddr del {VIP} dev ha-r1"] * flaps +
                 [f"addr add {VIP} dev ha-r1"])
        d.wait_state("r1", "primary")
        wait_for(lambda: len(d.transitions("r1")) >= 2 * flaps + 2, timeout=10,
                 what=lambda: f"{2 * flaps + 2} transitions, saw {len(d.transitions('r1'))}")
    finally:
        stop.set()
        t.join()
    assert set(seen) <= {b"primary", b"backup"}, seen
    assert sum(seen.values()) > 100, seen
    assert not list(d.state_dir.rglob(".state.tmp"))


def test_vip_interface_deleted_is_backup(netns, havipd):
    ns = netns.create(veths=("ha-r1", "ha-r2"))
    ns.add_addr(VIP)
    ns.add_addr(VIP, "ha-r2")
    d = havipd([router("r1", ns), router("r2", ns, interface="ha-r2")])
    assert d.state("r1") == "primary" and d.state("r2") == "primary"

    ns.ip("link", "del", "ha-r1")  # takes its peer and the VIP with it
    d.wait_state("r1", "backup")
    d.wait_transitions("r1", [("unknown", "primary"), ("primary", "backup")])
    # The same VIP on another interface belongs to another router.
    assert d.state("r2") == "primary"
    assert len(d.transitions("r2")) == 1


def test_address_refresh_is_not_a_transition(netns, havipd):
    ns = netns.create()
    d = havipd([router("r1", ns), router("slow", ns, vip="169.254.0.2/24", hold_down_ms=1000),
                router("sentinel", ns, vip="169.254.0.9/24")])
    ns.add_addr(VIP)
    d.wait_state("r1", "primary")
    before = os.stat(d.state_path("r1"))

    # Lifetime changes and a replace of the primary's VIP: RTM_NEWADDR, same presence.
    ns.ip("addr", "change", VIP, "dev", "ha-r1", "valid_lft", "300", "preferred_lft", "300")
    ns.ip("addr", "replace", VIP, "dev", "ha-r1", "valid_lft", "forever",
          "preferred_lft", "forever")
    # A refresh during the hold-down does not restart it.
    added = time.monotonic()
    ns.add_addr("169.254.0.2/24")
    time.sleep(0.6)  # set-up: refresh 0.6 s into the 1 s hold-down
    ns.ip("addr", "change", "169.254.0.2/24", "dev", "ha-r1", "valid_lft", "300",
          "preferred_lft", "300")
    refreshed = time.monotonic()
    d.wait_state("slow", "primary", timeout=5)
    became = time.monotonic()
    assert became - added >= 1.0 - 0.02, d.log_text()
    # Restarted at the refresh, it would have taken >= 1 s from `refreshed`.
    assert became - refreshed < 0.85, (became - refreshed, d.log_text())

    ns.add_addr("169.254.0.9/24")
    d.wait_state("sentinel", "primary")
    d.wait_transitions("r1", [("unknown", "backup"), ("backup", "primary")])
    after = os.stat(d.state_path("r1"))
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_state_file_is_0644_and_never_follows_symlinks(netns, havipd, workdir):
    ns = netns.create()
    d = havipd([router("r1", ns), router("r2", ns, vip="169.254.0.2/24")], start=False)
    victim, victim_tmp, elsewhere = workdir / "victim", workdir / "victim-tmp", workdir / "elsewhere"
    victim.write_text("victim")
    victim_tmp.write_text("victim")
    elsewhere.mkdir()
    (d.state_dir / "r1").mkdir(parents=True)
    (d.state_dir / "r1" / "state").symlink_to(victim)
    (d.state_dir / "r1" / ".state.tmp").symlink_to(victim_tmp)
    (d.state_dir / "r2").symlink_to(elsewhere, target_is_directory=True)

    d.start(umask=0o077)

    path = d.state_path("r1")
    assert not path.is_symlink() and path.read_text() == "backup"
    assert (path.stat().st_mode & 0o777) == 0o644
    assert victim.read_text() == "victim" and victim_tmp.read_text() == "victim"
    # A symlinked router directory is refused, not written through.
    d.wait_log("r2: cannot write state file")
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("promote", [False, True], ids=["flushed", "promoted"])
def test_vip_as_secondary_when_the_primary_address_goes(netns, havipd, promote):
    ns = netns.create()
    ns.sysctl("net.ipv4.conf.ha-r1.promote_secondaries", int(promote))
    ns.add_addr("169.254.0.5/24")
    ns.add_addr(VIP)  # a secondary address of 169.254.0.0/24
    d = havipd([router("r1", ns), router("sentinel", ns, vip="169.254.0.9/24")])
    assert d.state("r1") == "primary"

    ns.del_addr("169.254.0.5/24")
    # Without promotion the kernel deletes the secondaries too; with it, the
    # VIP stays (re-announced as primary address): no transition.
    assert (ns.addr_info(VIP) is not None) == promote
    ns.add_addr("169.254.0.9/24")
    d.wait_state("sentinel", "primary")
    if promote:
        assert d.state("r1") == "primary"
        d.wait_transitions("r1", [("unknown", "primary")])
    else:
        d.wait_state("r1", "backup")
        d.wait_transitions("r1", [("unknown", "primary"), ("primary", "backup")])
