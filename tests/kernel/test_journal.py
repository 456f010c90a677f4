"""Transitions reach journald with structured fields when stderr is the journal
stream (JOURNAL_STREAM), as under systemd. journald itself is faked by
journal_capture.py in a private mount namespace, so this runs without systemd."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
HAVIPD = os.environ.get("HAVIPD", os.path.join(HERE, "..", "..", "build", "src", "havipd"))


def run(*args):
    subprocess.run(args, check=True, capture_output=True)


@pytest.fixture
def netns():
    if os.geteuid() != 0:
        pytest.skip("needs root to create network namespaces and mounts")
    if not os.path.isdir("/run/systemd") or shutil.which("unshare") is None:
        pytest.skip("needs /run/systemd and unshare(1) to fake journald")
    name = f"havipj-{os.getpid()}"
    try:
        run("ip", "netns", "add", name)
    except subprocess.CalledProcessError as e:
        pytest.skip(f"cannot create a network namespace: {e.stderr.decode().strip()}")
    try:
        run("ip", "-n", name, "link", "add", "ha-r1", "type", "veth", "peer", "name", "ha-r1p")
        run("ip", "-n", name, "link", "set", "ha-r1", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name])


def test_transition_has_structured_fields(netns, tmp_path):
    run("ip", "-n", netns, "addr", "add", "169.254.0.1/24", "dev", "ha-r1")
    conf = tmp_path / "havip.toml"
    conf.write_text(f"""
[daemon]
state_dir = "{tmp_path}/state"
hold_down_ms = 0
[[router]]
name = "r1"
namespace = "{netns}"
interface = "ha-r1"
vip = "169.254.0.1/24"
""")
    out = tmp_path / "journal.json"
    subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable,
                    os.path.join(HERE, "journal_capture.py"), "1.0", str(out), "--",
                    HAVIPD, "--config", str(conf)], check=True, timeout=30)
    got = json.loads(out.read_text())
    assert got["returncode"] == 0
    assert got["stderr"] == "", "with JOURNAL_STREAM, nothing goes to stderr"
    transitions = [e for e in got["entries"] if "HAVIP_ROUTER" in e]
    assert len(transitions) == 1, got["entries"]
    t = transitions[0]
    assert t["MESSAGE"] == (f"r1: unknown -> primary (vip 169.254.0.1/24 on ha-r1 in {netns})")
    assert t["HAVIP_ROUTER"] == "r1"
    assert t["HAVIP_NAMESPACE"] == netns
    assert t["HAVIP_INTERFACE"] == "ha-r1"
    assert t["HAVIP_ROLE"] == "primary"
    assert t["HAVIP_PREVIOUS_ROLE"] == "unknown"
    assert t["PRIORITY"] == "6"
    assert t["SYSLOG_IDENTIFIER"] == "havipd"
    messages = [e["MESSAGE"] for e in got["entries"]]
    assert any(m.startswith("ready: 1 router: 1 primary") for m in messages), messages
    assert (tmp_path / "state" / "r1" / "state").read_text() == "primary"
