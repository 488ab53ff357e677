"""The local half of a remote run: which ssh runs, and where its control sockets live.

Each case runs in a fresh interpreter (the ssh pin and the control directory are made
once per process), with the PATH or TMPDIR under test, against the real sshd.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from cuprum.remote import RemoteConnectError, control_dir

from .sshd_daemon import Daemon

ROOT = Path(__file__).resolve().parents[2]

# Runs `true` on the daemon, then reports the ssh run and the control socket.
_SNIPPET = """
import json, os, sys
sys.path.insert(0, {tests!r})
from cuprum.remote import SshHost
from cuprum.remote.master import POOL
from cuprum.remote.options import ssh_program
from remote.remote_support import true
host = SshHost("127.0.0.1", port={port}, user={user!r}, identity_file={identity!r},
               known_hosts={known!r})
code = host(true()).run_sync().exit_code
path = POOL.control_path(host)
mode = os.stat(os.path.dirname(path)).st_mode
print(json.dumps({{"exit": code, "ssh": ssh_program(), "path": path,
                   "socket": os.path.exists(path) and __import__("stat").S_ISSOCK(
                       os.stat(path).st_mode), "mode": mode & 0o777}}))
"""


def _fresh(daemon: Daemon, env: Mapping[str, str], cwd: str | None = None) -> dict[str, object]:
    """Run the snippet in a new interpreter with ``env`` added; its report."""
    code = _SNIPPET.format(
        tests=str(ROOT / "tests"),
        port=daemon.port,
        user=daemon.user,
        identity=str(daemon.identity),
        known=str(daemon.known_hosts),
    )
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=full,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return report


def _plant(directory: Path, marker: Path) -> None:
    """An ``ssh`` there that leaves a mark, then runs the real one."""
    fake = directory / "ssh"
    fake.write_text(f'#!/bin/sh\necho planted >> {marker}\nexec /usr/bin/ssh "$@"\n')
    fake.chmod(0o755)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory directly under /tmp (short enough for a control socket base)."""
    made = Path(tempfile.mkdtemp(prefix="cu", dir="/tmp"))
    try:
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)


def test_an_ssh_planted_in_a_directory_others_can_write_is_not_run(
    daemon: Daemon, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # anyone may add a file (no sticky bit)
    marker = tmp_path / "marker"
    _plant(shared, marker)
    report = _fresh(daemon, {"PATH": f"{shared}:{os.environ['PATH']}"})
    assert report["exit"] == 0
    assert report["ssh"] != str(shared / "ssh")
    assert not marker.exists()


def test_an_ssh_in_the_working_directory_is_not_run_with_dot_on_path(
    daemon: Daemon, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    _plant(tmp_path, marker)
    report = _fresh(daemon, {"PATH": f".:{os.environ['PATH']}"}, cwd=str(tmp_path))
    assert report["exit"] == 0
    assert os.path.isabs(str(report["ssh"]))
    assert not marker.exists()


@pytest.mark.parametrize("name", ["with space", "dollar${HOME}", "quote's"])
def test_a_tmpdir_ssh_would_misread_falls_back_to_tmp(
    daemon: Daemon, short_dir: Path, name: str
) -> None:
    odd = short_dir / name
    odd.mkdir()
    report = _fresh(daemon, {"TMPDIR": str(odd)})
    path = str(report["path"])
    assert report["exit"] == 0 and report["socket"] and report["mode"] == 0o700
    assert path.startswith("/tmp/cuprum-ssh-")


def test_a_percent_in_a_usable_tmpdir_is_escaped_for_ssh(daemon: Daemon, short_dir: Path) -> None:
    odd = short_dir / "p%h"
    odd.mkdir()
    (short_dir / "p127.0.0.1").mkdir()  # where an unescaped %h would put the socket
    report = _fresh(daemon, {"TMPDIR": str(odd)})
    path = str(report["path"])
    assert report["exit"] == 0 and report["socket"]
    assert path.startswith(f"{odd}/cuprum-ssh-")
    assert list((short_dir / "p127.0.0.1").iterdir()) == []


def test_a_tmpdir_too_long_for_a_socket_falls_back_to_tmp(daemon: Daemon, short_dir: Path) -> None:
    longest = short_dir / ("b" * (45 - len(str(short_dir)) - 1))
    longest.mkdir()
    assert control_dir.usable_base(str(longest)) is None
    report = _fresh(daemon, {"TMPDIR": str(longest)})  # the longest base still taken
    assert report["exit"] == 0 and report["socket"]
    assert str(report["path"]).startswith(f"{longest}/cuprum-ssh-")
    assert len(str(report["path"])) + 17 <= control_dir.MAX_SOCKET_PATH
    too_long = short_dir / ("c" * (46 - len(str(short_dir)) - 1))
    too_long.mkdir()
    report = _fresh(daemon, {"TMPDIR": str(too_long)})
    assert report["exit"] == 0 and report["socket"]
    assert str(report["path"]).startswith("/tmp/cuprum-ssh-")


def test_no_usable_control_directory_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spaced = tmp_path / "a b"
    spaced.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spaced))
    monkeypatch.setattr(control_dir, "_FALLBACK", "/" + "x" * 60)
    with pytest.raises(RemoteConnectError, match=r"^web1: no usable directory.*TMPDIR") as info:
        control_dir.make_control_dir("web1")
    assert "misread" in str(info.value) and "longer than 45 bytes" in str(info.value)
    assert list(spaced.iterdir()) == []  # nothing was made there
