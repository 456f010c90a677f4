"""Feedback into VRRP with a real keepalived: havipd writes the router's track file,
keepalived (vrrp_track_file, `track_file` in the instance) follows it.

One keepalived, no peer, in a throwaway namespace. `havipctl drain` must make keepalived
go FAULT (the VIP disappears; havipd reports the router moved), a drained router stays
drained across a restart of havipd, and `havipctl undrain` gives it back (keepalived is
MASTER again without a peer). havipd replaces the file by a rename: that keepalived
reacts at all shows that it follows a rename (its inotify watch on the directory sees
IN_MOVED_TO). Run with weight 0 (any non-zero value is FAULT) and with keepalived's
default weight 1 (-254 is below keepalived's -253 limit: FAULT too)."""

import json
import subprocess

import pytest

from havip_testlib.keepalived import Keepalived
from havip_testlib.proc import which
from helpers import havipctl_binary, router, wait_for

pytestmark = pytest.mark.usefixtures("kernel_ok")

VIP = "169.254.0.1/24"


class TrackedKeepalived(Keepalived):
    """keepalived with one instance on ha-r1 (VRID 51, alone: MASTER after its
    master-down interval) tracking `track_file` with `weight` (None: keepalived's
    default)."""

    def __init__(self, ns, workdir, track_file, weight):
        super().__init__("r1", ns, workdir)
        self.track_file = track_file
        self.weight = weight

    def write_config(self):
        weight = "" if self.weight is None else f" weight {self.weight}"
        self.conf.write_text(f"""\
global_defs {{
    router_id havip-track
}}
track_file havip_r1 {{
    file "{self.track_file}"
}}
vrrp_instance R1 {{
    state BACKUP
    interface ha-r1
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {{
        {VIP} dev ha-r1
    }}
    track_file {{
        havip_r1{weight}
    }}
}}
""")


def ctl(d, *args, timeout=60):
    return subprocess.run([str(havipctl_binary()), "--socket", str(d.control_path), *args],
                          capture_output=True, text=True, timeout=timeout)


def router_status(d, name):
    p = ctl(d, "status", "--json")
    assert p.returncode == 0, p.stderr
    return next(r for r in json.loads(p.stdout)["routers"] if r["name"] == name)


@pytest.fixture
def keepalived_bin():
    if not which("keepalived"):
        pytest.skip("keepalived is not installed (apt-get install keepalived)")


@pytest.mark.parametrize("weight", [0, None], ids=["weight-0", "default-weight-1"])
def test_drain_moves_the_router_through_keepalived_and_undrain_gives_it_back(
        keepalived_bin, netns, havipd, workdir, weight):
    ns = netns.create("trk")
    ns.add_addr("10.254.0.1/24")  # keepalived needs an IPv4 address on its interface
    track = workdir / "track" / "r1.track"  # its directory is created by havipd
    d = havipd([router("r1", ns, vip=VIP, track_file=str(track))])
    assert track.read_text() == "0\n"  # written once at start
    k = TrackedKeepalived(ns.name, workdir, track, weight).start()
    try:
        wait_for(lambda: d.state("r1") == "primary", 15,
                 what=lambda: "primary\n" + k.log_tail() + "\n" + d.log_text())
        assert router_status(d, "r1")["track"]["state"] == "ok"

        p = ctl(d, "drain", "--timeout", "20", "r1")
        assert p.returncode == 0, p.stdout + p.stderr + d.log_text()
        rows = [line.split(None, 2) for line in p.stdout.splitlines()]
        assert rows[0] == ["ROUTER", "ROLE", "RESULT"]
        assert rows[1] == ["r1", "backup", "moved"], p.stdout
        assert track.read_text() == "-254\n"
        assert not ns.has_addr("ha-r1", VIP.split("/")[0])
        wait_for(lambda: "(R1) Entering FAULT STATE" in k.log.read_text(), 5,
                 what=lambda: "keepalived FAULT\n" + k.log_tail())
        s = router_status(d, "r1")
        assert s["drained"] is True and s["track"]["state"] == "drained"
        assert (d.state_dir / ".havipd.drained").read_text() == "r1\n"
        assert d.log_has("r1: track file")

        # A restart of havipd keeps it drained: the file is written -254 again.
        d.stop(timeout=5)
        track.write_text("0\n")  # as if something had reset it meanwhile
        d.start()
        wait_for(lambda: track.read_text() == "-254\n", 5, what="-254 after the restart")
        assert router_status(d, "r1")["drained"] is True
        d.wait_state("r1", "backup")

        p = ctl(d, "undrain", "r1")
        assert p.returncode == 0, p.stderr
        assert "r1" in p.stdout
        wait_for(lambda: track.read_text() == "0\n", 5, what="0 after undrain")
        d.wait_state("r1", "primary", timeout=15)  # keepalived MASTER again, no peer
        assert router_status(d, "r1")["drained"] is False
        assert (d.state_dir / ".havipd.drained").read_text() == ""
    finally:
        k.stop()


def test_drain_refuses_routers_without_a_track_file_and_unknown_ones(netns, havipd):
    ns = netns.create("trk")
    d = havipd([router("r1", ns, vip=VIP)])
    p = ctl(d, "drain", "r1")
    assert p.returncode == 1
    assert "router r1 has no track_file: havipd cannot move it" in p.stderr
    p = ctl(d, "drain", "nope")
    assert p.returncode == 1 and "unknown router: nope" in p.stderr
    p = ctl(d, "undrain")
    assert p.returncode == 0 and "no router was drained" in p.stdout


def test_a_drained_router_still_primary_after_the_timeout_fails_the_drain(
        netns, havipd, workdir):
    """Nothing follows the track file here (no keepalived): the VIP stays, and
    havipctl says so and exits 1."""
    ns = netns.create("trk")
    ns.add_addr(VIP)
    track = workdir / "r1.track"
    d = havipd([router("r1", ns, vip=VIP, track_file=str(track))])
    d.wait_state("r1", "primary")
    p = ctl(d, "drain", "--timeout", "1")
    assert p.returncode == 1, p.stdout + p.stderr
    assert p.stdout.splitlines()[1].split(None, 2) == ["r1", "primary",
                                                       "still primary after 1s"]
    assert track.read_text() == "-254\n"


def test_a_crash_looping_service_on_the_primary_writes_the_failure_value_then_times_out(
        netns, havipd, workdir):
    """A service that exits at once (a crash loop with backoff) on the primary: after
    track_grace_ms the file holds the failure value; once the router is backup, it
    is cleared after track_failure_timeout_ms."""
    ns = netns.create("trk")
    ns.add_addr(VIP)
    track = workdir / "r1.track"
    d = havipd([router("r1", ns, vip=VIP, track_file=str(track), track_grace_ms=1000,
                       track_failure_timeout_ms=1500, service=[{"command": ["/bin/false"]}])])
    d.wait_state("r1", "primary")
    wait_for(lambda: track.read_text() == "-254\n", 5,
             what=lambda: "-254 for the crash loop\n" + d.log_text())
    s = router_status(d, "r1")
    assert s["track"]["state"] == "failed"
    assert s["track"]["effects"] == ["service false"]
    assert s["track"]["reason"] == "service false failing for 1 s on the primary"
    assert d.log_has("r1: track file " + str(track) + ": -254 (service false failing")
    ns.del_addr(VIP)
    d.wait_state("r1", "backup")
    assert track.read_text() == "-254\n"  # kept after leaving primary …
    wait_for(lambda: track.read_text() == "0\n", 5,  # … for track_failure_timeout_ms
             what=lambda: "0 after the failure timeout\n" + d.log_text())
    assert router_status(d, "r1")["track"]["state"] == "ok"
