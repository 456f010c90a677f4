"""The audit: for routers read from a keepalived.conf, what keepalived was told to
hold (virtual_ipaddress, virtual_ipaddress_excluded, virtual_routes) against what
the kernel has in the namespace. Addresses and routes are added and removed here
behind keepalived's back (no keepalived runs: `ip` plays it); a difference is
reported once it has lasted audit_grace_ms, in the status, as a metric and as a
journal entry with its MESSAGE_ID, and its end too."""

import json
import os
import subprocess
import sys
import time

import pytest

from fault_helpers import metrics
from helpers import havipctl_binary, run, wait_for

pytestmark = pytest.mark.usefixtures("kernel_ok")

HERE = os.path.dirname(os.path.abspath(__file__))
AUDIT = "18ce128c1aef466ab860e02f26d8ba48"
METRIC = 'havip_router_audit_findings{router="VI_1"}'

KEEPALIVED_CONF = """vrrp_instance VI_1 {
    interface ha-r1
    virtual_router_id 1
    virtual_ipaddress {
        169.254.0.1/24
    }
    virtual_ipaddress_excluded {
        203.0.113.5/24 dev qg-1
    }
    virtual_routes {
        default via 203.0.113.1 dev qg-1
        10.9.0.0/16 via 203.0.113.9 dev qg-1 table 100
    }
}
"""


def config(d, ns, conf, extra=""):
    return f"""[daemon]
state_dir = "{d.state_dir if d else '{state}'}"
control_socket = "{d.control_path if d else ''}"
hold_down_ms = 0
track_speaker = false
audit_interval_ms = 1000
audit_grace_ms = 1500
{extra}
[keepalived]
config = "{conf}"
namespace = "{ns.name}"
"""


def audit_of(d):
    p = run(str(havipctl_binary()), "--socket", str(d.control_path), "status", "--json")
    return {r["name"]: r["audit"] for r in json.loads(p.stdout)["routers"]}["VI_1"]


def findings(d):
    return sorted(f"{f['finding']} {f['what']}" for f in audit_of(d))


def take(ns):
    """What keepalived does on becoming master."""
    ns.add_addr("169.254.0.1/24")
    ns.add_addr("203.0.113.5/24", "qg-1")
    ns.ip("route", "add", "default", "via", "203.0.113.1", "dev", "qg-1")
    ns.ip("route", "add", "10.9.0.0/16", "via", "203.0.113.9", "dev", "qg-1", "table", "100")


def test_differences_behind_keepalived_back_are_reported_and_cleared(netns, havipd, workdir):
    ns = netns.create(veths=("ha-r1", "qg-1"))
    conf = workdir / "keepalived.conf"
    conf.write_text(KEEPALIVED_CONF)
    d = havipd(start=False)
    d.write_raw_config(config(d, ns, conf))
    d.start()
    d.wait_state("VI_1", "backup")
    assert audit_of(d) == []  # audited, and a backup holding nothing is in order

    take(ns)
    d.wait_state("VI_1", "primary")
    time.sleep(3.5)  # two graces and more: keepalived's settling was never a finding
    assert audit_of(d) == []
    assert metrics(d)[METRIC] == 0
    assert not d.log_has("audit:")

    # The default route goes: a black hole keepalived does not notice.
    ns.ip("route", "del", "default")
    wait_for(lambda: findings(d) == ["missing route default via 203.0.113.1 dev qg-1"],
             timeout=6, what="the missing default route in the status")
    assert metrics(d)[METRIC] == 1
    d.wait_log("VI_1: audit: primary is missing route default via 203.0.113.1 dev qg-1")
    p = run(str(havipctl_binary()), "--socket", str(d.control_path), "status")
    assert "audit:1" in p.stdout, p.stdout

    # The gateway address too (the kernel drops the routes through it).
    ns.del_addr("203.0.113.5/24", "qg-1")
    wait_for(lambda: findings(d) == [
        "missing address 203.0.113.5/24 dev qg-1",
        "missing route 10.9.0.0/16 via 203.0.113.9 dev qg-1 table 100",
        "missing route default via 203.0.113.1 dev qg-1"], timeout=6, what="three findings")
    assert metrics(d)[METRIC] == 3

    # Put back: each finding's end is said.
    take_back = [("addr", "add", "203.0.113.5/24", "dev", "qg-1"),
                 ("route", "add", "default", "via", "203.0.113.1", "dev", "qg-1"),
                 ("route", "add", "10.9.0.0/16", "via", "203.0.113.9", "dev", "qg-1",
                  "table", "100")]
    for args in take_back:
        ns.ip(*args)
    wait_for(lambda: audit_of(d) == [], timeout=4, what="the audit back in order")
    d.wait_log("VI_1: audit: no longer: primary is missing route default via 203.0.113.1")

    # Backup (the VIP gone) while the gateway address and routes stay: two
    # hosts would answer for them.
    ns.del_addr("169.254.0.1/24")
    d.wait_state("VI_1", "backup")
    wait_for(lambda: findings(d) == [
        "held address 203.0.113.5/24 dev qg-1",
        "held route 10.9.0.0/16 via 203.0.113.9 dev qg-1 table 100",
        "held route default via 203.0.113.1 dev qg-1"], timeout=6, what="the backup's findings")
    d.wait_log("VI_1: audit: backup still holds address 203.0.113.5/24 dev qg-1")


def test_no_audit_with_interval_zero(netns, havipd, workdir):
    ns = netns.create(veths=("ha-r1", "qg-1"))
    conf = workdir / "keepalived.conf"
    conf.write_text(KEEPALIVED_CONF)
    d = havipd(start=False)
    d.write_raw_config(config(d, ns, conf).replace("audit_interval_ms = 1000",
                                                   "audit_interval_ms = 0"))
    d.start()
    ns.add_addr("169.254.0.1/24")
    d.wait_state("VI_1", "primary")
    time.sleep(2.5)
    assert audit_of(d) is None  # not audited
    assert METRIC not in metrics(d)


def test_a_finding_is_a_journal_entry_with_its_message_id(netns, workdir):
    ns = netns.create(veths=("ha-r1", "qg-1"))
    ns.add_addr("169.254.0.1/24")  # primary, without its gateway address or routes
    conf = workdir / "keepalived.conf"
    conf.write_text(KEEPALIVED_CONF)
    toml = workdir / "havip.toml"
    toml.write_text(config(None, ns, conf).replace("{state}", str(workdir / "state")))
    out = workdir / "journal.json"
    subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable,
                    os.path.join(HERE, "journal_capture.py"), "4.0", str(out), "--",
                    os.environ.get("HAVIPD", os.path.join(HERE, "..", "..", "build", "src", "havipd")), "--config", str(toml)],
                   check=True, timeout=30)
    got = json.loads(out.read_text())
    assert got["returncode"] == 0, got
    audits = [e for e in got["entries"] if e.get("MESSAGE_ID") == AUDIT]
    what = sorted(e["HAVIP_AUDIT_WHAT"] for e in audits)
    assert what == ["address 203.0.113.5/24 dev qg-1",
                    "route 10.9.0.0/16 via 203.0.113.9 dev qg-1 table 100",
                    "route default via 203.0.113.1 dev qg-1"], audits
    for e in audits:
        assert e["HAVIP_ROUTER"] == "VI_1" and e["HAVIP_NAMESPACE"] == ns.name
        assert e["HAVIP_AUDIT"] == "missing"
        assert e["PRIORITY"] == "4"
