"""Start-up: READY and STATUS, and the role of a VIP that was there before havipd."""

import time

import pytest

from helpers import router

pytestmark = pytest.mark.usefixtures("kernel_ok")

HOLD_DOWN_MS = 2000
OLD_MARGIN_S = 1.5


def test_ready_reports_counts_and_states_are_written(netns, havipd):
    a, b = netns.create("a"), netns.create("b")
    a.add_addr("169.254.0.1/24")
    d = havipd([router("r1", a), router("r2", b)])

    ready = d.notified("READY=1")
    assert "STATUS=2 routers: 1 primary, 1 backup" in ready.split("\n"), ready
    # READY is sent only after every existing namespace was dumped and decided.
    assert d.state("r1") == "primary"
    assert d.state("r2") == "backup"

    seen = len(d.notifications)
    b.add_addr("169.254.0.1/24")
    d.wait_status(2, 2, 0, since=seen)
    assert d.state("r2") == "primary"


def test_old_vip_is_primary_right_after_ready(netns, havipd):
    ns = netns.create()
    ns.add_addr("169.254.0.1/24")
    # The VIP must be older than the hold-down when havipd dumps it: a set-up
    # wait, not an assertion. The kernel's creation stamp (jiffies) and
    # CLOCK_MONOTONIC have different origins, and havipd may assume up to a
    # second of difference (making ages look younger), hence the margin.
    time.sleep(HOLD_DOWN_MS / 1000 + OLD_MARGIN_S)

    d = havipd([router("r1", ns)], hold_down_ms=HOLD_DOWN_MS)

    assert d.state("r1") == "primary", d.log_text()
    assert d.ready_counts() == (1, 1, 0, 0), d.notifications
    d.wait_transitions("r1", [("unknown", "primary")])


def test_young_vip_becomes_primary_only_after_the_hold_down(netns, havipd):
    ns = netns.create()
    added = time.monotonic()
    ns.add_addr("169.254.0.1/24")

    d = havipd([router("r1", ns)], hold_down_ms=HOLD_DOWN_MS)

    # Present but younger than the hold-down: not decided yet.
    if time.monotonic() - added < HOLD_DOWN_MS / 1000 - 0.2:
        assert d.state("r1") is None, d.log_text()
        assert d.ready_counts() == (1, 0, 0, 1), d.notifications
    d.wait_state("r1", "primary", timeout=HOLD_DOWN_MS / 1000 + 5)
    became = time.monotonic()
    # The kernel's creation stamp has 10 ms steps; allow for that.
    assert became - added >= HOLD_DOWN_MS / 1000 - 0.02, (became - added, d.log_text())
    d.wait_transitions("r1", [("unknown", "primary")])
