"""Spawning a child in its own process group, awaiting its exit, tearing the group down.

The seam to the operating system is :func:`spawn`: CPython's fork-and-exec
(:mod:`.fork_exec`; ``subprocess.Popen`` on versions where it is not checked) with
``process_group=0`` (a new group inside the caller's session, so a program that
needs the controlling terminal keeps it), ``close_fds=True`` (the child sees only
fds 0-2) and ``restore_signals=True`` (SIGPIPE back to its default). No
``preexec_fn``, so CPython can still spawn with vfork. Exit is awaited through a
pidfd with ``anyio.wait_readable``, the same on asyncio and trio, and without
reaping (``WNOWAIT``) so the group id cannot be reused while cuprum still signals it.
A host that ignores SIGCHLD has its children reaped by the kernel: the pidfd still
says when the child exited, and its status is reported as 0, as ``subprocess`` does.
The file executed is always the program's pinned absolute path."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from cuprum._core.pinning import PinPolicy
from cuprum._core.pinning import executable as pinned_executable
from cuprum._core.programs import Program
from cuprum._core.secret import reveal
from cuprum._core.usage import ResourceUsage
from cuprum._runtime import fork_exec as forking
from cuprum._runtime import owned
from cuprum._runtime.reap import reap as wait4_reap
from cuprum._runtime.reap import reap_popen
from cuprum._runtime.spawn_errors import spawn_error

# anyio is imported where a wait is awaited: a run_sync() that needs no event loop
# (cuprum._runtime.direct) never loads it.
if TYPE_CHECKING:
    import anyio

__all__ = [
    "ChildProcess",
    "cut_graces_short",
    "in_grace",
    "null_fd",
    "restore_graces",
    "spawn",
    "terminate_groups",
]

FdArg = int | None
"""A child's standard stream: an fd, ``subprocess.DEVNULL``, or None for nothing done
there (the child keeps the host's fd if it is inheritable, else has it closed)."""


class ChildProcess:
    """A spawned program: its pid (also its process group id), exit status and usage.

    Started by ``Popen`` (``popen``), or by the native spawn (``pid`` and its
    ``pidfd``, no ``Popen``). The reap is a ``wait4``: ``usage`` is what it cost.
    """

    __slots__ = (
        "_pidfd",
        "_popen",
        "_waiter",
        "exit_code",
        "pid",
        "program",
        "reaped",
        "stopped",
        "usage",
    )

    def __init__(
        self,
        popen: subprocess.Popen[bytes] | None,
        *,
        pid: int | None = None,
        pidfd: int | None = None,
        program: str = "",
    ) -> None:
        self._popen = popen
        self.program = program
        found = popen.pid if popen is not None else pid
        assert found is not None
        self.pid: int = found
        self.exit_code: int | None = None
        self.reaped = False
        self.stopped = False  # cuprum signalled it before it exited on its own
        self.usage: ResourceUsage | None = None
        self._waiter: anyio.Event | None = None
        self._pidfd = pidfd  # opened on first wait if None; safe since we reap last

    def peek(self) -> int | None:
        """The exit code if the child has exited, without reaping it.

        ``ECHILD`` means the child is no longer ours to wait for: the host ignores
        SIGCHLD (so the kernel reaped it when it exited) or reaped it itself. It has
        exited and its status is lost; like ``subprocess``, report 0.
        """
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return 0
        if info is None:
            return None
        if info.si_code == os.CLD_EXITED:
            return info.si_status
        return -info.si_status

    def poll(self) -> int | None:
        """The exit code if the child has exited (not reaped), else None; never blocks."""
        if self.exit_code is not None or self.reaped:
            return self.exit_code
        return self.peek()

    def exited(self) -> int | None:
        """The exit code, recorded, if the child has exited (unreaped); never blocks."""
        if self.exit_code is None and not self.reaped:
            self.exit_code = self.peek()
        return self.exit_code

    def exit_fd(self) -> int | None:
        """The child's pidfd (opened now if need be; None without pidfd support).

        Readable once the child has exited; cuprum reaps last, so it names this child.
        """
        if self._pidfd is None:
            try:
                self._open_pidfd()
            except (AttributeError, OSError):  # no pidfd here: the caller polls
                return None
        return self._pidfd

    def _open_pidfd(self) -> None:
        """The pidfd into ``_pidfd`` as it is opened: a signal handler raising as
        ``pidfd_open`` returns would otherwise lose the fd (see :mod:`.owned`)."""
        owned.store(self, "_pidfd", os.pidfd_open, self.pid)

    async def wait_exit(self) -> int:
        """Wait (cancellably) until the child exits; returns its exit code, unreaped.

        Several tasks may wait at once (an exit watcher and a fail-fast teardown):
        one waits on the pidfd, the others on an event it sets. Not a checkpoint
        when the child has exited already (its callers checkpoint).
        """
        if self.exit_code is None and self._waiter is None:
            code = self.peek()  # most often it has exited: no event, no wait
            if code is not None:
                self.exit_code = code
        import anyio

        while self.exit_code is None:
            if self._waiter is not None:
                await self._waiter.wait()
                continue
            self._waiter = waiter = anyio.Event()
            try:
                code = self.peek()
                if code is None:
                    code = await self._await_exit()
                self.exit_code = code
            finally:
                self._waiter = None
                waiter.set()
        return self.exit_code

    async def _await_exit(self) -> int:
        """Block (cancellably) until the running child exits; its exit code, unreaped."""
        import anyio

        if self._pidfd is None:
            with contextlib.suppress(AttributeError, OSError):
                self._open_pidfd()
            # It may have exited (and, with SIGCHLD ignored, been reaped) before the
            # pidfd existed, so the pid may name another process: look again first.
            code = self.peek()
            if code is not None:
                return code
        if self._pidfd is not None:
            await anyio.wait_readable(self._pidfd)
        else:  # pragma: no cover - fallback without pidfd
            delay = 0.001
            while self.peek() is None:
                await anyio.sleep(delay)
                delay = min(delay * 2, 0.05)
        code = self.peek()
        assert code is not None
        return code

    def signal_group(self, sig: int) -> None:
        """Send ``sig`` to the child's whole process group while it is still ours."""
        if self.reaped:
            return
        if sig != signal.SIGKILL and self.exit_code is None:
            self.stopped = True
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):  # gone, or no member may be (see reap)
            return

    def reap(self) -> int:
        """Kill what is left of the group, then reap the child and release its pidfd. A
        running child this process may not signal (it took another user ID) is not waited
        for, as it may never end: :class:`PermissionError` names it (``fork_exec.kill``)."""
        if not self.reaped:
            self.signal_group(signal.SIGKILL)
            if self.exited() is None and (denied := _not_permitted(self.pid, self.program)):
                pidfd, self._pidfd = self._pidfd, None
                if pidfd is not None:
                    os.close(pidfd)
                raise denied
            if self._popen is not None:
                reaped = reap_popen(self._popen)
            else:
                got = wait4_reap(self.pid)
                assert got is not None
                reaped = got
            code = 0 if reaped.returncode is None else reaped.returncode
            self.usage = reaped.usage
            self.reaped = True
            if self.exit_code is None:
                self.exit_code = code
            pidfd, self._pidfd = self._pidfd, None  # forgotten, then closed: once
            if pidfd is not None:
                os.close(pidfd)
        assert self.exit_code is not None
        return self.exit_code


def _not_permitted(pid: int, program: str) -> PermissionError | None:
    """What to raise for ``pid`` if this process may not signal it; None if it may or is gone."""
    try:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 0)  # the permission check only
    except PermissionError:
        name = f"{program} " if program else ""
        return PermissionError(
            errno.EPERM,
            f"{name}(pid {pid}) cannot be killed: not permitted to signal it (it changed "
            "its user ID?); it is left running, unreaped",
        )
    return None


_devnull: int | None = None
_kept: dict[str, int] = {}  # the descriptor that won the first use (see null_fd)


def null_fd() -> int:
    """One shared ``/dev/null`` descriptor (``O_CLOEXEC``) for the streams nobody wires,
    opened on first use: not an open and a close per spawn.

    Threads in their first spawn at once may each open one; ``dict.setdefault`` (one
    step under the GIL) keeps the first, the others close theirs. No lock: a fork
    while another thread held it would leave the child's spawns waiting for ever."""
    global _devnull
    fd = _devnull
    if fd is None:
        mine: list[int] = []  # stored as it is opened (see .owned)
        try:
            fd = _kept.setdefault("fd", owned.open_into(mine, os.devnull, os.O_RDWR | os.O_CLOEXEC))
        finally:
            if mine and _kept.get("fd") != mine[0]:  # another thread's won, or interrupted
                os.close(mine[0])
        _devnull = fd
    return fd


def spawn(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None,
    env: Mapping[str, str] | None,
    stdin: FdArg,
    stdout: FdArg,
    stderr: FdArg,
    project: PinPolicy | None = None,
) -> ChildProcess:
    """Start ``argv`` in a new process group.

    The file executed is the program's pin (:mod:`cuprum._core.pinning`, under
    ``project``'s policy), never a ``PATH`` search: ``argv[0]`` stays the program's
    name, and an ``env`` overlay's ``PATH`` reaches the child without choosing the
    binary. Secrets in ``argv`` are revealed here, for the child only. A stream given
    as None is left alone (see :data:`FdArg`).

    Any refusal (an OS error, or a value ``Popen`` rejects before forking, such
    as an environment variable name with ``=``) is raised as a :class:`SpawnError`
    that names the program and keeps the errno; see ``spawn_errors``.
    """
    executable = pinned_executable(Program(argv[0]), project)
    args: Sequence[str | bytes] = argv
    for arg in argv:
        if type(arg) is not str:
            args = [reveal(a) for a in argv]
            break
    null = _devnull if _devnull is not None else null_fd()
    fds = [
        -1 if fd is None else null if fd == subprocess.DEVNULL else fd
        for fd in (stdin, stdout, stderr)
    ]
    try:
        if forking.AVAILABLE:
            pid = forking.fork_exec(
                executable, args, cwd=cwd, env=env, stdin=fds[0], stdout=fds[1], stderr=fds[2]
            )
            try:
                return ChildProcess(None, pid=pid, program=argv[0])
            except BaseException:  # a signal handler raised: no child outlives the call
                forking.kill(pid, executable)
                raise
        popen = subprocess.Popen(
            args,
            executable=executable,
            stdin=None if fds[0] < 0 else fds[0],
            stdout=None if fds[1] < 0 else fds[1],
            stderr=None if fds[2] < 0 else fds[2],
            cwd=cwd,
            env=env,
            close_fds=True,
            restore_signals=True,
            process_group=0,
        )
    except (OSError, ValueError, TypeError, subprocess.SubprocessError) as exc:
        raise spawn_error(exc, argv, cwd=cwd, env=env) from exc
    return ChildProcess(popen, program=argv[0])


class _Graces(threading.local):
    """This thread's teardowns now in their grace period (one event loop per thread).

    ``run_sync`` reads it for Ctrl+C: a first one leaves a run that is already in
    its grace to finish it; a second cuts every grace short (:func:`cut_graces_short`).
    """

    def __init__(self) -> None:
        self.waiting: list[tuple[int, list[ChildProcess]]] = []  # (anyio task id, children)
        self.cut = False


_graces = _Graces()


def in_grace(task_id: int) -> bool:
    """Whether the task ``task_id`` (an anyio task id) is waiting out a grace period."""
    return any(task == task_id for task, _ in _graces.waiting)


def cut_graces_short() -> None:
    """SIGKILL the groups in their grace now; later teardowns on this thread skip it.

    The waits then end as those leaders exit, and each teardown carries on as
    usual (reap, close fds, events): nothing is thrown into it. Undone by
    :func:`restore_graces`.
    """
    _graces.cut = True
    for _, live in _graces.waiting:
        for child in live:
            child.signal_group(signal.SIGKILL)


def restore_graces() -> None:
    """Teardowns on this thread give their grace period again."""
    _graces.cut = False


async def terminate_groups(children: Iterable[ChildProcess], grace: float) -> None:
    """SIGTERM each live group, give the leaders ``grace`` seconds, then SIGKILL the groups.

    Shielded from cancellation, and the SIGKILL sits in ``finally`` so even an
    exception that breaks the wait cannot skip it; :func:`cut_graces_short` ends
    the wait early. Pipeline stages are signalled last stage first: a stage is
    already being terminated before the death of the one feeding it can show it
    a clean end of input.
    """
    import anyio

    live = [child for child in children if not child.reaped]
    entry = (anyio.get_current_task().id, live)
    _graces.waiting.append(entry)
    try:
        with anyio.CancelScope(shield=True):
            for child in reversed(live):
                if child.exit_code is None:
                    child.signal_group(signal.SIGTERM)
            deadline = time.monotonic() + (0.0 if _graces.cut else grace)
            for child in live:
                remaining = deadline - time.monotonic()
                if child.exit_code is None and remaining > 0:
                    with anyio.move_on_after(remaining):
                        await child.wait_exit()
    finally:
        _graces.waiting.remove(entry)
        for child in reversed(live):
            child.signal_group(signal.SIGKILL)
