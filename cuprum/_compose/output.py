"""The final stdout of a streamed run as the handle reads it: raw, in lines, for expect.

What has been read but not yet delivered (the rest of a batch, a partial line,
output an ``expect()`` did not consume) stays here, so switching between lines,
chunks, ``expect()`` and ``wait()`` loses nothing: the line readers hand back the
exact bytes they hold (:class:`~cuprum._runtime.streams.LineReader`), and what an
``expect()`` gives back goes first in line for the next reader. Each reader that
decodes goes on from where the stream's decoding stood (:attr:`Output.state`: a
UTF-16 byte order mark read by one holds for the next; a character split by raw
chunks is completed), so a switch is seamless in every encoding. On a terminal
(``tty=``) the source is the pty's master, whose EIO at the end is EOF, and text has
``\\n`` for ``\\r\\n``.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator

import anyio

from cuprum._runtime.decoder_state import State, advanced
from cuprum._runtime.failures import cancellation
from cuprum._runtime.streams import LineReader, StreamCollector, StreamTap, undecodable
from cuprum._runtime.terminal import Pty
from cuprum._transport.pipes import READ_SIZE, close_waking

__all__ = ["KEPT_MOST", "LINES_READ_SIZE", "Output"]

LINES_READ_SIZE = 256 << 10
"""Bytes asked for per read by the line iterators: the lines of a 1 MiB read no
longer fit the caches as they are handed out (measured: about 25% more per line
through ``stdout_lines()``, 20% through ``stdout_batches()``, than at 256 KiB)."""

KEPT_MOST = 16 << 20
"""The most :meth:`Output.buffered` reads: far more than a pipe holds (1 MiB at most,
by default) once every process is gone."""


class Output:
    """One stream's reading state: the fd (or pty), the line reader, undelivered bytes."""

    __slots__ = (
        "_encoding",
        "_errors",
        "_fd",
        "_lines",
        "_program",
        "_pty",
        "_unread",
        "echo",
        "eof",
        "observer",
        "ready",
        "state",
    )

    def __init__(
        self, encoding: str, errors: str, program: str, echo: StreamCollector | None = None
    ) -> None:
        self._encoding = encoding
        self._errors = errors
        self._program = program  # named by a strict decode that fails
        self._fd: int | None = None
        self._pty: Pty | None = None
        self.echo = echo  # fed every chunk read, for echo=True (its sink: a run's stdout_sink)
        self.observer: StreamTap | None = None  # fed every chunk read, for line events
        self.eof = False
        self._unread = b""  # bytes given back (by expect()): read before the fd
        self._lines: LineReader | None = None  # holds the current line, not yet terminated
        #: Complete lines not yet delivered; an iterator on the handle, so where
        #: one reader stops the next one starts.
        self.ready: Iterator[str] = iter(())
        #: The decoder's state where the bytes not yet delivered begin (``None``: the
        #: start of the stream); while a line reader holds bytes, where its begin.
        self.state: State | None = None

    def attach(self, fd: int | None, pty: Pty | None, observer: StreamTap | None) -> None:
        """Read ``fd`` (a stdout pipe, which this now owns) or the terminal ``pty``."""
        self._fd, self._pty, self.observer = fd, pty, observer

    def close(self) -> None:
        """Close the pipe, or hang the terminal up (idempotent); reads then see EOF (a
        read waiting on the pipe wakes up to it)."""
        fd, self._fd = self._fd, None
        close_waking(fd)
        if self._pty is not None:
            self._pty.hangup()

    def buffered(self, limit: int | None, have: int = 0) -> bytes:
        """What the pipe (or terminal) holds now, read without waiting, echo or events:
        up to its EOF, or until more than ``limit`` bytes (with the ``have`` held; at
        most :data:`KEPT_MOST`, should a writer outlive the run)."""
        chunks: list[bytes] = []
        fd = self._pty.fd if self._pty is not None else self._fd
        bound = KEPT_MOST if limit is None else min(limit, KEPT_MOST)
        while fd is not None and not self.eof and have <= bound:
            try:
                data = os.read(fd, READ_SIZE)
            except OSError:  # nothing more there (EAGAIN), or a pty's EIO at the end
                break
            if not data:
                break
            chunks.append(data)
            have += len(data)
        return b"".join(chunks)

    # -- raw ------------------------------------------------------------------

    async def read(self, size: int = READ_SIZE) -> bytes:
        """The next chunk (``b""`` at EOF), at most ``size`` bytes from the fd: bytes
        given back first, then the fd's."""
        if self._unread:
            data, self._unread = self._unread, b""
            return data
        while not self.eof:
            fd = self._pty.fd if self._pty is not None else self._fd
            if fd is None:  # never attached, closed, or the terminal was hung up
                break
            try:
                data = os.read(fd, size)
            except BlockingIOError:
                with contextlib.suppress(anyio.ClosedResourceError):  # hung up: look again
                    await anyio.wait_readable(fd)
                continue
            except OSError as exc:  # a pty master reads EIO once its slave is closed
                if exc.errno != errno.EIO:
                    raise
                data = b""
            if not data:
                break
            self._seen(data)
            return data
        if not self.eof:
            self.eof = True
            self._seen(b"")
        return b""

    def _seen(self, data: bytes) -> None:
        """Echo ``data`` and feed it to the line events, once, as it is read (``b""``:
        EOF). A failure raises here, in the reader's task; with observers the run ends
        with it too (:meth:`StreamTap.fail`): ``output_failed`` for the echo sink's,
        ``hook_failed`` for a hook's."""
        echo, observer = self.echo, self.observer
        if echo is not None:
            try:
                if data:
                    echo.feed(data)
                else:
                    echo.close()  # the last partial character; flushes the sink
            except BaseException as exc:  # (a SystemExit too; Ctrl+C only stops the block)
                self.echo = None  # raised once; the run ends with it if observed
                if observer is not None and not cancellation(exc):
                    observer.fail("output_failed", exc)
                raise
        if observer is None:
            return
        if data:
            observer.feed(data)
        else:
            observer.close()

    @property
    def failed(self) -> bool:
        """Whether the run is ending because reading failed (a hook, the echo sink)."""
        return self.observer is not None and self.observer.failed

    def take_bytes(self) -> bytes:
        """Everything held undelivered, as the exact bytes read (:attr:`state`: where
        they begin); the line state is reset."""
        held = b""
        if self._lines is not None:
            lines, self._lines = self._lines, None
            undelivered, self.ready = list(self.ready), iter(())
            held = lines.take_rest(undelivered)
            self.state = lines.start
        data, self._unread = self._unread, b""
        return held + data

    def unread_bytes(self, data: bytes, state: State | None) -> None:
        """Give back ``data``, which begins at ``state``: the next read returns it first."""
        self._unread = data + self._unread
        self.state = state

    def delivered(self, data: bytes) -> None:
        """``data``, the next bytes, was handed out as they are: decoding goes on after it."""
        self.state = advanced(self._encoding, self._errors, self.state, data)

    def unread_after(self, start: State | None, data: bytes, position: int) -> None:
        """Give back ``data[position:]`` of ``data``, which began at ``start`` (its first
        ``position`` bytes were handed out as they are: a binary ``expect()``)."""
        self.unread_bytes(
            data[position:], advanced(self._encoding, self._errors, start, data[:position])
        )

    # -- lines ----------------------------------------------------------------

    def split(self, data: bytes) -> list[str]:
        """Decode ``data`` and return the lines it completes (``b""`` means EOF); from a
        terminal, a line that ended in ``\\r\\n`` loses its ``\\r``. Bytes that
        ``strict`` cannot decode raise ``UnicodeDecodeError``, with the note a result's
        decode has (the program, the stream)."""
        lines = self._lines
        if lines is None:
            lines = self._lines = LineReader(self._encoding, self._errors, self.state)
        try:
            split = lines.split(data)
        except UnicodeDecodeError as exc:
            undecodable(exc, self._program, "stdout", self._encoding)
            raise
        if self._pty is not None and split:
            return [line[:-1] if line.endswith("\r") else line for line in split]
        return split

    def take_partial(self) -> str:
        return self._lines.take_partial() if self._lines is not None else ""
