"""Checking a run's options when its request is built: before any hook, event or process.

A bad value would otherwise fail late and obscurely (a comparison deep in the
engine, anyio's message after the child was spawned and killed, a bare
``ValueError`` from ``Popen``). A failed check raises :class:`InvalidArgumentError`
naming the program (a pipeline's first stage) and the parameter. The kinds
accepted are exactly those the engine wires (``_stdin_fd``, ``redirect.open_target``).
"""

from __future__ import annotations

import codecs
import math
import os
from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from typing import Literal

from cuprum._core.context import CuprumContext
from cuprum._core.errors import InvalidArgumentError
from cuprum._core.pinning import relative_message
from cuprum._model.execution import ExecutionContext
from cuprum._model.io import AppendTo, Stream
from cuprum._model.spec import CommandSpec
from cuprum._runtime.refusal import _Refused, described, refused
from cuprum._runtime.refusal import check_os_string as _check_os_string
from cuprum._runtime.refusal import is_integer as _is_integer
from cuprum._runtime.refusal import is_number as _is_number
from cuprum._runtime.refusal import who as _who
from cuprum._runtime.validate_env import check_env as _check_env

__all__ = ["check_accept", "check_field", "check_limit", "described", "refused", "validate_request"]

_STDIN_KINDS = (
    "bytes, str, a path, an open file, an async iterable of bytes, DEVNULL, INHERIT "
    "or PIPE (streaming only)"
)
_TARGET_KINDS = "a path, AppendTo(path), an open file, DEVNULL or INHERIT"
_got = described  # a bad value in a message
_SUBPROCESS = {-1: "PIPE", -2: "STDOUT", -3: "DEVNULL"}  # subprocess's markers (ints)


def validate_request(
    stages: Sequence[CommandSpec],
    *,
    timeout: object,
    context: object,
    policy: CuprumContext,
    stdin: object,
    stdout: object,
    stderr: object,
    capture_limit: object,
    on_limit: object,
) -> None:
    """Refuse any option of a run that the engine could not honour."""
    for stage in stages:
        program = stage.program
        if "/" in program and not os.path.isabs(program):
            raise InvalidArgumentError(relative_message(program))
    try:
        _check_all(
            timeout=timeout,
            context=context,
            policy=policy,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            capture_limit=capture_limit,
            on_limit=on_limit,
        )
    except _Refused as exc:
        raise InvalidArgumentError(f"{_who(stages)}: {exc}") from None


def check_limit(owner: str, name: str, value: object) -> None:
    """A limit such as ``concurrency``: ``None`` or an ``int`` >= 1 (not a ``bool``)."""
    if value is not None and not (_is_integer(value) and value >= 1):
        raise InvalidArgumentError(
            f"{owner}: {name} must be an int >= 1 or None, got {_got(value)}"
        )


def check_field(owner: str, name: str, value: object, kind: Literal["flag", "seconds"]) -> None:
    """A config's ``flag``, ``True`` or ``False`` (not ``1``, ``"yes"``, ``None``), or its
    ``seconds``, ``None`` or as a run's ``timeout`` (:func:`_check_seconds`)."""
    if kind == "seconds":
        _check_seconds(f"{owner}: {name}", value, InvalidArgumentError)
    elif not isinstance(value, bool):
        raise InvalidArgumentError(f"{owner}: {name} must be True or False, got {_got(value)}")


def _check_all(
    *,
    timeout: object,
    context: object,
    policy: CuprumContext,
    stdin: object,
    stdout: object,
    stderr: object,
    capture_limit: object,
    on_limit: object,
) -> None:
    """Each check, skipped for ``None`` (``context``: the default one): the defaults cost none."""
    if context is not None:
        if not isinstance(context, ExecutionContext):
            raise _Refused(f"context must be an ExecutionContext, got {_got(context)}")
        _check_context(context, policy)
    for name, seconds in (("timeout", timeout), ("ScopeConfig.timeout", policy.timeout)):
        if seconds is not None:
            _check_seconds(name, seconds)
    if stdin is not None:
        _check_stdin(stdin)
    if stdout is not None:
        _check_target("stdout", stdout)
    if stderr is not None and stderr is not Stream.STDOUT:
        _check_target("stderr", stderr)
    if capture_limit is not None:
        if not _is_integer(capture_limit):
            raise _Refused(
                f"capture_limit must be a number of bytes (int) or None, got {_got(capture_limit)}"
            )
        if capture_limit < 0:
            raise _Refused(f"capture_limit must be >= 0, got {capture_limit}")
    if not isinstance(on_limit, str) or on_limit not in ("truncate", "raise"):
        raise _Refused(f"on_limit must be 'truncate' or 'raise', got {_got(on_limit)}")


def _check_seconds(name: str, value: object, error: type[Exception] = _Refused) -> None:
    """A timeout: a real number (not bool), not NaN; <= 0 expires at once, inf never."""
    if value is None:
        return
    if not _is_number(value):
        raise error(f"{name} must be a number of seconds, got {_got(value)}")
    try:
        seconds = float(value)
    except OverflowError:
        raise error(f"{name} of {value} seconds is too large") from None
    if math.isnan(seconds):
        raise error(f"{name} must be a number of seconds, got NaN")


def _check_context(context: ExecutionContext, policy: CuprumContext) -> None:
    _check_seconds("ExecutionContext.timeout", context.timeout)
    grace = context.cancel_grace
    if not _is_number(grace) or math.isnan(grace):
        raise _Refused(
            f"ExecutionContext.cancel_grace must be a number of seconds, got {_got(grace)}"
        )
    if not isinstance(tags := context.tags, Mapping) or not all(isinstance(k, str) for k in tags):
        raise _Refused(f"ExecutionContext.tags must be a mapping with str keys, got {_got(tags)}")
    if context.cwd is not None:
        _check_path("ExecutionContext.cwd", context.cwd)
    if context.env is not None:
        _check_env(context.env, policy)
    if context.keep_env or context.inherit_env is not True:
        _check_inheritance(context.inherit_env, context.keep_env)
    _check_codec(context.encoding, context.errors)


def _check_inheritance(inherit: object, keep: object) -> None:
    """``inherit_env`` a bool; ``keep_env`` names, and only with ``inherit_env=False``."""
    if not isinstance(inherit, bool):
        raise _Refused(f"ExecutionContext.inherit_env must be True or False, got {_got(inherit)}")
    if isinstance(keep, str) or not isinstance(keep, tuple | list | set | frozenset):
        raise _Refused(
            f"ExecutionContext.keep_env must be a tuple of variable names, got {_got(keep)}"
        )
    for name in keep:
        if not isinstance(name, str) or not name or "=" in name:
            raise _Refused(f"ExecutionContext.keep_env: invalid variable name {_got(name)}")
    if keep and inherit:
        raise _Refused(
            "ExecutionContext.keep_env needs inherit_env=False "
            "(the inherited environment keeps every variable)"
        )


def _check_path(name: str, value: object) -> None:
    """A ``str`` or ``os.PathLike`` naming a ``str`` path, with no NUL, encodable."""
    if not isinstance(value, str | os.PathLike):
        raise _Refused(f"{name} must be a str or os.PathLike path, got {_got(value)}")
    try:
        path = os.fspath(value)
    except (TypeError, ValueError) as exc:
        raise _Refused(f"{name} is not a usable path: {exc}") from None
    if not isinstance(path, str):
        raise _Refused(f"{name} must name a str path, got {_got(path)}")
    _check_os_string(f"{name} {path!r}", path)


_KNOWN_CODECS: set[tuple[str, str]] = set()  # (encoding, errors) pairs that passed


def _check_codec(encoding: object, errors: object) -> None:
    plain = type(encoding) is str and type(errors) is str  # hashable, no custom __eq__
    if plain and (encoding, errors) in _KNOWN_CODECS:
        return
    try:
        info = codecs.lookup(encoding) if isinstance(encoding, str) else None
    except (LookupError, ValueError):
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise _Refused(f"ExecutionContext.encoding must name a text encoding, got {_got(encoding)}")
    try:
        known = isinstance(errors, str) and _decodes(codecs.lookup_error(errors))
    except (LookupError, ValueError):
        known = False
    if not known:
        raise _Refused(
            f"ExecutionContext.errors must name an error handler that can decode "
            f"('strict', 'replace', ...), got {_got(errors)}"
        )
    if type(encoding) is str and type(errors) is str:
        _KNOWN_CODECS.add((encoding, errors))


def _decodes(handler: Callable[[UnicodeError], tuple[str | bytes, int]]) -> bool:
    """Whether an error handler can serve a decode (``xmlcharrefreplace`` cannot)."""
    try:
        handler(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "probe"))
    except UnicodeDecodeError:  # strict-like: a decode that fails raises, as asked
        return True
    except TypeError:
        return False
    return True


def _check_stdin(source: object) -> None:
    if isinstance(source, Stream):  # PIPE: run() refuses it itself; stream() feeds it
        if source not in (Stream.DEVNULL, Stream.INHERIT, Stream.PIPE):
            raise _Refused(f"stdin cannot be {source!r}; use {_STDIN_KINDS}")
        return
    if source is None or isinstance(source, str | bytes | bytearray | memoryview):
        return
    if isinstance(source, os.PathLike):
        _check_path("stdin", source)
        return
    if hasattr(source, "fileno"):
        _check_fileno("stdin", source)
        return
    if isinstance(source, AsyncIterable):
        return
    hint = ""
    if isinstance(source, Iterable):
        hint = " (an ordinary iterable: join it into bytes, or make it an async generator)"
    hint = _subprocess_hint("stdin", source) or hint
    raise _Refused(f"stdin must be {_STDIN_KINDS}; got {_got(source)}{hint}")


def _check_target(name: str, target: object) -> None:
    """A redirect for stdout or stderr (``stderr=STDOUT`` is checked by the caller)."""
    if target is None or target is Stream.DEVNULL or target is Stream.INHERIT:
        return
    kinds = _TARGET_KINDS + (" or STDOUT" if name == "stderr" else "")
    if isinstance(target, Stream):
        hint = "; to read stdout as it comes, use cmd.stream()" if target is Stream.PIPE else ""
        raise _Refused(f"{name} cannot be {target!r}: use {kinds}{hint}")
    if isinstance(target, AppendTo):
        _check_path(f"{name} AppendTo path", target.path)
        return
    if isinstance(target, str | os.PathLike):
        _check_path(name, target)
        return
    if hasattr(target, "fileno"):
        _check_fileno(name, target)
        return
    hint = _subprocess_hint(name, target)
    raise _Refused(f"{name} must be {kinds}; got {_got(target)}{hint}")


def _subprocess_hint(name: str, value: object) -> str:
    """What to pass instead of one of subprocess's markers (ints), or ``""``."""
    marker = _SUBPROCESS.get(value) if type(value) is int else None
    if marker is None:
        return ""
    if marker != "PIPE":
        return f" (subprocess.{marker}: use cuprum.{marker})"
    if name == "stdin":
        return " (subprocess.PIPE: to write to stdin, use cmd.stream(stdin=cuprum.PIPE))"
    return f" (subprocess.PIPE: to read {name} as it comes, use cmd.stream())"


def _check_fileno(name: str, stream: object) -> None:
    """An open file must have a real descriptor (``io.BytesIO`` has none)."""
    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise _Refused(
            f"{name} {_got(stream)} has no file descriptor ({exc}); "
            "pass a real file, or its contents as bytes"
        ) from None
    if not isinstance(fd, int) or isinstance(fd, bool) or fd < 0:
        raise _Refused(f"{name}.fileno() returned {_got(fd)}, not an fd")


# -- accepted exit codes (``accept=``), for request.py -----------------------------


def check_accept(who: str, codes: object) -> frozenset[int]:
    """``accept=``: a non-empty collection of exit codes (ints), as a frozenset.

    ``who`` names the program (or pipeline) in the error."""
    if isinstance(codes, frozenset) and codes and all(type(c) is int for c in codes):
        return codes  # already checked (bound with with_options)
    ok = isinstance(codes, Iterable) and not isinstance(codes, str | bytes | Mapping)
    items = list(codes) if ok else []  # type: ignore[call-overload]
    if not ok or not items or not all(_is_integer(code) for code in items):
        raise InvalidArgumentError(
            f"{who}: accept must be a non-empty collection of exit codes (ints), "
            f"e.g. accept=(0, 1); got {_got(codes)}"
        )
    return frozenset(int(code) for code in items)
