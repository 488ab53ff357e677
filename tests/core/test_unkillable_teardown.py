"""A run whose child may not be signalled ends at its timeout, not when the child does.

The host runs without ``CAP_KILL`` (root, its bounding set cut by ``setpriv``) and
its child becomes another user, so neither SIGTERM nor SIGKILL reaches it. The
teardown gives the grace, then does not wait for the child in ``wait4``: it raises
:class:`PermissionError` naming the program and the pid, leaving it running, with
the run's ``TimeoutExpired`` as its context (it had none), and the ``error`` event
says both (``run_sync`` had no ``error`` event at all).
"""

from __future__ import annotations

import os
import signal
import textwrap

import pytest
from unkillable import needs_setpriv, run_without_cap_kill

DEADLINE = 30.0  # a hang (the reap waiting for the child's own end) fails here

_HOST = textwrap.dedent(
    """
    import json, sys, time
    import anyio
    from cuprum import TimeoutExpired, observe
    from cuprum._model.execution import ExecutionContext
    from processes import process_state
    from unkillable import nobody_sleep, setpriv
    cmd = nobody_sleep()

    CONTEXT = ExecutionContext(cancel_grace=0.2)

    async def run():
        await cmd.run(timeout=0.3, context=CONTEXT)

    def fds():
        import os
        return sorted(os.listdir("/proc/self/fd"))

    def main(backend):
        warm = setpriv("--version")  # the caches' fds first
        if backend == "sync":
            warm.run_sync()
        else:
            anyio.run(warm.run, backend=backend)
        before = fds()
        began = time.monotonic()
        events = []
        try:
            with observe(lambda e: events.append([e.phase, e.error, e.message])):
                if backend == "sync":  # run_sync, without an event loop
                    cmd.run_sync(timeout=0.3, context=CONTEXT)
                else:
                    anyio.run(run, backend=backend)
        except BaseException as exc:
            error = exc
        found = [e for e in _chain(error) if isinstance(e, PermissionError)]
        pid = int(str(found[0]).split("(pid ")[1].split(")")[0]) if found else None
        context = error.__context__
        print(json.dumps({
            "raised": type(error).__name__,
            "context": [type(context).__name__, str(context)],
            "timed_out": isinstance(context, TimeoutExpired) and context.timeout == 0.3,
            "terminal": [e for e in events if e[0] in ("exit", "error")],
            "permission": [str(e) for e in found],
            "pid": pid,
            "state": None if pid is None else process_state(pid),
            "took": time.monotonic() - began,
            "fds_left": sorted(set(fds()) - set(before)),
        }), flush=True)

    def _chain(error):
        seen = []
        while error is not None and error not in seen:
            seen.append(error)
            seen.extend(getattr(error, "exceptions", ()))
            error = error.__cause__ or error.__context__
        return seen

    main(sys.argv[1])
    """
)


@needs_setpriv
@pytest.mark.parametrize("backend", ["asyncio", "trio", "sync"])
def test_a_child_that_may_not_be_signalled_ends_the_teardown_with_an_error(backend: str) -> None:
    found = run_without_cap_kill(_HOST, backend, timeout=DEADLINE)
    pid = found["pid"]
    try:
        refused = (
            f"[Errno 1] setpriv (pid {pid}) cannot be killed: not permitted to signal it "
            "(it changed its user ID?); it is left running, unreaped"
        )
        assert found["raised"] == "PermissionError"
        assert found["permission"] == [refused], found
        argv = "['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'sleep', '300']"
        timed_out = f"setpriv: command {argv} timed out after 0.3 seconds"
        assert found["context"] == ["TimeoutExpired", timed_out]  # the run timed out first
        assert found["timed_out"]
        assert found["terminal"] == [
            [
                "error",
                "internal_error",
                f"PermissionError: {refused} "
                f"(stopping the run, which had failed: TimeoutExpired: {timed_out})",
            ]
        ]
        assert found["state"] not in (None, "Z")  # left running, as it said
        assert found["took"] < DEADLINE / 2
        assert found["fds_left"] == []  # the run's pipes and pidfd closed all the same
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGKILL)  # the test may (orphaned: init reaps it)


# A start interrupted once the child exists discards it (native_spawn.discard): for a
# child that may not be signalled, the error names the program, not only the pid.
_DISCARD_HOST = textwrap.dedent(
    """
    import json, os
    from cuprum._runtime import fork_exec as forking
    from cuprum._runtime import native_spawn
    from unkillable import AS_NOBODY as as_nobody, wait_for_nobody
    null = os.open(os.devnull, os.O_RDWR)  # not the host's stdout: the test reads to EOF
    pid = forking.fork_exec("/usr/bin/setpriv", [*as_nobody, "sleep", "300"], cwd=None,
                            env=None, stdin=null, stdout=null, stderr=null)
    wait_for_nobody(pid)
    try:
        native_spawn.discard(pid, None, "setpriv")
    except PermissionError as exc:
        raised = str(exc)
    else:
        raised = None
    print(json.dumps({"pid": pid, "raised": raised}), flush=True)
    """
)


@needs_setpriv
def test_discarding_a_child_that_may_not_be_signalled_names_the_program() -> None:
    found = run_without_cap_kill(_DISCARD_HOST, timeout=DEADLINE)
    try:
        assert found["raised"] == (
            f"[Errno 1] setpriv (pid {found['pid']}) cannot be killed: not permitted to "
            "signal it (it changed its user ID?); it is left running, unreaped"
        )
    finally:
        os.kill(found["pid"], signal.SIGKILL)  # the test may (orphaned: init reaps it)
