"""Blame in a pipeline: which stage failed the run, and which are excused.

A stage that exits non-zero *on its own* fails the pipeline (and fail-fast stops
the others). Not blamed: a stage cuprum stopped (fail-fast, timeout,
cancellation), and a non-final stage that lost its reader while still running
(it died of SIGPIPE, or exited after EPIPE, because the stage after it had gone).
The transport tells us, through :meth:`Blame.excuse_if_running`, the moment a
stage's reader goes away (:mod:`cuprum._transport.hop`): only then is a stage
excused, whatever its exit code (a stage that dies of SIGPIPE, or exits 141,
while its reader still reads is blamed). The verdict is decided from what
happened, not from the order in which exit watchers happen to run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cuprum._core.results import ACCEPT_ZERO
from cuprum._runtime.child import ChildProcess
from cuprum._runtime.stage import Stage

__all__ = ["Blame"]


def _never(index: int) -> bool:
    return False


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
        if child is not None and child.exit_code is None and child.peek() is None:
            self._excused.add(index)

    async def exited(
        self, stage: Stage, output_closed: Callable[[int], bool] = _never, settle: float = 0.0
    ) -> bool:
        """Record ``stage``'s exit; True when the run has just failed (fail-fast starts).

        The first stage that failed on its own is blamed. Exits that happen close
        together may be seen in either order, and a downstream stage often fails
        only because the stage feeding it has ended (it reads to the end, then
        exits). So when ``stage`` has failed, every stage before it that is
        already in the kernel's exit path is waited for (no code of its own runs
        any more: its exit status is moments away); one that has closed its output
        (``output_closed(index)``: GNU tools close stdout in their exit handlers,
        before they exit) is given up to ``settle`` seconds to exit on its own; and
        the most upstream of the stages found failed is blamed.
        """
        if not stage.index:
            return self.exited_first(stage)
        if self.failure_index is not None or not self._failed(stage):
            return False
        for earlier in self._stages[: stage.index]:
            child = earlier.child
            if child is None or child.exit_code is not None:
                continue
            if _exiting(child):
                await child.wait_exit()
            elif settle > 0 and output_closed(earlier.index):
                import anyio  # a pipeline's: the runs without an event loop have one stage

                with anyio.move_on_after(settle):
                    await child.wait_exit()
        if self.failure_index is not None:  # the wait let another watcher decide
            return False
        for earlier in self._stages[: stage.index]:
            if self._failed(earlier):
                self.failure_index = earlier.index
                return True
        self.failure_index = stage.index
        return True

    def exited_first(self, stage: Stage) -> bool:
        """:meth:`exited` for the first stage (a single command's): nothing before it
        to wait for, so it needs no event loop."""
        if self.failure_index is not None or not self._failed(stage):
            return False
        self.failure_index = stage.index
        return True

    def _failed(self, stage: Stage) -> bool:
        """Whether ``stage`` has exited on its own (seen, or waitable) with a code it
        does not accept."""
        child = stage.child
        if child is None or child.stopped or stage.index in self._excused:
            return False
        code = child.exit_code if child.exit_code is not None else child.peek()
        return code is not None and code not in self._accepted(stage.index)


_PF_EXITING = 0x4  # include/linux/sched.h: the task is in do_exit()


def _exiting(child: ChildProcess) -> bool:
    """Whether ``child`` has exited or is exiting (its fds may already be closed, as
    its reader sees, while it is not waitable yet)."""
    if child.peek() is not None:
        return True
    try:
        with open(f"/proc/{child.pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return bool(int(fields[6]) & _PF_EXITING)
