"""Output handling for one stream: capture (bounded or not), echo and line events.

Bytes are kept in one buffer and decoded once at the end, or as they arrive when
that lets a large capture hold just its text (:mod:`cuprum._runtime.capture`). Text
for someone who needs it as it arrives (an echo sink or line events) is decoded
incrementally, so a multi-byte character split across two reads is never mangled.

Decoding never loses output and never hides the error that ended a run:

- echo and line events never stop a run: with ``errors="strict"`` they see
  replacement characters (the result's own decode is the strict one);
- a character split by ``capture_limit`` is not an error: under ``strict`` the text
  ends before it (the stream is marked truncated anyway);
- where a run ends in an error of its own (a timeout, ``CaptureLimitExceeded``, a
  cancellation), a stream that ``strict`` cannot decode is given as its bytes
  (:meth:`StreamCollector.salvage`); only a run that ended normally raises
  ``UnicodeDecodeError`` (:meth:`StreamCollector.value`), as ``subprocess.run`` does.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from typing import Any, TextIO

from cuprum._core.errors import CaptureLimitExceeded  # re-exported: defined there
from cuprum._core.secret import Secret
from cuprum._model.decoding import incremental_decoder
from cuprum._model.io import OnLimit
from cuprum._runtime.capture import Capture, decode
from cuprum._runtime.decoder_state import State, decoder_at
from cuprum._runtime.failures import Source, cancellation, fail
from cuprum._runtime.lines import LineReader, LineSplitter  # re-exported: defined there

__all__ = [
    "CaptureLimitExceeded",
    "LineReader",
    "LineSplitter",
    "StreamCollector",
    "StreamTap",
    "TapEnd",
    "decode",
    "undecodable",
]


def undecodable(exc: UnicodeDecodeError, program: str, name: str, encoding: str) -> None:
    """Add to ``exc`` the note that names the program and the stream (once): how every
    strict decode of a stream that fails is reported, at the end or as it is read."""
    note = f"{program}: its {name} is not valid {encoding}"
    if note not in getattr(exc, "__notes__", ()):
        exc.add_note(note)


class StreamCollector:
    """Everything that happens to the bytes of one output stream.

    ``feed`` is the per-chunk entry point; it is specialised at construction so the
    common case (capture only) is a bare ``list.append``. ``state``: the capture is
    decoded from there (a stream handle's rest, after its other readers).
    """

    __slots__ = (
        "_capture",
        "_decoder",
        "_echo",
        "_lines",
        "_on_limit",
        "_size",
        "capture",
        "encoding",
        "errors",
        "feed",
        "limit",
        "name",
        "program",
        "secrets",
        "text",
        "truncated",
    )

    def __init__(
        self,
        *,
        program: str,
        name: str,
        capture: bool,
        encoding: str,
        errors: str,
        echo: TextIO | None = None,
        on_line: Callable[[str], None] | None = None,
        limit: int | None = None,
        on_limit: OnLimit = "truncate",
        text: bool = True,
        secrets: tuple[Secret[Any], ...] = (),
        state: State | None = None,
    ) -> None:
        self.program = program
        self.name = name
        self.capture = capture
        self.encoding = encoding
        self.errors = errors
        self.limit = limit
        self._on_limit = on_limit
        self.text = text  # how CaptureLimitExceeded.captured is given, like the result
        self.secrets = secrets  # the run's: CaptureLimitExceeded hides them (str, pickle)
        self._capture = Capture(encoding, errors, text=text, state=state)
        self._size = 0
        self.truncated = False
        self._echo = echo
        self._lines = LineSplitter(on_line) if on_line is not None else None
        needs_text = echo is not None or on_line is not None
        self._decoder = self._live_decoder() if needs_text else None
        if capture and limit is None and not needs_text:
            self.feed: Callable[[bytes], None] = self._capture.add
        else:
            self.feed = self._feed

    def _live_decoder(self) -> codecs.IncrementalDecoder:
        """The decoder for echo and line events, which must never stop a run midway:
        with ``errors="strict"`` they see replacement characters, and the strict
        decode of the captured bytes at the end raises instead."""
        errors = "replace" if self.errors == "strict" else self.errors
        return incremental_decoder(self.encoding, errors)

    def bind_lines(self, on_line: Callable[[str], None]) -> None:
        """Start delivering whole lines to ``on_line`` (before the first chunk)."""
        self._lines = LineSplitter(on_line)
        if self._decoder is None:
            self._decoder = self._live_decoder()
        self.feed = self._feed

    def _feed(self, data: bytes) -> None:
        if self.capture:
            self._keep(data)
        if self._decoder is not None:
            self._text(self._live(data))

    def _live(self, data: bytes, *, final: bool = False) -> str:
        """Decode for echo and line events; a handler that fails (``surrogatepass``,
        a custom one) gives way to ``replace`` from then on: they never raise."""
        assert self._decoder is not None
        try:
            return self._decoder.decode(data, final)
        except UnicodeDecodeError:
            state = self._decoder.getstate()
            self._decoder = decoder_at(self.encoding, "replace", state)
            return self._decoder.decode(data, final)

    def _keep(self, data: bytes) -> None:
        limit = self.limit
        if limit is not None and self._size + len(data) > limit:
            room = limit - self._size
            if room > 0:
                self._capture.add(data[:room])
                self._size = limit
            self.truncated = True
            if self._on_limit == "raise":
                # The limit wins over decoding: bytes if the text cannot be decoded.
                captured = self.salvage(text=self.text)
                assert captured is not None  # only reached when capturing
                raise CaptureLimitExceeded(
                    self.program, self.name, limit, captured, secrets=self.secrets
                )
            return
        self._capture.add(data)
        self._size += len(data)

    def _text(self, text: str) -> None:
        if not text:
            return
        if self._echo is not None:
            self._echo.write(text)
        if self._lines is not None:
            self._lines.feed(text)

    def close(self) -> None:
        """Flush the decoder and the last partial line (at EOF or after a teardown)."""
        if self._decoder is not None:
            self._text(self._live(b"", final=True))
            self._decoder = None
            if self._echo is not None:
                self._echo.flush()
            if self._lines is not None:
                self._lines.close()

    def raw(self) -> bytes:
        """The captured bytes."""
        return self._capture.raw()

    def value(self, *, text: bool) -> str | bytes | None:
        """The capture as ``str`` (decoded once) or ``bytes``; ``None`` if not captured.

        For a run that ended normally: with ``errors="strict"``, output that cannot
        be decoded raises ``UnicodeDecodeError`` (with a note naming the program and
        the stream).
        """
        if not self.capture:
            return None
        if not text:
            return self.raw()
        try:
            return self._capture.text(cut=self.truncated)
        except UnicodeDecodeError as exc:
            undecodable(exc, self.program, self.name, self.encoding)
            raise

    def salvage(self, *, text: bool) -> str | bytes | None:
        """Like :meth:`value`, for a run that ended in an error of its own (a timeout,
        a capture limit, a cancellation): never raises, the captured ``bytes``
        where ``errors="strict"`` cannot decode them."""
        if not self.capture:
            return None
        if not text:
            return self.raw()
        try:
            return self._capture.text(cut=self.truncated)
        except UnicodeDecodeError:
            return self.raw()


class StreamTap:
    """The line-event side of a stream that someone else reads (the stream handle).

    The reader feeds it every chunk it reads and closes it at EOF; the engine waits
    for :attr:`closed` before the run can end, so every line event comes before
    the terminal event, and detaches it when the run ends early, so none comes after.
    A hook that raises on a line the reader fed (or a failure the reader reports,
    :meth:`fail`) ends the run with that error: the exception propagates in the
    reader's task as itself, and the engine's wait for :attr:`closed` raises it
    tagged with its kind, so the run's ``error`` event says ``hook_failed`` (or
    ``output_failed``), not ``cancelled``.
    """

    __slots__ = ("_collector", "closed")

    def __init__(self, collector: StreamCollector) -> None:
        self._collector = collector
        self.closed = TapEnd()

    def feed(self, data: bytes) -> None:
        if not self.closed.is_set():
            try:
                self._collector.feed(data)
            except BaseException as exc:  # a hook's, on a line event (a SystemExit too)
                self._hook_failed(exc)
                raise

    def close(self) -> None:
        """EOF: deliver the last partial line, then let the run end."""
        if self.closed.is_set():
            return
        try:
            self._collector.close()
        except BaseException as exc:
            self._hook_failed(exc)
            raise
        finally:
            self.closed.set()

    def _hook_failed(self, error: BaseException) -> None:
        """A hook raised ``error`` on a line: the run ends with it, as :func:`fail` says
        (a ``SystemExit`` too); Ctrl+C or a cancellation only stops the caller's block."""
        if not cancellation(error):
            self.fail("hook_failed", error)

    def fail(self, kind: Source, error: BaseException) -> None:
        """The reader failed with ``error`` (from the part of the run ``kind`` names):
        the run ends with it, and no event follows."""
        if not self.closed.is_set():
            self.closed.failure = (kind, error)
            self.closed.set()

    @property
    def failed(self) -> bool:
        """Whether the run is ending because of the reader (:meth:`fail`)."""
        return self.closed.failure is not None

    def detach(self) -> None:
        """The run has ended: nothing fed from now on produces an event."""
        self.closed.set()


class TapEnd:
    """:attr:`StreamTap.closed`: set at EOF or a detach, like an ``anyio.Event``; its
    :meth:`wait` (the engine's job) raises the reader's failure, tagged with its kind."""

    __slots__ = ("_event", "failure")

    def __init__(self) -> None:
        import anyio  # a stream handle's, on its event loop

        self._event = anyio.Event()
        self.failure: tuple[Source, BaseException] | None = None

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()
        if self.failure is not None:
            kind, error = self.failure
            fail(kind, error)
