"""The pseudo-terminal of a ``tty`` run: the option checked, the pty opened, resized, hung up.

A run with ``tty=`` gets one pty: the child's stdin and stdout (and its stderr
with ``stderr=STDOUT``) are the slave side, which becomes its controlling
terminal (see :mod:`.terminal_spawn`); cuprum reads and writes the master side.
Text read from a terminal has its ``\\r\\n`` (the terminal's own newline) turned
into ``\\n`` in every text view (captured text, line events, stream lines, text
``expect``); bytes views keep the raw bytes. Hanging up (closing the master) is
how a terminal ends: the kernel sends the session leader SIGHUP.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import struct
import termios
from collections.abc import Callable, Sequence

import anyio

from cuprum._core.errors import InvalidArgumentError
from cuprum._model.io import Stream
from cuprum._model.spec import CommandSpec
from cuprum._model.terminal import Terminal
from cuprum._runtime import owned
from cuprum._runtime.streams import StreamCollector

__all__ = ["CrlfTranslator", "Pty", "TerminalCollector", "check_terminal", "resolve_tty"]

_MAX_SIZE = 0xFFFF  # struct winsize holds unsigned shorts


def resolve_tty(
    stages: Sequence[CommandSpec], tty: object, *, stdin: object, stdout: object
) -> Terminal | None:
    """The :class:`Terminal` a run asked for (``None`` for none); refuse what cannot be.

    A terminal is for one command: its stdin and stdout are the terminal, so a
    ``stdin`` source or a ``stdout`` redirect cannot also be given.
    """
    if tty is None or tty is False:
        return None
    program = stages[0].program if stages else "?"
    terminal = Terminal() if tty is True else tty
    if not isinstance(terminal, Terminal):
        raise InvalidArgumentError(
            f"{program}: tty must be True, False or a Terminal(rows=..., cols=...), "
            f"got {type(tty).__name__}"
        )
    if len(stages) != 1:
        raise InvalidArgumentError(
            f"{program}: tty= is for a single command, not a {len(stages)}-stage pipeline"
        )
    if hasattr(stages[0], "launch"):  # a remote command (duck-typed, see stage.py)
        raise InvalidArgumentError(
            f"{program}: tty= is for a local command: a remote one runs without a "
            "terminal (ssh -T), so its program would see none"
        )
    check_terminal(program, terminal)
    if stdin is not None and stdin is not Stream.DEVNULL:
        raise InvalidArgumentError(
            f"{program}: with tty=, stdin is the terminal; send input with "
            "handle.send()/sendline() in cmd.stream(tty=...), not stdin="
        )
    if stdout is not None:
        raise InvalidArgumentError(
            f"{program}: with tty=, stdout is the terminal and cannot be redirected"
        )
    return terminal


def check_terminal(program: str, terminal: Terminal) -> None:
    """Refuse a size out of range, a bad ``TERM`` value, a non-bool ``echo_input``."""
    for name in ("rows", "cols"):
        value = getattr(terminal, name)
        if type(value) is not int or not 1 <= value <= _MAX_SIZE:
            raise InvalidArgumentError(
                f"{program}: Terminal.{name} must be an int from 1 to {_MAX_SIZE}, got {value!r}"
            )
    term = terminal.term
    if term is not None and (
        not isinstance(term, str) or not term or "\x00" in term or "=" in term
    ):
        raise InvalidArgumentError(
            f"{program}: Terminal.term must be a non-empty str (a TERM value), got {term!r}"
        )
    if not isinstance(terminal.echo_input, bool):
        raise InvalidArgumentError(
            f"{program}: Terminal.echo_input must be a bool, got {terminal.echo_input!r}"
        )


class Pty:
    """One pseudo-terminal: our master end (non-blocking) and the child's slave end.

    The master is closed exactly once, by :meth:`hangup`, whoever gets there
    first (the end of a stream block, or a teardown); anything waiting on it is
    woken first, so nobody reads an fd number that may already be reused.
    """

    __slots__ = ("_fd", "settings", "slave_fd", "slave_path")

    def __init__(self, settings: Terminal) -> None:
        self.settings = settings
        ends: list[int] = []  # master, slave: stored as openpty makes them (see .owned)
        try:
            owned.make_into(ends, os.openpty)  # both close-on-exec (PEP 446)
            master, slave = ends
            self.slave_path = os.ttyname(slave)
            _set_size(master, settings.rows, settings.cols)
            if not settings.echo_input:
                attrs = termios.tcgetattr(slave)
                attrs[3] &= ~termios.ECHO
                termios.tcsetattr(slave, termios.TCSANOW, attrs)
            os.set_blocking(master, False)
        except BaseException:
            for fd in ends:
                os.close(fd)
            raise
        self._fd: int | None = master
        self.slave_fd = slave  # the parent's copy: closed once the child has its own

    @property
    def fd(self) -> int | None:
        """The master fd, or ``None`` once hung up."""
        return self._fd

    def resize(self, rows: int, cols: int) -> None:
        """Set the window size; the kernel sends SIGWINCH to the terminal's foreground group."""
        if self._fd is not None:
            _set_size(self._fd, rows, cols)

    def size(self) -> tuple[int, int]:
        """``(rows, cols)`` as the program sees them."""
        fd = self._require()
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
        return rows, cols

    def echoes(self) -> bool:
        """Whether the terminal echoes input now (programs clear it to read a password)."""
        return bool(termios.tcgetattr(self._require())[3] & termios.ECHO)

    def deserted(self) -> bool:
        """Whether nothing has the terminal open any more (the program and all it
        started have closed it): the master polls POLLHUP, and what is written to it
        would be thrown away."""
        fd = self._fd
        if fd is None:
            return True
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(events & select.POLLHUP for _, events in poller.poll(0))

    def eof_char(self) -> bytes:
        """The character that reads as end-of-file at the start of a line (VEOF, ``^D``)."""
        char = termios.tcgetattr(self._require())[6][termios.VEOF]
        return char if isinstance(char, bytes) else bytes([char])

    def _require(self) -> int:
        if self._fd is None:
            raise BrokenPipeError("the terminal has been closed")
        return self._fd

    def hangup(self) -> None:
        """Close the master (idempotent): the session leader gets SIGHUP, reads see EOF."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(Exception):  # wake any task waiting on it (needs a loop)
            anyio.notify_closing(fd)
        os.close(fd)


def _set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class CrlfTranslator:
    """``\\r\\n`` to ``\\n`` in a stream of text pieces, also across two pieces.

    A trailing ``\\r`` is held until the next piece shows whether ``\\n`` follows
    (or until ``final``), so the result equals translating the whole text at once.
    """

    __slots__ = ("_cr",)

    def __init__(self) -> None:
        self._cr = False

    @property
    def held(self) -> bool:
        """Whether a trailing ``\\r`` is held back, waiting for the next piece."""
        return self._cr

    def __call__(self, text: str, *, final: bool = False) -> str:
        if self._cr:
            text = "\r" + text
            self._cr = False
        if not final and text.endswith("\r"):
            text = text[:-1]
            self._cr = True
        return text.replace("\r\n", "\n")


def _without_cr(on_line: Callable[[str], None]) -> Callable[[str], None]:
    """Line events from a terminal: a line that ended in ``\\r\\n`` loses its ``\\r``."""

    def emit(line: str) -> None:
        on_line(line[:-1] if line.endswith("\r") else line)

    return emit


class TerminalCollector(StreamCollector):
    """A :class:`StreamCollector` for terminal output: text has ``\\n`` for ``\\r\\n``.

    Captured bytes (``text=False``) and echo stay as the terminal wrote them.
    """

    __slots__ = ()

    def bind_lines(self, on_line: Callable[[str], None]) -> None:
        super().bind_lines(_without_cr(on_line))

    def value(self, *, text: bool) -> str | bytes | None:
        value = super().value(text=text)
        return value.replace("\r\n", "\n") if isinstance(value, str) else value

    def salvage(self, *, text: bool) -> str | bytes | None:
        value = super().salvage(text=text)
        return value.replace("\r\n", "\n") if isinstance(value, str) else value
