"""keepalived as Neutron runs it, for the topology of topology.py."""

import os
import signal
import subprocess

from .netns import netns_inode
from .proc import netns_inode_of, proc_comm, read_lines, which
from .topology import QR_LLA, VIP


def keepalived_conf(router, router_id, priority=50, global_defs=(), instance=()):
    """keepalived.conf for router (r1, r2) in the topology: Neutron's template
    (neutron/agent/linux/keepalived.py: state BACKUP, nopreempt, equal priority, the
    link-local of the qr- port as a virtual_ipaddress_excluded), with advert_int 1 for
    speed. global_defs, instance: more lines for global_defs and for the vrrp_instance
    (e.g. notify_master "…").

    keepalived adds IPv6 VIPs with IFA_F_NODAD and ignores `scope` for them, so the
    link-local is usable at once and carries no scope keyword here."""
    more_global = "".join(f"    {line}\n" for line in global_defs)
    more_instance = "".join(f"    {line}\n" for line in instance)
    return f"""\
global_defs {{
    router_id {router_id}
{more_global}}}
vrrp_instance VR_1 {{
    state BACKUP
    interface ha-{router}
    virtual_router_id 1
    priority {priority}
    garp_master_delay 60
    nopreempt
    advert_int 1
    track_interface {{
        ha-{router}
    }}
    virtual_ipaddress {{
        {VIP} dev ha-{router}
    }}
    virtual_ipaddress_excluded {{
        {QR_LLA}/64 dev qr-{router}
    }}
{more_instance}}}
"""


class Keepalived:
    """keepalived --dont-fork --vrrp in a namespace, on workdir/keepalived-<router>.conf
    (written by write_config() when it starts; a subclass may write it otherwise).

    global_defs, instance: passed to keepalived_conf(); detailed_log: --log-detail and a
    line-buffered log (so a failure report shows it); preexec_fn: for Popen."""

    def __init__(self, router, ns, workdir, priority=50, router_id=None, global_defs=(),
                 instance=(), detailed_log=True, preexec_fn=None):
        self.router = router
        self.ns = ns
        self.dir = workdir
        self.conf = workdir / f"keepalived-{router}.conf"
        self.log = workdir / f"keepalived-{router}.log"
        self.files = {k: workdir / f"keepalived-{router}.{k}.pid"
                      for k in ("main", "vrrp", "checkers", "bfd")}
        self.proc = None
        self._log = None
        self.priority = priority
        self.router_id = router_id or router
        self.global_defs = global_defs
        self.instance = instance
        self.detailed_log = detailed_log
        self.preexec_fn = preexec_fn

    def write_config(self):
        self.conf.write_text(keepalived_conf(self.router, self.router_id, self.priority,
                                             self.global_defs, self.instance))

    def start(self):
        self.write_config()
        self._log = open(self.log, "a")
        # `ip netns exec` (and `stdbuf`, which makes the log line-buffered) exec keepalived
        # in place: the Popen PID is keepalived's.
        stdbuf, detail = [], []
        if self.detailed_log:
            stdbuf = [which("stdbuf"), "-oL"] if which("stdbuf") else []
            detail = ["--log-detail"]
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, *stdbuf, which("keepalived"), "--dont-fork",
             "--log-console", *detail, "--no-syslog", "--vrrp",
             "--use-file", str(self.conf),
             "--pid", str(self.files["main"]), "--vrrp_pid", str(self.files["vrrp"]),
             "--checkers_pid", str(self.files["checkers"]), "--bfd_pid", str(self.files["bfd"])],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            preexec_fn=self.preexec_fn)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def vrrp_child(self):
        try:
            pid = int(self.files["vrrp"].read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if proc_comm(pid) == "keepalived" else None

    def terminate(self):
        """SIGTERM to keepalived's parent, by PID (a clean stop: it removes the VIPs and
        sends a priority-0 advert)."""
        os.kill(self.proc.pid, signal.SIGTERM)

    def stop(self, timeout=5.0):
        """terminate(), SIGKILL after timeout; then SIGKILL to its VRRP child if that is
        still there, in our namespace."""
        if self.proc is None:
            return
        child = self.vrrp_child()
        if self.running():
            self.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if child and proc_comm(child) == "keepalived" and \
                netns_inode_of(child) == netns_inode(self.ns):
            os.kill(child, signal.SIGKILL)
        if self._log:
            self._log.close()
            self._log = None

    def log_tail(self, n=25):
        return "\n".join(read_lines(self.log)[-n:])
