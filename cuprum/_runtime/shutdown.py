"""Host shutdown: on SIGTERM or SIGHUP, tear down every live run, then let the signal act.

Each child sits in a process group of its own, so a signal meant for the host's
whole job (``kill``, a closed terminal, ``timeout 1 python app.py``) never
reaches it. :func:`shutdown_on_signals` installs handlers that stop every live
run the way a cancellation does (SIGTERM to each process group and cgroup
member, the run's grace, then SIGKILL and ``cgroup.kill``), and then do what
the signal would have done: call the handler that was installed before, or,
for the default disposition, restore it and re-send the signal to the host.
The handler runs in the main thread between bytecodes, on asyncio and trio
alike, so it waits out the grace by polling, without the event loop.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import FrameType

from cuprum._runtime.child import ChildProcess
from cuprum._runtime.contain import Box, kill_trees, terminate_trees

__all__ = ["add_live", "remove_live", "shutdown_on_signals", "tear_down_live"]

_Stage = Callable[[], Iterable[ChildProcess]]
_live: dict[int, tuple[_Stage, Sequence[Box] | None, float]] = {}
_ids = itertools.count()


def add_live(children: _Stage, boxes: Sequence[Box] | None, grace: float) -> int:
    """Register a run (a callable listing its spawned children); returns its token."""
    token = next(_ids)
    _live[token] = (children, boxes, grace)
    return token


def remove_live(token: int | None) -> None:
    """The run has ended (reaped and released)."""
    if token is not None:
        _live.pop(token, None)


def tear_down_live() -> None:
    """Stop every live run now: SIGTERM, the longest grace, SIGKILL and ``cgroup.kill``."""
    runs = list(_live.values())
    children = [c for listed, _, _ in runs for c in listed() if not c.reaped]
    boxes = [box for _, found, _ in runs for box in found or ()]
    for child in children:
        if child.poll() is None:
            child.signal_group(signal.SIGTERM)
    terminate_trees(boxes, {child.pid for child in children})
    deadline = time.monotonic() + max((grace for _, _, grace in runs), default=0.0)
    delay = 0.001
    while time.monotonic() < deadline and any(c.poll() is None for c in children):
        time.sleep(delay)
        delay = min(delay * 2, 0.02)
    for child in children:
        child.signal_group(signal.SIGKILL)
    kill_trees(boxes)
    if not any(box.run is not None for box in boxes):
        return
    from cuprum._runtime import cgroupfs  # loaded already: the run has a cgroup

    for box in boxes:  # the host may die next: leave no cgroup behind
        if box.run is not None:
            with contextlib.suppress(OSError):
                if cgroupfs.wait_empty_blocking(box.run.path, 1.0):
                    cgroupfs.remove_tree(box.run.path)


def _before_dying() -> None:
    """The default disposition ends the host now: remove its idle and host cgroups too.

    Only what this process loaded can hold any (nothing is imported in a handler).
    """
    pool = sys.modules.get("cuprum._runtime.cgroup_pool")
    if pool is not None:
        pool.drain()
    cgroup = sys.modules.get("cuprum._runtime.cgroup")
    for path in cgroup.own_host_dirs() if cgroup is not None else ():
        with contextlib.suppress(OSError):
            os.rmdir(path)


_Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


def _handler(previous: dict[int, _Handler]) -> Callable[[int, FrameType | None], None]:
    def on_signal(signum: int, frame: FrameType | None) -> None:
        tear_down_live()
        before = previous.get(signum)
        if callable(before):
            before(signum, frame)
        elif before != signal.SIG_IGN:  # the default (or a handler set outside Python)
            _before_dying()
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    return on_signal


@contextlib.contextmanager
def shutdown_on_signals(
    signals: Iterable[int] = (signal.SIGTERM, signal.SIGHUP),
) -> Iterator[None]:
    """While inside, ``signals`` stop every live run before their usual effect.

    Call it from the main thread (Python's signal handlers live there), around
    ``anyio.run``/``asyncio.run``/``trio.run`` or inside them. The handlers
    that were installed before are called after the teardown, and restored on
    exit.
    """
    chosen = tuple(signals)
    previous: dict[int, _Handler] = {}
    on_signal = _handler(previous)
    try:
        for signum in chosen:
            previous[signum] = signal.signal(signum, on_signal)
    except ValueError as exc:
        for signum, before in previous.items():
            signal.signal(signum, signal.SIG_DFL if before is None else before)
        raise RuntimeError(
            f"shutdown_on_signals: signal handlers can only be installed from the "
            f"main thread ({exc})"
        ) from exc
    try:
        yield
    finally:
        for signum, before in previous.items():
            if signal.getsignal(signum) is on_signal:
                signal.signal(signum, signal.SIG_DFL if before is None else before)
