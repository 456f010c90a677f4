"""havipctl against a running havipd: status (table and JSON), watch, reload,
metrics, the metrics textfile, and the control socket's access rules."""

import json
import os
import re
import socket
import stat
import subprocess
import time

import pytest

from helpers import havipctl_binary, router, run, wait_for

pytestmark = pytest.mark.usefixtures("kernel_ok")

VIP = "169.254.0.1/24"
# One line of the text exposition format: a comment, or NAME{LABELS} VALUE.
SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? '
                    r'(-?[0-9.e+-]+|\+Inf|-Inf|NaN)$')


def ctl(d, *args, user=None, check=True, timeout=10):
    argv = [str(havipctl_binary()), "--socket", str(d.control_path), *args]
    if user:  # (uid, gid): an unprivileged caller
        argv = ["setpriv", f"--reuid={user[0]}", f"--regid={user[1]}", "--clear-groups", *argv]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"havipctl {' '.join(args)}: exit {p.returncode}\n{p.stderr}")
    return p


def metrics_of(text):
    """{(name, frozenset(labels)): value}, checking every line's syntax."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-z_]+ .+$", line), line
            continue
        assert SAMPLE.match(line), f"not a valid sample line: {line!r}"
        name_labels, value = line.rsplit(" ", 1)
        name, _, labels = name_labels.partition("{")
        pairs = frozenset(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', labels))
        out[(name, pairs)] = float(value)
    return out


def test_status_table_and_json(netns, havipd):
    a, b = netns.create("a"), netns.create("b")
    a.add_addr(VIP)
    d = havipd([router("r1", a), router("r2", b)])

    table = ctl(d, "status").stdout.splitlines()
    assert table[0].split() == ["ROUTER", "NAMESPACE", "ROLE", "SPEAKER", "SINCE", "REASON",
                                "PIDS", "FAILING", "TRACK", "ALERT"]
    rows = {line.split()[0]: line for line in table[1:]}
    assert set(rows) == {"r1", "r2"}
    assert rows["r1"].split()[1:3] == [a.name, "primary"]
    assert rows["r2"].split()[1:3] == [b.name, "backup"]
    assert re.search(r"\b\d+s ago\b", rows["r1"]), rows["r1"]
    assert f"vip {VIP} on ha-r1 in {a.name}" in rows["r1"]

    st = json.loads(ctl(d, "status", "--json").stdout)
    assert st["pid"] == d.pid and st["ready"] is True
    assert sorted(st["namespaces"]) == sorted([a.name, b.name])
    by_name = {r["name"]: r for r in st["routers"]}
    assert by_name["r1"]["role"] == "primary" and by_name["r2"]["role"] == "backup"
    assert by_name["r1"]["interface"] == "ha-r1"
    assert by_name["r1"]["transitions"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", by_name["r1"]["since"])
    assert by_name["r1"]["failing"] == [] and by_name["r1"]["children"] == []


def test_status_shows_service_pids(netns, havipd):
    a = netns.create("a")
    a.add_addr(VIP)
    d = havipd([router("r1", a, service=[{"command": ["/bin/sleep", "300"]}])])
    def service():
        r = json.loads(ctl(d, "status", "--json").stdout)["routers"][0]
        child = r["children"][0]
        return child if child["pid"] else None
    child = wait_for(service, what="the service's pid in havipctl status")
    assert child["what"] == "service sleep" and child["state"] == "running"
    with open(f"/proc/{child['pid']}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[:2] == [b"/bin/sleep", b"300"]
    assert f"sleep={child['pid']}" in ctl(d, "status").stdout


def test_watch_streams_each_transition(netns, havipd):
    a = netns.create("a")
    d = havipd([router("r1", a)])
    watch = subprocess.Popen([str(havipctl_binary()), "--socket", str(d.control_path), "watch"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Registered once havipd counts it as a client; then change the VIP.
        time.sleep(0.3)
        a.add_addr(VIP)
        d.wait_state("r1", "primary")
        a.del_addr(VIP)
        d.wait_state("r1", "backup")
        lines = [json.loads(watch.stdout.readline()) for _ in range(2)]
    finally:
        watch.terminate()
        watch.wait(timeout=5)
    assert [(l["router"], l["from"], l["to"]) for l in lines] == [
        ("r1", "backup", "primary"), ("r1", "primary", "backup")]
    assert lines[0]["namespace"] == a.name and lines[0]["interface"] == "ha-r1"
    assert lines[0]["reason"] == f"vip {VIP} on ha-r1 in {a.name}"
    assert list(lines[0]) == ["time", "router", "namespace", "interface", "from", "to", "reason"]


def test_watch_ends_with_an_error_when_havipd_stops(netns, havipd):
    a = netns.create("a")
    d = havipd([router("r1", a)])
    watch = subprocess.Popen([str(havipctl_binary()), "--socket", str(d.control_path), "watch"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    d.stop()
    out, err = watch.communicate(timeout=5)
    assert watch.returncode == 3, (out, err)
    assert "havipd closed the connection" in err
    assert not d.control_path.exists(), "havipd removes its socket when it stops"


def test_metrics(netns, havipd):
    a, b = netns.create("a"), netns.create("b")
    d = havipd([router("r1", a), router("r2", b)])
    a.add_addr(VIP)
    d.wait_state("r1", "primary")
    m = metrics_of(ctl(d, "metrics").stdout)
    def get(name, **labels):
        return m[(name, frozenset(labels.items()))]
    assert get("havip_router_role", router="r1", namespace=a.name, role="primary") == 1
    assert get("havip_router_role", router="r1", namespace=a.name, role="backup") == 0
    assert get("havip_router_role", router="r2", namespace=b.name, role="backup") == 1
    assert get("havip_transitions_total", router="r1", role="backup") == 1
    assert get("havip_transitions_total", router="r1", role="primary") == 1
    assert get("havip_namespaces_watched") == 2
    assert get("havip_netlink_resyncs_total") == 0
    assert get("havip_netlink_messages_total") > 0
    assert get("havip_event_to_effect_seconds_count") == 3
    assert get("havip_event_to_effect_seconds_bucket", le="+Inf") == 3
    assert 0 < get("havip_event_to_effect_seconds_sum") < 3


def test_metrics_count_effect_failures_and_child_exits(netns, havipd):
    a = netns.create("a")
    d = havipd([router("r1", a, hook=[{"command": ["/bin/false"]}],
                       service=[{"command": ["/bin/sh", "-c", "exit 7"]}])])
    a.add_addr(VIP)
    d.wait_state("r1", "primary")
    def counted():
        m = metrics_of(ctl(d, "metrics").stdout)
        hooks = m.get(("havip_effect_failures_total",
                       frozenset({"router": "r1", "effect": "hook"}.items())), 0)
        exits = m.get(("havip_child_exits_total",
                       frozenset({"router": "r1", "what": "service sh"}.items())), 0)
        return hooks == 2 and exits >= 1  # backup, then primary; the service keeps dying
    wait_for(counted, what="hook failures and service exits in the metrics")
    st = json.loads(ctl(d, "status", "--json").stdout)["routers"][0]
    assert st["children"][0]["state"] in ("backoff", "running")


def test_metrics_textfile(netns, havipd, workdir):
    a = netns.create("a")
    prom = workdir / "textfile" / "havip.prom"
    prom.parent.mkdir()
    d = havipd([router("r1", a)], metrics_textfile=str(prom))
    wait_for(prom.exists, what=str(prom))
    assert ('havip_router_role{router="r1",namespace="%s",role="backup"} 1' % a.name
            in prom.read_text())
    a.add_addr(VIP)
    # Rewritten after the change (at most once a second).
    wait_for(lambda: 'role="primary"} 1' in prom.read_text(), timeout=3,
             what="the textfile to show r1 primary")
    metrics_of(prom.read_text())
    assert stat.S_IMODE(os.stat(prom).st_mode) == 0o644
    assert [p.name for p in prom.parent.iterdir()] == ["havip.prom"], "no temp file left"


def test_reload_answers_whether_it_applied(netns, havipd):
    a, b = netns.create("a"), netns.create("b")
    b.add_addr(VIP)
    d = havipd([router("r1", a)])
    d.write_config([router("r1", a), router("r2", b)])
    p = ctl(d, "reload")
    assert p.stdout == "reloaded: 2 routers\n"
    d.wait_state("r2", "primary")

    good = d.config_path.read_text()
    d.write_raw_config(good + "\n[daemon.oops]\n")
    p = ctl(d, "reload", check=False)
    assert p.returncode == 1
    assert "reload rejected" in p.stderr and "unknown" in p.stderr, p.stderr
    assert d.running()
    assert {r["name"] for r in json.loads(ctl(d, "status", "--json").stdout)["routers"]} == {
        "r1", "r2"}


def test_socket_is_0660_and_refuses_others(netns, havipd):
    a = netns.create("a")
    d = havipd([router("r1", a)])
    st = os.stat(d.control_path)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
    nobody = (65534, 65534)
    # The socket's directory must be reachable for the permission to matter.
    os.chmod(d.control_path.parent, 0o755)
    os.chmod(d.control_path.parent.parent, 0o755)
    p = ctl(d, "status", user=nobody, check=False)
    assert p.returncode == 3
    assert "permission denied" in p.stderr and "group 'root'" in p.stderr, p.stderr


def havipd_for_group_nogroup(netns, havipd):
    """A havipd whose socket group is nogroup, its directory reachable by
    everyone: (the Havipd, the socket's gid)."""
    a = netns.create("a")
    d = havipd([router("r1", a)], control_socket_group="nogroup")
    os.chmod(d.control_path.parent, 0o755)
    os.chmod(d.control_path.parent.parent, 0o755)
    return d, os.stat(d.control_path).st_gid


def test_group_members_read_but_only_root_reloads(netns, havipd):
    d, gid = havipd_for_group_nogroup(netns, havipd)
    member = (65534, gid)
    assert "r1" in ctl(d, "status", user=member).stdout
    assert "havip_build_info" in ctl(d, "metrics", user=member).stdout
    p = ctl(d, "reload", user=member, check=False)
    assert p.returncode == 1 and "permission denied" in p.stderr, p.stderr
    d.wait_log("reload refused to uid 65534")


def test_not_running_errors(workdir):
    sock = workdir / "ctl.sock"
    argv = [str(havipctl_binary()), "--socket", str(sock), "status"]
    p = subprocess.run(argv, capture_output=True, text=True)
    assert p.returncode == 3 and "havipd is not running: there is no control socket" in p.stderr
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock))
    s.close()  # a socket file nobody listens on: what a killed havipd leaves
    p = subprocess.run(argv, capture_output=True, text=True)
    assert p.returncode == 3 and "nothing listens" in p.stderr, p.stderr
    p = subprocess.run([str(havipctl_binary()), "frobnicate"], capture_output=True, text=True)
    assert p.returncode == 2


def test_stale_socket_is_replaced_but_a_live_one_is_not(netns, havipd):
    a = netns.create("a")
    first = havipd([router("r1", a)])
    stale = first.control_path.parent / "stale.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(stale))
    s.close()
    second = havipd([router("r1", a)], control_socket=str(stale))
    second.control_path = stale
    assert "r1" in ctl(second, "status").stdout
    # A third havipd on the first one's (live) socket: it says so and serves anyway.
    third = havipd([router("r1", a)], control_socket=str(first.control_path))
    third.wait_log("another havipd is listening there")
    assert json.loads(ctl(first, "status", "--json").stdout)["pid"] == first.pid
    # And a plain file is never replaced.
    plain = first.control_path.parent / "plain"
    plain.write_text("precious")
    fourth = havipd([router("r1", a)], control_socket=str(plain))
    fourth.wait_log("exists and is not a socket; not replacing it")
    assert plain.read_text() == "precious"


def _connect_as_nobody(path, count, gid):
    """A process running as nobody (group `gid`) holding `count` idle
    connections to `path`; it prints how many havipd kept, then waits."""
    code = ("import socket,sys,time\n"
            "ss=[]\n"
            f"for i in range({count}):\n"
            "  s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); ss.append(s)\n"
            "time.sleep(0.5)\n"
            "kept=0\n"
            "for s in ss:\n"
            "  s.setblocking(False)\n"
            "  try: s.recv(4096)\n"  # refused: an error line, then EOF
            "  except BlockingIOError: kept += 1\n"
            "print(kept, flush=True)\n"
            "sys.stdin.read()\n")
    return subprocess.Popen(["setpriv", "--reuid=65534", f"--regid={gid}", "--clear-groups",
                             "/usr/bin/python3", "-c", code, str(path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def test_idle_group_members_cannot_lock_root_out(netns, havipd):
    d, gid = havipd_for_group_nogroup(netns, havipd)
    hog = _connect_as_nobody(d.control_path, 70, gid)
    try:
        kept = int(hog.stdout.readline())
        assert kept == 8, "one uid holds at most 8 connections"
        # Root is answered, and so is root's 64th client.
        assert "r1" in ctl(d, "status").stdout
        # The idle connections are dropped after 5 s; the uid may connect again.
        member = (65534, gid)
        time.sleep(5.5)
        assert "r1" in ctl(d, "status", user=member).stdout
    finally:
        hog.stdin.close()
        hog.wait(timeout=5)


def test_a_client_that_does_not_read_is_dropped(netns, havipd):
    a = netns.create("a")
    d = havipd([router("r1", a)])
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(d.control_path))
    # Thousands of requests, never reading: the answers fill the socket and
    # havipd stops reading; after 10 s it gives up on this client.
    s.setblocking(False)
    request = b'{"command":"status"}\n' * 20000
    try:
        s.send(request)
    except BlockingIOError:
        pass
    assert "r1" in ctl(d, "status").stdout  # others are served meanwhile
    time.sleep(11)
    s.setblocking(True)
    s.settimeout(5)
    answers = 0
    try:
        while chunk := s.recv(1 << 20):
            answers += chunk.count(b"\n")
    except ConnectionResetError:  # closed with our requests unread
        pass
    s.close()
    assert answers < 20000, answers
    d.wait_log("has not read its answer")
