"""Starting a program on a terminal it controls, without ``preexec_fn``: libc's posix_spawn.

``subprocess.Popen`` can start a new session but cannot make a terminal the
child's controlling terminal without ``preexec_fn`` (which rules out vfork and
doubles the spawn cost); ``os.posix_spawn`` can, but cannot set the child's
working directory. glibc's (and musl's) ``posix_spawn``, called through ctypes,
does everything in the child, in this order, before the exec: ``setsid()``
(``POSIX_SPAWN_SETSID``: a new session and process group, both the child's pid,
so teardown signals the group as for any run), SIGPIPE and SIGXFSZ back to their
defaults (as ``restore_signals=True`` does), then the file actions: change
directory, open the terminal as fd 0 (a session leader without a controlling
terminal that opens a terminal acquires it), dup it to fd 1 (and 2), close every
other fd. It clones with ``CLONE_VM | CLONE_VFORK``, like vfork. Measured cost: see
docs/terminals.md.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

from cuprum._core.pinning import PinPolicy
from cuprum._core.pinning import executable as pinned_executable
from cuprum._core.programs import Program
from cuprum._core.secret import reveal
from cuprum._runtime import fork_exec as forking
from cuprum._runtime.child import ChildProcess
from cuprum._runtime.spawn_errors import spawn_error
from cuprum._runtime.terminal import Pty

__all__ = ["spawn_on_terminal"]

_SETSIGDEF = 0x04  # POSIX_SPAWN_SETSIGDEF, the same in glibc and musl
_SETSID = 0x80  # POSIX_SPAWN_SETSID
_OPAQUE = 128  # 8-byte words reserved per libc struct (glibc needs 42 at most)

_Buffer: TypeAlias = ctypes.Array[ctypes.c_uint64]


class _Libc:
    """The libc functions used, with their signatures declared (loaded on first use)."""

    def __init__(self) -> None:
        lib = ctypes.CDLL(None, use_errno=True)
        ptr, cint, cstr = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
        signatures: dict[str, list[type]] = {
            "posix_spawn": [ptr, cstr, ptr, ptr, ptr, ptr],
            "posix_spawnattr_init": [ptr],
            "posix_spawnattr_destroy": [ptr],
            "posix_spawnattr_setflags": [ptr, ctypes.c_short],
            "posix_spawnattr_setsigdefault": [ptr, ptr],
            "posix_spawn_file_actions_init": [ptr],
            "posix_spawn_file_actions_destroy": [ptr],
            "posix_spawn_file_actions_addopen": [ptr, cint, cstr, cint, ctypes.c_uint],
            "posix_spawn_file_actions_adddup2": [ptr, cint, cint],
            "posix_spawn_file_actions_addclose": [ptr, cint],
            "sigemptyset": [ptr],
            "sigaddset": [ptr, cint],
        }
        for name, argtypes in signatures.items():
            func = getattr(lib, name)
            func.argtypes, func.restype = argtypes, cint
        self.lib = lib
        self.chdir = self._optional("posix_spawn_file_actions_addchdir_np", [ptr, cstr])
        self.closefrom = self._optional("posix_spawn_file_actions_addclosefrom_np", [ptr, cint])
        self.environ = ctypes.c_void_p.in_dll(lib, "environ")

    def _optional(self, name: str, argtypes: list[type]) -> Any:
        func = getattr(self.lib, name, None)
        if func is not None:
            func.argtypes, func.restype = argtypes, ctypes.c_int
        return func


_LIBC: _Libc | None = None


def _libc() -> _Libc:
    global _LIBC
    if _LIBC is None:
        _LIBC = _Libc()
    return _LIBC


def spawn_on_terminal(
    pty: Pty,
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None,
    env: Mapping[str, str] | None,
    stdin: int | None,
    stdout: int | None,
    stderr: int | None,
    project: PinPolicy | None = None,
) -> ChildProcess:
    """Start ``argv`` as the leader of a new session whose controlling terminal is ``pty``.

    stdin and stdout are the terminal (``stdin``/``stdout`` are the parent's slave
    fd, passed for the engine's symmetry); ``stderr`` is the slave fd (the
    terminal too), ``DEVNULL``, or an fd to dup. The file executed is the program's
    pin under ``project``'s policy, as for :func:`~cuprum._runtime.child.spawn`, and
    secrets in ``argv`` are revealed here, for the child only. A refusal is a
    :class:`SpawnError`, as for any run.
    """
    if pty.settings.term is not None:
        env = {**(os.environ if env is None else env), "TERM": pty.settings.term}
    executable = pinned_executable(Program(argv[0]), project)  # refusals raise, named
    try:
        if "/" not in executable:  # no pin could be made: nothing by that name on PATH
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), argv[0])
        pid = _posix_spawn(executable, argv, cwd=cwd, env=env, pty=pty, stderr=stderr)
    except (OSError, ValueError, TypeError) as exc:
        raise spawn_error(exc, argv, cwd=cwd, env=env) from exc
    try:
        return ChildProcess(None, pid=pid, program=argv[0])  # reaped with wait4, as native
    except BaseException:  # a signal handler raised: no child outlives the call
        forking.kill(pid, argv[0])
        raise


def _posix_spawn(
    executable: str,
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None,
    env: Mapping[str, str] | None,
    pty: Pty,
    stderr: int | None,
) -> int:
    libc = _libc()
    lib = libc.lib
    attr, actions, sigset = _opaque(), _opaque(), _opaque()
    args = _strings([reveal(arg) for arg in argv])
    envp = _strings([_entry(k, v) for k, v in env.items()]) if env is not None else None
    # posix_spawn stores the pid here itself, from C, and only for a child that
    # exec'd: a signal handler that raises as it returns finds the child to kill.
    pid = ctypes.c_int(0)
    try:
        lib.posix_spawnattr_init(attr)
        lib.posix_spawn_file_actions_init(actions)
        try:
            lib.sigemptyset(sigset)
            for sig in (signal.SIGPIPE, signal.SIGXFSZ):
                lib.sigaddset(sigset, sig)
            lib.posix_spawnattr_setsigdefault(attr, sigset)
            lib.posix_spawnattr_setflags(attr, _SETSID | _SETSIGDEF)
            _file_actions(libc, actions, cwd, pty, stderr)
            code = lib.posix_spawn(
                ctypes.byref(pid),
                os.fsencode(executable),
                actions,
                attr,
                args,
                envp if envp is not None else libc.environ,
            )
        finally:
            lib.posix_spawn_file_actions_destroy(actions)
            lib.posix_spawnattr_destroy(attr)
    except BaseException:
        if pid.value > 0:  # interrupted once started: no child outlives the call
            forking.kill(pid.value, argv[0])
        raise
    if code:
        # posix_spawn reports one errno for the whole child side: blame the
        # working directory when it cannot be entered, else the program.
        blamed: object = cwd if cwd is not None and not _enterable(cwd) else argv[0]
        raise OSError(code, os.strerror(code), blamed)
    return pid.value


def _file_actions(
    libc: _Libc, actions: _Buffer, cwd: str | os.PathLike[str] | None, pty: Pty, stderr: int | None
) -> None:
    """chdir, the error stream, the terminal as fds 0 and 1 (and 2), then no other fd."""
    lib = libc.lib
    if cwd is not None:
        if libc.chdir is None:
            raise OSError(errno.ENOSYS, "this libc's posix_spawn cannot set a working directory")
        _ok(libc.chdir(actions, os.fsencode(cwd)))
    on_terminal = stderr == pty.slave_fd
    if stderr == subprocess.DEVNULL:
        _ok(lib.posix_spawn_file_actions_addopen(actions, 2, b"/dev/null", os.O_RDWR, 0))
    elif stderr is not None and stderr >= 0 and not on_terminal:
        # (dup2 of fd 2 onto itself keeps an inherited fd 2 open across the exec)
        _ok(lib.posix_spawn_file_actions_adddup2(actions, stderr, 2))
    _ok(lib.posix_spawn_file_actions_addopen(actions, 0, os.fsencode(pty.slave_path), os.O_RDWR, 0))
    _ok(lib.posix_spawn_file_actions_adddup2(actions, 0, 1))
    if on_terminal:
        _ok(lib.posix_spawn_file_actions_adddup2(actions, 0, 2))
    if libc.closefrom is not None:
        _ok(libc.closefrom(actions, 3))
    else:  # every fd we hold is close-on-exec unless someone made it inheritable
        for fd in _inheritable_fds():
            _ok(lib.posix_spawn_file_actions_addclose(actions, fd))


def _inheritable_fds() -> list[int]:
    fds = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            try:
                if os.get_inheritable(fd):
                    fds.append(fd)
            except OSError:
                continue
    return fds


def _opaque() -> _Buffer:
    """Zeroed, 8-byte aligned room for an opaque libc struct (initialised by libc)."""
    return (ctypes.c_uint64 * _OPAQUE)()


def _ok(code: int) -> None:
    if code:
        raise OSError(code, os.strerror(code))


def _entry(name: str, value: str | bytes) -> bytes:
    """``NAME=value`` for the environment (a revealed secret may be bytes)."""
    return os.fsencode(name) + b"=" + (value if isinstance(value, bytes) else os.fsencode(value))


def _strings(items: Sequence[str | bytes]) -> ctypes.Array[ctypes.c_char_p]:
    """A NULL-terminated ``char *[]`` (the bytes stay alive with the array)."""
    encoded = [os.fsencode(item) for item in items]
    if any(b"\0" in item for item in encoded):
        raise ValueError("embedded null byte")
    return (ctypes.c_char_p * (len(encoded) + 1))(*encoded, None)


def _enterable(cwd: str | os.PathLike[str]) -> bool:
    return os.path.isdir(cwd) and os.access(cwd, os.X_OK)
