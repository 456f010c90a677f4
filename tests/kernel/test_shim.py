"""The monitor shim (src/shim/neutron_monitor_shim.cc; docs/NEUTRON.md "The shim"): what
the L3 agent runs as neutron-keepalived-state-change after `havipctl neutron takeover`.
Started with the agent's arguments it daemonizes (the agent waits for it to exit), keeps
them as its command line (the agent's liveness check reads it), writes the pid file it is
given, locked and without a newline, drops to --user/--group, and on SIGTERM removes the
pid file and exits. Run as root in a directory the neutron user owns, it refuses a
symlink or a FIFO planted as its pid file. The boot test (check j) runs it under Debian's
own L3 agent code; these run the binary directly."""

import os
import pwd
import signal
import subprocess
import time

import pytest

from helpers import wait_for

SHIM = os.environ.get("HAVIP_SHIM", "")
ROUTER = "3f1c2a9e-5b7d-4e2f-8a6c-1d0e9b8a7c65"

pytestmark = pytest.mark.skipif(not SHIM or not os.access(SHIM, os.X_OK),
                                reason="HAVIP_SHIM does not name the built shim")


def argv(pid_file, *extra):
    # The L3 agent's command line (ha_router._get_state_change_monitor_callback).
    return [SHIM, f"--router_id={ROUTER}", f"--namespace=qrouter-{ROUTER}",
            f"--conf_dir=/var/lib/neutron/ha_confs/{ROUTER}",
            "--monitor_interface=ha-3f1c2a9e-5b", "--monitor_cidr=169.254.0.1/24",
            f"--pid_file={pid_file}", "--state_path=/var/lib/neutron", *extra]


def start(pid_file, *extra):
    return subprocess.run(argv(pid_file, *extra), capture_output=True, text=True, timeout=10)


def stat_of(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.split(":", 1) for line in f if ":" in line)


def alive(pid):
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_daemonizes_writes_its_pid_file_and_ends_on_sigterm(tmp_path):
    pid_file = tmp_path / f"{ROUTER}.monitor.pid.neutron-keepalived-state-change-monitor"
    r = start(pid_file)
    assert r.returncode == 0, r.stderr
    pid = wait_for(lambda: pid_file.exists() and pid_file.read_text(), 5,
                   what="the shim's pid file")
    assert pid.isdigit(), repr(pid)  # the pid, no newline (as Neutron's daemon writes it)
    pid = int(pid)
    try:
        cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        # The agent's check: the router id (the pid file's name) in the command line.
        assert f"--pid_file={pid_file}".encode() in cmdline
        assert alive(pid)  # it runs on although the command the agent waits for exited
        # Locked: a second shim for the same pid file refuses and leaves it alone.
        again = start(pid_file)
        assert again.returncode != 0 and "locked" in again.stderr, again.stderr
        assert pid_file.read_text() == str(pid)
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not alive(pid), 5, what="the shim to exit on SIGTERM")
    assert not pid_file.exists()


def test_drops_to_the_user_and_group_it_is_given(tmp_path):
    nobody = pwd.getpwnam("nobody")
    pid_file = tmp_path / "drop.pid"
    os.chmod(tmp_path, 0o777)
    r = start(pid_file, f"--user={nobody.pw_uid}", f"--group={nobody.pw_gid}")
    assert r.returncode == 0, r.stderr
    pid = int(wait_for(lambda: pid_file.exists() and pid_file.read_text(), 5,
                       what="the shim's pid file"))
    try:
        # It drops right after writing the pid file.
        ids = lambda: (stat_of(pid)["Uid"].split()[:2], stat_of(pid)["Gid"].split()[:2])  # noqa
        wait_for(lambda: ids()[0] != ["0", "0"], 5, what="the shim to drop root")
        assert ids() == ([str(nobody.pw_uid)] * 2, [str(nobody.pw_gid)] * 2)
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not alive(pid), 5, what="the shim to exit on SIGTERM")


@pytest.mark.skipif(os.geteuid() != 0, reason="the shim's pid file refusal matters as root")
def test_a_symlink_or_fifo_planted_as_its_pid_file_is_refused(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = tmp_path / "link.pid"
    link.symlink_to(victim)
    r = start(link)
    if r.returncode == 0:  # it wrote through the link: end the daemon it left
        pid = wait_for(lambda: victim.read_text().strip().isdigit() and victim.read_text(), 5,
                       what="the pid written through the link")
        os.kill(int(pid), signal.SIGTERM)
    assert r.returncode != 0 and "pid file" in r.stderr, r.stderr
    assert victim.read_text() == "precious\n"  # not truncated through the link

    fifo = tmp_path / "fifo.pid"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    r = start(fifo)  # would block in open() without O_NONBLOCK
    assert r.returncode != 0 and "not a regular file" in r.stderr, r.stderr
    assert time.monotonic() - t0 < 5
