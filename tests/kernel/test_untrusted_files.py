"""Files another user can write (issue 11): Neutron's ha_confs/<id>/keepalived.conf and
ra/<id>.radvd.conf belong to the neutron user. Replaced by a FIFO, a symlink to /dev/zero,
a symlink to a file outside state_path, a 100 MB file or a directory, each is refused for
its router alone: havipd keeps answering havipctl, the other router follows its VIP, the
log names the file and the reason once (not again while the cause persists), and a good
file is read again (docs/SECURITY.md "Files havipd reads")."""

import ctypes
import os
import subprocess
import time

import pytest

from helpers import havipctl_binary, wait_for
from test_neutron import (CREATED, Node, neutron_radvd_conf, no_namespace_left, node,  # noqa: F401
                          radvd_of, write_radvd_conf)
from fake_l3_agent import l3_agent  # noqa: F401

pytestmark = pytest.mark.usefixtures("kernel_ok")

RENAME_EXCHANGE = 2
_libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100


def exchange(a, b):
    """Swaps two names atomically (a directory for a file, too): the watcher never sees the
    file missing in between."""
    if _libc.renameat2(AT_FDCWD, os.fsencode(str(a)), AT_FDCWD, os.fsencode(str(b)),
                       RENAME_EXCHANGE) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def replace_by(path, kind, outside):
    """Puts `kind` where `path` is, atomically; returns the reason havipd must give."""
    tmp = path.with_name(path.name + ".planted")
    if kind == "fifo":
        os.mkfifo(tmp)
    elif kind == "dev-zero":
        os.symlink("/dev/zero", tmp)
    elif kind == "outside":
        outside.write_text("root's secret\n")
        os.symlink(outside, tmp)
    elif kind == "100mb":
        with open(tmp, "w") as f:
            f.truncate(100 * 1000 * 1000)
    elif kind == "directory":
        tmp.mkdir()
    exchange(tmp, path)
    remove(tmp)
    return REASONS[kind]


def remove(path):
    if path.is_dir() and not path.is_symlink():
        path.rmdir()
    else:
        path.unlink()


def restore(path, text):
    """A good file back in place, atomically (as the agent's rename would, but over a
    directory too)."""
    good = path.with_name(path.name + ".good")
    good.write_text(text)
    exchange(good, path)
    remove(good)


REASONS = {
    "fifo": "is a FIFO, not a regular file",
    "dev-zero": "a symlink leads out of {sp}",
    "outside": "a symlink leads out of {sp}",
    "100mb": "is larger than 1 MiB (100000000 bytes)",
    "directory": "is a directory, not a regular file",
}
KINDS = list(REASONS)


def status_promptly(node):
    """havipctl status answers within 5 s (a loop stuck in open() or read() never would)."""
    start = time.monotonic()
    p = subprocess.run([str(havipctl_binary()), "--socket", str(node.d.dir / "run" / "ctl.sock"), "status"],
                       capture_output=True, text=True, timeout=5)
    assert p.returncode == 0, p.stderr + node.log()
    return time.monotonic() - start


def synced(node, n):
    """Every inotify event before this one has been handled: '~' sorts after every router id,
    and the entry is said (once) as no router id."""
    (node.sp.ha_confs / f"~sync-{n}").mkdir()
    node.d.wait_log(f"ha_confs/~sync-{n}: not a router id")


def count(node, text):
    return sum(1 for line in node.d.lines if text in line)


@pytest.mark.parametrize("kind", KINDS)
def test_refused_keepalived_conf_affects_only_its_router(node, kind, workdir):
    node.start_agent()
    a, b = node.router(), node.router()
    node.start_havipd()
    node.wait_both(a, "backup")
    node.wait_both(b, "backup")

    path = node.sp.conf_path(a.id)
    reason = replace_by(path, kind, workdir / "outside").format(sp=node.sp.path)
    said = f"{path}: refused: {reason}; keeping its last good configuration"
    node.d.wait_log(said)
    status_promptly(node)
    b.add_vip()
    node.wait_both(b, "primary")
    a.add_vip()  # a keeps what was last read: it still follows its VIP
    node.wait_both(a, "primary")

    # The same cause again (another event for the file): not said again.
    replace_by(path, kind, workdir / "outside")
    synced(node, 1)
    status_promptly(node)
    assert count(node, f"{path}: refused") == 1, node.log()

    restore(path, a.conf())
    node.d.wait_log(f"router {a.id}: {path} is readable again")
    b.del_vip()
    node.wait_both(b, "backup")
    assert node.d.running()


def test_router_refused_from_the_start_is_tracked_once_fixed(node, workdir):
    node.start_agent()
    a, b = node.router(), node.router()
    path = node.sp.conf_path(a.id)
    replace_by(path, "fifo", workdir / "outside")
    node.start_havipd()  # a FIFO at start-up must not hang it either
    node.wait_both(b, "backup")
    node.d.wait_log(f"{path}: refused: is a FIFO, not a regular file; not tracked until it is "
                    "fixed")
    assert a.state() is None and not node.agent.all(a.id), node.log()
    status_promptly(node)
    path.unlink()
    a.write_conf()
    node.wait_both(a, "backup")
    a.add_vip()
    node.wait_both(a, "primary")


@pytest.mark.parametrize("kind", KINDS)
def test_refused_radvd_conf_keeps_the_last_one_seen(node, kind, workdir):
    node.start_agent()
    r = node.router(conf=False, ports=True)
    r.write_conf(r.conf(excluded=[("203.0.113.10/24", r.qg), ("fd00:1::1/64", r.qr),
                                  ("fe80::f816:3eff:fe00:1/64", r.qr, "link")],
                        routes=[f"0.0.0.0/0 via 203.0.113.1 dev {r.qg} no_track"]))
    other = node.router()
    good = neutron_radvd_conf(r.qr)
    write_radvd_conf(node.sp, r.id, good)
    (node.sp.path / "external" / "pids").mkdir(parents=True)
    node.start_havipd(manage_ipv6=True)
    node.wait_both(r, "backup")
    node.wait_both(other, "backup")

    path = node.sp.path / "ra" / f"{r.id}.radvd.conf"
    reason = replace_by(path, kind, workdir / "outside").format(sp=node.sp.path)
    node.d.wait_log(f"{path}: refused: {reason}; radvd keeps the last one seen")
    status_promptly(node)
    other.add_vip()
    node.wait_both(other, "primary")
    replace_by(path, kind, workdir / "outside")
    synced(node, 1)
    assert count(node, f"{path}: refused") == 1, node.log()

    # Primary: radvd runs with the last good radvd.conf, never with what was refused.
    r.add_vip()
    node.wait_both(r, "primary")
    pid = wait_for(lambda: radvd_of(node, r), 5, what=lambda: "radvd for the primary\n" + node.log())
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = f.read().decode().split("\0")
    assert open(argv[argv.index("--config") + 1]).read() == good

    restore(path, neutron_radvd_conf(r.qr, mtu=1400))
    node.d.wait_log(f"router {r.id}: {path} is readable again")
    assert node.d.running()
