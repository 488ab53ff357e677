"""Starting a program through the native extension: into a run's cgroup, with limits, no window.

``cuprum._streams_rs.spawn_process`` creates the child with ``clone3``
straight inside the run's cgroup (``CLONE_INTO_CGROUP``), joins the run's v1
mirrors and sets resource limits in the child before exec: nothing the
program does can happen outside the cgroup or before the limits hold. This
module turns cuprum's arguments into the extension's (absolute path, byte
strings, three descriptors) and its ``OSError`` into errors naming the program.

A host's signal handler that raises runs only where the eval loop checks, such
as right after a C call returns, before its result is stored: a pid or an fd
returned then would be lost (a child nobody kills or reaps). So what the spawn
creates is stored by C code as it is made: the extension appends ``(pid,
pidfd)`` to ``into`` before returning, the v1 ``cgroup.procs`` fds are opened
by ``list.extend(map(os.open, ...))`` and closed by one C call; an exception
once the child exists kills its group and reaps it (:func:`discard`).
"""

from __future__ import annotations

import collections
import errno
import importlib
import itertools
import os
import shutil
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from cuprum._core.errors import InvalidArgumentError
from cuprum._runtime import fork_exec as forking
from cuprum._runtime.cgroup import RunCgroup
from cuprum._runtime.child import null_fd
from cuprum._runtime.limits import ResourceLimits
from cuprum._runtime.spawn_errors import spawn_error
from cuprum._transport.native import EXTENSION

__all__ = ["NativeChild", "discard", "native_spawn_available", "spawn_native"]

_NativeSpawn = Callable[..., tuple[int, int | None]]


@dataclass(frozen=True)
class NativeChild:
    """A started child: pid (its process group id too) and pidfd (None on old kernels)."""

    pid: int
    pidfd: int | None


def _native() -> _NativeSpawn | None:
    try:
        extension = importlib.import_module(EXTENSION)
    except ImportError:
        return None
    return cast("_NativeSpawn | None", getattr(extension, "spawn_process", None))


def _required() -> _NativeSpawn:
    native = _native()
    if native is None:
        raise ImportError("cuprum._streams_rs.spawn_process is not installed")
    return native


def native_spawn_available() -> bool:
    """Whether the native extension (with ``spawn_process``) is installed."""
    return _native() is not None


_FOUND: dict[tuple[str, str | None], str] = {}


def _first_file(program: str, search: str | None) -> str | None:
    """The first ``PATH`` entry holding a file ``program`` (not executable: exec says why)."""
    for entry in (search or os.defpath).split(os.pathsep):
        candidate = os.path.join(entry or ".", program)
        if os.path.isfile(candidate):
            return candidate
    return None


def _program_path(program: str, env: Mapping[str, str] | None, cwd: str | None) -> str:
    """The absolute path to exec; a ``PATH`` search is cached per (program, PATH)."""
    if program.startswith("/"):
        return program
    if "/" in program:
        return os.path.join(cwd or os.getcwd(), program)
    search = (os.environ if env is None else env).get("PATH")
    key = (program, search)
    found = _FOUND.get(key)
    if found is None or not os.access(found, os.X_OK):
        _FOUND.pop(key, None)
        which = shutil.which(program, path=search) or _first_file(program, search)
        if which is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
        found = os.path.abspath(which)
        if os.path.isabs(which):
            _FOUND[key] = found
    return found


def _environment(program: str, env: Mapping[str, str] | None) -> list[bytes] | None:
    """``env`` as ``NAME=value`` items; None (the process's own, which the extension
    takes from libc's ``environ``: building it from ``os.environb`` costs ~25 us)."""
    if env is None:
        return None
    items = []
    for name, value in env.items():
        key, data = os.fsencode(name), os.fsencode(value)
        if not key or b"=" in key or b"\0" in key:
            raise ValueError(f"illegal environment variable name {name!r} (env)")
        if b"\0" in data:
            raise ValueError(f"embedded null byte in the value of {name!r} (env)")
        items.append(key + b"=" + data)
    return items


def _error(
    argv: Sequence[str], cwd: str | None, env: Mapping[str, str] | None, exc: BaseException
) -> BaseException:
    """A refusal through the same mapping as ``Popen``'s: the native child's ``OSError``,
    or a ``ValueError`` for an environment the OS cannot pass; anything else as it is."""
    if isinstance(exc, OSError) and cwd is not None and exc.filename == cwd:
        exc = type(exc)(exc.errno, exc.strerror)  # a chdir failure blames the directory
    if isinstance(exc, OSError | ValueError):
        return spawn_error(exc, argv, cwd=cwd, env=env)
    return exc


def _open_joins(cgroup: RunCgroup, joins: list[int]) -> None:
    """Open the ``cgroup.procs`` of ``cgroup``'s v1 mirrors into ``joins``, each fd
    stored by C code (``list.extend``) as it is opened."""
    procs = [os.path.join(linked, "cgroup.procs") for linked in cgroup.linked]
    joins.extend(map(os.open, procs, itertools.repeat(os.O_WRONLY | os.O_CLOEXEC)))


def spawn_native(
    argv: Sequence[str | bytes],
    *,
    executable: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    stdin: int | None = None,
    stdout: int | None = None,
    stderr: int | None = None,
    cgroup: RunCgroup | None = None,
    limits: ResourceLimits | None = None,
    new_session: bool = False,
    controlling_tty: int | None = None,
) -> NativeChild:
    """Start ``argv`` in a new process group (or session) inside ``cgroup``, with ``limits``;
    ``executable``: the file to run (a pinned path), by default ``argv[0]`` looked up.

    ``None`` for a standard stream means ``/dev/null``. Raises ``ImportError``
    when the extension is missing; ``ProgramNotFoundError``,
    ``WorkingDirectoryError`` or ``SpawnError`` (with the child's errno) when
    the program cannot start.
    """
    native = _required()
    shown = [os.fsdecode(arg) for arg in argv]  # for error messages
    program = shown[0]
    if cgroup is not None and cgroup.fd is None:
        raise InvalidArgumentError(f"{program}: cgroup: the run's cgroup is already closed")
    where = None if cwd is None else os.fspath(cwd)
    fds = tuple(null_fd() if fd is None else fd for fd in (stdin, stdout, stderr))
    # What the spawn creates is stored by C code as it is made (see the module docs):
    joins: list[int] = []  # the v1 cgroup.procs files, open for the child to join itself
    close_joins = map(os.close, joins)  # made first: closing them is then a single C call
    started: list[tuple[int, int | None]] = []
    try:
        try:
            path = executable if executable is not None else _program_path(program, env, where)
            if cgroup is not None:
                _open_joins(cgroup, joins)
            native(
                os.fsencode(path),
                [os.fsencode(arg) for arg in argv],
                _environment(program, env),
                fds,
                cwd=None if where is None else os.fsencode(where),
                cgroup_fd=None if cgroup is None else cgroup.fd,
                join_cgroup_fds=joins,
                new_session=new_session,
                controlling_tty=controlling_tty,
                rlimits=[] if limits is None else limits.rlimits(),
                into=started,
            )
        finally:  # nothing runs between two closes, nor before the first
            collections.deque(close_joins, maxlen=0)
        return NativeChild(*started[0])
    except BaseException as exc:
        for pid, pidfd in started:  # interrupted once started: no child outlives the call
            discard(pid, pidfd, program)
        if started or (refusal := _error(shown, where, env, exc)) is exc:
            raise
        raise refusal from exc


def discard(pid: int, pidfd: int | None, program: str = "") -> None:
    """SIGKILL a started child's process group, reap the child and close its pidfd: for a
    start interrupted before its caller had the child. A signal handler that raises
    during the group's SIGKILL does not skip the reap; an error names ``program``."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:  # gone already
        pass
    finally:
        forking.kill(pid, program)  # the leader, then the reap, however often interrupted
        if pidfd is not None:
            os.close(pidfd)
