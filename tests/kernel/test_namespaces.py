"""Many namespaces from one havipd: independence, appearing, vanishing, overruns."""

import os
import signal

import pytest

from helpers import router

pytestmark = pytest.mark.usefixtures("kernel_ok")

VIP = "169.254.0.1/24"


def file_id(path):
    st = os.stat(path)
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def test_three_namespaces_are_independent(netns, havipd):
    spaces = {name: netns.create(name) for name in ("r1", "r2", "r3")}
    spaces["r3"].add_addr(VIP)
    d = havipd([router(name, ns) for name, ns in spaces.items()])
    assert {n: d.state(n) for n in spaces} == {"r1": "backup", "r2": "backup", "r3": "primary"}
    untouched = {n: file_id(d.state_path(n)) for n in ("r1", "r3")}

    spaces["r2"].add_addr(VIP)
    d.wait_state("r2", "primary")
    spaces["r2"].del_addr(VIP)
    d.wait_state("r2", "backup")
    d.wait_transitions("r2", [("unknown", "backup"), ("backup", "primary"), ("primary", "backup")])

    # Same inode, mtime and size: the other routers' files were not rewritten.
    assert {n: file_id(d.state_path(n)) for n in ("r1", "r3")} == untouched
    assert {n: d.state(n) for n in spaces} == {"r1": "backup", "r2": "backup", "r3": "primary"}
    assert len(d.transitions("r1")) == 1 and len(d.transitions("r3")) == 1, d.log_text()


def test_namespace_created_after_start_is_picked_up(netns, havipd):
    present = netns.create("present")
    later = netns.name("later")
    d = havipd([router("r1", present), router("r2", later)])

    # A missing namespace does not hold READY back; its router stays unknown.
    assert d.ready_counts() == (2, 0, 1, 1), d.notifications
    assert d.state("r1") == "backup"
    assert d.state("r2") is None
    assert d.log_has(f"namespace {later} does not exist yet")

    ns = netns.create(name=later, veths=())
    d.wait_state("r2", "backup")  # dumped: no interface, no VIP
    ns.add_veth("ha-r1")
    ns.add_addr(VIP)
    d.wait_state("r2", "primary")
    d.wait_transitions("r2", [("unknown", "backup"), ("backup", "primary")])
    d.wait_status(2, 1, 1)


def test_namespace_deleted_is_dropped_and_others_keep_working(netns, havipd):
    doomed, other = netns.create("doomed"), netns.create("other")
    doomed.add_addr(VIP)
    d = havipd([router("r1", doomed), router("r2", other)])
    assert d.state("r1") == "primary" and d.state("r2") == "backup"
    r2_file = file_id(d.state_path("r2"))

    netns.delete(doomed)
    d.wait_log(f"r1: primary -> unknown (namespace {doomed.name} gone: was deleted)")
    d.wait_transitions("r1", [("unknown", "primary"), ("primary", "unknown")])
    # The state file keeps its last content; the other router is untouched.
    assert d.state("r1") == "primary"
    assert file_id(d.state_path("r2")) == r2_file
    d.wait_status(2, 0, 1, 1)

    # The daemon still serves the remaining namespace...
    other.add_addr(VIP)
    d.wait_state("r2", "primary")
    # ...and a namespace re-created under the same name is watched again.
    again = netns.create(name=doomed.name)
    d.wait_state("r1", "backup")
    again.add_addr(VIP)
    d.wait_state("r1", "primary")
    d.wait_transitions("r1", [("unknown", "primary"), ("primary", "unknown"),
                              ("unknown", "backup"), ("backup", "primary")])


def overrun_batch(vip, extra_net, flaps, end_present):
    """4 * flaps address changes touching vip (present before), ending as asked."""
    lines = []
    for i in range(flaps):
        extra = f"10.{extra_net}.{i // 250}.{i % 250 + 1}/32"
        lines += [f"addr del {vip} dev ha-r1", f"addr add {extra} dev ha-r1p",
                  f"addr add {vip} dev ha-r1", f"addr del {extra} dev ha-r1p"]
    if not end_present:
        lines.append(f"addr del {vip} dev ha-r1")
    return lines


def test_netlink_overrun_resyncs_to_the_right_final_state(netns, havipd):
    final = {"r1": True, "r2": False, "r3": True}
    spaces = {name: netns.create(name) for name in final}
    for ns in spaces.values():
        ns.add_addr(VIP)  # every router starts primary; r2 must end backup
    routers = [router(name, ns) for name, ns in spaces.items()]
    # A second router per namespace on another VIP: once it flips after the
    # burst, havipd has read (or re-dumped) everything before it.
    routers += [router(f"{name}-sentinel", ns, vip="169.254.0.9/24")
                for name, ns in spaces.items()]
    d = havipd(routers, netlink_receive_buffer=4096)
    assert all(d.state(name) == "primary" for name in final)

    # 3 x 2 x 85 x 4 = 2040 changes. The first half runs while havipd is
    # stopped, so its 4 KiB socket buffer overruns for sure; the second half
    # runs while havipd re-reads the namespaces.
    def burst(half, end_present):
        procs = [ns.batch_async(overrun_batch(VIP, 2 * k + half, 85, end_present(name)),
                                label=f"burst{half}")
                 for k, (name, ns) in enumerate(spaces.items())]
        for p in procs:
            out, _ = p.communicate(timeout=60)
            assert p.returncode == 0, out

    d.signal(signal.SIGSTOP)
    try:
        burst(1, lambda name: True)
    finally:
        d.signal(signal.SIGCONT)
    burst(2, lambda name: final[name])
    for ns in spaces.values():
        ns.add_addr("169.254.0.9/24")

    d.wait_states({f"{name}-sentinel": "primary" for name in final}, timeout=10)
    d.wait_states({name: "primary" if up else "backup" for name, up in final.items()})
    for ns in spaces.values():
        assert d.log_has(f"namespace {ns.name}: netlink receive buffer overrun; "
                         "re-reading links and addresses"), d.log_text()
    d.wait_status(6, 5, 1)
