"""Pinned programs: each program resolves once to one absolute file, checked at each spawn.

A bare name is looked up on the *trusted search path* (:mod:`.trust`): the
project's ``search_path``, else the ``PATH`` of ``os.environ`` at the moment the
program is first pinned, minus every directory others could plant a program in.
An absolute path is pinned to itself. The pin records the file's identity
(device, inode, size, mtime, ctime, mode); every spawn compares it with one
``stat``. A changed file is re-verified or refused (``ProjectSettings.on_change``),
a vanished one is refused: a pin never moves to another file by itself, only
:func:`refresh` (``catalogue.refresh()``) looks the program up again.

Only stat, access and hashing happen here: no processes.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal, NamedTuple, Protocol

from cuprum._core.errors import (
    InvalidArgumentError,
    ProgramNotExecutableError,
    ProgramNotFoundError,
    UntrustedProgramError,
)
from cuprum._core.programs import Program, name_problem
from cuprum._core.trust import distrust_file, trusted_search_path

__all__ = [
    "FileIdentity",
    "OnChange",
    "Pin",
    "PinPolicy",
    "current_pin",
    "executable",
    "forget",
    "pin",
    "relative_message",
    "sha256_of",
]

OnChange = Literal["reverify", "refuse"]
"""What a spawn does when the pinned file's identity changed: ``reverify`` checks it
again (a regular executable file nobody else can write, matching the project's sha256
if it pins one) and adopts it; ``refuse`` raises until the pin is refreshed."""


class PinPolicy(Protocol):
    """What pinning needs from a project (``ProjectSettings`` is one)."""

    @property
    def search_path(self) -> tuple[str, ...] | None: ...

    @property
    def sha256(self) -> Mapping[Program, str]: ...

    @property
    def on_change(self) -> OnChange: ...


class FileIdentity(NamedTuple):
    """What identifies the pinned file: compared, as a whole, at every spawn."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int
    mode: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileIdentity:
        """The identity ``os.stat`` reported for a file."""
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)

    def changes(self, new: FileIdentity) -> str:
        """What differs, for an error message: ``inode 12 -> 34, size 5 -> 6``."""
        shown = []
        for name, old, now in zip(self._fields, self, new, strict=True):
            if old != now:
                show = (lambda v: oct(stat.S_IMODE(v))) if name == "mode" else str
                shown.append(f"{name} {show(old)} -> {show(now)}")
        return ", ".join(shown)


@dataclass(frozen=True, slots=True)
class Pin:
    """Where a program was pinned: the file cuprum executes for it.

    ``searched``: the trusted directories looked in, in order (empty for an absolute
    program); ``skipped``: ``(directory, why)`` for each search path entry left out.
    ``sha256``: the digest verified, when the project pins one.
    """

    program: str
    path: str
    identity: FileIdentity
    sha256: str | None = None
    searched: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()


_Key = tuple[Program, tuple[str, ...] | None, str | None, str]
_PINS: dict[_Key, Pin] = {}
_lock = threading.Lock()


def _key(program: Program, policy: PinPolicy | None) -> _Key:
    if policy is None:
        return (program, None, None, "reverify")
    return (program, policy.search_path, policy.sha256.get(program), policy.on_change)


def executable(program: Program, policy: PinPolicy | None) -> str:
    """The absolute path to execute for ``program``: pinned on first use, then checked
    with one ``stat`` per call. Raises a ``SpawnError`` naming the program and path."""
    key = _key(program, policy)
    found = _PINS.get(key)
    if found is None:
        made = _new_pin(program, policy, key, strict=False)
        return program if made is None else made.path
    try:
        st = os.stat(found.path)
    except OSError as exc:
        raise _vanished(found, exc) from None
    if found.identity != (
        st.st_dev,
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
        st.st_mode,
    ):
        found = _reverify(found, st, policy, key)
    return found.path


def current_pin(program: Program, policy: PinPolicy | None) -> Pin | None:
    """The pin in force for ``program`` under ``policy``, without making one."""
    return _PINS.get(_key(program, policy))


def forget(program: Program, policy: PinPolicy | None) -> None:
    """Drop the pin, so the next use looks the program up again."""
    with _lock:
        _PINS.pop(_key(program, policy), None)


def pin(program: Program, policy: PinPolicy | None) -> Pin:
    """Pin ``program`` now (or return its pin); raises when it cannot be pinned."""
    key = _key(program, policy)
    found = _PINS.get(key)
    if found is None:
        found = _new_pin(program, policy, key, strict=True)
        assert found is not None
    return found


def _new_pin(program: Program, policy: PinPolicy | None, key: _Key, *, strict: bool) -> Pin | None:
    digest = key[2]
    why = name_problem(program)  # a catalogue refuses these; others may call pin()
    if why is not None:
        raise InvalidArgumentError(f"invalid program name {program!r}: {why}")
    if "/" in program:
        made = _pin_path(program, digest, strict=strict)
        if made is None:
            return None
    else:
        made = _search(program, policy, digest)
    with _lock:
        return _PINS.setdefault(key, made)


def _pin_path(program: str, digest: str | None, *, strict: bool) -> Pin | None:
    """An absolute program is pinned to itself; a relative path with ``/`` is refused.

    A path that is not a runnable regular file is not pinned. ``strict=False`` (a
    spawn): ``None``, and the spawn executes the path so that the refusal is
    explained from what the OS says (``spawn_errors``); otherwise it is raised here.
    """
    if not os.path.isabs(program):
        raise InvalidArgumentError(relative_message(program))
    try:
        st = os.stat(program)
    except OSError as exc:
        if not strict:
            return None
        raise ProgramNotFoundError(
            exc.errno or errno.ENOENT, f"{program}: program not found ({exc.strerror})"
        ) from None
    if not stat.S_ISREG(st.st_mode) or not os.access(program, os.X_OK):
        if not strict:
            return None
        _check_runnable(program, program, st)
    return Pin(program, program, FileIdentity.of(st), _verified(program, program, digest))


def relative_message(program: str) -> str:
    return (
        f"{program}: a relative program path is refused (it would depend on the working "
        "directory); give an absolute path, or a bare name looked up on the trusted search path"
    )


def _search(program: Program, policy: PinPolicy | None, digest: str | None) -> Pin:
    """The first regular executable file named ``program`` in a trusted directory."""
    entries = policy.search_path if policy is not None else None
    searched, skipped = trusted_search_path(entries)
    unrunnable: str | None = None
    for directory in searched:
        path = os.path.join(directory, program)
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            continue
        if not os.access(path, os.X_OK):
            unrunnable = unrunnable or path
            continue
        why = distrust_file(path)
        if why is not None:
            raise UntrustedProgramError(
                program, path, why, f"{program}: {path} is {why}; cuprum does not run it"
            )
        identity = FileIdentity.of(st)
        return Pin(
            program,
            path,
            identity,
            _verified(program, path, digest),
            tuple(searched),
            tuple(skipped),
        )
    if unrunnable is not None:
        raise ProgramNotExecutableError(
            errno.EACCES, f"{program}: {unrunnable} is not executable (permission denied)"
        )
    raise ProgramNotFoundError(errno.ENOENT, _not_found_message(program, searched, skipped))


def _not_found_message(
    program: str, searched: Iterable[str], skipped: Iterable[tuple[str, str]]
) -> str:
    where = os.pathsep.join(searched) or "nothing"
    message = f"{program}: program not found on the trusted search path ({where})"
    for directory, why in skipped:
        if os.path.isabs(directory) and os.path.exists(os.path.join(directory, program)):
            message += f"; {os.path.join(directory, program)} exists but {directory} is {why}"
    return message


def _check_runnable(program: str, path: str, st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise ProgramNotExecutableError(
            errno.EACCES, f"{program}: {path} is a directory, not a program"
        )
    if not stat.S_ISREG(st.st_mode):
        raise ProgramNotExecutableError(
            errno.EACCES, f"{program}: {path} is not a regular file, not a program"
        )
    if not os.access(path, os.X_OK):
        raise ProgramNotExecutableError(
            errno.EACCES, f"{program}: {path} is not executable (permission denied)"
        )


def sha256_of(path: str) -> str:
    """The hex sha256 of the file at ``path``."""
    with open(path, "rb") as f:
        import hashlib  # only for pins with a digest: not a cost of every import

        return hashlib.file_digest(f, "sha256").hexdigest()


def _verified(program: str, path: str, digest: str | None, changed: str = "") -> str | None:
    """Check the file against the project's pinned sha256, if any; the digest checked.

    ``changed``: what changed about the pinned file, when this is a re-verification.
    """
    if digest is None:
        return None
    found = sha256_of(path)
    if found == digest:
        return digest
    why = f"its content (sha256 {found}) does not match the pinned sha256 {digest}"
    if changed:
        why = f"changed ({changed}) and {why}"
        raise UntrustedProgramError(program, path, why, f"{program}: the pinned {path} {why}")
    raise UntrustedProgramError(program, path, why, f"{program}: {path}: {why}")


def _vanished(found: Pin, exc: OSError) -> ProgramNotFoundError:
    return ProgramNotFoundError(
        exc.errno or errno.ENOENT,
        f"{found.program}: the pinned {found.path} is gone ({exc.strerror}); cuprum does not "
        "look for another file (catalogue.refresh() pins the program again)",
    )


def _reverify(found: Pin, st: os.stat_result, policy: PinPolicy | None, key: _Key) -> Pin:
    """The pinned file changed: check it again and adopt it, or refuse (the policy)."""
    program, path = found.program, found.path
    new = FileIdentity.of(st)
    what = found.identity.changes(new)
    refresh = "catalogue.refresh() pins it again"
    if key[3] == "refuse":
        raise UntrustedProgramError(
            program,
            path,
            f"changed ({what})",
            f"{program}: the pinned {path} changed ({what}) and its project refuses changed "
            f"programs (on_change='refuse'); check the file, then {refresh}",
        )
    if not stat.S_ISREG(st.st_mode) or not os.access(path, os.X_OK):
        raise ProgramNotExecutableError(
            errno.EACCES,
            f"{program}: the pinned {path} is no longer executable ({what}); {refresh}",
        )
    why = distrust_file(path) if found.searched else None
    if why is not None:
        raise UntrustedProgramError(
            program, path, why, f"{program}: the pinned {path} changed ({what}) and is {why}"
        )
    digest = _verified(program, path, key[2], changed=what)
    adopted = replace(found, identity=new, sha256=digest)
    with _lock:
        if _PINS.get(key) is found:
            _PINS[key] = adopted
    return adopted
