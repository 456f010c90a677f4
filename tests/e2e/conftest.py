"""Fixtures for havip's e2e tier (real keepalived, radvd and rdisc6 in namespaces).

The tier needs root, network namespaces with bridges and veths, and the programs
keepalived, radvd and rdisc6 (package ndisc6). Missing programs are installed with
apt-get unless HAVIP_E2E_NO_APT=1. When something cannot be had, the tier is skipped and
the reason is printed (in the session header and at the skip).
"""

import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

from e2e_lib import PREFIX, NETNS_DIR, ensure_tools, havipd_binary, netns_problem, run

_reason = None


def unavailable():
    """Why the tier cannot run here, or None (probed once per session)."""
    global _reason
    if _reason is None:
        _reason = netns_problem() or ensure_tools() or ""
    return _reason or None


def pytest_report_header(config):
    reason = unavailable()
    return [f"havip e2e tier: {'SKIPPED: ' + reason if reason else 'ready'}",
            f"havipd binary: {havipd_binary()}"]


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def e2e_ok():
    reason = unavailable()
    if reason:
        print(f"\nhavip e2e tier skipped: {reason}")
        pytest.skip(reason)
    # A SIGTERM (e.g. meson's timeout) unwinds like Ctrl-C, so the fixtures still stop
    # our processes and delete our namespaces.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    yield
    signal.signal(signal.SIGTERM, previous)
    leftovers = sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(PREFIX)) \
        if NETNS_DIR.is_dir() else []
    for name in leftovers:
        run("ip", "netns", "del", name, check=False)
    assert not leftovers, f"namespaces left behind: {leftovers}"


@pytest.fixture(scope="session")
def havipd_bin():
    binary = havipd_binary()
    if not os.access(binary, os.X_OK):
        pytest.fail(f"havipd binary {binary} is not there: build it (ninja -C build) "
                    f"or set HAVIPD")
    return binary


@pytest.fixture
def workdir():
    """A private temporary directory (kept when HAVIP_E2E_KEEP=1)."""
    path = Path(tempfile.mkdtemp(prefix=PREFIX))
    path.chmod(0o755)
    yield path
    if os.environ.get("HAVIP_E2E_KEEP") == "1":
        print(f"\nkept {path} (HAVIP_E2E_KEEP=1)")
    else:
        shutil.rmtree(path, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        cluster = getattr(item, "funcargs", {}).get("cluster")
        if cluster is not None:
            for title, text in cluster.diagnostics():
                report.sections.append((title, text))


@pytest.fixture
def cluster(e2e_ok, havipd_bin, workdir):
    """A Cluster (see e2e_lib): namespaces built, nothing started yet. Everything is
    torn down afterwards, also on failure; teardown findings fail the test."""
    from e2e_lib import Cluster
    hold_down_ms = int(os.environ.get("HAVIP_E2E_HOLD_DOWN_MS", "1000"))
    c = Cluster(havipd_bin, workdir, hold_down_ms)
    try:
        yield c
    finally:
        c.close()
    assert not c.problems, "teardown: " + "; ".join(c.problems)
