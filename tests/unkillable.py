"""Children the host may not signal: a host without ``CAP_KILL`` and a child as nobody.

Root runs the host with its bounding set cut by ``setpriv`` and the child becomes
user 65534, so neither SIGTERM nor SIGKILL reaches it. Shared by the teardown tests
of every suite (``tests/`` is on ``sys.path`` through its conftest); the host
scripts import :func:`wait_for_nobody` from here too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any

import pytest
from processes import process_state

from cuprum import Program, ProgramCatalogue, ProjectSettings, SafeCmd, sh

__all__ = [
    "AS_NOBODY",
    "needs_setpriv",
    "nobody_sleep",
    "run_without_cap_kill",
    "setpriv",
    "start_without_cap_kill",
    "wait_for_nobody",
]

#: ``setpriv`` arguments that make the rest of the argv run as user and group 65534.
AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def setpriv(*args: str) -> SafeCmd:
    """``setpriv args...``, from a catalogue of its own."""
    program = Program("setpriv")
    catalogue = ProgramCatalogue(
        projects=(ProjectSettings(name="unkillable", programs=(program,)),)
    )
    return sh.make(program, catalogue=catalogue)(*args)


def nobody_sleep() -> SafeCmd:
    """``sleep 300`` as nobody."""
    return setpriv(*AS_NOBODY[1:], "sleep", "300")


#: Skip unless this test can take CAP_KILL away (root, and util-linux's setpriv).
needs_setpriv = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv (util-linux), to take CAP_KILL away",
)

_WITHOUT_CAP_KILL = ["setpriv", "--bounding-set=-kill", sys.executable, "-c"]
_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def wait_for_nobody(pid: int) -> None:
    """Return once ``setpriv`` (``pid``) runs as nobody (microseconds after its start)."""
    while True:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            if f.read().split("Uid:")[1].split()[0] == "65534":
                return
        if process_state(pid) in (None, "Z"):
            raise SystemExit("setpriv did not run")


def run_without_cap_kill(code: str, *args: str, timeout: float) -> dict[str, Any]:
    """Run host ``code`` without CAP_KILL; what it printed last, as JSON."""
    host = subprocess.run(
        [*_WITHOUT_CAP_KILL, code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_ENV,
        check=False,
    )
    assert host.returncode == 0, host.stderr
    found: dict[str, Any] = json.loads(host.stdout.splitlines()[-1])
    return found


def start_without_cap_kill(
    code: str, *args: str, pass_fds: tuple[int, ...]
) -> subprocess.Popen[str]:
    """Start host ``code`` without CAP_KILL, passing it ``pass_fds``; its stderr piped."""
    return subprocess.Popen(
        [*_WITHOUT_CAP_KILL, code, *args],
        pass_fds=pass_fds,
        stderr=subprocess.PIPE,
        text=True,
        env=_ENV,
    )
