"""Process lifecycle: SIGTERM, SIGHUP reloads."""

import ctypes
import os

import pytest

from helpers import descendants, router, start_time, wait_for

pytestmark = pytest.mark.usefixtures("kernel_ok")

VIP = "169.254.0.1/24"
PR_SET_CHILD_SUBREAPER = 36


def children_of_this_process():
    pids = set()
    for task in os.scandir(f"/proc/{os.getpid()}/task"):
        try:
            with open(f"{task.path}/children") as f:
                pids.update(map(int, f.read().split()))
        except OSError:
            pass
    return pids


@pytest.fixture
def subreaper():
    """Orphans of havipd's children get re-parented to this process, not to init."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    yield
    libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def test_sigterm_stops_fast_and_clean_during_a_flap_storm(netns, havipd, subreaper):
    ns = netns.create()
    ns.add_addr("169.254.0.2/24")
    d = havipd([router("r1", ns), router("r2", ns, vip="169.254.0.2/24")])
    before = children_of_this_process()
    kids = {pid: start_time(pid) for pid in descendants(d.pid)}

    storm = ns.batch_async([f"addr add {VIP} dev ha-r1\naddr del {VIP} dev ha-r1"] * 1000,
                           label="storm")
    try:
        wait_for(lambda: len(d.transitions("r1")) >= 20, timeout=10,
                 what=lambda: "the storm to reach havipd\n" + d.log_text())
        elapsed = d.stop(timeout=1.0)  # asserts exit code 0 within 1 s
    finally:
        storm.communicate(timeout=60)
    assert elapsed < 1.0
    assert d.notified("STOPPING=1"), d.notifications
    assert d.lines and d.lines[-1].endswith(" stopped"), d.log_text()

    # No torn or temporary files.
    assert not list(d.state_dir.rglob(".state.tmp"))
    assert d.state("r1") in ("primary", "backup")
    assert d.state("r2") == "primary"
    # Every process havipd had started is gone, and none was orphaned to us.
    assert [pid for pid, t in kids.items() if start_time(pid) == t] == []
    orphans = children_of_this_process() - before - {storm.pid}
    assert orphans == set(), f"left behind by havipd: {orphans}"


def reload_and_wait(d):
    """SIGHUP; waits for RELOADING=1 and the READY=1 that follows it."""
    since = len(d.notifications)
    d.reload()
    d.wait_notify("RELOADING=1", since=since)
    reloading = next(i for i in range(since, len(d.notifications))
                     if "RELOADING=1" in d.notifications[i].split("\n"))
    d.wait_notify("READY=1", since=reloading)


def test_sighup_adds_a_router_and_leaves_the_others_alone(netns, havipd):
    a, b = netns.create("a"), netns.create("b")
    b.add_addr(VIP)
    d = havipd([router("r1", a)])
    assert d.state("r1") == "backup"
    r1_file = os.stat(d.state_path("r1"))

    d.write_config([router("r1", a), router("r2", b)])
    reload_and_wait(d)

    d.wait_state("r2", "primary")
    d.wait_log(f"configuration reloaded from {d.config_path}: 2 routers (was 1)")
    d.wait_status(2, 1, 1)
    after = os.stat(d.state_path("r1"))
    assert (after.st_ino, after.st_mtime_ns) == (r1_file.st_ino, r1_file.st_mtime_ns)
    assert d.transitions("r1") == [("r1", "unknown", "backup",
                                    f"no vip {VIP} on ha-r1 in {a.name}")]
    # Both routers keep following their VIPs.
    a.add_addr(VIP)
    b.del_addr(VIP)
    d.wait_states({"r1": "primary", "r2": "backup"})


def test_sighup_with_an_invalid_config_is_rejected(netns, havipd):
    a, b = netns.create("a"), netns.create("b")
    d = havipd([router("r1", a)])
    good = d.config_path.read_text()

    d.write_raw_config(good + '\n[[router]]\nname = "r2"\nnamespace = "%s"\n'
                       'interface = "ha-r1"\nvip = "169.254.0.300/24"\n' % b.name)
    bad_line = len(good.splitlines()) + 6
    reload_and_wait(d)
    d.wait_log("reload rejected")
    assert d.log_has(f"{d.config_path}:{bad_line}: router[2].vip: expected"), d.log_text()

    # The old configuration keeps running.
    a.add_addr(VIP)
    b.add_addr(VIP)
    d.wait_state("r1", "primary")
    assert d.state("r2") is None
    a.del_addr(VIP)
    d.wait_state("r1", "backup")
    assert d.running()

    # And a later good reload still works.
    d.write_config([router("r1", a), router("r2", b)])
    reload_and_wait(d)
    d.wait_state("r2", "primary")


def test_sighup_changes_and_removes_routers(netns, havipd):
    ns = netns.create()
    ns.add_addr(VIP)
    d = havipd([router("r1", ns), router("r2", ns, vip="169.254.0.2/24")])
    assert d.state("r1") == "primary" and d.state("r2") == "backup"
    r2_file = os.stat(d.state_path("r2"))

    # r1 now watches a VIP that is absent, r2 is gone, r3 watches the old VIP.
    d.write_config([router("r1", ns, vip="169.254.0.3/24"), router("r3", ns)])
    reload_and_wait(d)
    d.wait_states({"r1": "backup", "r3": "primary"})
    d.wait_transitions("r1", [("unknown", "primary"), ("primary", "backup")])
    d.wait_status(2, 1, 1)

    # A removed router is no longer followed; its file stays as it was.
    ns.add_addr("169.254.0.2/24")
    ns.add_addr("169.254.0.3/24")
    d.wait_state("r1", "primary")
    after = os.stat(d.state_path("r2"))
    assert (after.st_ino, after.st_mtime_ns) == (r2_file.st_ino, r2_file.st_mtime_ns)
    assert len(d.transitions("r2")) == 1, d.log_text()


def test_router_in_havipds_own_namespace(netns, havipd):
    ns = netns.create()
    # `ip netns exec` execs havipd inside the namespace: that is its own
    # namespace, so a router without `namespace` lives there.
    d = havipd([router("r1", None)], start_args={"wrapper": ["ip", "netns", "exec", ns.name]})
    assert d.state("r1") == "backup"
    ns.add_addr(VIP)
    d.wait_state("r1", "primary")
    d.wait_log(f"r1: backup -> primary (vip {VIP} on ha-r1 in the host namespace)")
    ns.del_addr(VIP)
    d.wait_state("r1", "backup")


def test_sighup_moves_a_router_to_another_namespace(netns, havipd):
    a, b = netns.create("a"), netns.create("b")
    a.add_addr(VIP)
    d = havipd([router("r1", a)])
    assert d.state("r1") == "primary"

    d.write_config([router("r1", b)])
    reload_and_wait(d)
    d.wait_state("r1", "backup")
    b.add_addr(VIP)
    d.wait_state("r1", "primary")
    a.del_addr(VIP)  # no longer watched
    # Moved: unknown until the new namespace has been read, then decided there.
    d.wait_transitions("r1", [("unknown", "primary"), ("primary", "unknown"),
                              ("unknown", "backup"), ("backup", "primary")])


def test_sighup_moving_a_router_to_a_missing_namespace_makes_it_unknown(netns, havipd):
    """A router whose namespace does not exist is unknown, at start-up (see
    test_namespace_created_after_start_is_picked_up) and after a reload alike."""
    a = netns.create("a")
    a.add_addr(VIP)
    later = netns.name("later")
    d = havipd([router("r1", a)])
    assert d.state("r1") == "primary"

    d.write_config([router("r1", later)])
    reload_and_wait(d)
    d.wait_log(f"namespace {later} does not exist yet")
    # Its VIP is watched nowhere now: it must not still count as primary.
    d.wait_status(1, 0, 0, 1, timeout=3)
    d.wait_transitions("r1", [("unknown", "primary"), ("primary", "unknown")])

    ns = netns.create(name=later)
    d.wait_state("r1", "backup")
    ns.add_addr(VIP)
    d.wait_state("r1", "primary")


def test_sighup_new_state_dir_gets_the_current_roles(netns, havipd, workdir):
    """State files are derived state: after a reload that moves state_dir, the
    new directory holds every decided router's role, not only later changes."""
    ns = netns.create()
    ns.add_addr(VIP)
    routers = [router("r1", ns), router("r2", ns, vip="169.254.0.2/24")]
    d = havipd(routers)
    old = {n: d.state(n) for n in ("r1", "r2")}
    assert old == {"r1": "primary", "r2": "backup"}

    new_dir = workdir / "new-state"
    d.write_config(routers, state_dir=str(new_dir))
    reload_and_wait(d)
    d.wait_log("configuration reloaded")
    old_dir, d.state_dir = d.state_dir, new_dir
    d.wait_states({"r1": "primary", "r2": "backup"}, timeout=3)

    # Later transitions go to the new directory; the old files stay as they were.
    ns.add_addr("169.254.0.2/24")
    d.wait_state("r2", "primary")
    assert (old_dir / "r2" / "state").read_text() == "backup"
