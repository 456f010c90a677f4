"""Fixtures for havip's kernel tier.

The tier needs root and `ip netns add`; without them every test that uses a
namespace is skipped with the reason (also printed in the session header).
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))  # havip_testlib

from havip_testlib.netns import netns_problem
from havip_testlib.tier import Tier, havipd_bin  # noqa: F401 - a fixture
from helpers import Havipd, NetnsFactory, PREFIX

TIER = Tier("kernel", PREFIX, lambda: netns_problem(
    PREFIX, "the kernel tier", "it creates network namespaces"))


def pytest_report_header(config):
    return TIER.report_header("namespaces available")


@pytest.fixture(scope="session")
def kernel_ok():
    TIER.require()
    yield
    TIER.check_leftovers()


@pytest.fixture
def workdir():
    """A private temporary directory, removed afterwards."""
    yield from TIER.workdir()


@pytest.fixture
def netns(kernel_ok, workdir):
    """Factory: netns.create(label) -> a namespace with veth ha-r1/ha-r1p, both up."""
    factory = NetnsFactory(workdir, PREFIX)
    yield factory
    errors = factory.cleanup()
    assert not errors, f"could not delete namespaces: {errors}"


class HavipdFactory:
    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = workdir
        self.instances = []

    def __call__(self, routers=None, start=True, start_args=None, **daemon):
        """A Havipd with the given routers and [daemon] keys, started and READY
        (start_args: keyword arguments for Havipd.start)."""
        d = Havipd(self.binary, self.workdir, label=f"havipd{len(self.instances) + 1}")
        self.instances.append(d)
        if routers is not None:
            d.write_config(routers, **daemon)
        if start:
            d.start(**(start_args or {}))
        return d

    def teardown(self):
        problems = []
        for d in self.instances:
            problem = d.teardown(timeout=5.0)
            if problem:
                problems.append(problem)
        return problems


@pytest.fixture
def havipd(havipd_bin, workdir, netns):
    """Factory: havipd([router(...), ...], hold_down_ms=...) -> a running Havipd.

    Depends on `netns` so that havipd is stopped before the namespaces go.
    """
    factory = HavipdFactory(havipd_bin, workdir)
    yield factory
    problems = factory.teardown()
    assert not problems, "\n".join(problems)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    factory = item.funcargs.get("havipd") if hasattr(item, "funcargs") else None
    for d in getattr(factory, "instances", []):
        report.sections.append((f"{d.dir.name} output", "\n".join(d.lines)))
        report.sections.append((f"{d.dir.name} notifications", "\n---\n".join(d.notifications)))
