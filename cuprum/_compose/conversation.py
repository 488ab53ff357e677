"""The handle's side of the conversation: reading stdout, ``expect()``, the terminal.

:class:`Conversation` is the base of :class:`~cuprum._compose.streaming.StreamHandle`:
what it sends goes to ``stdin=PIPE`` or, with ``tty=``, is typed on the program's
terminal (:class:`~cuprum._compose.sending.Sender`, its base); what it expects is
searched in the handle's stdout (:mod:`.output`), by :mod:`.expect`.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Sequence
from typing import Any, overload

from cuprum._compose.expect import (
    ExpectMatch,
    Pattern,
    Patterns,
    check_timeout,
    expect,
    wait_noecho,
)
from cuprum._compose.expect_text import TextPieces
from cuprum._compose.output import Output
from cuprum._compose.sending import Sender, ended
from cuprum._core.errors import ExpectEOF
from cuprum._model.terminal import Terminal
from cuprum._runtime.request import RunRequest
from cuprum._runtime.streams import StreamCollector
from cuprum._runtime.terminal import Pty, check_terminal
from cuprum._transport.pipes import READ_SIZE

__all__ = ["Conversation"]


class Conversation(Sender):
    """Sending to a running program and expecting its answers (the handle's base)."""

    def __init__(self, request: RunRequest) -> None:
        super().__init__(request)
        ctx = request.context
        program = request.stages[-1].program  # whose stdout it is
        self._out = Output(ctx.encoding, ctx.errors, program, echo=_echo(request))

    # -- conversations (see expect.py) -----------------------------------------

    @overload
    async def expect(
        self,
        patterns: str | re.Pattern[str] | Sequence[str | re.Pattern[str]],
        *,
        timeout: float | None = None,
        window: int | None = None,
    ) -> ExpectMatch[str]: ...

    @overload
    async def expect(
        self,
        patterns: bytes | re.Pattern[bytes] | Sequence[bytes | re.Pattern[bytes]],
        *,
        timeout: float | None = None,
        window: int | None = None,
    ) -> ExpectMatch[bytes]: ...

    async def expect(
        self,
        patterns: Pattern | Sequence[Pattern],
        *,
        timeout: float | None = None,
        window: int | None = None,
    ) -> ExpectMatch[Any]:
        """Wait until stdout shows one of ``patterns``; consume up to the end of the match.

        A ``str``/``bytes`` is matched literally, a compiled ``re.Pattern`` searched;
        the earliest match wins (ties: the first pattern). ``timeout`` (seconds):
        raise :class:`ExpectTimeout` (with ``.before``, the output so far, kept
        unread). The output ending first raises :class:`ExpectEOF`. ``window``:
        how far back a regex looks into output already searched (default: all).
        """
        program = self._program
        compiled = Patterns(program, patterns, window)
        timeout = check_timeout(program, "expect()", timeout)
        self._check_open("expect()")
        out = self._out
        try:
            held = out.take_bytes()  # first: then out.state is where it begins
            if compiled.binary:
                return await expect(
                    compiled,
                    held,
                    self._read,
                    functools.partial(out.unread_after, out.state),
                    program=program,
                    timeout=timeout,
                    secrets=self._all_secrets(),
                )
            ctx = self._request.context
            terminal = self._terminal is not None
            pieces = TextPieces(ctx.encoding, ctx.errors, terminal=terminal, state=out.state)
            return await expect(
                compiled,
                pieces.decode(held),
                functools.partial(self._more_text, pieces),
                functools.partial(self._give_back, pieces),
                program=program,
                timeout=timeout,
                secrets=self._all_secrets(),
            )
        except ExpectEOF:
            hung_up = self._terminal is not None and self._terminal.fd is None
            if hung_up or self._ended_in_error():
                # Hung up by a teardown (a timeout, a failure), or the output ended as
                # the deadline passed: the run ends within the cancel grace, and its
                # error is the one to raise.
                await self._done.wait()
            if self._done.is_set() and self._error is not None:
                raise self._run_failed() from None  # the run failed (a timeout, say): that is it
            raise

    def _run_failed(self) -> BaseException:
        """The error the run ended in, to raise now (the handle adds what it holds)."""
        return self._failure()

    async def _read(self, size: int = READ_SIZE) -> bytes:
        """The next raw chunk of stdout (``b""`` at EOF); every reader goes through here.
        After the block it is :class:`StreamClosedError`, also for a read that was
        waiting when the block exited (what it would return is gone with the pipe)."""
        self._check_open("stdout")
        data = await self._out.read(size)
        if self._leaving or self._ended:  # (what the teardown left: not the program's)
            raise ended(self._program, "stdout")
        return data

    async def _more_text(self, pieces: TextPieces) -> str:
        """The next decoded piece of stdout (``""`` at EOF)."""
        while True:
            data = await self._read()
            text = pieces.decode(data, final=not data)
            if text or not data:
                return text

    def _give_back(self, pieces: TextPieces, text: str, position: int) -> None:
        """Give back the bytes after ``text[:position]``, exactly as they were read."""
        self._out.unread_bytes(pieces.rest(text, position), pieces.state_at(text, position))

    async def wait_noecho(self, *, timeout: float | None = None) -> None:
        """Wait until the terminal stops echoing (a password prompt is up), polling
        its ECHO flag; :class:`ExpectTimeout` after ``timeout`` seconds."""
        await wait_noecho(
            self._on_terminal("wait_noecho()"),
            program=self._program,
            timeout=check_timeout(self._program, "wait_noecho()", timeout),
            finished=self._done.is_set,
        )

    def resize(self, rows: int, cols: int) -> None:
        """Change the terminal's window size; the program gets SIGWINCH."""
        settings = Terminal(rows=rows, cols=cols)
        check_terminal(self._program, settings)
        self._on_terminal("resize()").resize(rows, cols)

    @property
    def terminal_size(self) -> tuple[int, int]:
        """``(rows, cols)`` of the terminal, as the program sees them."""
        return self._on_terminal("terminal_size").size()

    def _on_terminal(self, what: str) -> Pty:
        if self._terminal is None:
            raise RuntimeError(f"{self._program}: {what} needs the stream started with tty=True")
        self._check_open(what)
        return self._terminal


def _echo(request: RunRequest) -> StreamCollector | None:
    """With ``echo=True``: what echoes the stdout the handle reads, to ``stdout_sink``
    (the interpreter's stdout by default), as ``run(echo=True)`` does."""
    if not request.echo:
        return None
    ctx = request.context
    return StreamCollector(
        program=request.stages[-1].program,
        name="stdout",
        capture=False,
        encoding=ctx.encoding,
        errors=ctx.errors,
        echo=ctx.stdout_sink or sys.stdout,
    )
