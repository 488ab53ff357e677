"""The remote suite's daemon: one real sshd on 127.0.0.1 for the whole session.

Outside CI a machine without OpenSSH skips these tests with the reason; with
``CI=true`` a missing daemon is a failure, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cuprum.remote import SshHost, disconnect_all

from .remote_support import make_host
from .sshd_daemon import Daemon, missing_reason, start_sshd


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """The running daemon (skipped, or failed in CI, when OpenSSH is missing)."""
    reason = missing_reason()
    if reason is not None:
        if _in_ci():
            pytest.fail(f"CI must run the remote tests: {reason}")
        pytest.skip(reason)
    with start_sshd(Path(tmp_path_factory.mktemp("sshd"))) as running:
        yield running
    disconnect_all()


@pytest.fixture(scope="session")
def small_daemon(tmp_path_factory: pytest.TempPathFactory, daemon: Daemon) -> Iterator[Daemon]:
    """A second daemon that allows only two sessions per connection (MaxSessions 2)."""
    with start_sshd(Path(tmp_path_factory.mktemp("sshd-small")), max_sessions=2) as running:
        yield running


@pytest.fixture
def host(daemon: Daemon) -> SshHost:
    """The daemon as the default test user."""
    return make_host(daemon)


@pytest.fixture(params=["sh", "bash", "fish"])
def shell_host(request: pytest.FixtureRequest, daemon: Daemon) -> SshHost:
    """The daemon as a user whose login shell is sh, bash or fish (needs root)."""
    label = str(request.param)
    if label not in daemon.users:
        # As root every shell .ci/run installs must have its user; in CI, fish too.
        if os.geteuid() == 0 and (label != "fish" or _in_ci()):
            pytest.fail(f"no test user with login shell {label}")
        pytest.skip(f"no test user with login shell {label} (needs root and the shell)")
    return make_host(daemon, daemon.users[label], name=f"shell-{label}")
