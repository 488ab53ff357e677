"""The cursor behind ``stdout_lines()`` under attack: bad sources and refills, code
that re-enters it, steps run as tasks or thrown into, cancellation at any point of a
real child's output, threads. Both forms (the extension's and the pure install's
async generator) must survive each and deliver every line once."""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuprum._compose import line_cursor as cursor_module
from cuprum._transport import native

from .streaming_support import py

pytestmark = pytest.mark.anyio


class Source:
    """The handle's output, reduced to its ``ready`` lines; the refill ends the stream."""

    def __init__(self, ready: object) -> None:
        self.ready = ready

    async def refill(self) -> str:
        await anyio.lowlevel.checkpoint()
        raise StopAsyncIteration


def cursor(source: object, refill: object) -> Any:
    """Either form (by the ``line_cursor`` fixture), typed loosely: the tests also
    drive it as a coroutine and hand it what no type allows."""
    return cursor_module.line_cursor(source, refill)  # type: ignore[arg-type]


class Raising:
    @property
    def ready(self) -> Iterator[str]:
        raise KeyError("ready")


class BadNext:
    def __init__(self) -> None:
        self.ready = map(int, ["x"])  # its __next__ raises ValueError


async def refill_end() -> str:
    raise StopAsyncIteration


def sync_raising() -> str:
    raise KeyError("refill")


FAULTS: dict[str, tuple[Callable[[], tuple[object, object]], type[BaseException]]] = {
    "ready-a-list": (lambda: (Source(["a"]), refill_end), TypeError),
    "ready-raises": (lambda: (Raising(), refill_end), KeyError),
    "ready-next-raises": (lambda: (BadNext(), refill_end), ValueError),
    "refill-not-callable": (lambda: (Source(iter(())), 42), TypeError),
    "refill-raises-when-called": (lambda: (Source(iter(())), sync_raising), KeyError),
    "refill-not-awaitable": (lambda: (Source(iter(())), lambda: 42), TypeError),
}


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_fault_is_raised_by_the_await_not_by_anext(line_cursor: str, fault: str) -> None:
    """As an async generator's: ``anext(it, default)`` crashes CPython 3.11-3.13 when
    ``__anext__`` itself raises, and a list as ``ready`` crashed the native cursor."""
    make, error = FAULTS[fault]
    step = anext(cursor(*make()), None)  # must not raise here
    with pytest.raises(error):
        await step


async def test_a_closed_cursor_gives_anext_its_default(line_cursor: str) -> None:
    lines = cursor(Source(iter(["a", "b"])), refill_end)
    assert await anext(lines) == "a"
    await lines.aclose()
    assert await anext(lines, "end") == "end"
    assert [line async for line in lines] == []


async def test_a_ready_iterator_that_closes_the_cursor_while_it_runs(line_cursor: str) -> None:
    """The generator, closed (and dropped by its source) from its own body, must live
    until it returns: the native cursor used to free it while it ran."""
    source = Source(None)

    def ready() -> Iterator[str]:
        if line_cursor == "native":
            lines.aclose().close()
        else:  # an async generator's aclose() runs when awaited (3.13 refuses it at once)
            with contextlib.suppress(RuntimeError):
                lines.aclose().close()
        source.ready = iter(())
        yield "a"

    source.ready = ready()
    lines = cursor(source, refill_end)
    assert [line async for line in lines] == ["a"]


async def test_a_ready_iterator_that_steps_the_cursor_itself(line_cursor: str) -> None:
    """A re-entrant step from ``ready``'s ``__next__`` takes its own line, once."""
    source = Source(None)
    inner: list[Any] = []

    def step_inside(line: str) -> str:
        if line == "a":
            inner.append(anext(lines))
        return line

    source.ready = map(step_inside, ["a", "b", "c"])
    lines = cursor(source, refill_end)
    seen = [await anext(lines), await inner[0]]
    seen += [line async for line in lines]
    assert seen == ["a", "b", "c"]


async def test_a_step_can_run_as_a_task(line_cursor: str) -> None:
    """A step is a coroutine (``send``/``throw``/``close``): ``start_soon``,
    ``asyncio.create_task`` and trio's nursery refuse anything else."""
    lines = cursor(Source(iter(["a", "b"])), refill_end)
    async with anyio.create_task_group() as tg:
        tg.start_soon(anext, lines)
    assert [line async for line in lines] == ["b"]


@pytest.mark.parametrize("default", [False, True])
def test_a_step_thrown_into_raises_what_was_thrown(line_cursor: str, default: bool) -> None:
    """What an asyncio task cancelled before its first step does to its coroutine (with
    ``anext(it, default)`` the native cursor used to raise ``AttributeError``)."""
    lines = cursor(Source(iter(["a", "b"])), refill_end)
    step = anext(lines, None) if default else anext(lines)
    with pytest.raises(KeyError):
        step.throw(KeyError("thrown"))
    other = anext(lines)
    assert other.close() is None


WRITER = """
import sys
count, pieces = int(sys.argv[1]), int(sys.argv[2])
data = "".join(f"{i}\\n" for i in range(count)).encode()
step = max(1, len(data) // pieces)
for start in range(0, len(data), step):
    sys.stdout.buffer.write(data[start:start + step])
    sys.stdout.buffer.flush()
"""

FIXED = [HealthCheck.function_scoped_fixture]


@settings(max_examples=10, deadline=None, suppress_health_check=FIXED)
@given(
    count=st.integers(1, 3000),
    pieces=st.integers(1, 8),
    cuts=st.lists(st.tuples(st.integers(1, 400), st.integers(0, 8)), min_size=1, max_size=5),
)
def test_cancelled_readers_of_a_child_lose_and_repeat_nothing(
    anyio_backend: str, line_cursor: str, count: int, pieces: int, cuts: list[tuple[int, int]]
) -> None:
    """Each reader, once it has ``share`` thousandths more of the lines, is cancelled
    after ``checkpoints`` of another task (wherever its refill then is); the next
    reader goes on from there."""

    async def cancel_after(scope: anyio.CancelScope, checkpoints: int) -> None:
        for _ in range(checkpoints):
            await anyio.lowlevel.checkpoint()
        scope.cancel()

    async def check() -> None:
        got: list[str] = []
        with anyio.fail_after(20):
            async with py(WRITER, str(count), str(pieces)).stream() as handle:
                for share, checkpoints in cuts:
                    target = len(got) + max(1, count * share // 1000)
                    with anyio.CancelScope() as scope:
                        async with anyio.create_task_group() as tg:
                            async for line in handle.stdout_lines():
                                got.append(line)
                                if len(got) == target:
                                    tg.start_soon(cancel_after, scope, checkpoints)
                got += [line async for line in handle.stdout_lines()]
                assert (await handle.wait()).ok
        assert got == [str(i) for i in range(count)]

    anyio.run(check, backend=anyio_backend)


def test_cursors_on_two_threads_each_with_its_loop(line_cursor: str) -> None:
    """Each thread's event loop drives its own cursor; neither sees the other's lines."""
    results: dict[str, list[str]] = {}

    class Batches(Source):
        def __init__(self, name: str) -> None:
            super().__init__(iter(()))
            self.batches = [[f"{name}{i}.{j}" for j in range(50)] for i in range(200)]

        async def refill(self) -> str:
            await anyio.lowlevel.checkpoint()
            if not self.batches:
                raise StopAsyncIteration
            self.ready = iter(self.batches.pop())
            return next(self.ready)

    def run(name: str, backend: str) -> None:
        async def read() -> None:
            source = Batches(name)
            results[name] = [line async for line in cursor(source, source.refill)]

        anyio.run(read, backend=backend)

    threads = [
        threading.Thread(target=run, args=(name, backend))
        for name, backend in (("x", "asyncio"), ("y", "trio"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    for name in "xy":
        expected = [f"{name}{i}.{j}" for i in reversed(range(200)) for j in range(50)]
        assert results[name] == expected


@pytest.mark.skipif(native.line_cursor() is None, reason="needs cuprum_native")
def test_every_path_of_the_native_cursor_gives_back_its_references() -> None:
    """Steps awaited, detached, thrown into, closed, failing, and aclose: the source,
    the refill and each line end with the references they started with."""
    made = native.line_cursor()
    assert made is not None
    line, source = "".join(["lin", "e"]), Source(None)  # a fresh str: no interning
    refill = source.refill
    counts = (sys.getrefcount(line), sys.getrefcount(source), sys.getrefcount(refill))

    def drive(step: Any) -> object:
        try:
            step.__await__().__next__()
        except StopIteration as done:
            return done.value
        except BaseException as error:  # the failing paths
            return type(error)
        raise AssertionError("a step completes at once")

    for _ in range(3):
        source.ready = iter([line, line, line, line])
        lines = made(source, refill)
        first, second = lines.__anext__(), lines.__anext__()  # the second is detached
        assert (drive(second), drive(first)) == (line, line)
        with pytest.raises(KeyError):
            lines.__anext__().throw(KeyError)  # type: ignore[attr-defined]
        assert lines.__anext__().close() is None  # type: ignore[attr-defined]
        drive(lines.aclose())  # type: ignore[attr-defined]
        assert drive(lines.__anext__()) is StopAsyncIteration
        source.ready = [line]
        assert drive(made(source, refill).__anext__()) is TypeError
        del lines, first, second
    source.ready = None
    gc.collect()
    assert (sys.getrefcount(line), sys.getrefcount(source), sys.getrefcount(refill)) == counts
