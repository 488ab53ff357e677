"""Opening a run's pty so that its owner holds both ends from the first instant.

A signal handler that raises as ``Pty(...)`` returns, or between storing the pty
and registering its slave as a child fd, would otherwise lose an fd (see
:mod:`.owned`): here the pty is stored as it is made, and one ``except`` closes
what nobody holds yet.
"""

from __future__ import annotations

import os
from typing import Protocol

from cuprum._model.terminal import Terminal
from cuprum._runtime.terminal import Pty

__all__ = ["open_pty"]


class _Owner(Protocol):
    """The run's plan: its terminal, and the fds it closes once the child has its own."""

    terminal: Pty | None
    child_fds: list[int]


def open_pty(owner: _Owner, settings: Terminal) -> Pty:
    """A new :class:`Pty` as ``owner.terminal`` (which closes the master), its slave
    in ``owner.child_fds`` (closed once the child runs); on an interrupt, neither leaks."""
    made: list[Pty] = []
    try:
        made.extend(map(Pty, (settings,)))  # stored as Pty() returns it
        pty = owner.terminal = made[0]
        owner.child_fds.append(pty.slave_fd)  # no check point before this call
    except BaseException:
        for pty in made:
            if pty.slave_fd not in owner.child_fds:
                os.close(pty.slave_fd)
            if owner.terminal is not pty:
                pty.hangup()
        raise
    return pty
