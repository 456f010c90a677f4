"""havipd's keepalived.conf reader against keepalived's own: `keepalived -t` (config
test, exit 0 or 5) and `havipd --check-config` with `[keepalived] config` must accept
and refuse the same files (issue 14: "a file keepalived would reject is reported").

keepalived checks interfaces and addresses against the kernel, so both run in a
throwaway namespace with eth0/eth1 (a veth pair, up, with an IPv4 address)."""

import subprocess

import pytest

from helpers import run
from havip_testlib.proc import which

pytestmark = pytest.mark.usefixtures("kernel_ok")

V4 = "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n{more}" \
     " virtual_ipaddress {{\n  {vip}\n }}\n}}\n"


def v4(name="A", vrid=5, vip="10.0.0.100/24", more=""):
    return V4.format(name=name, vrid=vrid, vip=vip, more=more)


# (id, files {name: text}, keepalived accepts). The main file is "keepalived.conf";
# "{dir}" is replaced by the directory the files are written to.
CASES = [
    ("basic", {"keepalived.conf": v4()}, True),
    ("two instances, priority, advert_int, nopreempt",
     {"keepalived.conf": v4(more=" priority 150\n advert_int 0.5\n version 3\n state BACKUP\n"
                            " nopreempt\n") + v4("B", 6, "10.0.0.101/24")}, True),
    ("ipv6 instance", {"keepalived.conf": "vrrp_instance S {\n interface eth0\n"
                                          " virtual_router_id 7\n virtual_ipaddress {\n"
                                          "  fe80::7/64\n  fd00:7::1/64\n }\n}\n"}, True),
    ("include glob", {"keepalived.conf": v4() + "include {dir}/conf.d/*.conf\n",
                      "conf.d/b.conf": v4("B", 6, "10.0.0.101/24")}, True),
    ("sync group and track file",
     {"keepalived.conf": "track_file t {\n file {dir}/t\n}\n"
                         "vrrp_sync_group G {\n group {\n  A\n  B\n }\n}\n"
                         + v4(more=" track_file {\n  t weight 0\n }\n")
                         + v4("B", 6, "10.0.0.101/24")}, True),
    ("unicast", {"keepalived.conf": v4(more=" unicast_src_ip 10.0.0.2\n"
                                            " unicast_peer {\n  10.0.0.3\n }\n")}, True),
    ("definitions", {"keepalived.conf": "$IF=eth0\nvrrp_instance A {\n interface $IF\n"
                                        " virtual_router_id 5\n virtual_ipaddress {\n"
                                        "  10.0.0.100/24\n }\n}\n"}, True),
    ("vrid 300", {"keepalived.conf": v4(vrid=300)}, False),
    ("priority 300", {"keepalived.conf": v4(more=" priority 300\n")}, False),
    ("version 4", {"keepalived.conf": v4(more=" version 4\n")}, False),
    ("no virtual_router_id", {"keepalived.conf": "vrrp_instance A {\n interface eth0\n}\n"},
     False),
    ("same name twice", {"keepalived.conf": v4() + v4(vrid=6, vip="10.0.0.101/24")}, False),
    ("same vrid on one interface", {"keepalived.conf": v4() + v4("B", 5, "10.0.0.101/24")},
     False),
    ("unknown sync group member",
     {"keepalived.conf": "vrrp_sync_group G {\n group {\n  A\n  Z\n }\n}\n" + v4()}, False),
    ("undefined track file",
     {"keepalived.conf": v4(more=" track_file {\n  nowhere weight 0\n }\n")}, False),
    ("bad address", {"keepalived.conf": v4(vip="10.0.0.300/24")}, False),
    ("extra brace", {"keepalived.conf": v4() + "}\n"}, False),
]


@pytest.fixture
def ns(netns):
    n = netns.create(veths=())
    n.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
    for dev in ("eth0", "eth1", "lo"):
        n.ip("link", "set", dev, "up")
    n.ip("addr", "add", "10.0.0.2/24", "dev", "eth0")
    return n


@pytest.mark.parametrize("files,accepts", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_havipd_and_keepalived_agree(ns, havipd_bin, workdir, files, accepts):
    if which("keepalived") is None:
        pytest.skip("keepalived is not installed (package keepalived)")
    for name, text in files.items():
        path = workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("{dir}", str(workdir)))
    main = workdir / "keepalived.conf"
    ka = subprocess.run(["ip", "netns", "exec", ns.name, which("keepalived"), "-t", "-l",
                         "-f", str(main)], capture_output=True, text=True, timeout=30)
    assert ka.returncode in (0, 5), ka.stdout + ka.stderr
    assert (ka.returncode == 0) == accepts, \
        f"keepalived -t exited {ka.returncode}: the case's expectation is wrong\n{ka.stdout}"
    toml = workdir / "havip.toml"
    toml.write_text(f'[keepalived]\nconfig = "{main}"\n')
    hv = run(str(havipd_bin), "--check-config", "--config", str(toml), check=False)
    assert (hv.returncode == 0) == accepts, \
        f"havipd --check-config exited {hv.returncode}:\n{hv.stdout}{hv.stderr}\n" \
        f"keepalived -t exited {ka.returncode}:\n{ka.stdout}{ka.stderr}"
    if not accepts:
        assert f"{workdir}/" in hv.stderr and ".conf:" in hv.stderr, hv.stderr
