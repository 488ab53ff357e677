"""The handle's side of the conversation: writing to the program, ``expect()``, the terminal.

:class:`Conversation` is the base of :class:`~cuprum._compose.streaming.StreamHandle`:
what it sends goes to ``stdin=PIPE`` or, with ``tty=``, is typed on the program's
terminal; what it expects is searched in the handle's stdout (:mod:`.output`),
by :mod:`.expect`.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, overload

import anyio
import anyio.lowlevel

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
from cuprum._core.errors import ExpectEOF
from cuprum._core.secret import Secret, reveal
from cuprum._model.terminal import Terminal
from cuprum._runtime.request import RunRequest
from cuprum._runtime.secrets import run_secrets
from cuprum._runtime.streams import StreamCollector
from cuprum._runtime.terminal import Pty, check_terminal
from cuprum._transport.pipes import READ_SIZE, write_all

__all__ = ["Conversation"]


class Conversation:
    """Sending to a running program and expecting its answers (the handle's base)."""

    def __init__(self, request: RunRequest) -> None:
        self._request = request
        self._stdin_fd: int | None = None
        self._terminal: Pty | None = None
        self._done = anyio.Event()
        self._error: BaseException | None = None
        self._deadline: float | None = None  # on anyio's clock: the run's, or a little earlier
        self._raised = False
        self._secrets: list[Secret[Any]] = []  # sent with send()/sendline()
        self._add_secrets: Callable[[Sequence[Secret[Any]]], None] | None = None
        ctx = request.context
        self._out = Output(ctx.encoding, ctx.errors, echo=_echo(request))

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
            if self._terminal is not None and self._terminal.fd is None:
                # Hung up by a teardown (a timeout, a failure): it ends within the
                # cancel grace, and its error is the one to raise.
                await self._done.wait()
            if self._done.is_set() and self._error is not None:
                self._raised = True  # the run failed (a timeout, say): that is the error
                raise self._error from None
            raise

    async def _read(self, size: int = READ_SIZE) -> bytes:
        """The next raw chunk of stdout (``b""`` at EOF); every reader goes through here."""
        return await self._out.read(size)

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

    async def send(self, data: bytes | str) -> None:
        """Send ``data`` to the program: typed on its terminal, or written to ``stdin=PIPE``."""
        await self.write(data)

    async def sendline(self, line: bytes | str = "") -> None:
        """Send ``line`` and a newline (``\\n``: Enter, on a terminal in its usual mode)."""
        if type(line) is Secret:  # (a bytes Secret cannot be joined to text)
            await self.write(line)
            await self.write("\n")
        elif isinstance(line, bytes):
            await self.write(line + b"\n")
        else:
            await self.write(line + "\n")

    async def send_eof(self) -> None:
        """End the program's input: ``^D`` on a terminal (at the start of a line it reads
        as end-of-file), closing the pipe with ``stdin=PIPE``."""
        if self._terminal is None:
            await self.close_stdin()
            return
        await self.write(self._terminal.eof_char())

    async def wait_noecho(self, *, timeout: float | None = None) -> None:
        """Wait until the terminal stops echoing (a password prompt is up), polling
        its ECHO flag; :class:`ExpectTimeout` after ``timeout`` seconds."""
        await wait_noecho(
            self._on_terminal("wait_noecho"),
            program=self._program,
            timeout=check_timeout(self._program, "wait_noecho()", timeout),
            finished=self._done.is_set,
        )

    def resize(self, rows: int, cols: int) -> None:
        """Change the terminal's window size; the program gets SIGWINCH."""
        settings = Terminal(rows=rows, cols=cols)
        check_terminal(self._program, settings)
        self._on_terminal("resize").resize(rows, cols)

    @property
    def terminal_size(self) -> tuple[int, int]:
        """``(rows, cols)`` of the terminal, as the program sees them."""
        return self._on_terminal("terminal_size").size()

    def _on_terminal(self, what: str) -> Pty:
        if self._terminal is None:
            raise RuntimeError(f"{self._program}: {what} needs the stream started with tty=True")
        return self._terminal

    # -- stdin ----------------------------------------------------------------

    async def write(self, data: bytes | str) -> None:
        """Write to the child's stdin (``stdin=PIPE``, or its terminal with ``tty=``),
        waiting while the pipe (or the terminal's input queue) is full.

        Raises ``BrokenPipeError`` if the child has closed its stdin (or its terminal);
        when it was closed by the run's end in an error (its timeout, above all: a write
        still waiting when the deadline passes), that error instead (``TimeoutExpired``).
        A :class:`~cuprum.Secret` is sent as its value and redacted from then on from
        the run's line events (a terminal's echo of it, say) and from error messages.
        """
        if type(data) is Secret:  # the program gets the value; events and messages never
            self._secret_sent(data)
            data = reveal(data)
        payload = data.encode(self._request.context.encoding) if isinstance(data, str) else data
        try:
            await self._put(payload)
        except BrokenPipeError:
            if self._ended_in_error():
                await self._done.wait()  # the teardown is under way: it ends the run
                await self._raise_run_error()
            raise

    async def _put(self, payload: bytes) -> None:
        if self._terminal is not None:
            await self._type(self._terminal, payload)
            return
        fd = self._stdin_fd
        if fd is None:
            raise RuntimeError("write() needs the stream started with stdin=PIPE or tty=True")
        if await write_all(fd, payload) < len(payload):
            raise BrokenPipeError(f"{self._program}: closed its stdin")

    def _ended_in_error(self) -> bool:
        """Whether the program's input is gone because the run ended (or is ending) in
        an error: it did, or its deadline has passed (then its teardown closed it)."""
        if self._done.is_set():
            return self._error is not None
        return self._deadline is not None and anyio.current_time() >= self._deadline

    async def _raise_run_error(self) -> None:
        """Raise the error the run ended in, if any (the handle adds what it had not read)."""
        if self._error is not None:
            self._raised = True
            raise self._error

    def _secret_sent(self, secret: Secret[Any]) -> None:
        if secret not in self._secrets:
            self._secrets.append(secret)
            if self._add_secrets is not None:
                self._add_secrets([secret])

    def _all_secrets(self) -> tuple[Secret[Any], ...]:
        """The run's secrets and those sent since: what messages must not show."""
        return (*run_secrets(self._request), *self._secrets)

    async def _type(self, pty: Pty, payload: bytes) -> None:
        """Write to the terminal's master, waiting while its input queue is full.

        The fd is looked up again after every wait: a teardown may hang the
        terminal up meanwhile. A terminal nobody has open any more (the kernel
        would throw the input away), hung up, or reporting EIO is a broken pipe.
        """
        view = memoryview(payload)
        written = 0
        while written < len(view):
            fd = pty.fd
            if fd is None or pty.deserted():
                raise BrokenPipeError(f"{self._program}: its terminal is closed")
            try:
                written += os.write(fd, view[written:])
            except BlockingIOError:
                with contextlib.suppress(anyio.ClosedResourceError):
                    await anyio.wait_writable(fd)
            except OSError as exc:
                if exc.errno != errno.EIO:
                    raise
                raise BrokenPipeError(f"{self._program}: its terminal is closed") from None
        await anyio.lowlevel.checkpoint()

    async def close_stdin(self) -> None:
        """Close the child's stdin so it sees EOF (on a terminal: :meth:`send_eof`)."""
        if self._terminal is not None:
            with contextlib.suppress(BrokenPipeError):
                await self.send_eof()
            return
        fd, self._stdin_fd = self._stdin_fd, None
        if fd is not None:
            os.close(fd)
        await anyio.lowlevel.checkpoint()

    @property
    def _program(self) -> str:
        return self._request.stages[0].program


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
