"""The cursor behind ``stdout_lines()``, both forms (the extension's and the pure
install's async generator): the same lines, in the same order, exactly once, with
the protocol of an async iterator as an async generator keeps it."""

from __future__ import annotations

import gc
import inspect
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuprum._compose import line_cursor as cursor_module
from cuprum._compose.line_cursor import python_cursor
from cuprum._transport import native

pytestmark = pytest.mark.anyio


class Source:
    """Stands in for the handle's output: ``ready`` lines, refilled batch by batch."""

    def __init__(self, ready: list[object], batches: list[list[object]] | None = None) -> None:
        self.ready: Iterator[object] = iter(ready)
        self.batches = list(batches or [])
        self.refills = 0

    async def refill(self) -> Any:  # lines are str; a test also sends a tuple
        """As the handle's: read (a checkpoint), put the lines up, return the first."""
        self.refills += 1
        await anyio.lowlevel.checkpoint()
        while self.batches:
            self.ready = iter(self.batches.pop(0))
            for line in self.ready:
                return line
        raise StopAsyncIteration


def cursor(source: Source) -> AsyncIterator[object]:
    return cursor_module.line_cursor(source, source.refill)  # type: ignore[arg-type]


async def test_each_form_is_the_one_asked_for(line_cursor: str) -> None:
    made = cursor(Source([]))
    assert inspect.isasyncgen(made) == (line_cursor == "python")


async def test_ready_lines_then_refills_then_the_end(line_cursor: str) -> None:
    source = Source(["a", "b"], [["c", "d"], [], ["e"]])
    assert [line async for line in cursor(source)] == ["a", "b", "c", "d", "e"]
    assert source.refills == 3  # the last one found the end
    assert [line async for line in cursor(source)] == []


async def test_another_reader_advancing_the_lines_is_not_repeated(line_cursor: str) -> None:
    source = Source(list("abcd"))
    lines = cursor(source)
    assert await anext(lines) == "a"
    assert next(source.ready) == "b"  # taken by another reader (a batch, the rest as bytes)
    assert [line async for line in lines] == ["c", "d"]


async def test_lines_put_up_by_another_reader_come_next(line_cursor: str) -> None:
    source = Source(["a"])
    lines = cursor(source)
    assert await anext(lines) == "a"
    source.ready = iter(["x", "y"])  # another iterator split these
    assert [line async for line in lines] == ["x", "y"]
    assert source.refills == 1


async def test_steps_awaited_in_order_get_the_lines_in_order(line_cursor: str) -> None:
    lines = cursor(Source(["a", "b", "c"]))
    first, second = anext(lines), anext(lines)
    assert await first == "a"
    assert await second == "b"
    assert await anext(lines) == "c"


async def test_an_awaited_step_cannot_be_awaited_again(line_cursor: str) -> None:
    step = cursor(Source(["a", "b"])).__anext__()
    assert await step == "a"
    with pytest.raises(RuntimeError):
        await step


async def test_a_step_driven_by_hand_returns_its_value_through_stop_iteration(
    line_cursor: str,
) -> None:
    """As a framework driving an awaitable without ``await`` would (3.12+ always does)."""
    item = ("a", "tuple")  # a tuple must arrive whole, not as StopIteration's arguments
    lines = cursor(Source([item, "b"]))
    with pytest.raises(StopIteration) as stopped:
        lines.__anext__().__await__().__next__()
    assert stopped.value.value == item
    assert await anext(lines) == "b"


async def test_aclose_ends_the_iteration(line_cursor: str) -> None:
    source = Source(["a", "b"], [["c"]])
    lines = cursor(source)
    assert await anext(lines) == "a"
    await lines.aclose()  # type: ignore[attr-defined]
    assert [line async for line in lines] == []
    assert source.refills == 0


async def test_an_error_while_refilling_reaches_the_reader(line_cursor: str) -> None:
    async def refill() -> str:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    source = Source(["a"])
    lines = cursor_module.line_cursor(source, refill)  # type: ignore[arg-type]
    assert await anext(lines) == "a"
    with pytest.raises(UnicodeDecodeError):
        await anext(lines)


async def test_a_refill_can_be_cancelled(line_cursor: str) -> None:
    with anyio.CancelScope() as scope:

        async def refill() -> str:
            scope.cancel()
            await anyio.sleep_forever()
            raise AssertionError("not reached")

        lines = cursor_module.line_cursor(Source([]), refill)  # type: ignore[arg-type]
        await anext(lines)
    assert scope.cancelled_caught


async def test_ready_lines_do_not_yield_to_other_tasks(line_cursor: str) -> None:
    """Like an async generator's ``yield``: only a refill reaches a checkpoint."""
    ran = 0

    async def other() -> None:
        nonlocal ran
        while True:
            ran += 1
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(other)
        await anyio.lowlevel.checkpoint()  # let it start
        before = ran
        lines = cursor(Source([str(i) for i in range(1000)]))
        assert len([await anext(lines) for _ in range(1000)]) == 1000
        assert ran == before
        tg.cancel_scope.cancel()


# -- the extension's cursor only ----------------------------------------------------

needs_native = pytest.mark.skipif(native.line_cursor() is None, reason="needs cuprum_native")


@needs_native
def test_the_native_cursor_cannot_be_made_from_python() -> None:
    made = native.line_cursor()
    assert made is not None
    with pytest.raises(TypeError):
        type(made(Source([]), Source([]).refill))()


@needs_native
def test_a_native_cursor_in_a_reference_cycle_is_collected() -> None:
    made = native.line_cursor()
    assert made is not None
    source = Source(["a"])
    source.cursor = made(source, source.refill)  # type: ignore[attr-defined]  # a cycle
    alive = weakref.ref(source)
    del source
    gc.collect()
    assert alive() is None


OPS = st.lists(st.sampled_from(["step", "other", "reset"]), max_size=40)
SIZES = st.lists(st.integers(0, 4), max_size=6)


@needs_native
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=st.integers(0, 4), sizes=SIZES, ops=OPS)
def test_both_forms_agree_however_readers_interleave(
    first: int, sizes: list[int], ops: list[str]
) -> None:
    """Steps of the cursor, another reader's ``next()`` and an iterator replaced midway,
    in any order until the end: both forms see the same lines, none of them twice."""
    made = native.line_cursor()
    assert made is not None
    labels = iter(range(10_000))
    ready = [f"l{next(labels)}" for _ in range(first)]
    batches = [[f"l{next(labels)}" for _ in range(size)] for size in sizes]

    async def script(native_form: bool) -> list[tuple[str, object]]:
        source = Source(list(ready), [list(batch) for batch in batches])
        form = made if native_form else python_cursor
        lines: AsyncIterator[object] = form(source, source.refill)  # type: ignore[arg-type]
        seen: list[tuple[str, object]] = []
        for k, op in enumerate(ops):
            if op == "step":
                line = await anext(lines, None)
                seen.append(("step", line))
                if line is None:  # the end: an async generator is finished for good
                    return seen
            elif op == "other":
                seen.append(("other", next(source.ready, None)))
            else:
                source.ready = iter([f"r{k}"])
        seen += [("rest", line) async for line in lines]
        return seen

    native_seen = anyio.run(script, True)
    assert native_seen == anyio.run(script, False)
    delivered = [line for _, line in native_seen if line is not None]
    assert len(delivered) == len(set(delivered))
