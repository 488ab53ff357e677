"""Starting a child with CPython's own fork-and-exec primitive, without ``Popen`` around it.

``subprocess.Popen`` spawns through ``_posixsubprocess.fork_exec`` (vfork when it
can), then spends about 40 us of Python on bookkeeping cuprum does not use: file
objects, locks, a ``__del__`` warning, its own reaping. :func:`fork_exec` makes the
same call with the same arguments ``Popen`` would pass for cuprum's spawn (a new
process group, ``close_fds``, SIGPIPE back to its default, no ``preexec_fn``), reads
the child's exec report from the same error pipe, and raises the same ``OSError``
or ``ValueError`` ``Popen`` would, so :mod:`.spawn_errors` explains both alike.

The primitive is private to CPython: it is used only on the versions whose
signature was checked (3.11 to 3.13, :data:`AVAILABLE`); elsewhere ``spawn()``
keeps ``Popen``. The report's format is ``_posixsubprocess``'s: ``b"Name:hex
errno:message"``, where the message ``noexec`` (``noexec:chdir`` from 3.13) means
the child failed before its exec (chdir, dup2, setpgid).
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import fcntl
import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence

from cuprum._runtime import owned

__all__ = ["AVAILABLE", "fork_exec", "kill"]

_fork_exec: Callable[..., int] | None
try:
    from _posixsubprocess import fork_exec as _fork_exec
except ImportError:  # pragma: no cover - not CPython on POSIX
    _fork_exec = None

AVAILABLE = _fork_exec is not None and (3, 11) <= sys.version_info[:2] <= (3, 13)
"""Whether :func:`fork_exec` may be used here (a checked CPython version)."""

_REPORT_MAX = 50000  # the child writes a short line; more than this is not a report


def _environment(env: Mapping[str, str] | None) -> list[bytes] | None:
    """``env`` as ``NAME=value`` byte strings (None: the parent's, exec'd as is)."""
    if env is None:
        return None
    items = []
    for name, value in env.items():
        key = os.fsencode(name)
        if b"=" in key:
            raise ValueError("illegal environment variable name")
        items.append(key + b"=" + os.fsencode(value))
    return items


def _candidates(executable: str, env: Mapping[str, str] | None) -> tuple[bytes, ...]:
    """The files to try, in order: ``executable`` itself if it has a directory part,
    else each ``PATH`` entry joined with it (what ``execvpe`` does)."""
    path = os.fsencode(executable)
    if os.path.dirname(path):
        return (path,)
    return tuple(os.path.join(os.fsencode(d), path) for d in os.get_exec_path(env))


def _error_pipe(ends: list[int]) -> tuple[int, int]:
    """A close-on-exec pipe whose write end is above fd 2 (the child dups onto 0-2).

    Each fd is in ``ends`` from the moment it exists (see :mod:`.owned`), for the
    caller to close; one closed here is -1 there first. The write end is last.
    """
    owned.make_into(ends, os.pipe)
    low = ends[1]
    if low < 3:
        ends.extend(map(fcntl.fcntl, (low,), (fcntl.F_DUPFD_CLOEXEC,), (3,)))
        ends[1] = -1  # forgotten, then closed: no check point between the two
        os.close(low)
    return ends[0], ends[-1]


def _read_report(fd: int) -> bytes:
    data = b""
    while True:
        part = os.read(fd, _REPORT_MAX)
        data += part
        if not part or len(data) > _REPORT_MAX:
            return data


def _discard(pid: int) -> None:
    """Reap a child that failed to start (or whose start was interrupted)."""
    with contextlib.suppress(ChildProcessError):  # SIGCHLD ignored: the kernel reaped it
        os.waitpid(pid, 0)


def _raise_report(report: bytes, executable: str, cwd: str | os.PathLike[str] | None) -> None:
    """Raise the exception the child reported, as ``Popen`` would."""
    try:
        name, hex_errno, raw = report.split(b":", 2)
        message = raw.decode()
    except ValueError:
        raise subprocess.SubprocessError(f"Bad exception data from child: {report!r}") from None
    kind = getattr(builtins, name.decode("ascii", "replace"), subprocess.SubprocessError)
    if not (isinstance(kind, type) and issubclass(kind, BaseException)):
        kind = subprocess.SubprocessError
    if not (issubclass(kind, OSError) and hex_errno):
        raise kind(message)
    code = int(hex_errno, 16)
    reason = os.strerror(code) if code else ""
    if message == "noexec:chdir" or (message == "noexec" and sys.version_info < (3, 13)):
        raise kind(code, reason, cwd)  # blamed on the directory, as Popen does
    if message == "noexec":
        raise kind(code, reason)
    raise kind(code, reason or message, executable)


def fork_exec(
    executable: str,
    args: Sequence[str | bytes],
    *,
    cwd: str | os.PathLike[str] | None,
    env: Mapping[str, str] | None,
    stdin: int,
    stdout: int,
    stderr: int,
) -> int:
    """Start ``executable`` with ``args`` in a new process group; its pid.

    ``stdin``/``stdout``/``stderr``: the fd to dup onto 0, 1 and 2, or -1 to leave
    that stream alone. Every other fd is closed in the child. A refusal raises what
    ``Popen`` raises (``OSError`` with the errno and the file blamed, ``ValueError``
    before forking); a child that failed to exec is reaped before that.
    """
    sys.audit("subprocess.Popen", executable, args, cwd, env)
    candidates = _candidates(executable, env)
    place = None if cwd is None else os.fspath(cwd)
    env_list = _environment(env)
    assert _fork_exec is not None
    ends: list[int] = []  # the report pipe's fds (see _error_pipe)
    close = owned.closer(ends)
    started: list[int] = []
    try:
        try:
            read, write = _error_pipe(ends)
            # close_fds, but for the report's pipe (close-on-exec: the exec closes it)
            call = (
                args, candidates, True, (write,), place, env_list,
                stdin, -1, -1, stdout, -1, stderr, read, write, *_child_settings(),
            )  # fmt: skip
            try:
                # The pid is stored by C code (extend calls fork_exec and appends): a
                # signal handler that raises runs only once the call has returned, and
                # its exception would lose a pid not yet stored in a variable.
                started.extend(itertools.starmap(_fork_exec, (call,)))
            finally:
                ends[-1] = -1  # forgotten, then closed: no check point between the two
                os.close(write)
            report = _read_report(read)
        finally:
            owned.consume(close)
        if report:
            # Reaped, then forgotten (no check point between _kill's return and the
            # clear()), then what a handler raised meanwhile: the pid is not killed
            # again below, when it may already name another process.
            held = _kill(started[0], executable)  # it has exited: reaped
            started.clear()
            if held is not None:
                raise held  # noqa: TRY301 (nothing left for the handler below)
            _raise_report(report, executable, cwd)
    except BaseException:
        for pid in started:  # interrupted after the fork: no child outlives the call
            kill(pid, executable)
        raise
    return started[0]


def kill(pid: int, program: str = "") -> None:
    """SIGKILL and reap a child whose start was interrupted (or failed), trying again
    when a signal handler raises (the reap is still owed); what the first handler
    raised is raised once the child is reaped.

    A child this process may not signal (it ran a set-user-ID program that took
    another user ID, or this process lacks ``CAP_KILL`` over a child that changed
    its user) is never waited for: it may never end. It is reaped if it has exited;
    otherwise it is left running, unreaped, and :class:`PermissionError` says so,
    naming ``program`` and the pid.
    """
    held = _kill(pid, program)
    if held is not None:
        raise held


def _kill(pid: int, program: str) -> BaseException | None:
    """:func:`kill`, but what a handler raised meanwhile is returned, not raised."""
    held: BaseException | None = None
    killed = False
    while True:
        try:
            if not killed:
                os.kill(pid, signal.SIGKILL)
                killed = True
            _discard(pid)  # reaped already (interrupted after it): ECHILD, suppressed
        except ProcessLookupError:
            return held
        except PermissionError:
            break
        except BaseException as exc:  # interrupted: the reap is still owed
            held = exc if held is None else held
            continue
        return held
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return held  # it had exited: reaped
    except ChildProcessError:
        return held  # no longer a child of ours (SIGCHLD ignored: the kernel reaped it)
    name = f"{program} " if program else ""
    error = PermissionError(
        errno.EPERM,
        f"{name}(pid {pid}) cannot be killed: not permitted to signal it (it changed its "
        "user ID?); it is left running, unreaped",
    )
    error.__context__ = held
    raise error


def _child_settings() -> tuple[object, ...]:
    """The rest of the call: restore_signals, no setsid, process group 0 (its own), no
    gid, groups or uid change, umask untouched, no preexec_fn, vfork as ``Popen`` allows."""
    return (True, False, 0, None, None, None, -1, None, getattr(subprocess, "_USE_VFORK", True))
