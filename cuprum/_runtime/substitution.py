"""The one seam for test doubles: replacing the argv a stage is spawned with.

``cuprum.testing`` installs a substitution (a function of the stage's argv)
while a test runs; the engine asks :func:`spawn_argv` for the argv to hand to
``spawn()``, so a stand-in process runs in place of the real program. Only the
spawned argv changes: events, hooks and results keep the original one, and
everything else (pipes, deadlines, teardown, pipelines, ``run_concurrent``) is
the ordinary run. Process-wide rather than a ``ContextVar``, so a run started
from a worker thread or from a test runner's own task sees it too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

__all__ = ["Substitution", "install", "spawn_argv"]

Substitution = Callable[[tuple[str, ...]], Sequence[str] | None]
"""Given a stage's argv, the argv to spawn instead, or ``None`` to run it as is."""

_lock = threading.Lock()
_installed: list[Substitution] = []


def install(substitution: Substitution) -> Callable[[], None]:
    """Make ``substitution`` decide every spawn (the newest one wins); returns its undo."""
    with _lock:
        _installed.append(substitution)

    def uninstall() -> None:
        with _lock:
            if substitution in _installed:
                _installed.remove(substitution)

    return uninstall


def spawn_argv(argv: tuple[str, ...]) -> Sequence[str]:
    """The argv to spawn for a stage whose argv is ``argv`` (itself without a substitution)."""
    if not _installed:
        return argv
    replaced = _installed[-1](argv)
    return argv if replaced is None else replaced
