"""The pytest side of a test tier: havipd's binary, whether the tier can run here (its
skip reason, printed in the session header and at the skip), its leftovers, and private
work directories. Each tier's conftest.py turns these into its fixtures."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from .netns import delete_leftovers

REPO = Path(__file__).resolve().parents[3]
DEFAULT_HAVIPD = REPO / "build" / "src" / "havipd"


def havipd_binary():
    """havipd: $HAVIPD, else build/src/havipd in the source tree."""
    return Path(os.environ.get("HAVIPD") or DEFAULT_HAVIPD)


def havipctl_binary():
    """havipctl: $HAVIPCTL, else beside havipd (both are built in src/)."""
    return Path(os.environ.get("HAVIPCTL") or havipd_binary().with_name("havipctl"))


@pytest.fixture(scope="session")
def havipd_bin():
    """havipd's path; fails the test (not a skip: a build step is missing) when it is
    not there. A fixture: each tier's conftest.py imports it."""
    binary = havipd_binary()
    if not os.access(binary, os.X_OK):
        pytest.fail(f"havipd binary {binary} is not there: build it (ninja -C build) "
                    f"or set HAVIPD")
    return binary


class Tier:
    """One test tier: `name` ("kernel", "e2e"), the prefix of everything it creates, and
    probe(), which returns why the tier cannot run here or None (called once)."""

    def __init__(self, name, prefix, probe):
        self.name = name
        self.prefix = prefix
        self._probe = probe
        self._reason = None

    def unavailable(self):
        """Why the tier cannot run here, or None (probed once per session)."""
        if self._reason is None:
            self._reason = self._probe() or ""
        return self._reason or None

    def report_header(self, ready):
        """pytest_report_header's lines; `ready`: the status when the tier can run."""
        reason = self.unavailable()
        status = f"SKIPPED: {reason}" if reason else ready
        return [f"havip {self.name} tier: {status}", f"havipd binary: {havipd_binary()}"]

    def require(self):
        """Skips (printing the reason) unless the tier can run here."""
        reason = self.unavailable()
        if reason:
            print(f"\nhavip {self.name} tier skipped: {reason}")
            pytest.skip(reason)

    def check_leftovers(self):
        """Deletes the tier's namespaces still there; asserts there were none (nothing of
        ours may outlive the session)."""
        leftovers = delete_leftovers(self.prefix)
        assert not leftovers, f"namespaces left behind: {leftovers}"

    def workdir(self, mode=None, keep_env=None):
        """A generator for a workdir fixture: a private temporary directory named
        prefix…, with `mode`, removed afterwards (kept when $keep_env is 1)."""
        path = Path(tempfile.mkdtemp(prefix=self.prefix))
        if mode is not None:
            path.chmod(mode)
        yield path
        if keep_env and os.environ.get(keep_env) == "1":
            print(f"\nkept {path} ({keep_env}=1)")
        else:
            shutil.rmtree(path, ignore_errors=True)
