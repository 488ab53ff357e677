"""``run_sync`` and Ctrl+C, the host's own SIGINT handler, and trio's first import.

Each test runs a real host program (``sync_host.py``) in a fresh interpreter and
signals it with ``os.kill``; the children say when they are ready through files.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from core_support import DEADLINE

BACKENDS = ["asyncio", "trio"]
HOST = Path(__file__).with_name("sync_host.py")


@contextlib.contextmanager
def host(scenario: str, backend: str, workdir: Path, arg: str) -> Iterator[subprocess.Popen[str]]:
    """The host program running ``scenario``; killed (with its children) if left running."""
    argv = [sys.executable, str(HOST), scenario, backend, str(workdir), arg]
    try:
        with subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as proc:
            try:
                yield proc
            finally:
                if proc.poll() is None:
                    proc.kill()
    finally:
        for pids in workdir.glob("pids.*"):  # whatever a failed run left behind
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(pids.read_text().split()[0]), signal.SIGKILL)


def outcome(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """The host's JSON report (its stderr in the failure message otherwise)."""
    stdout, stderr = proc.communicate(timeout=DEADLINE)
    lines = stdout.splitlines()
    assert lines, stderr
    report: dict[str, Any] = json.loads(lines[-1])
    return report


# -- trio imported for the first time by another thread --------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_sync_while_another_thread_first_imports_trio(backend: str, tmp_path: Path) -> None:
    """Regression: run_sync probed the half-imported trio module and raised
    ``AttributeError: partially initialized module 'trio'`` in every such thread.
    On asyncio they now finish while the import is held; on trio they wait for it."""
    with host("trio_import", backend, tmp_path, "3") as proc:
        report = outcome(proc)
    finished = {"t0": 0, "t1": 0, "t2": 0}
    if backend == "asyncio":
        assert report == {"during": {**finished, "main": 0}, "after": {**finished, "main": 0}}
    else:
        assert report == {"during": {}, "after": finished}
