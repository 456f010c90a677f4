"""Fixtures for havip's kernel tier.

The tier needs root and `ip netns add`; without them every test that uses a
namespace is skipped with the reason (also printed in the session header).
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from helpers import Havipd, NetnsFactory, PREFIX, havipd_binary, our_namespaces, run

_probe = None


def netns_unavailable():
    """Why this process cannot run the tier, or None when it can (probed once)."""
    global _probe
    if _probe is None:
        if os.geteuid() != 0:
            _probe = "the kernel tier needs root (it creates network namespaces)"
        elif shutil.which("ip") is None:
            _probe = "the kernel tier needs iproute2's `ip`"
        else:
            name = f"{PREFIX}probe"
            try:
                proc = run("ip", "netns", "add", name, check=False)
            except OSError as e:
                proc = None
                _probe = f"`ip netns add` cannot run: {e}"
            if proc is not None and proc.returncode != 0:
                _probe = f"`ip netns add` failed: {proc.stderr.strip() or proc.returncode}"
            elif proc is not None:
                veth = run("ip", "-n", name, "link", "add", "ha-probe", "type", "veth",
                           "peer", "name", "ha-probep", check=False)
                _probe = "" if veth.returncode == 0 else (
                    f"cannot create a veth pair in a namespace: {veth.stderr.strip()}")
                run("ip", "netns", "del", name, check=False)
    return _probe or None


def pytest_report_header(config):
    reason = netns_unavailable()
    binary = havipd_binary()
    status = f"SKIPPED: {reason}" if reason else "namespaces available"
    return [f"havip kernel tier: {status}", f"havipd binary: {binary}"]


@pytest.fixture(scope="session")
def kernel_ok():
    reason = netns_unavailable()
    if reason:
        print(f"\nhavip kernel tier skipped: {reason}")
        pytest.skip(reason)
    yield
    # Nothing of ours may outlive the session.
    leftovers = our_namespaces()
    for name in leftovers:
        run("ip", "netns", "del", name, check=False)
    assert not leftovers, f"namespaces left behind: {leftovers}"


@pytest.fixture
def workdir():
    """A private temporary directory, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=PREFIX))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def havipd_bin():
    binary = havipd_binary()
    if not os.access(binary, os.X_OK):
        pytest.fail(f"havipd binary {binary} is not there: build it "
                    f"(ninja -C build) or set HAVIPD")
    return binary


@pytest.fixture
def netns(kernel_ok, workdir):
    """Factory: netns.create(label) -> a namespace with veth ha-r1/ha-r1p, both up."""
    factory = NetnsFactory(workdir)
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
            if d.running():
                try:
                    d.stop(timeout=5.0)
                except AssertionError as e:
                    problems.append(str(e))
                finally:
                    d.kill()
            else:
                d.close()
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
