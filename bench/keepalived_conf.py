#!/usr/bin/env python3
"""bench/keepalived_conf.py: routers from keepalived.conf at scale (docs/BENCHMARKS.md).

N vrrp_instance blocks (one VIP each, VRIDs 1..255 spread over interfaces eth0..ethK
of one namespace, a sync group per 10 instances, half of them in files of ten included by a
glob) are read by havipd ([keepalived] config). Measured:

* `havipd --check-config`: wall time to read, parse and complete N instances;
* a running havipd: READY after start, its RSS, and the time from an edit of one
  included file (one instance's VIP changed, written by rename as editors and
  configuration managers do) to the log line saying the new set is applied — which
  includes KeepalivedWatch's 0.2 s settling delay —, and the CPU that re-read took;
* the same N routers written out in havip.toml instead, for the RSS baseline.

Run as root:  python3 bench/keepalived_conf.py --havipd build/src/havipd [--routers 2000]
Everything is named hvbka-<pid>-* and removed again; only processes it started are
ended, by PID.
"""

import argparse
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

PREFIX = f"hvbka-{os.getpid()}-"
NS = PREFIX + "ns"


def sh(*argv):
    subprocess.run(argv, check=True, capture_output=True)


def where(i):
    """(interface, vrid, vip) of instance i."""
    return f"eth{i // 255}", i % 255 + 1, f"10.{96 + i // 65025}.{i // 255 % 255}.{i % 255 + 1}"


def instance(i, vip_offset=0):
    ifname, vrid, vip = where(i)
    if vip_offset:
        vip = vip.rsplit(".", 1)[0] + ".254"
    return (f"vrrp_instance VI_{i} {{\n    state BACKUP\n    interface {ifname}\n"
            f"    virtual_router_id {vrid}\n    priority 100\n    advert_int 1\n"
            f"    virtual_ipaddress {{\n        {vip}/32\n    }}\n}}\n")


def write_keepalived(workdir, n):
    conf_d = workdir / "conf.d"
    conf_d.mkdir(exist_ok=True)
    half = n // 2
    main = ["global_defs {\n    router_id bench\n}\n"]
    main += [instance(i) for i in range(half)]
    for g in range(0, n, 10):
        members = " ".join(f"VI_{i}" for i in range(g, min(g + 10, n)))
        main.append(f"vrrp_sync_group G{g // 10} {{\n    group {{\n        {members}\n    }}\n}}\n")
    main.append(f"include {conf_d}/*.conf\n")
    (workdir / "keepalived.conf").write_text("".join(main))
    for f in range(half, n, 10):  # ten instances per included file
        (conf_d / f"vi{f}.conf").write_text("".join(instance(i) for i in range(f, min(f + 10, n))))


def proc_figures(pid):
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(l.split()[1]) for l in status.splitlines() if l.startswith("VmRSS"))
    return cpu, rss


def daemon_lines(workdir):
    return ["[daemon]", f'state_dir = "{workdir}/state"', f'run_dir = "{workdir}/run"',
            f'control_socket = "{workdir}/ctl.sock"', "track_speaker = false",
            'state_sync = "off"']


def start(havipd, conf, log_path):
    log = open(log_path, "w")
    t0 = time.monotonic()
    d = subprocess.Popen(["ip", "netns", "exec", NS, havipd, "--config", str(conf)],
                         stdout=log, stderr=subprocess.STDOUT)
    while "ready:" not in log_path.read_text():
        if d.poll() is not None:
            raise SystemExit(f"havipd exited {d.returncode}:\n{log_path.read_text()[-2000:]}")
        time.sleep(0.01)
    return d, log, time.monotonic() - t0


def stop(d, log):
    d.send_signal(signal.SIGTERM)
    d.wait(30)
    log.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--havipd", required=True)
    ap.add_argument("--routers", type=int, default=2000)
    a = ap.parse_args()
    n = a.routers
    workdir = Path(tempfile.mkdtemp(prefix=PREFIX))
    try:
        sh("ip", "netns", "add", NS)
        for k in range((n - 1) // 255 + 1):
            sh("ip", "-n", NS, "link", "add", f"eth{k}", "type", "veth", "peer", "name", f"p{k}")
        write_keepalived(workdir, n)
        conf = workdir / "havip.toml"
        conf.write_text("\n".join(daemon_lines(workdir)
                                  + ["", "[keepalived]", f'config = "{workdir}/keepalived.conf"'])
                        + "\n")
        t0 = time.monotonic()
        p = subprocess.run([a.havipd, "--check-config", "--config", str(conf)],
                           capture_output=True, text=True)
        check_s = time.monotonic() - t0
        if p.returncode != 0:
            raise SystemExit(p.stderr)
        print(f"{n} vrrp_instance blocks ({n - n // 2} of them in {(n - n // 2 + 9) // 10} "
              f"included files), "
              f"{n // 10} sync groups")
        print(f"  havipd --check-config: {check_s * 1000:.0f} ms ({p.stdout.strip()})")

        log_path = workdir / "havipd.log"
        d, log, ready_s = start(a.havipd, conf, log_path)
        try:
            time.sleep(1)
            cpu0, rss = proc_figures(d.pid)
            half = n // 2
            last = half + (n - 1 - half) // 10 * 10  # the included file with instance n-1
            target = workdir / "conf.d" / f"vi{last}.conf"
            tmp = target.with_suffix(".tmp")
            tmp.write_text("".join(instance(i, vip_offset=int(i == n - 1))
                                   for i in range(last, n)))
            before = log_path.read_text().count("changed:")
            t0 = time.monotonic()
            os.replace(tmp, target)
            while log_path.read_text().count("changed:") == before:
                time.sleep(0.002)
            applied_s = time.monotonic() - t0
            time.sleep(0.5)
            cpu1, _ = proc_figures(d.pid)
        finally:
            stop(d, log)
        print(f"  havipd from keepalived.conf: READY {ready_s * 1000:.0f} ms after start, "
              f"RSS {rss / 1024:.1f} MiB")
        print(f"  one included file edited: applied {applied_s * 1000:.0f} ms after the rename "
              f"(200 ms of it the settling delay), re-read CPU {(cpu1 - cpu0) * 1000:.0f} ms")

        lines = daemon_lines(workdir)
        for i in range(n):
            ifname, vrid, vip = where(i)
            # havipd runs in the namespace: the routers are in its own (no `namespace`).
            lines += ["", "[[router]]", f'name = "VI_{i}"', f'interface = "{ifname}"',
                      f'vip = "{vip}/32"', f"vrid = {vrid}"]
        conf.write_text("\n".join(lines) + "\n")
        d, log, ready_s = start(a.havipd, conf, log_path)
        try:
            time.sleep(1)
            _, rss = proc_figures(d.pid)
        finally:
            stop(d, log)
        print(f"  the same routers in havip.toml: READY {ready_s * 1000:.0f} ms after start, "
              f"RSS {rss / 1024:.1f} MiB")
    finally:
        subprocess.run(["ip", "netns", "delete", NS], capture_output=True)
        if not os.environ.get("KEEP"):
            subprocess.run(["rm", "-rf", str(workdir)])


if __name__ == "__main__":
    main()
