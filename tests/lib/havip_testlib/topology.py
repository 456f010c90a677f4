"""The topology of tests/e2e and bench/ra_gap.py: a Neutron-like HA router pair.

One namespace per box; `sw` plays the switches of both networks:

        r1 (router)                  sw                        r2 (router)
    ha-r1 169.254.192.1/18 ── sw-ha-r1 ┐ br-ha ┌ sw-ha-r2 ── ha-r2 169.254.192.2/18
    qr-r1 (MAC M, no auto LLA) ─ sw-qr-r1 ┐ br-int ┌ sw-qr-r2 ─ qr-r2 (MAC M, no auto LLA)
    qg-r1 ── qg-r1p (both in r1)          sw-client                   qg-r2 ── qg-r2p
                                             │
                                        eth0 (client)

As in Neutron, both routers' internal ports have the same MAC M (it is one Neutron
port), the kernel generates no IPv6 link-local on them (`addrgenmode none`), and the
link-local fe80::<EUI-64 of M> is a keepalived `virtual_ipaddress_excluded` entry: it
lives only on the VRRP master, so radvd on the primary — whichever router that is —
always sends from the same source address, and clients keep the same default router.
radvd advertises PREFIX6 every 3 to 4 s (havipd's [[router.radvd.interface]], or
radvd_conf() for a radvd started by someone else).
"""

import json
from pathlib import Path

from .netns import NETNS_DIR, NetnsFactory, kill_processes_in, links_up
from .proc import run, wait_for, which

# Neutron's base MAC is fa:16:3e; its EUI-64 link-local flips the U/L bit (fa -> f8).
QR_MAC = "fa:16:3e:00:0e:2e"
VIP = "169.254.0.1/24"
PREFIX6 = "fd00:1::/64"
ROUTERS = ("r1", "r2")
RA_MIN_INTERVAL, RA_MAX_INTERVAL = 3, 4


def lla_of(mac):
    """The EUI-64 IPv6 link-local address the kernel derives from mac."""
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 0x02
    words = [(b[0] << 8) | b[1], (b[2] << 8) | 0xFF, 0xFE00 | b[3], (b[4] << 8) | b[5]]
    return "fe80::" + ":".join(f"{w:x}" for w in words)


QR_LLA = lla_of(QR_MAC)


class Topology:
    """The namespaces of one run, named prefix<role>; builds them and deletes every one
    of them (cleanup)."""

    def __init__(self, workdir, prefix):
        self.workdir = workdir
        self.prefix = prefix
        self.names = {}      # role -> namespace name
        self.netns = {}      # role -> Netns
        self._factory = NetnsFactory(workdir, prefix)

    def ns(self, role):
        return self.names[role]

    def add_ns(self, role):
        """The namespace prefix<role>, with lo up; returns its name."""
        name = f"{self.prefix}{role}"
        self.names[role] = name
        self.netns[role] = self._factory.create(name=name, veths=(), lo_up=True)
        return name

    def ip(self, role, *args, check=True):
        return run("ip", "-n", self.names[role], *args, check=check)

    def sysctl(self, role, key):
        """A sysctl's value as read inside the namespace (key with dots or slashes)."""
        path = "/proc/sys/" + key.replace(".", "/") if "/" not in key else "/proc/sys/" + key
        return run("ip", "netns", "exec", self.names[role], "cat", path).stdout.strip()

    def set_sysctl(self, role, key, value):
        self.netns[role].sysctl(key, value)

    def build(self, routers=ROUTERS, all_forwarding=False):
        """The topology above. all_forwarding: net.ipv6.conf.all.forwarding=1 in the router
        namespaces from the start, as Neutron's Namespace.create() does."""
        for role in ("sw", *routers, "client"):
            self.add_ns(role)
        if all_forwarding:
            for r in routers:
                self.set_sysctl(r, "net.ipv6.conf.all.forwarding", "1")
        sw = self.netns["sw"]
        for br in ("br-ha", "br-int"):
            sw.add_bridge(br)
        for i, r in enumerate(routers, start=1):
            ns = self.names[r]
            # HA network
            sw.add_veth_to(f"sw-ha-{r}", f"ha-{r}", ns)
            self.ip(r, "addr", "add", f"169.254.192.{i}/18", "dev", f"ha-{r}")
            # internal network: the same MAC on both routers, no kernel link-local
            sw.add_veth_to(f"sw-qr-{r}", f"qr-{r}", ns)
            self.ip(r, "link", "set", f"qr-{r}", "address", QR_MAC, "addrgenmode", "none")
            # gateway port (only its sysctls matter here)
            self.ip(r, "link", "add", f"qg-{r}", "type", "veth", "peer", "name", f"qg-{r}p")
            for dev in (f"ha-{r}", f"qr-{r}", f"qg-{r}", f"qg-{r}p"):
                self.ip(r, "link", "set", dev, "up")
            sw.bridge_port(f"sw-ha-{r}", "br-ha")
            sw.bridge_port(f"sw-qr-{r}", "br-int")
        # the client: DAD off so rdisc6 has a usable link-local source at once
        sw.add_veth_to("sw-client", "eth0", self.names["client"])
        self.set_sysctl("client", "net.ipv6.conf.eth0.accept_dad", "0")
        self.ip("client", "link", "set", "eth0", "up")
        sw.bridge_port("sw-client", "br-int")

    def wait_carrier(self, timeout=5.0):
        wait_for(lambda: all(links_up(name) for name in self.names.values()), timeout,
                 interval=0.05, what="carrier on every link")

    def has_addr(self, role, dev, addr):
        return self.netns[role].has_addr(dev, addr)

    def cleanup(self):
        """Kills (by PID) whatever still runs in our namespaces, deletes them; returns
        [(namespace, pid, comm)] of the processes it had to kill."""
        killed = kill_processes_in(self.names.values())
        for name in self.names.values():
            if (NETNS_DIR / name).exists():
                run("ip", "netns", "del", name, check=False)
        return killed


def rdisc6_argv(ns, retries, timeout_ms, ifname="eth0"):
    """rdisc6 in namespace ns: one RA solicited on ifname, numeric output."""
    return ["ip", "netns", "exec", ns, which("rdisc6"), "-1", "-n",
            "-r", str(retries), "-w", str(timeout_ms), ifname]


def rdisc6(topo, timeout_ms=1500, retries=2):
    """Solicits one RA from the client; returns (source address or None, output)."""
    p = run(*rdisc6_argv(topo.ns("client"), retries, timeout_ms), check=False,
            timeout=retries * timeout_ms / 1000 + 5)
    src = None
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("from "):
            src = line.split()[1]
    return src, (p.stdout + p.stderr).strip()


def havipd_config(topo, state_dir, run_dir, hold_down_ms, routers=ROUTERS, daemon=(),
                  router=lambda r: ()):
    """havip.toml: one havipd watching both routers (two hosts merged into one), running
    radvd on each primary's qr- port. daemon: more [daemon] lines; router(r): more lines
    for router r's table."""
    lines = ["[daemon]",
             f"state_dir = {json.dumps(str(state_dir))}",
             f"control_socket = {json.dumps(str(Path(run_dir) / 'ctl.sock'))}",
             f"run_dir = {json.dumps(str(run_dir))}",
             f"hold_down_ms = {hold_down_ms}",
             f"radvd_binary = {json.dumps(which('radvd'))}", *daemon]
    for r in routers:
        lines += ["",
                  "[[router]]",
                  f'name = "{r}"',
                  f"namespace = {json.dumps(topo.ns(r))}",
                  f'interface = "ha-{r}"',
                  f'vip = "{VIP}"',
                  f'gateway_interface = "qg-{r}"',
                  *router(r),
                  "",
                  "[[router.radvd.interface]]",
                  f'name = "qr-{r}"',
                  f'prefixes = [{{ prefix = "{PREFIX6}", mode = "slaac" }}]',
                  f"min_interval = {RA_MIN_INTERVAL}",
                  f"max_interval = {RA_MAX_INTERVAL}"]
    return "\n".join(lines) + "\n"


def radvd_conf(router):
    """radvd.conf for router's qr- port: what havipd renders for havipd_config()'s
    [[router.radvd.interface]] (slaac, 3/4 s)."""
    return (f"interface qr-{router} {{\n    AdvSendAdvert on;\n"
            f"    MinRtrAdvInterval {RA_MIN_INTERVAL};\n"
            f"    MaxRtrAdvInterval {RA_MAX_INTERVAL};\n    prefix {PREFIX6} {{\n"
            f"        AdvOnLink on;\n        AdvAutonomous on;\n    }};\n}};\n")
