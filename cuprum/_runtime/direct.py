"""``run_sync()`` of one local command in the calling thread, without an event loop.

When nothing in a run needs an event loop (one local command; no terminal,
containment or limits; stdin from nowhere, a file or a descriptor),
``run_sync()`` on its default backend drives the run itself. It takes the steps of
:mod:`.run`, the same as the engine's, and waits where the engine awaits: the output
pipes and the child's pidfd in one epoll set (:class:`~.outputs.OutputReader`), with
the run's deadline as the wait's timeout. The result, the events and the errors are
the engine's; what it saves is the event loop's share of the call (about half of its
CPU) and the import of asyncio.

Ctrl+C (in the main thread, with SIGINT at its default handler) behaves as on the
loop (:mod:`.sync`). The handler only counts, and raises nothing, neither into the
middle of a run nor into another signal handler it interrupts; Python's wake-up fd
(a pipe in every wait's set) wakes the thread's wait. The first Ctrl+C cancels the run (SIGTERM,
grace, SIGKILL), a second cuts the grace short, and once the run is over,
``KeyboardInterrupt`` is raised.
"""

from __future__ import annotations

import contextvars
import functools
import os
import select
import signal
import sys
import threading
import time
from collections.abc import AsyncIterable
from typing import Any

from cuprum._model.io import Stream
from cuprum._runtime.child import ChildProcess
from cuprum._runtime.contain import kill_trees, terminate_trees
from cuprum._runtime.enclosure import Enclosure
from cuprum._runtime.failures import deadline_expired, fail, unwrap
from cuprum._runtime.fifo import may_name_fifo, open_fifos_blocking
from cuprum._runtime.outputs import OutputReader
from cuprum._runtime.request import RunRequest
from cuprum._runtime.run import Results, Run, admit, output_reader, run_before_hooks
from cuprum._runtime.sigint import (
    Handler,
    claim_wakeup,
    give_back_sigint,
    owns_ctrl_c,
    release_wakeup,
    take_sigint,
)
from cuprum._runtime.stdin import PolledFeed
from cuprum._runtime.teardown import reap_all
from cuprum._runtime.wiring import Plan

__all__ = ["refuse_inside_event_loop", "run_direct", "runs_direct"]

# One wait at most this long (then another): a huge timeout or grace (1e300, inf) would
# overflow the OS's time_t.
_LONGEST_WAIT = 86400.0
# Without a wake-up fd (none could be made) a Ctrl+C is seen within this.
_UNWOKEN_WAIT = 0.05


class _Running(threading.local):
    """Whether this thread is inside a direct run (in one of its hooks, then)."""

    run = False


_running = _Running()


def _forget_in_child() -> None:
    """A forked child is not inside its parent's run (its Ctrl+C: see sigint.py)."""
    _running.run = False


os.register_at_fork(after_in_child=_forget_in_child)


def refuse_inside_event_loop(what: str) -> None:
    """``RuntimeError`` when called from a running asyncio loop or inside trio, or
    from a hook of a direct run (whose hooks, on a loop, would run inside it).

    Neither loop can be running in this thread unless its module is loaded: nothing
    is imported to find out.
    """
    # The hint names the async form: run_concurrent_sync -> await run_concurrent(...).
    batch = what.endswith("_sync") and what != "run_sync"
    hint = f"`await {what.removesuffix('_sync')}(...)`" if batch else "`await cmd.run()`"
    if _running.run:
        raise RuntimeError(
            f"{what}() cannot be called from a hook of a run in progress in this "
            "thread; run it from another thread, or once the run is over"
        )
    # An asyncio still being imported (by another thread) may lack the function yet;
    # and this thread cannot be inside its loop then.
    get_running_loop = getattr(sys.modules.get("asyncio"), "get_running_loop", None)
    if get_running_loop is not None:
        try:
            get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                f"{what}() cannot be called from a running asyncio event loop; use {hint} instead"
            )
    # A trio still being imported (by another thread) has no ``lowlevel`` yet; and
    # this thread cannot be inside a trio.run then.
    lowlevel = getattr(sys.modules.get("trio"), "lowlevel", None)
    if lowlevel is not None:
        try:
            lowlevel.current_trio_token()
        except RuntimeError:
            return
        raise RuntimeError(f"{what}() cannot be called from inside trio; use {hint} instead")


def runs_direct(req: RunRequest) -> bool:
    """Whether ``req`` needs nothing an event loop gives: one local command, no
    terminal, and no async iterable for stdin. (Its cgroup and limits, if any, are
    set up and removed in this thread: see :class:`~.enclosure.Enclosure`.)"""
    if len(req.stages) != 1 or req.tty is not None:
        return False
    cmd = req.stages[0]
    if getattr(cmd, "launch", None) is not None or getattr(cmd, "prepare", None) is not None:
        return False  # a remote command: its connection is opened on the loop
    stdin = req.stdin
    if stdin is None or stdin is Stream.DEVNULL or stdin is Stream.INHERIT:
        return True
    if isinstance(stdin, os.PathLike | str | bytes | bytearray | memoryview):
        return True  # a path, or data to feed (written from the same poll)
    # A file (not an async iterable, which only a loop can pull).
    return hasattr(stdin, "fileno") and not isinstance(stdin, AsyncIterable)


class _Waits:
    """Where a direct run's thread waits: against the run's deadline, and Ctrl+C.

    The SIGINT handler never raises (like the loop's): it may run inside another
    signal handler that interrupted the wait (the host's, or host shutdown's
    teardown), which an exception would break off. It only counts. What wakes the
    wait is Python's own wake-up fd (``signal.set_wakeup_fd``), the write end of
    ``wake``'s pipe while the run lasts: its byte is written whichever thread the
    kernel gives the signal to, where the handler itself runs only once the main
    thread is back from its wait. The read end is in every wait's set from the start
    (a ``select.poll`` retried after a signal keeps its fds).
    """

    __slots__ = ("count", "longest", "wake")

    def __init__(self, wake: int | None = None, *, owned: bool = False) -> None:
        self.count = 0  # Ctrl+C received during the call
        self.wake = wake  # the wake-up pipe's read end
        self.longest = _UNWOKEN_WAIT if owned and wake is None else _LONGEST_WAIT

    def on_sigint(self, signum: int, frame: object) -> None:
        self.count += 1

    def _settle(self, ready: list[Any]) -> None:
        """Empty the wake-up pipe if it was ready (it stays ready otherwise).

        A function call: the handlers of the signals that wrote it have run when it
        starts (Python runs them as a function begins), so a Ctrl+C among them is
        counted before the wait's caller looks again."""
        wake = self.wake
        if wake is not None:
            for fd, _ in ready:
                if fd == wake:
                    try:  # noqa: SIM105 (on the path of every wait)
                        os.read(wake, 512)
                    except OSError:  # read already
                        pass
                    return

    def _left(self, deadline: float | None, message: str) -> float:
        """Seconds to wait at most (-1: no limit); a Ctrl+C so far cancels the run."""
        if self.count:
            raise KeyboardInterrupt
        if deadline is None:
            return -1 if self.longest == _LONGEST_WAIT else self.longest
        left = deadline - time.monotonic()
        if left <= 0:
            raise deadline_expired(message)
        return min(left, self.longest)

    def poll(self, reader: OutputReader, deadline: float | None, message: str) -> list[Any]:
        """``reader.wait()`` until the deadline: what is ready (the wake-up pipe
        included, which the reader ignores, when a signal woke it)."""
        ready = reader.wait(self._left(deadline, message))
        wake = self.wake
        for fd, _ in ready:
            if fd == wake:  # a signal woke it: empty the pipe (only then: a call)
                self._settle(ready)
                break
        return ready

    def nap(self, seconds: float, deadline: float | None, message: str) -> None:
        """Sleep ``seconds`` at most (no pidfd here: the exit is polled; a Ctrl+C is
        seen after the nap, at most 50 ms)."""
        left = self._left(deadline, message)
        time.sleep(seconds if left < 0 else min(seconds, left))

    def until(self, done: threading.Event, deadline: float | None, message: str) -> None:
        """Wait for ``done`` (a FIFO's open, in its thread) in 50 ms slices, so the
        deadline and a Ctrl+C are seen."""
        while not done.is_set():
            left = self._left(deadline, message)
            done.wait(0.05 if left < 0 else min(0.05, left))

    def grace(self, child: ChildProcess, grace: float) -> None:
        """Up to ``grace`` seconds for ``child`` to exit; a second Ctrl+C ends it now."""
        until = time.monotonic() + grace
        pidfd = child.exit_fd()
        poller = select.poll()  # no fd of its own: a run out of fds still ends
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        if self.wake is not None:
            poller.register(self.wake, select.POLLIN)
        longest = self.longest if pidfd is not None else 0.01
        while child.exited() is None and self.count < 2:
            left = until - time.monotonic()
            if left <= 0:
                return
            self._settle(poller.poll(1000 * min(left, longest)))


def run_direct(req: RunRequest) -> tuple[Results, int | None]:
    """Run ``req`` (see :func:`runs_direct`) in this thread; the engine's results."""
    context = contextvars.copy_context()  # as a task would: hooks' variables stay inside
    if not owns_ctrl_c():
        return context.run(_life, req, _Waits())
    wake = claim_wakeup()  # None: no pipe, or the host's own fd in force (short waits)
    waits = _Waits(wake, owned=True)
    handler = waits.on_sigint
    take_sigint(handler)
    try:
        outcome = context.run(_life, req, waits)
    except BaseException as exc:
        _restore(handler, wake)
        if not waits.count:
            raise
        if isinstance(exc, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        # Ctrl+C wins over how the run ended, which it keeps as its context.
        raise KeyboardInterrupt  # noqa: B904
    if wake is not None:  # _restore(), inline on the path of every run
        release_wakeup()
    give_back_sigint(handler)
    if waits.count:  # it landed after the run's last wait (hooks, decoding)
        raise KeyboardInterrupt
    return outcome


def _restore(handler: Handler, wake: int | None) -> None:
    """SIGINT's default handler back (unless a hook installed its own), no wake-up fd."""
    if wake is not None:
        release_wakeup()
    give_back_sigint(handler)


def _life(req: RunRequest, waits: _Waits) -> tuple[Results, int | None]:
    """The engine's life cycle (``_Run.execute``), with the thread's own waits; marked
    as running in this thread meanwhile (see :func:`refuse_inside_event_loop`)."""
    _running.run = True
    try:
        strategy = admit(req, None)
        run_before_hooks(req)
        run = Run(req, strategy)
        enclosure = Enclosure()
        deadline: float | None = None
        try:
            run.announce(req.timeout)
            enclosure.enter_blocking(req.context, run.stages)
            if may_name_fifo(req):  # the clock starts here: a FIFO's wait counts against it
                deadline = _clock(req.timeout)
                message = f"timed out after {req.timeout}s"
                wait = functools.partial(waits.until, deadline=deadline, message=message)
                run.req, run.fifos = open_fifos_blocking(req, wait)
            run.start()
            if not run.fifos:  # else once started, after the start events, as on the loop
                deadline = _clock(req.timeout)
            _supervise(run, waits, deadline)  # reaps the child
        except BaseException as exc:
            failure = exc
        else:
            enclosure.leave_blocking(run.stages)
            return run.complete()
        # Raised outside the handler, so the exception keeps its own context.
        raise _failure_tail(run, failure, waits, enclosure)
    finally:
        _running.run = False


def _clock(timeout: float | None) -> float | None:
    """The run's deadline, ``timeout`` from now (``None``: no timeout)."""
    return None if timeout is None else time.monotonic() + timeout


def _supervise(run: Run, waits: _Waits, deadline: float | None) -> None:
    """Read the outputs until EOF and the exit, until ``deadline`` (the run's timeout)."""
    plan, stage = run.plan, run.stages[0]
    child = stage.child
    assert plan is not None and child is not None
    message = f"timed out after {run.req.timeout}s"

    try:
        reader = output_reader(plan, child, in_thread=True)
    except Exception as exc:
        fail("output_failed", exc)
    if waits.wake is not None:  # signals wake the waits (the reader ignores the pipe)
        reader.watch.register(waits.wake, select.POLLIN)
    try:
        feed = None if plan.feed is None else _feed(run, reader)
        while not (reader.done and (feed is None or feed.done)):
            ready = waits.poll(reader, deadline, message)
            if feed is not None and not feed.done:
                _fed(run, feed, ready)
            try:
                reader.handle(ready)
            except BaseException as exc:  # an echo sink or a line hook raised, or a read failed
                fail("output_failed", exc)  # (SystemExit too; Ctrl+C goes on as itself)
    finally:
        reader.close()
    delay = 0.001
    while child.exit_fd() is None and child.exited() is None:  # no pidfd: polled
        waits.nap(delay, deadline, message)
        delay = min(delay * 2, 0.05)
    # It has exited: reaped now (what is left of its group killed), for its status.
    child.reap()
    stage.ended = time.perf_counter()
    run.blame.exited_first(stage)


def _feed(run: Run, reader: OutputReader) -> PolledFeed:
    """The stdin data to feed (``stdin=b"..."`` or text), its first write done."""
    plan = run.plan
    assert plan is not None and plan.feed is not None
    fd, data = plan.feed
    assert isinstance(data, bytes)  # an async iterable runs on the loop
    try:
        feed = PolledFeed(fd, data, reader.watch)
    except Exception as exc:
        fail("stdin_failed", exc)
    if feed.done:
        _fed_all(run, plan, feed)
    return feed


def _fed(run: Run, feed: PolledFeed, ready: list[Any]) -> None:
    """More of the input, if the poll found room; our end closed once it is all in."""
    try:
        feed.handle(ready)
    except Exception as exc:  # writing to the pipe failed (not EPIPE: the child went)
        fail("stdin_failed", exc)
    if feed.done:
        assert run.plan is not None
        _fed_all(run, run.plan, feed)


def _fed_all(run: Run, plan: Plan, feed: PolledFeed) -> None:
    """The end of the input (the child reads EOF after it), or of the child's reading:
    our end closed, and the bytes it left told now, as on a loop, even if the run then
    fails (a timeout, a capture limit, Ctrl+C)."""
    plan.close_fd(feed.pending.fd)
    run.input_dropped(feed.dropped)


def _failure_tail(
    run: Run, exc: BaseException, waits: _Waits, enclosure: Enclosure
) -> BaseException:
    """Teardown (SIGTERM, grace, SIGKILL, reap, drain; a contained run's cgroup
    members too, as ``teardown.tear_down`` does), then the run's report: a child it
    may not kill (``PermissionError``) ends the run instead, as on a loop."""
    failure = unwrap(exc)
    stage, plan = run.stages[0], run.plan
    child = stage.child
    late: Exception | None = None
    try:
        if child is not None and not child.reaped:
            terminate_trees(enclosure.boxes, {child.pid})
            if child.exit_code is None:
                child.signal_group(signal.SIGTERM)
            waits.grace(child, run.req.context.cancel_grace)
    finally:
        kill_trees(enclosure.boxes)
        if child is not None:
            child.signal_group(signal.SIGKILL)
        try:
            reap_all(run.stages)
        except Exception as refused:  # a child we may not signal
            late = refused
        finally:  # (the fds are closed, the box left, even if the child could not be reaped)
            if not stage.ended:
                stage.ended = time.perf_counter()
            if plan is not None:
                plan.drain_and_close()
            enclosure.leave_blocking(run.stages)
    return run.report(failure) if late is None else run.report(late, during=failure)
