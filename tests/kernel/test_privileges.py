"""Missing privileges are said at start-up, not hidden: without CAP_SYS_ADMIN a
router in a named namespace cannot be read, so havipd exits before READY
naming the capability and the routers; routers in havipd's own namespace need
no setns and are served; other lacks are warnings naming the effect."""

import os

import pytest

from helpers import router, wait_for

pytestmark = pytest.mark.usefixtures("kernel_ok")

VIP = "169.254.0.1/24"
NOBODY = 65534


def without(*caps, user=None):
    """setpriv dropping `caps` from the bounding set (root then execs havipd
    with exactly the rest), optionally as another uid."""
    argv = ["setpriv", "--inh-caps=-all", "--bounding-set=" + ",".join(f"-{c}" for c in caps)]
    if user is not None:
        argv += [f"--reuid={user}", f"--regid={user}", "--clear-groups"]
    return argv


def test_without_cap_sys_admin_a_router_in_a_namespace_is_fatal(netns, havipd):
    ns = netns.create()
    d = havipd([router("r1", ns), router("r2", None)], start=False)
    d.start(wait_ready=False, wrapper=without("sys_admin"))
    wait_for(lambda: not d.running(), 5, what=lambda: "havipd to exit\n" + d.log_text())
    assert d.proc.returncode == 1, d.log_text()
    assert d.log_has(f"CAP_SYS_ADMIN is missing: it is needed to enter the routers' network "
                     f"namespaces (setns) for r1 (in {ns.name}); without it nothing of them "
                     f"can be read"), d.log_text()
    assert d.notified("READY=1") is None, d.notifications
    assert d.state("r1") is None and d.state("r2") is None


def test_host_namespace_routers_need_neither_cap_sys_admin_nor_cap_net_admin(netns, havipd):
    ns = netns.create()
    # `ip netns exec` makes ns havipd's own namespace: r1 needs no setns.
    d = havipd([router("r1", None)], start=False)
    d.start(wrapper=["ip", "netns", "exec", ns.name, *without("sys_admin", "net_admin")])
    assert d.state("r1") == "backup"
    assert d.log_has("CAP_NET_ADMIN is missing: the netlink receive buffer cannot be forced "
                     "to netlink_receive_buffer"), d.log_text()
    assert not d.log_has("CAP_SYS_ADMIN"), d.log_text()
    ns.add_addr(VIP)
    d.wait_state("r1", "primary")


def test_a_reload_adding_a_router_in_a_namespace_without_cap_sys_admin_is_rejected(
        netns, havipd):
    ns, other = netns.create("a"), netns.create("b")
    d = havipd([router("r1", None)], start=False)
    d.start(wrapper=["ip", "netns", "exec", ns.name, *without("sys_admin")])
    d.write_config([router("r1", None), router("r2", other)])
    d.reload()
    d.wait_log("reload rejected: CAP_SYS_ADMIN is missing: it is needed to enter the routers' "
               f"network namespaces (setns) for r2 (in {other.name})")
    ns.add_addr(VIP)
    d.wait_state("r1", "primary")  # the running configuration serves on


def test_not_root_is_said(netns, havipd, workdir):
    ns = netns.create()
    d = havipd([router("r1", None, sysctl=[{"key": "net.ipv4.conf.ha-r1.arp_ignore",
                                             "primary": "0", "backup": "1"}])], start=False)
    os.chmod(workdir, 0o755)
    os.chmod(d.dir, 0o777)  # its state_dir and run_dir are created by that uid
    d.start(wait_ready=False,
            wrapper=["ip", "netns", "exec", ns.name, *without("sys_admin", user=NOBODY)])
    d.wait_state("r1", "backup")
    assert d.log_has("not running as root and CAP_NET_ADMIN is missing: the routers' sysctls "
                     "(/proc/sys/net) cannot be written"), d.log_text()
    assert (d.state_dir / ".havipd.lock").stat().st_uid == NOBODY
