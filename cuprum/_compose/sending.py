"""The handle's stdin side: what it sends, to ``stdin=PIPE`` or its terminal, and closing it.

:class:`Sender` is the base of :class:`~cuprum._compose.conversation.Conversation`
(and so of the stream handle): it holds the run's state the handle shares
(``_done``, ``_error``, ``_ended``...). :func:`payload` turns what ``write()``,
``send()`` and ``sendline()`` are given into the bytes to send, refusing anything
else by name (``InvalidArgumentError``, as ``stdin=`` is refused); :func:`type_on`
writes them to a terminal's master; :func:`ended` and :func:`stdin_closed` are the
:class:`~cuprum.StreamClosedError` of a handle whose block has exited, or whose
stdin is closed.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from cuprum._core.errors import InvalidArgumentError, StdinEncodeError, StreamClosedError
from cuprum._core.secret import Secret, reveal
from cuprum._model.io import Stream
from cuprum._runtime.request import RunRequest
from cuprum._runtime.secrets import hide_also, run_secrets
from cuprum._runtime.terminal import Pty
from cuprum._runtime.validate import described
from cuprum._transport.pipes import close_waking, write_all

__all__ = ["Sender", "ended", "payload", "stdin_closed", "type_on"]

if TYPE_CHECKING:  # (collections.abc.Buffer from Python 3.12)
    from typing_extensions import Buffer


class Sender:
    """What the handle sends to the running program, and the run state it shares."""

    def __init__(self, request: RunRequest) -> None:
        self._request = request
        self._stdin_fd: int | None = None
        self._terminal: Pty | None = None
        self._done = anyio.Event()
        self._error: BaseException | None = None
        self._deadline: float | None = None  # on anyio's clock: the run's, or a little earlier
        self._raised = False
        self._ended = False  # the block has exited: only wait() and pids answer
        self._leaving = False  # the block is exiting: a read that returns now finds it closed
        self._stdin_closed_by: str | None = None  # close_stdin(), send_eof() or wait()
        self._secrets: list[Secret[Any]] = []  # sent with send()/sendline()
        self._add_secrets: Callable[[Sequence[Secret[Any]]], None] | None = None

    def _check_open(self, what: str) -> None:
        if self._ended:
            raise ended(self._program, what)

    async def send(self, data: Buffer | str) -> None:
        """Send ``data`` to the program: typed on its terminal, or written to ``stdin=PIPE``."""
        await self._send("send()", data)

    async def sendline(self, line: Buffer | str = "") -> None:
        """Send ``line`` and a newline (``\\n``: Enter, on a terminal in its usual mode)."""
        await self._send("sendline()", line, newline=True)

    async def send_eof(self) -> None:
        """End the program's input: ``^D`` on a terminal (at the start of a line it reads
        as end-of-file), closing the pipe with ``stdin=PIPE``."""
        if self._terminal is None:
            await self._close_stdin("send_eof()")
            return
        self._check_open("send_eof()")
        await self._send("send_eof()", self._terminal.eof_char())

    async def write(self, data: Buffer | str) -> None:
        """Write to the child's stdin (``stdin=PIPE``, or its terminal with ``tty=``),
        waiting while the pipe (or the terminal's input queue) is full.

        Raises ``BrokenPipeError`` if the child has closed its stdin (or its terminal);
        when it was closed by the run's end in an error (its timeout, above all: a write
        still waiting when the deadline passes), that error instead (``TimeoutExpired``).
        A :class:`~cuprum.Secret` is sent as its value and redacted from then on from
        the run's line events (a terminal's echo of it, say) and from error messages.
        ``data`` is ``bytes`` (any bytes-like object) or ``str``, else
        ``InvalidArgumentError``. Once stdin is closed (``close_stdin()``, ``wait()``,
        also while this write waits) or the block has exited: ``StreamClosedError``.
        """
        await self._send("write()", data)

    async def _send(self, what: str, data: object, *, newline: bool = False) -> None:
        """``write()`` for ``what`` (the method, for messages); ``newline`` adds ``\\n``."""
        if type(data) is Secret:  # the program gets the value; events and messages never
            self._secret_sent(data)
        raw = payload(self._program, what, data, self._request.context.encoding, newline=newline)
        self._check_open(what)
        try:
            await self._put(what, raw)
        except BrokenPipeError:
            self._check_open(what)  # the block's end closed it, not the program
            if self._ended_in_error():
                await self._done.wait()  # the teardown is under way: it ends the run
                await self._raise_run_error()
            raise

    async def _put(self, what: str, raw: bytes) -> None:
        if self._terminal is not None:
            await type_on(self._terminal, raw, self._program)
            return
        fd = self._stdin_fd
        if fd is None:
            raise self._no_stdin(what)
        try:
            written = await write_all(fd, raw)
        except anyio.ClosedResourceError:  # another task closed it while this one waited
            self._check_open(what)
            raise self._no_stdin(what) from None
        if written < len(raw):
            raise BrokenPipeError(f"{self._program}: closed its stdin")

    def _no_stdin(self, what: str) -> Exception:
        """Why there is no stdin to write to: closed, or never a pipe."""
        if self._stdin_closed_by is not None:
            return stdin_closed(self._program, what, self._stdin_closed_by)
        if self._request.stdin is Stream.PIPE:  # (a pipe the run never handed over)
            return StreamClosedError(self._program, f"{what}: stdin is closed")
        return RuntimeError(
            f"{self._program}: {what} needs the stream started with stdin=PIPE or tty=True"
        )

    def _ended_in_error(self) -> bool:
        """Whether the program's input is gone because the run ended (or is ending) in
        an error: it did, or its deadline has passed (then its teardown closed it)."""
        if self._done.is_set():
            return self._error is not None
        return self._deadline is not None and anyio.current_time() >= self._deadline

    async def _raise_run_error(self) -> None:
        """Raise the error the run ended in, if any (the handle adds what it had not read)."""
        if self._error is not None:
            raise self._failure()

    def _failure(self) -> BaseException:
        """The error the run ended in, as it is raised: hiding every secret sent as it
        hides the run's own (it was made before a ``write()`` could tell the run)."""
        error = self._error
        assert error is not None
        self._raised = True
        hide_also(error, self._all_secrets())
        return error

    def _secret_sent(self, secret: Secret[Any]) -> None:
        if secret not in self._secrets:
            self._secrets.append(secret)
            if self._add_secrets is not None:
                self._add_secrets([secret])

    def _all_secrets(self) -> tuple[Secret[Any], ...]:
        """The run's secrets and those sent since: what messages must not show."""
        return (*run_secrets(self._request), *self._secrets)

    async def close_stdin(self) -> None:
        """Close the child's stdin so it sees EOF (on a terminal: :meth:`send_eof`).
        Closing it again, or after the block, does nothing."""
        await self._close_stdin("close_stdin()")

    async def _close_stdin(self, by: str) -> None:
        """Close stdin (``by``: the method, for what a later write says)."""
        if self._terminal is not None and not self._ended:
            with contextlib.suppress(BrokenPipeError):
                await self.send_eof()
            return
        if self._stdin_fd is not None:
            self._stdin_closed_by = by
            self._close_stdin_fd()
        await anyio.lowlevel.checkpoint()

    def _close_stdin_fd(self) -> None:
        """Close our end of stdin=PIPE, waking a write waiting on it (ClosedResourceError)."""
        fd, self._stdin_fd = self._stdin_fd, None
        close_waking(fd)

    @property
    def _program(self) -> str:
        return self._request.stages[0].program


_KINDS = "bytes-like (bytes, bytearray, memoryview, ...) or str"


def payload(
    program: str, what: str, data: object, encoding: str, *, newline: bool = False
) -> bytes:
    """``data`` as the bytes to send (with ``b"\\n"``/``"\\n"`` after it for ``newline``):
    a bytes-like object's bytes (copied, in logical order), text (a
    :class:`~cuprum.Secret`'s real value) in ``encoding``.

    Anything else is an :class:`InvalidArgumentError` naming ``program`` and ``what``
    (``write()``, ...); text ``encoding`` cannot encode is a :class:`StdinEncodeError`
    (for a secret, without the character or its position).
    """
    if isinstance(data, str):
        return _encoded(program, what, data, encoding, newline=newline)
    if type(data) is bytes:
        raw = data
    else:
        try:  # the buffer itself, as subprocess.run writes it (never a __bytes__)
            raw = memoryview(data).tobytes()  # type: ignore[arg-type]
        except TypeError:
            hint = " (close_stdin() ends the input)" if data is None else ""
            raise InvalidArgumentError(
                f"{program}: {what}: data must be {_KINDS}; got {described(data)}{hint}"
            ) from None
        except ValueError as exc:  # a released memoryview
            raise InvalidArgumentError(f"{program}: {what}: data: {exc}") from None
    return raw + b"\n" if newline else raw


def _encoded(program: str, what: str, text: str, encoding: str, *, newline: bool) -> bytes:
    value = reveal(text)
    if isinstance(value, bytes):  # a Secret holding bytes
        return value + b"\n" if newline else value
    try:
        return (value + "\n" if newline else value).encode(encoding)
    except UnicodeEncodeError as exc:
        where = f"{program}: {what}: the text cannot be encoded with {encoding!r}"
        if value is not text:  # a Secret: neither the character nor where it is
            error = StdinEncodeError(
                f"{where} ({exc.reason})", (exc.encoding, "", 0, 0, exc.reason)
            )
        else:
            bad = value[exc.start : exc.end]
            message = f"{where}: {bad!r} at position {exc.start} ({exc.reason})"
            error = StdinEncodeError(message, (exc.encoding, value, exc.start, exc.end, exc.reason))
    raise error from None


def ended(program: str, what: str) -> StreamClosedError:
    """The error of ``what`` (``write()``, ``stdout_lines()``, ...) after the block."""
    return StreamClosedError(
        program,
        f"{what}: the stream is closed: its `async with` block has exited "
        "(only wait() and pids still work)",
    )


def stdin_closed(program: str, what: str, closed_by: str) -> StreamClosedError:
    """The error of a write once stdin is closed (``closed_by``: ``close_stdin()``, ...)."""
    return StreamClosedError(program, f"{what}: stdin is closed (by {closed_by})")


async def type_on(pty: Pty, data: bytes, program: str) -> None:
    """Write to the terminal's master, waiting while its input queue is full.

    The fd is looked up again after every wait: a teardown may hang the terminal up
    meanwhile. A terminal nobody has open any more (the kernel would throw the input
    away), hung up, or reporting EIO is a broken pipe.
    """
    view = memoryview(data)
    written = 0
    while written < len(view):
        fd = pty.fd
        if fd is None or pty.deserted():
            raise BrokenPipeError(f"{program}: its terminal is closed")
        try:
            written += os.write(fd, view[written:])
        except BlockingIOError:
            with contextlib.suppress(anyio.ClosedResourceError):
                await anyio.wait_writable(fd)
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise
            raise BrokenPipeError(f"{program}: its terminal is closed") from None
    await anyio.lowlevel.checkpoint()
