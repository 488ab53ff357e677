"""FIFOs as ``stdout=``/``stderr=``/``stdin=``: the open waits for the other end, as a
shell's does, but within the run's timeout, without blocking the event loop, and
ended by a cancellation; no fd or thread outlives the call (on every path)."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from core_support import DEADLINE, open_fds, shell, wait_until

from cuprum import SafeCmd, TimeoutExpired

PATHS = ("direct", "trio", "asyncio")


def _on(path: str, cmd: SafeCmd, options: dict[str, Any]) -> Any:
    """``cmd`` run with ``options`` on ``path``: the result, or what it raised."""
    calls: dict[str, Callable[[], Any]] = {
        "direct": functools.partial(cmd.run_sync, **options),
        "trio": functools.partial(cmd.run_sync, backend="trio", **options),
        "asyncio": functools.partial(anyio.run, functools.partial(cmd.run, **options)),
    }
    try:
        return calls[path]()
    except Exception as exc:  # compared by the caller
        return exc


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A FIFO; should a run still wait on it at the end (the old behaviour: for ever),
    a watchdog opens its other end after DEADLINE so the test fails instead of hanging."""
    path = tmp_path / "fifo"
    os.mkfifo(path)
    shell("true").run_sync()  # the shared /dev/null descriptor, opened once
    done = threading.Event()

    def watchdog() -> None:
        if not done.wait(DEADLINE * 2):
            for flags in (os.O_RDONLY, os.O_WRONLY):
                with contextlib.suppress(OSError):
                    os.close(os.open(path, flags | os.O_NONBLOCK))

    thread = threading.Thread(target=watchdog, daemon=True)
    thread.start()
    yield path
    done.set()
    thread.join()


def _no_opener_left() -> None:
    wait_until(
        lambda: not any(t.name == "cuprum-fifo-open" for t in threading.enumerate()),
        what="the opener thread to end",
    )


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_a_redirect_to_a_fifo_without_reader_times_out(fifo: Path, path: str, stream: str) -> None:
    fds = open_fds()
    outcome = _on(path, shell("echo x; echo y >&2"), {stream: fifo, "timeout": 0.3})
    assert isinstance(outcome, TimeoutExpired), outcome
    assert open_fds() == fds
    _no_opener_left()


@pytest.mark.parametrize("path", PATHS)
def test_a_redirect_to_a_fifo_reaches_its_reader(fifo: Path, path: str) -> None:
    got: list[bytes] = []

    def reader() -> None:
        with fifo.open("rb") as f:  # blocks until the run opens the FIFO for writing
            got.append(f.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    result = _on(path, shell("echo through"), {"stdout": fifo, "timeout": DEADLINE})
    thread.join(DEADLINE)
    assert (result.exit_code, got) == (0, [b"through\n"])


@pytest.mark.parametrize("path", PATHS)
def test_a_stdin_fifos_wait_counts_against_the_timeout(fifo: Path, path: str) -> None:
    """The writer opens the FIFO after 0.6 s of a 1.2 s timeout and writes nothing: the
    run times out 1.2 s after its start, not 1.2 s after the FIFO opened."""
    opened: list[float] = []
    release = threading.Event()

    def writer() -> None:
        time.sleep(0.6)  # the run waits for its writer meanwhile (not the test's sync)
        fd = os.open(fifo, os.O_WRONLY)
        opened.append(time.monotonic())
        release.wait(DEADLINE * 2)
        os.close(fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    outcome = _on(path, shell("cat"), {"stdin": fifo, "timeout": 1.2})
    ended = time.monotonic()
    release.set()
    thread.join()
    assert isinstance(outcome, TimeoutExpired), outcome
    assert ended - opened[0] < 1.2  # about 0.6; without the fix, 1.2 plus


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_loop_runs_on_and_a_cancellation_ends_the_wait(fifo: Path, backend: str) -> None:
    fds = open_fds()
    ticks = [0]

    async def main() -> bool:
        async def tick() -> None:
            while True:
                ticks[0] += 1
                await anyio.sleep(0.01)

        async with anyio.create_task_group() as tg:
            tg.start_soon(tick)
            with anyio.move_on_after(0.5) as scope:
                await shell("echo x").run(stdout=fifo)
            tg.cancel_scope.cancel()
        return scope.cancelled_caught

    assert anyio.run(main, backend=backend)
    assert ticks[0] > 5  # the loop was not blocked by the open
    assert open_fds() == fds
    _no_opener_left()
