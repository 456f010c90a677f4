"""VIP ages on a host with a long uptime: the kernel's address stamps (cstamp,
1/100 s since boot in 32 bits) wrap every 497 days, and CLOCK_MONOTONIC is
then far from cstamp * 10 ms. A time namespace with a monotonic offset makes
havipd's CLOCK_MONOTONIC just as far from it, without waiting 497 days.

A VIP added just before start-up must wait for its hold-down (before the fix
it looked ancient and was made primary at once); one older than the hold-down
is primary at once (no outage on a restart).
"""

import time

import pytest

from helpers import router

pytestmark = pytest.mark.usefixtures("kernel_ok")

HOLD_DOWN_MS = 1500
WRAP_S = 2**32 // 100   # 497 days: the monotonic clock just past cstamp's wrap
LARGE_S = 123_456_789   # nearly four years, not a multiple of anything

OFFSETS = [pytest.param(WRAP_S, id="past-the-wrap"), pytest.param(LARGE_S, id="large")]


def in_time_namespace(offset, *inner):
    # unshare execs havipd (same pid) in a new time namespace.
    return ["unshare", "--time", f"--monotonic={offset}", *inner]


def assert_waits_for_the_hold_down(d, added):
    """Not primary while the VIP is younger than the hold-down, primary after it."""
    while time.monotonic() - added < HOLD_DOWN_MS / 1000 - 0.2:
        assert d.state("r1") != "primary", (time.monotonic() - added, d.log_text())
        time.sleep(0.05)
    d.wait_state("r1", "primary", timeout=HOLD_DOWN_MS / 1000 + 5)
    became = time.monotonic()
    assert became - added >= HOLD_DOWN_MS / 1000 - 0.03, (became - added, d.log_text())
    d.wait_transitions("r1", [("unknown", "primary")])


@pytest.mark.parametrize("offset", OFFSETS)
def test_young_vip_waits_for_the_hold_down(netns, havipd, offset):
    ns = netns.create()
    added = time.monotonic()
    ns.add_addr("169.254.0.1/24")

    d = havipd([router("r1", ns)], hold_down_ms=HOLD_DOWN_MS,
               start_args={"wrapper": in_time_namespace(offset)})

    assert_waits_for_the_hold_down(d, added)


@pytest.mark.parametrize("offset", OFFSETS)
def test_old_vip_is_primary_at_once(netns, havipd, offset):
    ns = netns.create()
    ns.add_addr("169.254.0.1/24")
    time.sleep(HOLD_DOWN_MS / 1000 + 0.3)  # older than the hold-down, by far more than 20 ms

    d = havipd([router("r1", ns)], hold_down_ms=HOLD_DOWN_MS,
               start_args={"wrapper": in_time_namespace(offset)})

    assert d.state("r1") == "primary", d.log_text()
    assert d.ready_counts() == (1, 1, 0, 0), d.notifications
    assert not d.log_has("cannot read the kernel's address clock"), d.log_text()


def test_without_the_exact_reference_the_time_namespace_offset_is_taken_off(netns, havipd):
    """Without CAP_SYS_ADMIN (a router in havipd's own namespace needs none) the
    exact reference cannot be taken; the assumed one subtracts the time
    namespace's offset, so a young VIP still waits for its hold-down."""
    ns = netns.create()
    added = time.monotonic()
    ns.add_addr("169.254.0.1/24")

    wrapper = ["ip", "netns", "exec", ns.name,
               *in_time_namespace(LARGE_S, "setpriv", "--bounding-set=-sys_admin")]
    d = havipd([router("r1", None)], hold_down_ms=HOLD_DOWN_MS,
               start_args={"wrapper": wrapper})

    assert d.log_has("cannot read the kernel's address clock (unshare(CLONE_NEWNET): "
                     "Operation not permitted)"), d.log_text()
    assert d.log_has(f"less this time namespace's {LARGE_S * 1000}ms offset"), d.log_text()
    assert_waits_for_the_hold_down(d, added)
