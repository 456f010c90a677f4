"""One havipd per state and run directory (and Neutron state_path): a second one
exits at once naming the first one's pid, and touches none of its files or
children; a lock left by a killed havipd does not block the next start."""

import json
import os
import subprocess

import pytest

from fake_l3_agent import neutron_havipd_config
from helpers import descendants, havipctl_binary, router, wait_for

pytestmark = pytest.mark.usefixtures("kernel_ok")

VIP = "169.254.0.1/24"
RADVD = "/usr/sbin/radvd"
LOCK = ".havipd.lock"


def snapshot(paths):
    """{path: (inode, mtime_ns, content)} of each file."""
    out = {}
    for p in paths:
        st = os.lstat(p)
        out[p] = (st.st_ino, st.st_mtime_ns, p.read_bytes() if p.is_file() else None)
    return out


def status(d):
    p = subprocess.run([str(havipctl_binary()), "--socket", str(d.control_path), "status",
                        "--json"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def refused(d, timeout=5.0):
    """Waits for d to exit; asserts it failed before READY; returns its output."""
    wait_for(lambda: not d.running(), timeout,
             what=lambda: "the second havipd to exit\n" + d.log_text())
    assert d.proc.returncode != 0, d.log_text()
    assert d.notified("READY=1") is None, d.notifications
    return d.log_text()


@pytest.mark.parametrize("shared", ["state_dir", "run_dir"])
def test_a_second_havipd_on_the_same_directory_exits_and_touches_nothing(netns, havipd,
                                                                          shared):
    ns = netns.create()
    ns.sysctl("net.ipv6.conf.default.accept_dad", 0)
    ns.sysctl("net.ipv6.conf.all.forwarding", 1)
    ns.add_veth("qr-r1")
    ns.add_addr(VIP)
    radvd = {"interface": [{"name": "qr-r1", "prefixes": [{"prefix": "fd00:1::/64"}]}]}
    r1 = router("r1", ns, radvd=radvd, service=[{"command": ["/bin/sleep", "300"]}])
    first = havipd([r1], radvd_binary=RADVD)
    first.wait_state("r1", "primary")
    run_dir = first.dir / "run"
    files = [first.state_path("r1"), run_dir / "r1" / "radvd.conf", run_dir / "r1" / "radvd.pid",
             first.control_path, first.state_dir / LOCK, run_dir / LOCK]
    pidfile = run_dir / "r1" / "radvd.pid"
    wait_for(lambda: all(p.exists() for p in files) and pidfile.read_text().endswith("\n")
             and len(descendants(first.pid)) >= 3,
             what=lambda: "radvd, its privsep child and the service running\n"
             + first.log_text())
    before, children = snapshot(files), sorted(descendants(first.pid))

    second = havipd(start=False)
    own = {"state_dir": str(second.dir / "state"), "run_dir": str(second.dir / "run")}
    own[shared] = str(first.state_dir if shared == "state_dir" else run_dir)
    # The same router: a second havipd would start its radvd and service too.
    second.write_config([r1], radvd_binary=RADVD, **own)
    second.start(wait_ready=False)
    out = refused(second)

    where = first.state_dir if shared == "state_dir" else run_dir
    assert (f"{shared} {where} is in use by another havipd (pid {first.pid}; lock file "
            f"{where}/{LOCK}): one havipd per {shared}; exiting") in out, out
    assert snapshot(files) == before
    assert sorted(descendants(first.pid)) == children
    assert not (second.dir / "run").exists() or shared == "state_dir"
    # The first one serves on.
    assert [r["role"] for r in status(first)["routers"]] == ["primary"]
    ns.del_addr(VIP)
    first.wait_state("r1", "backup")


def test_a_second_havipd_on_the_same_neutron_state_path_exits(havipd, netns, workdir):
    state_path = workdir / "neutron"
    state_path.mkdir()
    first = havipd(start=False)
    first.write_raw_config(neutron_havipd_config(state_path, first.dir / "run",
                                                 first.dir / "state"))
    first.start()
    second = havipd(start=False)
    second.write_raw_config(neutron_havipd_config(state_path, second.dir / "run",
                                                  second.dir / "state"))
    second.start(wait_ready=False)
    out = refused(second)
    assert (f"[neutron] state_path {state_path} is in use by another havipd "
            f"(pid {first.pid};") in out, out
    assert first.running()


def test_a_lock_left_by_a_killed_havipd_does_not_block_the_next(netns, havipd):
    ns = netns.create()
    first = havipd([router("r1", ns)])
    lock = first.state_dir / LOCK
    assert lock.read_text() == f"{first.pid}\n"
    first.kill()  # SIGKILL: no clean-up; the file stays, the kernel drops the lock
    assert lock.exists()

    again = havipd(start=False)
    again.write_config([router("r1", ns)], state_dir=str(first.state_dir),
                       run_dir=str(first.dir / "run"))
    again.start()
    assert lock.read_text() == f"{again.pid}\n"
    assert (first.state_dir / "r1" / "state").read_text() == "backup"


def test_a_reload_onto_a_locked_directory_is_rejected(netns, havipd):
    ns = netns.create()
    first = havipd([router("r1", ns)])
    second = havipd([router("r2", ns)])
    second.write_config([router("r2", ns)], state_dir=str(first.state_dir))
    second.reload()
    second.wait_log(f"reload rejected: state_dir {first.state_dir} is in use by another havipd "
                    f"(pid {first.pid};")
    ns.add_addr(VIP)
    second.wait_state("r2", "primary")  # still serving, in its own state_dir
    first.wait_state("r1", "primary")
    assert not (first.state_dir / "r2").exists()
