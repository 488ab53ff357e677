"""Structured logging of execution events through the standard ``logging`` module.

:func:`structured_logging_hook` turns every :class:`~cuprum.ExecEvent` into one
log record carrying ``cuprum_*`` attributes; :class:`JsonLoggingFormatter`
renders a record (those attributes included) as one JSON object per line.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cuprum import ExecEvent, InvalidArgumentError, LineBatch

__all__ = ["EVENT_FIELDS", "JsonLoggingFormatter", "structured_logging_hook"]

EVENT_FIELDS: tuple[str, ...] = (
    "cuprum_phase",
    "cuprum_program",
    "cuprum_argv",
    "cuprum_pid",
    "cuprum_exit_code",
    "cuprum_ok",
    "cuprum_duration_s",
    "cuprum_tags",
    "cuprum_line",
    "cuprum_error",
    "cuprum_message",
)
"""The attributes every record from :func:`structured_logging_hook` carries
(``None`` where the event has no such value)."""

DEFAULT_LOGGER = "cuprum.exec"


def _extra(ev: ExecEvent) -> dict[str, Any]:
    return {
        "cuprum_phase": ev.phase,
        "cuprum_program": ev.display_name,
        "cuprum_argv": list(ev.argv),
        "cuprum_pid": ev.pid,
        "cuprum_exit_code": ev.exit_code,
        "cuprum_ok": ev.ok,
        "cuprum_duration_s": ev.duration_s,
        "cuprum_tags": dict(ev.tags),
        "cuprum_line": ev.line,
        "cuprum_error": ev.error,
        "cuprum_message": ev.message,
    }


def _message(ev: ExecEvent) -> str:
    phase = ev.phase
    if phase in ("stdout", "stderr"):
        return f"cuprum {phase} {ev.display_name}: {ev.line}"
    if phase == "exit":
        return f"cuprum exit {ev.display_name} pid={ev.pid} exit_code={ev.exit_code}" + (
            "" if ev.succeeded else " (not accepted)"
        )
    if phase == "error":
        return f"cuprum error {ev.display_name} {ev.error}: {ev.message}"
    if phase == "start":
        return f"cuprum start {ev.display_name} pid={ev.pid}"
    if phase == "plan":
        return f"cuprum plan {ev.display_name} argv={list(ev.argv)}"
    return f"cuprum {phase} {ev.display_name}: {ev.message}"


def structured_logging_hook(
    *,
    logger: logging.Logger | None = None,
    level: int = logging.INFO,
    output_level: int = logging.DEBUG,
    failure_level: int = logging.WARNING,
) -> Callable[[ExecEvent], None]:
    """An observe hook that logs one record per event, with ``cuprum_*`` extras.

    ``logger`` defaults to ``logging.getLogger("cuprum.exec")``. Lifecycle events
    (``plan``, ``start``, an ``exit`` with an accepted code, ``ExecEvent.ok``) log
    at ``level``; output lines (``stdout``, ``stderr``) at ``output_level``; an
    ``exit`` with a code not accepted, an ``error`` and ``stdin_closed`` at
    ``failure_level``. A record whose level is
    disabled costs one ``isEnabledFor`` check. See :data:`EVENT_FIELDS`. A logger
    that is not a ``logging.Logger``, or a level that is not an ``int``, is refused
    here (:class:`~cuprum.InvalidArgumentError`), not by the first event.
    """
    if logger is not None and not isinstance(logger, logging.Logger):
        raise InvalidArgumentError(
            "structured_logging_hook: logger must be a logging.Logger or None, "
            f"got {logger!r} ({type(logger).__name__})"
        )
    levels = {"level": level, "output_level": output_level, "failure_level": failure_level}
    for name, value in levels.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgumentError(
                f"structured_logging_hook: {name} must be an int (logging.INFO, ...), "
                f"got {value!r} ({type(value).__name__})"
            )
    log = logger if logger is not None else logging.getLogger(DEFAULT_LOGGER)
    return _StructuredLogger(log, level, output_level, failure_level)


class _StructuredLogger:
    """The hook :func:`structured_logging_hook` returns: lifecycle events one by one,
    output lines in batches (a :class:`~cuprum.LineBatchObserver`), so lines at a
    disabled level cost one ``isEnabledFor`` per batch and are never decoded."""

    __slots__ = ("_failure_level", "_level", "_log", "_output_level")

    def __init__(self, log: logging.Logger, level: int, output_level: int, failure: int) -> None:
        self._log = log
        self._level = level
        self._output_level = output_level
        self._failure_level = failure

    def _handle(self, lvl: int, message: str, extra: dict[str, Any]) -> None:
        # makeRecord + handle is what Logger.log does, minus the stack walk
        # for the caller's file and line, which would only name this hook.
        log = self._log
        log.handle(log.makeRecord(log.name, lvl, __file__, 0, message, (), None, None, extra))

    def __call__(self, ev: ExecEvent) -> None:
        phase = ev.phase
        if phase in {"stdout", "stderr"}:
            lvl = self._output_level
        elif phase in {"error", "stdin_closed"} or (phase == "exit" and not ev.succeeded):
            lvl = self._failure_level
        else:
            lvl = self._level
        if self._log.isEnabledFor(lvl):
            self._handle(lvl, _message(ev), _extra(ev))

    def on_lines(self, batch: LineBatch) -> None:
        """One record per line, the same as for its line event."""
        lvl = self._output_level
        if not self._log.isEnabledFor(lvl):
            return
        phase, name, argv, tags = batch.phase, batch.display_name, batch.argv, batch.tags
        for line in batch.lines:
            extra = {
                "cuprum_phase": phase,
                "cuprum_program": name,
                "cuprum_argv": list(argv),
                "cuprum_pid": batch.pid,
                "cuprum_exit_code": None,
                "cuprum_ok": None,
                "cuprum_duration_s": None,
                "cuprum_tags": dict(tags),
                "cuprum_line": line,
                "cuprum_error": None,
                "cuprum_message": None,
            }
            self._handle(lvl, f"cuprum {phase} {name}: {line}", extra)


# What json.dumps(ensure_ascii=False) leaves raw but a record must not contain: the
# line breaks of str.splitlines() beyond the C0 controls json escapes (a record stays
# on one line), and lone surrogates, which output decoded with errors="surrogateescape"
# carries for its undecodable bytes and which no UTF-8 stream can write. Each becomes
# the \uXXXX escape ensure_ascii=True would write for it.
_UNWRITABLE = re.compile("[\x85\u2028\u2029\ud800-\udfff]")


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


# Attributes every LogRecord has; whatever else a record carries came from `extra`.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
}


class JsonLoggingFormatter(logging.Formatter):
    """Format each record as one line of JSON.

    Keys: ``timestamp`` (ISO 8601, UTC), ``level``, ``logger``, ``message``,
    every ``cuprum_*`` attribute of the record, ``exception`` when the record
    has exception info, and any other ``extra`` names listed in ``extra_fields``.
    Values JSON cannot represent are written with ``str()``. Non-ASCII text is
    kept as is (``ensure_ascii=True`` escapes it); any character that could split
    the line is escaped either way.

    Every line is valid UTF-8, so a handler with ``encoding="utf-8"`` never drops a
    record. A lone surrogate (how ``errors="surrogateescape"`` decoding keeps a byte
    that is not UTF-8) is written as the JSON escape ``\\udcXX``, as
    ``ensure_ascii=True`` writes it: ``json.loads`` gives back the very same string,
    so ``value.encode("utf-8", "surrogateescape")`` recovers the program's bytes.
    """

    def __init__(self, *, extra_fields: tuple[str, ...] = (), ensure_ascii: bool = False) -> None:
        super().__init__()
        self._extra_fields = extra_fields
        self._ensure_ascii = ensure_ascii
        self._encoder = json.JSONEncoder(default=str, ensure_ascii=ensure_ascii)
        self._second: tuple[int, str] = (-1, "")

    def _timestamp(self, created: float) -> str:
        second = int(created)
        cached, prefix = self._second
        if cached != second:
            prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = (second, prefix)
        micros = min(999_999, round((created - second) * 1_000_000))
        return f"{prefix}.{micros:06d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON (the keys listed above)."""
        payload: dict[str, Any] = {
            "timestamp": self._timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key.startswith("cuprum_"):
                payload[key] = value
        for key in self._extra_fields:
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        text = self._encoder.encode(payload)
        if not self._ensure_ascii and not text.isascii():
            text = _UNWRITABLE.sub(_json_escape, text)
        return text
