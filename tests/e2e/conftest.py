"""Fixtures for havip's e2e tier (real keepalived, radvd and rdisc6 in namespaces).

The tier needs root, network namespaces with bridges and veths, and the programs
keepalived, radvd and rdisc6 (package ndisc6). Missing programs are installed with
apt-get unless HAVIP_E2E_NO_APT=1. When something cannot be had, the tier is skipped and
the reason is printed (in the session header and at the skip).
"""

import os
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))  # havip_testlib

from e2e_lib import PREFIX, ensure_tools
from havip_testlib.netns import netns_problem
from havip_testlib.tier import Tier, havipd_bin  # noqa: F401 - a fixture

TIER = Tier("e2e", PREFIX, lambda: netns_problem(
    PREFIX, "the e2e tier", "namespaces, bridges, keepalived, radvd", bridges=True)
    or ensure_tools())


def pytest_report_header(config):
    return TIER.report_header("ready")


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def e2e_ok():
    TIER.require()
    # A SIGTERM (e.g. meson's timeout) unwinds like Ctrl-C, so the fixtures still stop
    # our processes and delete our namespaces.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    yield
    signal.signal(signal.SIGTERM, previous)
    TIER.check_leftovers()


@pytest.fixture
def workdir():
    """A private temporary directory (kept when HAVIP_E2E_KEEP=1)."""
    yield from TIER.workdir(mode=0o755, keep_env="HAVIP_E2E_KEEP")


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
