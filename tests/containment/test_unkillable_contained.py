"""A contained run (a box: per-process limits, a cgroup) whose child may not be
signalled names the program in the ``PermissionError`` its teardown raises, as an
uncontained run's does (``tests/core/test_unkillable_teardown.py``): the native
spawn made the box's child without its name, so the error said only ``(pid N)``.

The host runs without ``CAP_KILL`` (root, its bounding set cut by ``setpriv``) and its
child becomes another user. With per-process limits only (``open_files``: no cgroup)
nothing can kill it, so the run raises ``PermissionError`` after its timeout. In a
cgroup (``contain=True``) the cgroup's kill may reach it first: the run then raises
``TimeoutExpired``; if not, the ``PermissionError`` names the program too.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from cuprum._runtime import native_spawn

from .containment_support import require_cgroups

DEADLINE = 30.0  # a hang (the reap waiting for the child's own end) fails here

_HOST = textwrap.dedent(
    """
    import json, sys
    import anyio
    from cuprum import Limits, Program, ProgramCatalogue, ProjectSettings, sh
    from cuprum._model.execution import ExecutionContext
    SETPRIV = Program("setpriv")
    catalogue = ProgramCatalogue(projects=(ProjectSettings(name="host", programs=(SETPRIV,)),))
    cmd = sh.make(SETPRIV, catalogue=catalogue)(
        "--reuid=65534", "--regid=65534", "--clear-groups", "sleep", "300"
    )
    backend, box = sys.argv[1:]
    if box == "limits":
        CONTEXT = ExecutionContext(cancel_grace=0.2, limits=Limits(open_files=64))
    else:
        CONTEXT = ExecutionContext(cancel_grace=0.2, contain=True)

    async def run():
        await cmd.run(timeout=0.3, context=CONTEXT)

    try:
        if backend == "sync":  # run_sync, without an event loop
            cmd.run_sync(timeout=0.3, context=CONTEXT)
        else:
            anyio.run(run, backend=backend)
    except BaseException as exc:
        error = exc
    print(json.dumps({
        "raised": type(error).__name__,
        "message": str(error),
        "context": type(error.__context__).__name__,
    }), flush=True)
    """
)


@pytest.mark.native
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to take CAP_KILL away")
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux)")
@pytest.mark.parametrize("box", ["limits", "cgroup"])
@pytest.mark.parametrize("backend", ["asyncio", "trio", "sync"])
def test_a_contained_child_that_may_not_be_signalled_is_named(backend: str, box: str) -> None:
    if not native_spawn.native_spawn_available():
        pytest.skip("the native extension with spawn_process is not installed")
    if box == "cgroup":
        require_cgroups()
    without_cap_kill = ["setpriv", "--bounding-set=-kill", sys.executable]
    host = subprocess.run(
        [*without_cap_kill, "-c", _HOST, backend, box],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        check=False,
    )
    assert host.returncode == 0, host.stderr
    found = json.loads(host.stdout.splitlines()[-1])
    message = found["message"]
    pid = int(message.split("(pid ")[1].split(")")[0]) if "(pid " in message else None
    try:
        if box == "cgroup" and found["raised"] == "TimeoutExpired":
            return  # the cgroup's kill reached the child before the reap looked
        assert found["raised"] == "PermissionError", found
        assert message == (
            f"[Errno 1] setpriv (pid {pid}) cannot be killed: not permitted to signal it "
            "(it changed its user ID?); it is left running, unreaped"
        )
        assert found["context"] == "TimeoutExpired"  # the run timed out first
    finally:
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):  # killed by the cgroup already
                os.kill(pid, signal.SIGKILL)  # the test may (orphaned: init reaps it)
