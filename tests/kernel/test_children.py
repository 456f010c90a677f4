"""No child outlives its role, and no child can starve the loop (issue 11).

havipd is a child subreaper: what a service, radvd wrapper or hook leaves
behind (a daemonizing service, a hook's `cmd &`, a double fork into a session
of its own, even with a scrubbed environment) is re-parented to havipd and
stopped with the process it came from. A child writing output as fast as it
can is read in bounded slices and rate-limited in the log.
"""

import os
import signal
import subprocess
import time

import pytest

from helpers import alive, cmdline, descendants, find_processes, havipctl_binary, router, wait_for

pytestmark = pytest.mark.usefixtures("kernel_ok")

VIP = "169.254.0.1/24"
SETSID = "/usr/bin/setsid"
ENV = "/usr/bin/env"


def script(workdir, name, body):
    path = workdir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def sleepers(seconds):
    """Live processes that are `/bin/sleep SECONDS` (each test uses its own
    SECONDS; not the wrappers whose argv merely holds it)."""
    argv = ["/bin/sleep", str(seconds)]
    return [p for p in find_processes(*argv) if cmdline(p) == argv]


def ctl_status(d, timeout=5):
    """havipctl status: (seconds it took, its output)."""
    start = time.monotonic()
    p = subprocess.run([str(havipctl_binary()), "--socket", str(d.control_path),
                        "--timeout", str(timeout), "status"],
                       capture_output=True, text=True, timeout=timeout + 5)
    assert p.returncode == 0, f"havipctl status: exit {p.returncode}\n{p.stderr}\n" + d.log_text()
    return time.monotonic() - start, p.stdout


def wait_gone(d, pids, what, timeout=5):
    wait_for(lambda: not any(alive(p) for p in pids), timeout,
             what=lambda: f"{what} gone (alive: {[p for p in pids if alive(p)]})\n"
                          + d.log_text())


# ------------------------------------------------------ services that daemonize

# A service that forks into the background and exits 0, as `haproxy -D` does:
# the daemon double-forks into a session of its own (setsid -f).
def daemonizing(seconds, scrub_env=False):
    argv = [SETSID, "-f", "/bin/sleep", str(seconds)]
    return [ENV, "-i", *argv] if scrub_env else argv


@pytest.mark.parametrize("scrub_env", [False, True], ids=["environment", "scrubbed"])
def test_a_daemonizing_service_is_followed_not_restarted_and_stopped_on_backup(
        netns, havipd, scrub_env):
    ns = netns.create()
    seconds = 3601 if not scrub_env else 3602
    d = havipd([router("r1", ns, service=[{"command": daemonizing(seconds, scrub_env),
                                           "stop_timeout_ms": 500}])])
    ns.add_addr(VIP)
    d.wait_state("r1", "primary")
    left = wait_for(lambda: sleepers(seconds), what=lambda: "the daemon\n" + d.log_text())
    d.wait_log("forked into the background (exit code 0; left running: ")
    # Not restarted into a pile of copies: still one, and havipctl shows it.
    time.sleep(1.0)
    assert sleepers(seconds) == left, d.log_text()
    assert not d.log_has("exited unexpectedly"), d.log_text()
    _, out = ctl_status(d)
    assert str(left[0]) in out, out

    ns.del_addr(VIP)
    d.wait_state("r1", "backup")
    wait_gone(d, left, "the daemonized service")
    d.wait_log("r1: service env stopped" if scrub_env else "r1: service setsid stopped")

    ns.add_addr(VIP)  # primary again: one new copy
    d.wait_state("r1", "primary")
    again = wait_for(lambda: sleepers(seconds), what=lambda: "the daemon again\n" + d.log_text())
    assert len(again) == 1 and again != left


def test_a_daemonized_service_that_dies_is_started_again(netns, havipd):
    ns = netns.create()
    d = havipd([router("r1", ns, service=[{"command": daemonizing(3603)}])])
    ns.add_addr(VIP)
    d.wait_state("r1", "primary")
    first = wait_for(lambda: sleepers(3603), what=lambda: "the daemon\n" + d.log_text())
    os.kill(first[0], signal.SIGKILL)
    d.wait_log("r1: service setsid: the last process it left behind is gone")
    second = wait_for(lambda: [p for p in sleepers(3603) if p not in first],
                      what=lambda: "the daemon restarted\n" + d.log_text())
    assert len(second) == 1


def test_everything_a_router_started_is_gone_after_its_removal_and_after_sigterm(
        netns, havipd, workdir):
    ns = netns.create()
    # A service that stays in the foreground but leaves a grandchild in a
    # session of its own behind it, and one that daemonizes.
    wrapper = script(workdir, "wrapper.sh",
                     f"{SETSID} -f /bin/sleep 3604\nexec /bin/sleep 3605\n")
    routers = [router("r1", ns, service=[{"command": [str(wrapper)], "stop_timeout_ms": 500},
                                         {"command": daemonizing(3606)}]),
               router("r2", ns, vip="169.254.0.2/24",
                      service=[{"command": daemonizing(3607)}])]
    d = havipd(routers)
    ns.add_addr(VIP)
    ns.add_addr("169.254.0.2/24")
    d.wait_states({"r1": "primary", "r2": "primary"})
    r1 = wait_for(lambda: len(sleepers(3604) + sleepers(3605) + sleepers(3606)) == 3 and
                  sleepers(3604) + sleepers(3605) + sleepers(3606),
                  what=lambda: "r1's processes\n" + d.log_text())
    r2 = wait_for(lambda: sleepers(3607), what=lambda: "r2's daemon\n" + d.log_text())

    d.write_config([routers[1]])  # r1 removed
    d.reload()
    wait_gone(d, r1, "r1's processes, the one left behind by a live service included")
    assert all(alive(p) for p in r2), "r2's daemon must not be touched\n" + d.log_text()

    d.stop(timeout=3)
    wait_gone(d, r2, "r2's daemon after SIGTERM")


# ------------------------------------------------------------------- hooks

def test_what_a_hook_leaves_behind_is_killed_when_it_ends(netns, havipd, workdir):
    ns = netns.create()
    hook = script(workdir, "leaves.sh",
                  f"/bin/sleep 3608 &\n{SETSID} -f /bin/sleep 3609\necho done\n")
    d = havipd([router("r1", ns, hook=[{"command": [str(hook)]}])])
    ns.add_addr(VIP)
    d.wait_state("r1", "primary")
    d.wait_log("r1: hook leaves.sh (primary) finished: exit code 0")
    d.wait_log("r1: hook leaves.sh (primary) left 2 processes behind: ")
    wait_for(lambda: not sleepers(3608) and not sleepers(3609),
             what=lambda: "the hook's leftovers killed\n" + d.log_text())


def test_a_hook_that_times_out_is_killed_with_what_it_started(netns, havipd, workdir):
    ns = netns.create()
    hook = script(workdir, "hangs.sh", f"{SETSID} -f /bin/sleep 3610\nexec /bin/sleep 3611\n")
    d = havipd([router("r1", ns, hook=[{"command": [str(hook)], "timeout_ms": 500}])])
    ns.add_addr(VIP)
    d.wait_state("r1", "primary")
    wait_for(lambda: sleepers(3610) and sleepers(3611), what=lambda: "the hook\n" + d.log_text())
    d.wait_log("r1: hook hangs.sh (primary) timed out after 500ms")
    wait_for(lambda: not sleepers(3610) and not sleepers(3611),
             what=lambda: "the hook and its grandchild killed\n" + d.log_text())


# ------------------------------------------------------------- chatty children

def test_a_hook_writing_as_fast_as_it_can_does_not_starve_the_loop(netns, havipd):
    ns = netns.create()
    # It runs from the first decision (unknown -> backup) on.
    d = havipd([router("r1", ns, hook=[{"command": ["/usr/bin/yes"], "timeout_ms": 3000}]),
                router("r2", ns, vip="169.254.0.2/24")])
    wait_for(lambda: d.log_has("r1: hook yes (backup): y"), what=lambda: d.log_text())
    # While it writes: havipctl answers, the kernel is followed.
    slowest = max(ctl_status(d)[0] for _ in range(5))
    assert slowest < 1.0, f"havipctl status took {slowest:.2f} s\n" + d.log_text()[-2000:]
    ns.add_addr("169.254.0.2/24")
    d.wait_state("r2", "primary", timeout=1.0)
    # Killed at its timeout, and the log says how much it did not log.
    d.wait_log("r1: hook yes (backup) timed out after 3000ms", timeout=5)
    wait_for(lambda: any("of output not logged" in line and "r1: hook yes (backup)" in line
                         for line in d.lines), timeout=3, what=lambda: d.log_text()[-3000:])
    ys = sum(1 for line in d.lines if line.endswith("r1: hook yes (backup): y"))
    assert 0 < ys <= 200, f"{ys} lines of 'y' logged"


def test_a_service_writing_as_fast_as_it_can_lets_havipd_follow_the_kernel_and_stop(
        netns, havipd):
    ns = netns.create()
    d = havipd([router("r1", ns, service=[{"command": ["/usr/bin/yes", "spam"]}]),
                router("r2", ns, vip="169.254.0.2/24")])
    ns.add_addr(VIP)
    d.wait_state("r1", "primary")
    d.wait_log("r1: service yes: spam")
    time.sleep(0.5)
    for _ in range(3):
        ns.add_addr("169.254.0.2/24")
        d.wait_state("r2", "primary", timeout=1.0)
        ns.del_addr("169.254.0.2/24")
        d.wait_state("r2", "backup", timeout=1.0)
    assert ctl_status(d)[0] < 1.0
    spam = find_processes("/usr/bin/yes", "spam")
    assert d.stop(timeout=2) < 2
    assert not any(alive(p) for p in spam)


def test_control_characters_in_child_output_are_escaped(netns, havipd, workdir):
    ns = netns.create()
    hook = script(workdir, "colours.sh", r"printf 'a\033[31mb\000c\tz\n'" + "\n")
    d = havipd([router("r1", ns, hook=[{"command": [str(hook)]}])])
    ns.add_addr(VIP)
    d.wait_state("r1", "primary")
    d.wait_log(r"r1: hook colours.sh (primary): a\x1b[31mb\x00c\x09z")
    assert not any("\x1b" in line or "\x00" in line for line in d.lines)


def test_no_zombie_is_left_by_processes_havipd_adopted(netns, havipd, workdir):
    ns = netns.create()
    # A service whose short-lived grandchildren are orphaned one after another.
    churn = script(workdir, "churn.sh",
                   "while :; do /bin/sh -c '/bin/sleep 0.05 &' ; /bin/sleep 0.1; done\n")
    d = havipd([router("r1", ns, service=[{"command": [str(churn)]}])])
    ns.add_addr(VIP)
    d.wait_state("r1", "primary")
    time.sleep(1.5)

    def zombies():
        out = []
        for p in descendants(d.pid):
            try:
                stat = open(f"/proc/{p}/stat").read()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[0] == "Z":
                out.append(p)
        return out
    # A zombie may exist for the instant between its exit and the reaping.
    wait_for(lambda: len(zombies()) <= 1, timeout=2, what=lambda: f"zombies {zombies()}")


# ------------------------------------------------------- a router that leaves

def test_a_removed_primary_leaves_no_state_file_saying_primary(netns, havipd):
    ns = netns.create()
    r1, r2 = router("r1", ns), router("r2", ns, vip="169.254.0.2/24")
    d = havipd([r1, r2])
    ns.add_addr(VIP)
    d.wait_state("r1", "primary")
    d.write_config([r2])
    d.reload()
    d.wait_log("configuration reloaded")
    d.wait_state("r1", "backup")


def test_a_renamed_routers_service_never_runs_twice_at_once(netns, havipd, workdir):
    ns = netns.create()
    log = workdir / "service.log"
    # Takes half a second to stop: a new copy started at once would overlap.
    service = script(workdir, "slow-stop.sh", f"""echo "start $(date +%s.%N)" >> {log}
trap 'sleep 0.5; echo "stop $(date +%s.%N)" >> {log}; exit 0' TERM
while :; do /bin/sleep 0.05; done
""")
    svc = [{"command": [str(service)], "stop_timeout_ms": 3000}]
    d = havipd([router("r1", ns, service=svc)])
    ns.add_addr(VIP)
    d.wait_state("r1", "primary")
    wait_for(lambda: log.exists() and log.read_text().count("start") == 1)
    d.write_config([router("edge", ns, service=svc)])
    d.reload()
    d.wait_state("edge", "primary")
    wait_for(lambda: log.read_text().count("start") == 2, timeout=5,
             what=lambda: log.read_text() + d.log_text())
    events = [line.split() for line in log.read_text().splitlines()]
    assert [e[0] for e in events] == ["start", "stop", "start"], events
    assert float(events[2][1]) >= float(events[1][1]), events
    assert d.state("r1") == "backup"
