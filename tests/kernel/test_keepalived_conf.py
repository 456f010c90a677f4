"""Routers from keepalived.conf ([keepalived] config): discovered, followed live as the
files change, bad files reported with file and line while the last good set stays.

No keepalived runs here: the VIPs are added with `ip addr`, as keepalived would add
them (tests/e2e/test_keepalived_host.py runs the real one)."""

import json
import subprocess
import time

import pytest

from helpers import havipctl_binary, run, wait_for

pytestmark = pytest.mark.usefixtures("kernel_ok")


def instance(name, vrid, vip, interface="ha-r1", more=""):
    return (f"vrrp_instance {name} {{\n    interface {interface}\n"
            f"    virtual_router_id {vrid}\n{more}    virtual_ipaddress {{\n"
            f"        {vip}\n    }}\n}}\n")


def start(havipd, workdir, ns, keepalived_conf, routers=""):
    d = havipd(start=False)
    d.write_raw_config(f"""[daemon]
state_dir = "{d.state_dir}"
run_dir = "{d.dir / 'run'}"
control_socket = "{d.control_path}"
hold_down_ms = 0
track_speaker = false

[keepalived]
config = "{keepalived_conf}"
namespace = "{ns.name}"
{routers}""")
    d.start()
    return d


def status(d):
    p = run(str(havipctl_binary()), "--socket", str(d.control_path), "status", "--json")
    return {r["name"]: r for r in json.loads(p.stdout)["routers"]}


def test_every_instance_is_a_router_and_changes_are_followed_live(netns, havipd, workdir):
    ns = netns.create()
    kdir = workdir / "keepalived"
    (kdir / "conf.d").mkdir(parents=True)
    conf = kdir / "keepalived.conf"
    conf.write_text("global_defs {\n    router_id test\n}\n"
                    + instance("VI_1", 1, "169.254.0.1/24")
                    + f"include {kdir}/conf.d/*.conf\n")
    d = start(havipd, workdir, ns, conf)
    assert set(status(d)) == {"VI_1"}
    assert d.state("VI_1") == "backup"
    ns.add_addr("169.254.0.1/24")
    d.wait_state("VI_1", "primary")

    # A file matching the include's glob: a new router, VI_1 untouched.
    (kdir / "conf.d" / "two.conf").write_text(instance("VI_2", 2, "169.254.0.2/24"))
    d.wait_log("changed: 2 router(s) from it (was 1)")
    wait_for(lambda: set(status(d)) == {"VI_1", "VI_2"}, what="VI_2 in the status")
    d.wait_state("VI_2", "backup")
    ns.add_addr("169.254.0.2/24")
    d.wait_state("VI_2", "primary")
    d.wait_transitions("VI_1", [("unknown", "backup"), ("backup", "primary")])

    # A file keepalived would reject: said with its file and line; nothing changes.
    (kdir / "conf.d" / "two.conf").write_text(
        instance("VI_2", 300, "169.254.0.2/24"))
    d.wait_log(f"{kdir}/conf.d/two.conf:3:")
    d.wait_log("changed and cannot be used; the last good set of 2 router(s) from it stays")
    assert set(status(d)) == {"VI_1", "VI_2"}
    assert status(d)["VI_2"]["role"] == "primary"

    # Fixed, with another VIP: the router changes (the new VIP is not there: backup).
    (kdir / "conf.d" / "two.conf").write_text(instance("VI_2", 2, "169.254.0.22/24"))
    wait_for(lambda: status(d)["VI_2"]["role"] == "backup", what="VI_2 with its new VIP")
    # Removed: the router goes.
    (kdir / "conf.d" / "two.conf").unlink()
    wait_for(lambda: set(status(d)) == {"VI_1"}, what="VI_2 gone from the status")
    assert status(d)["VI_1"]["role"] == "primary"
    d.wait_transitions("VI_1", [("unknown", "backup"), ("backup", "primary")])


def test_an_attached_router_gets_effects_and_a_chosen_signal_vip(netns, havipd, workdir):
    ns = netns.create()
    conf = workdir / "keepalived.conf"
    conf.write_text(instance("lan", 5, "10.0.0.1/24\n        10.0.1.1/24 dev ha-r1"))
    hook_out = workdir / "hook.out"
    d = start(havipd, workdir, ns, conf, routers=f"""
[[router]]
name = "lan"
vip = "10.0.1.1/24"
[[router.hook]]
command = ["/bin/sh", "-c", "echo $HAVIP_ROLE >> {hook_out}"]
""")
    ns.add_addr("10.0.0.1/24")
    time.sleep(0.3)
    assert d.state("lan") == "backup", "10.0.0.1 is not the chosen signal VIP"
    ns.add_addr("10.0.1.1/24")
    d.wait_state("lan", "primary")
    wait_for(lambda: hook_out.exists() and "primary" in hook_out.read_text(),
             what="the attached hook to run")
    s = status(d)["lan"]
    assert s["namespace"] == ns.name


def test_use_vmac_and_sync_groups(netns, havipd, workdir):
    ns = netns.create()
    ns.ip("link", "add", "vrrp.7", "link", "ha-r1", "type", "macvlan", "mode", "private")
    ns.ip("link", "set", "vrrp.7", "up")
    conf = workdir / "keepalived.conf"
    conf.write_text("vrrp_sync_group G1 {\n    group {\n        VI_7\n        VI_8\n    }\n}\n"
                    + instance("VI_7", 7, "192.0.2.7/24", more="    use_vmac\n")
                    + instance("VI_8", 8, "fd00:8::1/64", more="    native_ipv6\n"))
    d = start(havipd, workdir, ns, conf)
    s = status(d)
    assert s["VI_7"]["sync_group"] == "G1"
    ns.add_addr("192.0.2.7/24", "vrrp.7")
    d.wait_state("VI_7", "primary")
    ns.add_addr("fd00:8::1/64", "ha-r1", "nodad")
    d.wait_state("VI_8", "primary")


def check_config(havipd_bin, path):
    return subprocess.run([str(havipd_bin), "--check-config", "--config", str(path)],
                          capture_output=True, text=True, timeout=10)


def test_check_config_reads_keepalived_conf(havipd_bin, workdir):
    conf = workdir / "keepalived.conf"
    conf.write_text(instance("VI_1", 1, "10.0.0.1/24") + instance("VI_2", 2, "10.0.0.2/24"))
    toml = workdir / "havip.toml"
    toml.write_text(f'[keepalived]\nconfig = "{conf}"\n[[router]]\nname = "VI_2"\n')
    p = check_config(havipd_bin, toml)
    assert p.returncode == 0, p.stderr
    assert f"ok, 2 routers, 2 of them from {conf} (2 vrrp_instance(s))" in p.stdout

    toml.write_text(f'[keepalived]\nconfig = "{conf}"\n[[router]]\nname = "VI_3"\n')
    p = check_config(havipd_bin, toml)
    assert p.returncode == 1
    assert ("router VI_3 in " + str(toml) + " has no interface, so it attaches to the "
            "vrrp_instance of that name, but " + str(conf) + " has none") in p.stderr

    conf.write_text(instance("VI_1", 1, "10.0.0.1/24") + "vrrp_instance VI_2 {\n")
    p = check_config(havipd_bin, toml)
    assert p.returncode == 1
    assert f"{conf}:" in p.stderr and "never closed" in p.stderr, p.stderr
