"""Fake programs for tests: argv patterns, canned outcomes, and the stand-in that replays them.

:class:`FakePrograms` installs the runtime's substitution (``cuprum._runtime.substitution``)
while it is active: each spawn whose argv matches an expectation runs the
stand-in process (``_standin.py``) with that expectation's :class:`Outcome`
instead of the real program, so the run is an ordinary run in every other way.
An argv that matches nothing is refused (the run fails with
:class:`UnexpectedCommandError`) and remembered, so the test fails even if the
code under test swallowed the error.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from cuprum._runtime.substitution import install

__all__ = [
    "Call",
    "Expectation",
    "FakePrograms",
    "Outcome",
    "Pattern",
    "Prefix",
    "UnexpectedCommandError",
]

STANDIN = str(Path(__file__).with_name("_standin.py"))

# Signals whose default action does not end a process: it stops, continues or ignores.
_SURVIVED = {"SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGCONT", "SIGCHLD", "SIGURG", "SIGWINCH"}
_KILLING_SIGNALS = frozenset(
    int(sig) for sig in signal.valid_signals() if getattr(sig, "name", "") not in _SURVIVED
)


class UnexpectedCommandError(AssertionError):
    """A command matched no expectation (or an expectation used up its ``times``)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a faked program does: print ``stdout`` then ``stderr``, wait ``delay`` seconds,
    then exit with ``exit_code`` (negative: killed by that signal, like ``-15`` for SIGTERM).

    Text is encoded as UTF-8; pass ``bytes`` for anything else.
    """

    stdout: str | bytes = ""
    stderr: str | bytes = ""
    exit_code: int = 0
    delay: float = 0.0

    def __post_init__(self) -> None:
        for name in ("stdout", "stderr"):
            value = getattr(self, name)
            if not isinstance(value, str | bytes):
                raise TypeError(f"Outcome: {name} must be str or bytes, not {type(value).__name__}")
        code = self.exit_code
        if not isinstance(code, int) or isinstance(code, bool):
            raise TypeError(f"Outcome: exit_code must be int, not {type(code).__name__}")
        if not (0 <= code <= 255 or -code in _KILLING_SIGNALS):
            raise ValueError(
                f"Outcome: exit_code must be 0..255, or -N for a signal N that ends a "
                f"process (SIGSTOP, SIGCHLD and the like do not), got {code}"
            )
        delay = self.delay
        if not isinstance(delay, int | float) or isinstance(delay, bool):
            kind = type(delay).__name__
            raise TypeError(f"Outcome: delay must be a number of seconds, not {kind}")
        if not delay >= 0:  # NaN too
            raise ValueError(f"Outcome: delay must be >= 0, got {delay}")


@dataclass(frozen=True, slots=True)
class Prefix:
    """Matches every argv that starts with these words (program first)."""

    words: tuple[str, ...]

    def __init__(self, *words: str) -> None:
        if not all(isinstance(word, str) for word in words):
            raise TypeError(f"cuprum.testing: Prefix words must be str, got {words!r}")
        object.__setattr__(self, "words", words)


Pattern = str | Sequence[str] | Prefix | re.Pattern[str] | Callable[[tuple[str, ...]], bool]
"""An argv pattern: a command line (``"git status"``, split like a shell would) or a
sequence of words for the exact argv; a :class:`Prefix`; a compiled regex that must
match the whole ``shlex.join(argv)``; or a predicate on the argv tuple."""

OutcomeSource = Outcome | Callable[[tuple[str, ...]], Outcome]
"""An :class:`Outcome`, or a function of the argv returning one (called at each spawn)."""


@dataclass(frozen=True, slots=True)
class Call:
    """One spawn that an expectation answered: its argv, and where its stdin was saved."""

    argv: tuple[str, ...]
    stdin_path: Path
    kept: bytes | None = field(default=None, repr=False, compare=False)
    """The stdin read back before a temporary directory of the fake's own was removed."""

    @property
    def stdin(self) -> bytes:
        """What the faked program read on stdin (complete once it has exited)."""
        if self.kept is not None:
            return self.kept
        return self.stdin_path.read_bytes() if self.stdin_path.exists() else b""


def _matcher(pattern: Pattern) -> tuple[Callable[[tuple[str, ...]], bool], str]:
    """The predicate for ``pattern`` and how to name it in messages."""
    if isinstance(pattern, str):
        words = tuple(shlex.split(pattern))
        if not words:
            raise ValueError(f"cuprum.testing: pattern {pattern!r} holds no argv words")
        return (lambda argv: argv == words), f"exact {list(words)}"
    if isinstance(pattern, Prefix):
        prefix = pattern.words
        return (lambda argv: argv[: len(prefix)] == prefix), f"prefix {list(prefix)}"
    if isinstance(pattern, re.Pattern):
        regex = pattern
        return (lambda argv: regex.fullmatch(shlex.join(argv)) is not None), (
            f"regex {regex.pattern!r}"
        )
    if callable(pattern):
        predicate = pattern
        name = getattr(predicate, "__qualname__", repr(predicate))
        return (lambda argv: bool(predicate(argv))), f"predicate {name}"
    words = tuple(pattern)
    if not words or not all(isinstance(word, str) for word in words):
        raise TypeError(f"cuprum.testing: pattern must be argv words (str), got {pattern!r}")
    return (lambda argv: argv == words), f"exact {list(words)}"


@dataclass(eq=False)
class Expectation:
    """A registered pattern, its outcome and the calls it answered (``calls``, ``used``)."""

    description: str
    matches: Callable[[tuple[str, ...]], bool]
    outcome: OutcomeSource | None  # None: run the real program
    times: int | None = None
    calls: list[Call] = field(default_factory=list)

    @property
    def used(self) -> bool:
        """Whether it answered at least one call (exactly ``times``, when given)."""
        return len(self.calls) == self.times if self.times is not None else bool(self.calls)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and len(self.calls) >= self.times


def _call(
    source: Callable[[tuple[str, ...]], Outcome], expectation: Expectation, argv: tuple[str, ...]
) -> object:
    """The outcome function's answer; what it raises goes on as itself (the test's own
    error, for pytest to show), with a note naming the fake and the command."""
    try:
        return source(argv)
    except Exception as exc:
        note = (
            f"cuprum.testing: raised by the outcome function of {expectation.description} "
            f"(for {shlex.join(argv)!r})"
        )
        if note not in getattr(exc, "__notes__", ()):  # an instance raised again: once
            exc.add_note(note)
        raise


def _checked_workdir(workdir: object) -> Path | None:
    """``workdir`` as a ``Path``: an existing directory (refused now, not at the first spawn)."""
    if workdir is None:
        return None
    if not isinstance(workdir, str | os.PathLike):
        raise TypeError(
            f"cuprum.testing: workdir must be a str or os.PathLike path or None, not {workdir!r}"
        )
    path = Path(workdir)
    if not path.exists():
        raise ValueError(f"cuprum.testing: workdir {str(path)!r} does not exist")
    if not path.is_dir():
        raise ValueError(f"cuprum.testing: workdir {str(path)!r} is not a directory")
    return path


class FakePrograms:
    """Registered expectations, and the substitution that answers spawns with them.

    Use it as a context manager (the ``cuprum_fake`` fixture does): inside, every
    command cuprum spawns must match an expectation. Expectations are tried in
    the order they were registered; the first that matches and is not used up wins.
    ``workdir`` holds each call's outcome and stdin; without it a temporary
    directory is made, and removed at exit (each ``Call.stdin`` read back first).
    """

    def __init__(self, workdir: str | Path | None = None) -> None:
        self._workdir = _checked_workdir(workdir)
        self._owned: Path | None = None
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._uninstall: Callable[[], None] | None = None
        self.expectations: list[Expectation] = []
        self.calls: list[Call] = []
        """Every faked spawn, in order."""
        self.unexpected: list[tuple[str, ...]] = []
        """Every argv that matched no expectation."""

    def expect(
        self,
        pattern: Pattern,
        outcome: OutcomeSource | None = None,
        /,
        *,
        stdout: str | bytes = "",
        stderr: str | bytes = "",
        exit_code: int = 0,
        delay: float = 0.0,
        times: int | None = None,
    ) -> Expectation:
        """Answer commands matching ``pattern`` with ``outcome`` (or one built from the keywords).

        ``times``: how many calls it answers (default: any number); a further
        matching call falls through to later expectations, else is unexpected.
        """
        if outcome is None:
            outcome = Outcome(stdout, stderr, exit_code, delay)
        elif not (isinstance(outcome, Outcome) or callable(outcome)):
            raise TypeError(
                f"cuprum.testing: outcome must be an Outcome or a callable, got {outcome!r}"
            )
        return self._add(pattern, outcome, times)

    def passthrough(self, pattern: Pattern) -> Expectation:
        """Let commands matching ``pattern`` run the real program."""
        return self._add(pattern, None, None)

    def _add(
        self, pattern: Pattern, outcome: OutcomeSource | None, times: int | None
    ) -> Expectation:
        if times is not None and (not isinstance(times, int) or isinstance(times, bool)):
            raise TypeError(f"cuprum.testing: times must be an int or None, not {times!r}")
        if times is not None and times < 1:
            raise ValueError(f"cuprum.testing: times must be >= 1, got {times}")
        matches, description = _matcher(pattern)
        expectation = Expectation(description, matches, outcome, times)
        with self._lock:
            self.expectations.append(expectation)
        return expectation

    def unused(self) -> list[Expectation]:
        """Expectations not used (or not used exactly ``times`` times)."""
        return [e for e in self.expectations if e.outcome is not None and not e.used]

    def assert_all_used(self) -> None:
        """Fail (``AssertionError``) naming every expectation that was not used as registered."""
        missing = self.unused()
        if missing:
            lines = [
                f"  {e.description}: called {len(e.calls)} time(s)"
                + (f", expected {e.times}" if e.times is not None else ", expected at least once")
                for e in missing
            ]
            raise AssertionError("cuprum.testing: expectations not used:\n" + "\n".join(lines))

    def verify(self) -> None:
        """Fail if any command was unexpected (the fixture calls this at teardown)."""
        if self.unexpected:
            listed = "\n".join(f"  {shlex.join(argv)}" for argv in self.unexpected)
            raise UnexpectedCommandError(f"cuprum.testing: unexpected command(s):\n{listed}")

    def _refuse(self, argv: tuple[str, ...]) -> UnexpectedCommandError:
        self.unexpected.append(argv)
        known = "\n".join(f"  {e.description}" for e in self.expectations) or "  (none)"
        return UnexpectedCommandError(
            f"cuprum.testing: unexpected command {shlex.join(argv)!r} "
            f"(argv {list(argv)}); registered expectations:\n{known}"
        )

    def _substitute(self, argv: tuple[str, ...]) -> list[str] | None:
        with self._lock:
            for expectation in self.expectations:
                if expectation.exhausted or not expectation.matches(argv):
                    continue
                if expectation.outcome is None:
                    return None
                number = next(self._counter)
                break
            else:
                raise self._refuse(argv)
        source = expectation.outcome
        outcome = source if isinstance(source, Outcome) else _call(source, expectation, argv)
        if not isinstance(outcome, Outcome):
            raise TypeError(
                f"cuprum.testing: the outcome function of {expectation.description} returned "
                f"{type(outcome).__name__}, not an Outcome (for {shlex.join(argv)!r})"
            )
        spec_path, stdin_path = self._write_spec(number, outcome)
        call = Call(argv, stdin_path)
        with self._lock:
            expectation.calls.append(call)
            self.calls.append(call)
        return [sys.executable, "-I", "-S", STANDIN, str(spec_path)]

    def _write_spec(self, number: int, outcome: Outcome) -> tuple[Path, Path]:
        if self._workdir is None:  # its own: removed at exit, the calls' stdin kept
            self._workdir = self._owned = Path(tempfile.mkdtemp(prefix="cuprum-fake-"))
        spec_path = self._workdir / f"call-{number}.json"
        stdin_path = self._workdir / f"call-{number}.stdin"
        spec = {
            "stdout": _b64(outcome.stdout),
            "stderr": _b64(outcome.stderr),
            "exit_code": outcome.exit_code,
            "delay": outcome.delay,
            "stdin": str(stdin_path),
        }
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        return spec_path, stdin_path

    def __enter__(self) -> FakePrograms:
        if self._uninstall is not None:
            raise RuntimeError("cuprum.testing: FakePrograms is already active")
        self._uninstall = install(self._substitute)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._uninstall is not None:
            self._uninstall()
            self._uninstall = None
        owned, self._owned = self._owned, None
        if owned is not None:
            self._workdir = None
            for call in self.calls:
                if call.kept is None and call.stdin_path.parent == owned:
                    object.__setattr__(call, "kept", call.stdin)
            shutil.rmtree(owned, ignore_errors=True)


def _b64(data: str | bytes) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")
