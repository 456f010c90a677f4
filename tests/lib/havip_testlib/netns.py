"""Network namespaces: names, the availability probe, creation, veths, bridges, clean-up.

Every user names its namespaces with a prefix of its own (run_prefix: ``havipk-<pid>-``
for the kernel tier, ``havipe-<pid>-`` for e2e, bench/run passes ``havipg-<pid>-…`` to
ra_gap.py), so that tiers and concurrent runs never collide and leftovers can be found.
"""

import itertools
import json
import os
import signal
import subprocess
from pathlib import Path

from .proc import proc_comm, run, which

NETNS_DIR = Path("/run/netns")


def run_prefix(letter):
    """``havip<letter>-<pid>-``: the prefix of everything this process creates."""
    return f"havip{letter}-{os.getpid()}-"


def namespaces_with_prefix(prefix):
    """Names under /run/netns that start with prefix (ours, still there)."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))


def delete_leftovers(prefix):
    """Deletes the namespaces named prefix… that are still there; returns their names."""
    leftovers = namespaces_with_prefix(prefix)
    for name in leftovers:
        run("ip", "netns", "del", name, check=False)
    return leftovers


def netns_problem(prefix, tier, needs_root, bridges=False):
    """None when this process can create namespaces with veth pairs in them (and, with
    `bridges`, bridges with a veth as a port), else why not: the tier's skip reason.

    tier: "the kernel tier"…; needs_root: what it needs root for (the reason's text).
    """
    if os.geteuid() != 0:
        return f"{tier} needs root ({needs_root})"
    if which("ip") is None:
        return f"{tier} needs iproute2's `ip`"
    name = f"{prefix}probe"
    try:
        proc = run("ip", "netns", "add", name, check=False)
    except OSError as e:
        return f"`ip netns add` cannot run: {e}"
    if proc.returncode != 0:
        return f"`ip netns add` failed: {proc.stderr.strip() or proc.returncode}"
    steps = [(["link", "add", "v-probe", "type", "veth", "peer", "name", "v-probep"],
              "a veth pair")]
    if bridges:
        steps = [(["link", "add", "br-probe", "type", "bridge"], "a bridge"), *steps,
                 (["link", "set", "v-probe", "master", "br-probe"], "a bridge port")]
    try:
        for argv, what in steps:
            p = run("ip", "-n", name, *argv, check=False)
            if p.returncode != 0:
                return f"cannot create {what} in a namespace: {p.stderr.strip()}"
    finally:
        run("ip", "netns", "del", name, check=False)
    return None


def netns_inode(name):
    """The inode of the named namespace (as /proc/PID/ns/net shows it), None when gone."""
    try:
        return os.stat(NETNS_DIR / name).st_ino
    except OSError:
        return None


def pids_in_netns(name):
    """PIDs of the processes whose network namespace is `name` (`ip netns pids`)."""
    p = run("ip", "netns", "pids", name, check=False)
    return [int(x) for x in p.stdout.split()] if p.returncode == 0 else []


def kill_processes_in(names):
    """SIGKILLs (by PID) whatever still runs in the named namespaces (ours); returns
    [(namespace, pid, comm)] of the processes it killed."""
    killed = []
    for name in names:
        for pid in pids_in_netns(name):
            comm = proc_comm(pid)
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append((name, pid, comm))
            except ProcessLookupError:
                pass
    return killed


def links_up(name):
    """True when every link but lo in the namespace has carrier (LOWER_UP)."""
    out = run("ip", "-n", name, "-j", "link", "show").stdout
    return all("LOWER_UP" in link.get("flags", []) for link in json.loads(out or "[]")
               if link["ifname"] != "lo")


class Netns:
    """One network namespace created by its user (see NetnsFactory)."""

    def __init__(self, name, workdir):
        self.name = name
        self._workdir = workdir

    def __repr__(self):
        return f"Netns({self.name})"

    def ip(self, *args, check=True):
        return run("ip", "-n", self.name, *args, check=check)

    def add_veth(self, ifname="ha-r1", peer=None):
        """A veth pair inside the namespace, both ends up (so it has carrier)."""
        peer = peer or ifname + "p"
        self.ip("link", "add", ifname, "type", "veth", "peer", "name", peer)
        self.ip("link", "set", ifname, "up")
        self.ip("link", "set", peer, "up")

    def add_veth_to(self, ifname, peer, peer_ns):
        """A veth pair: ifname here, peer in the namespace named peer_ns (both down)."""
        self.ip("link", "add", ifname, "type", "veth", "peer", "name", peer, "netns", peer_ns)

    def add_bridge(self, name):
        """A bridge without STP or multicast snooping (it floods RAs and VRRP), up."""
        self.ip("link", "add", name, "type", "bridge", "stp_state", "0", "mcast_snooping", "0")
        self.ip("link", "set", name, "up")

    def bridge_port(self, dev, bridge):
        """dev becomes a port of bridge, and up."""
        self.ip("link", "set", dev, "master", bridge)
        self.ip("link", "set", dev, "up")

    def sysctl(self, key, value):
        run("ip", "netns", "exec", self.name, "sysctl", "-qw", f"{key}={value}")

    def sysctl_get(self, *keys):
        """`sysctl -n` of each key inside the namespace (dotted, or a path with '/'),
        as a tuple of strings."""
        out = run("ip", "netns", "exec", self.name, "sysctl", "-n", *keys).stdout
        return tuple(out.split("\n")[:len(keys)])

    def inode(self):
        """The namespace's inode, as /proc/PID/ns/net of a process inside shows it."""
        return os.stat(NETNS_DIR / self.name).st_ino

    def add_addr(self, cidr, dev="ha-r1", *flags):
        self.ip("addr", "add", cidr, "dev", dev, *flags)

    def del_addr(self, cidr, dev="ha-r1"):
        self.ip("addr", "del", cidr, "dev", dev)

    def addr_info(self, cidr, dev="ha-r1"):
        """The `ip -j` entry for cidr on dev, or None when it is not there."""
        local, _, plen = cidr.partition("/")
        family = "-6" if ":" in local else "-4"
        out = self.ip("-j", family, "addr", "show", "dev", dev).stdout
        for link in json.loads(out or "[]"):
            for a in link.get("addr_info", []):
                if a.get("local") == local and str(a.get("prefixlen")) == plen:
                    return a
        return None

    def has_addr(self, dev, addr):
        """True when addr (no prefix length) is on dev."""
        out = self.ip("-j", "addr", "show", "dev", dev, check=False).stdout
        return any(a.get("local") == addr
                   for link in json.loads(out or "[]") for a in link.get("addr_info", []))

    def batch_file(self, lines, label="batch"):
        path = self._workdir / f"{self.name}-{label}.ip"
        path.write_text("".join(line + "\n" for line in lines))
        return path

    def batch(self, lines, label="batch"):
        """Runs `ip -n NS -batch FILE` and waits for it."""
        self.ip("-batch", self.batch_file(lines, label))

    def batch_async(self, lines, label="batch"):
        """Starts `ip -n NS -batch FILE`; the caller waits for the Popen."""
        path = self.batch_file(lines, label)
        return subprocess.Popen(["ip", "-n", self.name, "-batch", str(path)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


_counter = itertools.count(1)  # NetnsFactory.name(): prefix + a number (+ label)


class NetnsFactory:
    """Creates namespaces named prefix… and deletes every one of them at the end."""

    def __init__(self, workdir, prefix):
        self._workdir = workdir
        self._prefix = prefix
        self._names = []

    @property
    def names(self):
        """Every name given out or created, in order (until cleanup())."""
        return list(self._names)

    def name(self, label=""):
        """A fresh name (not created yet; still cleaned up if it gets created)."""
        name = f"{self._prefix}{next(_counter)}{'-' + label if label else ''}"
        self._names.append(name)
        return name

    def create(self, label="", name=None, veths=("ha-r1",), lo_up=False):
        """`ip netns add` (a fresh name, or `name`) plus a veth pair per name in veths
        (and lo up with lo_up)."""
        name = name or self.name(label)
        if name not in self._names:
            self._names.append(name)
        run("ip", "netns", "add", name)
        ns = Netns(name, self._workdir)
        if lo_up:
            ns.ip("link", "set", "lo", "up")
        for ifname in veths:
            ns.add_veth(ifname)
        return ns

    def delete(self, ns):
        run("ip", "netns", "del", ns.name if isinstance(ns, Netns) else ns)

    def cleanup(self):
        """Deletes every namespace of ours still there; returns the errors."""
        errors = []
        for name in self._names:
            if (NETNS_DIR / name).exists():
                proc = run("ip", "netns", "del", name, check=False)
                if proc.returncode != 0:
                    errors.append(f"{name}: {proc.stderr.strip()}")
        self._names.clear()
        return errors
