"""Host shutdown: a host that gets SIGTERM, SIGHUP or Ctrl+C leaves no descendant behind.

A real host process runs a contained command that detaches a ``setsid``
sleeper and a double-forked daemon, under ``cuprum.shutdown_on_signals()``, on
asyncio, on trio, or through ``run_sync()`` in its main thread (the direct path,
without an event loop); the test signals the host and checks that the host died
of the signal (its usual effect; Ctrl+C by the ``KeyboardInterrupt`` it raises),
that nothing it started survives, and that its cgroups went with it.
"""

from __future__ import annotations

import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
from processes import wait_until_dead

from cuprum._runtime.cgroup import CgroupSupport

from .containment_support import PY, host_cgroups
from .test_engine_containment import DAEMON

HOST = textwrap.dedent(
    """
    import os, sys
    import anyio
    import cuprum
    from cuprum import ExecutionContext, Program, ProgramCatalogue, ProjectSettings, sh

    SH = Program("sh")
    CAT = ProgramCatalogue(projects=(ProjectSettings(name="host", programs=(SH,)),))
    work, daemon, backend, contain = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
    line = (
        f"setsid sleep 300 >/dev/null 2>&1 & echo $! > {work}/setsid.pid; "
        f"{sys.executable} -c \\"$DAEMON\\" {work}/daemon.pid >/dev/null 2>&1 & "
        f"echo $$ > {work}/shell.pid; sleep 300"
    )
    ctx = ExecutionContext(contain=contain, env={"DAEMON": daemon}, cancel_grace=0.2)

    cmd = sh.make(SH, catalogue=CAT)("-c", line)

    async def main() -> None:
        await cmd.run(context=ctx)

    with cuprum.shutdown_on_signals():
        if backend == "direct":  # run_sync() in this thread, without an event loop
            cmd.run_sync(context=ctx)
        else:
            anyio.run(main, backend=backend)
    """
)


def _pids(work: Path, names: list[str], host: subprocess.Popen[bytes]) -> list[int]:
    files = [work / f"{name}.pid" for name in names]
    deadline = time.monotonic() + 15
    while not all(f.exists() and f.read_text().strip() for f in files):
        assert host.poll() is None, host.communicate()
        assert time.monotonic() < deadline, "the host's command did not start"
        time.sleep(0.01)
    return [int(f.read_text()) for f in files]


@pytest.mark.parametrize("backend", ["asyncio", "trio", "direct"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signalled_host_leaves_no_descendant(
    backend: str, signum: int, tmp_path: Path, support: CgroupSupport
) -> None:
    script = tmp_path / "host.py"
    script.write_text(HOST)
    host = subprocess.Popen(
        [PY, str(script), str(tmp_path), DAEMON, backend, "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    pids = _pids(tmp_path, ["shell", "setsid", "daemon"], host)
    host.send_signal(signum)
    _, stderr = host.communicate(timeout=15)
    # The signal's usual effect, after the teardown (Ctrl+C: the run is cancelled, and
    # the KeyboardInterrupt it raises ends the host as SIGINT's default would)
    assert host.returncode == -signum, stderr
    if signum == signal.SIGINT:
        assert stderr.decode().rstrip().endswith("KeyboardInterrupt"), stderr
    assert wait_until_dead(pids) == []
    assert support.base is not None  # and the host's cgroups went with it
    assert host_cgroups(support.base, host.pid) == []


def test_without_cgroups_the_process_group_still_goes(tmp_path: Path) -> None:
    # contain=False: the shell's group dies; what left it is the documented gap.
    script = tmp_path / "host.py"
    script.write_text(HOST)
    host = subprocess.Popen(
        [PY, str(script), str(tmp_path), DAEMON, "asyncio", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    shell, setsid, daemon = _pids(tmp_path, ["shell", "setsid", "daemon"], host)
    host.send_signal(signal.SIGTERM)
    host.communicate(timeout=15)
    assert host.returncode == -signal.SIGTERM
    assert wait_until_dead([shell]) == []
    for pid in (setsid, daemon):  # escaped the group: clean up after the test
        with __import__("contextlib").suppress(ProcessLookupError):
            __import__("os").kill(pid, signal.SIGKILL)


RUNS_HOST = textwrap.dedent(
    """
    import os, sys
    from cuprum import ExecutionContext, Program, ProgramCatalogue, ProjectSettings, sh

    SH = Program("sh")
    CAT = ProgramCatalogue(projects=(ProjectSettings(name="host", programs=(SH,)),))
    cmd = sh.make(SH, catalogue=CAT)("-c", "setsid sleep 300 >/dev/null 2>&1 &")
    for _ in range(200):
        assert cmd.run_sync(context=ExecutionContext(contain=True)).exit_code == 0
    print(os.getpid())
    """
)


def test_two_hundred_contained_runs_leave_no_cgroup(tmp_path: Path, support: CgroupSupport) -> None:
    script = tmp_path / "runs.py"
    script.write_text(RUNS_HOST)
    done = subprocess.run(
        [PY, str(script)], capture_output=True, text=True, check=True, timeout=120
    )
    pid = int(done.stdout)
    assert support.base is not None
    assert host_cgroups(support.base, pid) == []
