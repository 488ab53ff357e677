"""Reaping a child together with what it cost (``wait4`` resource usage).

The usage covers the child and every descendant it waited for itself (the
kernel adds those to the child's account), not orphans it left behind; for
a whole tree, use the run's cgroup (``cgroup_limits.read_usage``).
"""

from __future__ import annotations

import os
import resource  # noqa: F401  # see below
import subprocess
from typing import NamedTuple

from cuprum._core.usage import ResourceUsage

__all__ = ["Reaped", "ResourceUsage", "reap", "reap_popen"]

# ``resource`` is imported above because os.wait4 imports it (for its rusage) on its
# first call: no import may be under way mid-run, when another thread may fork (the
# child would find that module's import lock held for ever).


class Reaped(NamedTuple):
    """A reaped child: ``returncode`` as ``Popen`` reports it (negative: killed by signal).

    Both are None when the host ignores SIGCHLD: the kernel then reaps
    children itself and their status and usage are lost.
    """

    returncode: int | None
    usage: ResourceUsage | None


def reap(pid: int, *, block: bool = True) -> Reaped | None:
    """``wait4`` the child ``pid``; None if ``block`` is False and it is still running.

    Call it once the exit is known (a readable pidfd) so it does not block.
    """
    try:
        got, status, ru = os.wait4(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:  # SIGCHLD ignored: already reaped by the kernel
        return Reaped(None, None)
    if got == 0:
        return None
    usage = ResourceUsage(ru.ru_utime, ru.ru_stime, ru.ru_maxrss * 1024)
    # Negative for a signal, as Popen's; no stopped status here (no WUNTRACED).
    return Reaped(os.waitstatus_to_exitcode(status), usage)


def reap_popen(popen: subprocess.Popen[bytes]) -> Reaped:
    """:func:`reap` for a ``Popen`` child, keeping ``popen.returncode`` in step."""
    if popen.returncode is not None:
        return Reaped(popen.returncode, None)  # reaped by Popen already: usage is gone
    reaped = reap(popen.pid)
    assert reaped is not None
    popen.returncode = 0 if reaped.returncode is None else reaped.returncode
    return reaped
