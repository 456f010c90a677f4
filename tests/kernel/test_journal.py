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


TRANSITION = "8a3ad06c7f9347b9bbb5600f2b63ff2b"
EFFECT_FAILURE = "4677cfb65c434ff595b7a530bddb7864"


def capture(netns, tmp_path, router_extra=""):
    """Runs havipd for a second under a fake journald; its entries."""
    conf = tmp_path / "havip.toml"
    conf.write_text(f"""
[daemon]
state_dir = "{tmp_path}/state"
control_socket = ""
hold_down_ms = 0
[[router]]
name = "r1"
namespace = "{netns}"
interface = "ha-r1"
vip = "169.254.0.1/24"
{router_extra}
""")
    out = tmp_path / "journal.json"
    subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable,
                    os.path.join(HERE, "journal_capture.py"), "1.0", str(out), "--",
                    HAVIPD, "--config", str(conf)], check=True, timeout=30)
    got = json.loads(out.read_text())
    assert got["returncode"] == 0
    assert got["stderr"] == "", "with JOURNAL_STREAM, nothing goes to stderr"
    return got["entries"]


def test_transition_has_structured_fields(netns, tmp_path):
    run("ip", "-n", netns, "addr", "add", "169.254.0.1/24", "dev", "ha-r1")
    entries = capture(netns, tmp_path)
    transitions = [e for e in entries if e.get("MESSAGE_ID") == TRANSITION]
    assert len(transitions) == 1, entries
    t = transitions[0]
    assert t["MESSAGE"] == (f"r1: unknown -> primary (vip 169.254.0.1/24 on ha-r1 in {netns})")
    assert t["HAVIP_ROUTER"] == "r1"
    assert t["HAVIP_NAMESPACE"] == netns
    assert t["HAVIP_INTERFACE"] == "ha-r1"
    assert t["HAVIP_ROLE"] == "primary"
    assert t["HAVIP_PREVIOUS_ROLE"] == "unknown"
    assert t["PRIORITY"] == "6"
    assert t["SYSLOG_IDENTIFIER"] == "havipd"
    messages = [e["MESSAGE"] for e in entries]
    assert any(m.startswith("ready: 1 router: 1 primary") for m in messages), messages
    assert (tmp_path / "state" / "r1" / "state").read_text() == "primary"


def test_router_lines_and_effect_failures_carry_fields(netns, tmp_path):
    """Every line about a router names it (HAVIP_ROUTER, HAVIP_NAMESPACE); a
    failed effect has its own MESSAGE_ID and says which effect (HAVIP_EFFECT)."""
    entries = capture(netns, tmp_path, """
[[router.hook]]
command = ["/bin/sh", "-c", "echo hook says hello; exit 3"]
""")
    failures = [e for e in entries if e.get("MESSAGE_ID") == EFFECT_FAILURE]
    assert len(failures) == 1, entries
    f = failures[0]
    assert f["HAVIP_ROUTER"] == "r1" and f["HAVIP_NAMESPACE"] == netns
    assert f["HAVIP_EFFECT"] == "hook"
    assert f["PRIORITY"] == "3"
    assert "exit code 3" in f["MESSAGE"], f
    output = [e for e in entries if "hook says hello" in e["MESSAGE"]]
    assert len(output) == 1, entries
    assert output[0]["HAVIP_ROUTER"] == "r1" and output[0]["HAVIP_NAMESPACE"] == netns
    assert output[0]["HAVIP_CHILD"].startswith("hook sh")
    about_r1 = [e for e in entries if e["MESSAGE"].startswith("r1: ")]
    assert about_r1 and all(e.get("HAVIP_ROUTER") == "r1" for e in about_r1), about_r1
