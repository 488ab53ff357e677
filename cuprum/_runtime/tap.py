"""The line-event side of a stdout the caller reads itself (the stream handle)."""

from __future__ import annotations

import anyio

from cuprum._runtime.streams import StreamCollector

__all__ = ["StreamTap"]


class StreamTap:
    """The line-event side of a stream that someone else reads (the stream handle).

    The reader feeds it every chunk it reads and closes it at EOF; the engine waits
    for :attr:`closed` before the run can end, so every line event comes before
    the terminal event, and detaches it when the run ends early, so none comes after.
    """

    __slots__ = ("_collector", "closed")

    def __init__(self, collector: StreamCollector) -> None:
        self._collector = collector
        self.closed = anyio.Event()

    def feed(self, data: bytes) -> None:
        if not self.closed.is_set():
            self._collector.feed(data)

    def close(self) -> None:
        """EOF: deliver the last partial line, then let the run end."""
        if self.closed.is_set():
            return
        try:
            self._collector.close()
        finally:
            self.closed.set()

    def detach(self) -> None:
        """The run has ended: nothing fed from now on produces an event."""
        self.closed.set()
