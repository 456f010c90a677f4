"""[daemon] netns_dir replaced while havipd runs: renamed away, deleted,
re-created, another tree moved in, a tmpfs mounted over it. havipd follows
the directory at the path, without a reload (what an operator sees: the
state files and `havipctl status`)."""

import json
import subprocess

import pytest

from helpers import havipctl_binary, router, run, wait_for

pytestmark = pytest.mark.usefixtures("kernel_ok")

VIP = "169.254.0.1/24"


def place(ns, directory, name="r1ns"):
    """The namespace `ns` (made by `ip netns add`) as `directory/name`: a bind
    mount, as `ip netns add` makes its own files."""
    directory.mkdir(exist_ok=True)
    target = directory / name
    target.touch()
    run("mount", "--bind", f"/run/netns/{ns.name}", target)
    return target


def unplace(target):
    run("umount", "-l", target)  # lazily, as `ip netns del` does: havipd holds it open
    target.unlink()


def role(d, name="r1"):
    p = subprocess.run([str(havipctl_binary()), "--socket", str(d.control_path), "status",
                        "--json"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    return {r["name"]: r["role"] for r in json.loads(p.stdout)["routers"]}[name]


def test_netns_dir_renamed_deleted_recreated_and_mounted_over(netns, havipd, workdir):
    with_vip, without = netns.create("vip"), netns.create("novip")
    with_vip.add_addr(VIP)
    nsdir = workdir / "netns"
    mounts = [place(without, nsdir)]
    d = havipd([router("r1", "r1ns")], netns_dir=str(nsdir))
    try:
        d.wait_state("r1", "backup")

        # Renamed away: its namespace is gone from the path.
        nsdir.rename(workdir / "old")
        mounts = [workdir / "old" / "r1ns"]
        wait_for(lambda: role(d) == "unknown", what="r1 unknown once netns_dir moved away")

        # Another tree moved in, holding the VIP's namespace: decided, no SIGHUP.
        mounts.append(place(with_vip, workdir / "new"))
        (workdir / "new").rename(nsdir)
        mounts[-1] = nsdir / "r1ns"
        d.wait_state("r1", "primary")
        assert role(d) == "primary"

        # Deleted (emptied first, as rmdir needs), then re-created by mkdir.
        unplace(mounts.pop())
        nsdir.rmdir()
        wait_for(lambda: role(d) == "unknown", what="r1 unknown once netns_dir is deleted")
        unplace(mounts.pop())  # the old tree's file, back to the namespace without the VIP
        mounts.append(place(without, nsdir))
        d.wait_state("r1", "backup")

        # A tmpfs mounted over it (inotify says nothing: the mount table does).
        run("mount", "-t", "tmpfs", "havip-test", nsdir)
        mounts.append(nsdir)
        wait_for(lambda: role(d) == "unknown", what="r1 unknown under the tmpfs")
        mounts.append(place(with_vip, nsdir))
        d.wait_state("r1", "primary")
        assert d.running()
        assert not d.log_has("SIGHUP")
    finally:
        for m in reversed(mounts):
            subprocess.run(["umount", "-l", str(m)], capture_output=True)
