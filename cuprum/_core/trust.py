"""Which directories cuprum searches for programs, and which program files it runs.

A directory is searched only when nobody but root and the current (effective) user
can add a file to it or swap it for another: it is absolute; it and every directory
above it (along the path as written and along its real path) belong to root or to
the current user; it is not writable by others, sticky bit or not (in ``/tmp``
anyone may add a file); no directory above it is writable by others unless it has
the sticky bit (then nobody else can rename what is in it). A file found there is run
only when it belongs to root or the current user and others cannot write it.
Group write permission is not checked: a group that can write a directory on
``PATH`` is trusted like its owner.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable

__all__ = ["distrust_dir", "distrust_file", "trusted_search_path"]


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
    verdicts: dict[str, str | None] = {}
    for entry in entries:
        if entry in seen:
            continue
        seen.add(entry)
        why = distrust_dir(entry, verdicts)
        if why is None:
            searched.append(entry)
        else:
            skipped.append((entry, why))
    return searched, skipped


def distrust_dir(entry: str, verdicts: dict[str, str | None] | None = None) -> str | None:
    """Why ``entry`` must not be searched for programs, or ``None`` when it may be."""
    if not entry:
        return "an empty entry (the working directory)"
    if not os.path.isabs(entry):
        return "relative (it would depend on the working directory)"
    try:
        st = os.stat(entry)
    except OSError:
        return "missing"
    if not stat.S_ISDIR(st.st_mode):
        return "not a directory"
    why = _owner(st) or ("writable by others" if st.st_mode & stat.S_IWOTH else None)
    if why is not None:
        return why
    known = {} if verdicts is None else verdicts
    for ancestor in _ancestors(entry):
        if ancestor not in known:
            known[ancestor] = _distrust_ancestor(ancestor)
        why = known[ancestor]
        if why is not None:
            return f"inside {ancestor}, which is {why}"
    return None


def distrust_file(path: str, st: os.stat_result) -> str | None:
    """Why a program file found on the search path must not be run, or ``None``."""
    return _owner(st) or ("writable by others" if st.st_mode & stat.S_IWOTH else None)


def _owner(st: os.stat_result) -> str | None:
    if st.st_uid not in (0, os.geteuid()):
        return f"owned by another user (uid {st.st_uid})"
    return None


def _distrust_ancestor(path: str) -> str | None:
    try:
        st = os.stat(path)
    except OSError:
        return "not accessible"
    mode = st.st_mode
    if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
        return "writable by others"
    return _owner(st)


def _ancestors(entry: str) -> list[str]:
    """Every directory above ``entry``, along the path as written and its real path."""
    found: list[str] = []
    for path in (os.path.normpath(entry), os.path.realpath(entry)):
        parent = os.path.dirname(path)
        while True:
            if parent not in found:
                found.append(parent)
            above = os.path.dirname(parent)
            if above == parent:
                break
            parent = above
    return found
