"""``python -m cuprum demo|info|which``; output that cannot be written ends it cleanly.

A reader that leaves (``python -m cuprum demo | head -1``) stops the command quietly
and a failed write (a full disk) is one line on stderr, both with status 1, instead
of a traceback.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from cuprum._cli import main


class _OutputLost(Exception):
    """Writing to stdout failed; ``error`` is the ``OSError``."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class _Stdout:
    """``sys.stdout``, but a failed write or flush raises :class:`_OutputLost`, so only
    stdout's own failures are told apart from any other ``OSError``."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise _OutputLost(exc) from exc

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise _OutputLost(exc) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _lost(exc: BaseException) -> _OutputLost | None:
    """The output failure ``exc`` is, or is made of alone (from a task group)."""
    if isinstance(exc, _OutputLost):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        matched, rest = exc.split(_OutputLost)
        if matched is not None and rest is None:
            return _lost(matched.exceptions[0])
    return None


def _run() -> int:
    stream = sys.stdout
    if stream is None:  # started with stdout closed: nothing to write to
        return main()
    sys.stdout = _Stdout(stream)
    try:
        code = main()
        sys.stdout.flush()
    except BaseException as exc:
        lost = _lost(exc)
        if lost is None:
            raise
        sys.stdout = stream
        # What is still buffered goes nowhere, so the exit's flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
        if not isinstance(lost.error, BrokenPipeError):  # a reader that left is no error
            print(f"python -m cuprum: cannot write the output: {lost.error}", file=sys.stderr)
        return 1
    finally:
        if isinstance(sys.stdout, _Stdout):
            sys.stdout = stream
    return code


raise SystemExit(_run())
