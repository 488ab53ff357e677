"""Which directories cuprum searches for programs, and which program files it runs.

A path is trusted only when nobody but root and the current (effective) user can
make it lead somewhere else. It is walked one component at a time from ``/``, as the
kernel resolves it, symlinks included: every directory looked in and every symlink
followed belongs to root or to the current user, and no directory looked in is
writable by others unless it has the sticky bit (then nobody else can rename what is
in it). A symlink cannot be rewritten, only replaced through its directory, so its
owner and that directory are what is checked; then its target is walked the same way.
A directory is searched when it is absolute, passes that walk, and its real directory
belongs to root or the current user and is not writable by others, sticky bit or not
(in ``/tmp`` anyone may add a file). A program file is run when its path passes the
walk and the file it leads to belongs to root or the current user and others cannot
write it. Group write permission is not checked: a group that can write a directory
on ``PATH`` is trusted like its owner.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable

__all__ = ["distrust_dir", "distrust_file", "trusted_search_path"]

_MAX_LINKS = 40  # what Linux follows in one path before ELOOP

_Stats = dict[str, "os.stat_result | OSError"]
"""``lstat`` results by real path, shared by the walks of one search path."""


def trusted_search_path(
    entries: Iterable[str] | None,
) -> tuple[list[str], list[tuple[str, str]]]:
    """``(searched, skipped)``: the trusted directories of ``entries`` (default: the
    ``PATH`` of ``os.environ`` now), in order, and ``(entry, why)`` for each other."""
    if entries is None:
        entries = os.environ.get("PATH", os.defpath).split(os.pathsep)
    searched: list[str] = []
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    known: _Stats = {}
    for entry in entries:
        if entry in seen:
            continue
        seen.add(entry)
        why = distrust_dir(entry, known)
        if why is None:
            searched.append(entry)
        else:
            skipped.append((entry, why))
    return searched, skipped


def distrust_dir(entry: str, known: _Stats | None = None) -> str | None:
    """Why ``entry`` must not be searched for programs, or ``None`` when it may be."""
    if not entry:
        return "an empty entry (the working directory)"
    if not os.path.isabs(entry):
        return "relative (it would depend on the working directory)"
    why, real, st = _walk(entry, {} if known is None else known)
    if why is not None:
        return why
    assert st is not None
    if not stat.S_ISDIR(st.st_mode):
        return "not a directory"
    return _as_reached(entry, real, _owner(st) or _others_write(st))


def distrust_file(path: str) -> str | None:
    """Why the program file at ``path`` (absolute, found on the search path) must not be
    run, or ``None``: its path and the file it leads to are checked (module docstring)."""
    why, real, st = _walk(path, {})
    if why is not None:
        return why
    assert st is not None
    return _as_reached(path, real, _owner(st) or _others_write(st))


def _walk(path: str, known: _Stats) -> tuple[str | None, str, os.stat_result | None]:
    """Resolve absolute ``path`` as the kernel does, checking each directory looked in
    and each symlink followed: ``(why not trusted, real path, its lstat)``."""
    todo = path.split("/")[::-1]  # a stack of the components still to walk
    current = "/"
    st = _lstat(current, known)
    links = 0
    via: str | None = None  # the last symlink followed, for the message
    while todo:
        name = todo.pop()
        if name in ("", "."):
            continue
        if isinstance(st, OSError):
            return _via(_missing(st), via), current, None
        why = _distrust_looked_in(st)
        if why is not None:
            return _via(f"inside {current}, which is {why}", via), current, None
        if name == "..":
            current = os.path.dirname(current)
            st = _lstat(current, known)  # already walked: a directory looked in
            continue
        child = os.path.join(current, name)
        st = _lstat(child, known)
        if isinstance(st, OSError) or not stat.S_ISLNK(st.st_mode):
            current = child
            continue
        why = _owner(st)
        if why is not None:
            if via is None and not any(todo):  # the path itself is that symlink
                return f"a symlink {why}", child, None
            return f"reached through the symlink {child}, which is {why}", child, None
        links += 1
        target = _readlink(child, links)
        if isinstance(target, OSError):
            return _via(_missing(target), child), child, None
        todo.extend(target.split("/")[::-1])
        if target.startswith("/"):
            current = "/"
        st = _lstat(current, known)  # the target is walked from the link's directory
        via = child
    if isinstance(st, OSError):
        return _via(_missing(st), via), current, None
    return None, current, st


def _lstat(path: str, known: _Stats) -> os.stat_result | OSError:
    found = known.get(path)
    if found is None:
        try:
            found = os.lstat(path)
        except OSError as exc:
            found = exc
        known[path] = found
    return found


def _readlink(link: str, links: int) -> str | OSError:
    """The target of ``link``, the ``links``-th followed in one path (ELOOP past 40)."""
    if links > _MAX_LINKS:
        return OSError(errno.ELOOP, os.strerror(errno.ELOOP))
    try:
        return os.readlink(link)
    except OSError as exc:
        return exc


def _distrust_looked_in(st: os.stat_result) -> str | None:
    """Why a directory that a name is looked up in makes the path untrusted."""
    if not stat.S_ISDIR(st.st_mode):
        return "not a directory"
    if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        return "writable by others"
    return _owner(st)


def _owner(st: os.stat_result) -> str | None:
    if st.st_uid not in (0, os.geteuid()):
        return f"owned by another user (uid {st.st_uid})"
    return None


def _others_write(st: os.stat_result) -> str | None:
    return "writable by others" if st.st_mode & stat.S_IWOTH else None


def _missing(exc: OSError) -> str:
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return "missing"
    return f"not accessible ({exc.strerror})"


def _via(why: str, link: str | None) -> str:
    return why if link is None else f"{why} (reached through the symlink {link})"


def _as_reached(path: str, real: str, why: str | None) -> str | None:
    """``why`` about the real file or directory, said of ``path`` when that differs."""
    if why is None or real == os.path.normpath(path):
        return why
    return f"resolved to {real}, which is {why}"
