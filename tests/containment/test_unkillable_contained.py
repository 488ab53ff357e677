"""A contained run whose child may not be signalled, after its timeout.

The host runs without ``CAP_KILL`` (root, its bounding set cut by ``setpriv``) and its
child becomes another user. With per-process limits only (``open_files``: a box, no
cgroup) nothing can kill it: the run raises ``PermissionError`` naming the program,
as an uncontained run does (``tests/core/test_unkillable_teardown.py``); the native
spawn made the box's child without its name, so the error said only ``(pid N)``.
In a cgroup (``contain=True``) the cgroup's kill does reach it: the run raises
``TimeoutExpired`` and the child is reaped (the reap looked before it had died,
raised ``PermissionError`` saying it was left running, and left it a zombie).
"""

from __future__ import annotations

import contextlib
import os
import signal
import textwrap

import pytest
from unkillable import needs_setpriv, run_without_cap_kill

from cuprum._runtime import native_spawn

from .containment_support import require_cgroups

DEADLINE = 30.0  # a hang (the reap waiting for the child's own end) fails here

_HOST = textwrap.dedent(
    """
    import json, sys
    import anyio
    from cuprum import Limits, observe
    from cuprum._model.execution import ExecutionContext
    from processes import process_state
    from unkillable import nobody_sleep
    cmd = nobody_sleep()
    backend, box = sys.argv[1:]
    if box == "limits":
        CONTEXT = ExecutionContext(cancel_grace=0.2, limits=Limits(open_files=64))
    else:
        CONTEXT = ExecutionContext(cancel_grace=0.2, contain=True)

    async def run():
        await cmd.run(timeout=0.3, context=CONTEXT)

    pids = []
    try:
        with observe(lambda e: pids.append(e.pid) if e.phase == "start" else None):
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
        "pid": pids[0],
        "state": process_state(pids[0]),  # None: reaped; "Z": a zombie of the host
    }), flush=True)
    """
)


@pytest.mark.native
@needs_setpriv
@pytest.mark.parametrize("box", ["limits", "cgroup"])
@pytest.mark.parametrize("backend", ["asyncio", "trio", "sync"])
def test_a_contained_child_that_may_not_be_signalled_is_named_or_reaped(
    backend: str, box: str
) -> None:
    if not native_spawn.native_spawn_available():
        pytest.skip("the native extension with spawn_process is not installed")
    if box == "cgroup":
        require_cgroups()
    found = run_without_cap_kill(_HOST, backend, box, timeout=DEADLINE)
    pid = found["pid"]
    try:
        if box == "cgroup":  # killed by the cgroup, and reaped
            assert found["raised"] == "TimeoutExpired", found
            assert found["state"] is None, found
            return
        assert found["raised"] == "PermissionError", found
        assert found["message"] == (
            f"[Errno 1] setpriv (pid {pid}) cannot be killed: not permitted to signal it "
            "(it changed its user ID?); it is left running, unreaped"
        )
        assert found["context"] == "TimeoutExpired"  # the run timed out first
        assert found["state"] not in (None, "Z")  # left running, as it said
    finally:
        if found["state"] is not None:  # (else reaped by the run: the pid is no longer its)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # the test may (orphaned: init reaps it)
