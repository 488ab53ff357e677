"""A terminal stream's handle once its block has exited: ``wait()`` still answers, the
terminal's methods raise ``StreamClosedError`` (not a ``BrokenPipeError`` or an ``OSError``
of the closed master)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from cuprum import ExecutionContext, StreamClosedError

from .terminal_support import DEADLINE, PY, py

pytestmark = pytest.mark.anyio

FOREVER = "import itertools\nfor i in itertools.count(): print(i, flush=True)"


async def _resize(handle: Any) -> None:
    handle.resize(30, 100)


async def _terminal_size(handle: Any) -> None:
    _ = handle.terminal_size


USES: dict[str, Callable[[Any], Awaitable[Any]]] = {
    "expect()": lambda handle: handle.expect("x", timeout=DEADLINE),
    "sendline()": lambda handle: handle.sendline("x"),
    "send_eof()": lambda handle: handle.send_eof(),
    "wait_noecho()": lambda handle: handle.wait_noecho(timeout=DEADLINE),
    "resize()": _resize,
    "terminal_size": _terminal_size,
    "stdout_lines()": lambda handle: anext(handle.stdout_lines()),
}


@pytest.mark.parametrize("method", list(USES))
async def test_the_terminal_after_the_block_is_closed(anyio_backend: str, method: str) -> None:
    context = ExecutionContext(cancel_grace=0.2)
    with anyio.fail_after(DEADLINE):
        async with py(FOREVER).stream(tty=True, context=context) as handle:
            await handle.expect("0\n", timeout=DEADLINE)
        with pytest.raises(StreamClosedError) as caught:
            await USES[method](handle)
        await handle.close_stdin()  # closing what is closed: nothing to do
        result = await handle.wait()
    assert str(caught.value).startswith(f"{PY}: {method}: the stream is closed")
    assert result.outcome == "cancelled"
    assert not result.ok
