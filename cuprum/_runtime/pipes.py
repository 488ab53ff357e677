"""Reading a run's output pipes on an event loop: the epoll set awaited with anyio.

What a round of reads does is :class:`~cuprum._runtime.outputs.OutputReader`'s;
making, sizing and writing pipes is the transport's (:mod:`cuprum._transport.pipes`).
"""

from __future__ import annotations

import anyio
import anyio.lowlevel

from cuprum._runtime.outputs import OutputReader

__all__ = ["read_outputs"]


async def read_outputs(reader: OutputReader) -> None:
    """Read until ``reader`` is done, then close it.

    One task serves all of a run's output pipes, and anyio awaits the epoll fd
    itself (asyncio and trio alike): pipes ending together cost one wake-up. A
    round of reads is followed by a wait, or a checkpoint when more is ready at
    once (cancellation gets in on a busy stream); the call is a checkpoint even if
    all was at EOF already."""
    try:
        watch = reader.watch
        busy = waited = False  # busy: data read since the last yield
        while not reader.done:
            ready = watch.poll(0)
            if not ready or busy:  # wait; or, with more ready at once, let others in
                await (anyio.lowlevel.checkpoint() if ready else anyio.wait_readable(watch))
                waited = True
                if not ready:
                    busy = False
                    continue
            busy = reader.handle(ready)
    finally:
        reader.close()
    if not waited:
        await anyio.lowlevel.checkpoint()
