"""Blame in a pipeline: which stage failed the run, and which are excused.

A stage that exits non-zero *on its own* fails the pipeline (and fail-fast stops
the others). Not blamed: a stage cuprum stopped (fail-fast, timeout,
cancellation), and a non-final stage that lost its reader while still running
(it died of SIGPIPE, or exited after EPIPE, because the stage after it had gone).
The transport tells us, through :meth:`Blame.excuse_if_running`, the moment a
stage's reader goes away (:mod:`cuprum._transport.hop`); the verdict is decided
from that, not from the order in which exit watchers happen to run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cuprum._core.results import ACCEPT_ZERO
from cuprum._runtime.stage import Stage

__all__ = ["Blame"]


class Blame:
    """The failure verdict of one run (``failure_index``), built as stages exit."""

    __slots__ = ("_accepted", "_excused", "_stages", "failure_index")

    def __init__(
        self, stages: Sequence[Stage], accepted: Callable[[int], frozenset[int]] | None = None
    ) -> None:
        self._stages = stages
        # Accepted exit codes: stage index -> the codes that count as success.
        self._accepted = accepted if accepted is not None else lambda index: ACCEPT_ZERO
        self._excused: set[int] = set()
        self.failure_index: int | None = None

    def excuse_if_running(self, index: int) -> None:
        """Stage ``index`` may get SIGPIPE/EPIPE from now on: excuse it if it still runs."""
        child = self._stages[index].child
        if child is not None and child.exit_code is None and child._peek() is None:
            self._excused.add(index)

    def exited(self, stage: Stage) -> bool:
        """Record ``stage``'s exit; True when it fails the run (fail-fast starts)."""
        child = stage.child
        assert child is not None
        accepted = child.exit_code in self._accepted(stage.index)
        if accepted or child.stopped or self.failure_index is not None:
            return False
        if self._reader_gone(stage):
            return False
        self.failure_index = stage.index
        return True

    def _reader_gone(self, stage: Stage) -> bool:
        """A non-final stage that died of SIGPIPE, or exited after its reader had gone,
        is not blamed."""
        if stage.index == len(self._stages) - 1:
            return False
        code = stage.child.exit_code if stage.child else None
        return code in (-13, 141) or stage.index in self._excused
