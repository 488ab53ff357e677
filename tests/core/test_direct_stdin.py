"""Stdin data (``stdin=b"..."`` or text) on the direct path, adversarially.

``run_sync()`` feeds it from the run's own poll (``stdin.PolledFeed``); here it is
compared with ``await cmd.run(stdin=...)`` on asyncio and trio, and with
``subprocess.run(input=...)``, where a run ends badly or the input is odd.
"""

from __future__ import annotations

import pickle
import subprocess
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from core_support import open_fds, shell

from cuprum import (
    ExecEvent,
    ExecutionContext,
    InvalidArgumentError,
    ScopeConfig,
    Secret,
    TimeoutExpired,
    scoped,
)

BACKENDS = ["asyncio", "trio"]


def _phases(run: Callable[[], Any]) -> tuple[Any, list[ExecEvent]]:
    """What ``run()`` returned or raised, and the run's events but its output lines."""
    seen: list[ExecEvent] = []
    with scoped(ScopeConfig(observe_hooks=(seen.append,))):
        try:
            outcome: Any = run()
        except Exception as exc:  # compared by the caller
            outcome = exc
    return outcome, [e for e in seen if e.phase not in ("stdout", "stderr")]


async def _run(cmd: Any, options: dict[str, Any]) -> Any:
    return await cmd.run(**options)


def _paths(cmd: Any, options: dict[str, Any]) -> list[Callable[[], Any]]:
    """The same run three ways: ``run_sync()`` (direct), ``await run()`` on each loop."""

    def looped(backend: str) -> Callable[[], Any]:
        return lambda: anyio.run(_run, cmd, options, backend=backend)

    return [lambda: cmd.run_sync(**options), *(looped(b) for b in BACKENDS)]


def test_input_dropped_before_a_timeout_is_still_told() -> None:
    """A child that closes its stdin early, then outlives the timeout: the
    ``stdin_closed`` event comes before the ``error`` event, as on a loop (it was
    only emitted by a direct run that ended well)."""
    shell("true").run_sync(stdin=b"x")  # the shared /dev/null descriptor, opened once
    before = open_fds()
    cmd = shell("exec 0<&-; echo closed; exec sleep 30")
    options: dict[str, Any] = {"stdin": b"x" * (4 << 20), "timeout": 0.3}
    for run in _paths(cmd, options):
        outcome, events = _phases(run)
        assert isinstance(outcome, TimeoutExpired) and outcome.output == "closed\n"
        assert [e.phase for e in events] == ["plan", "start", "stdin_closed", "error"]
        assert str(events[2].message).startswith("child closed stdin; ")
    assert open_fds() == before


def _raised(run: Callable[[], Any]) -> BaseException:
    try:
        run()
    except Exception as exc:  # compared by the caller
        return exc
    raise AssertionError("no error")


@pytest.mark.parametrize("secret", [False, True])
def test_text_the_encoding_cannot_encode_names_the_program_and_parameter(secret: bool) -> None:
    """The same error on every path, before anything starts: an ``InvalidArgumentError``
    naming the program and ``stdin`` that is also the ``UnicodeEncodeError``
    ``subprocess.run(input=...)`` raises; a ``Secret`` shows in neither the message nor
    the exception (it was in its ``object``, a character of it in its message)."""
    text = "s3cr\u20act" if secret else "caf\u00e9 \u20ac"
    stdin = Secret(text) if secret else text
    cmd = shell("cat")
    options: dict[str, Any] = {"stdin": stdin, "context": ExecutionContext(encoding="latin-1")}
    with pytest.raises(UnicodeEncodeError):  # what an experienced user catches
        subprocess.run(["cat"], input=text, encoding="latin-1", check=False)
    errors = [_raised(run) for run in _paths(cmd, options)]
    for error in errors:
        assert isinstance(error, InvalidArgumentError) and isinstance(error, UnicodeEncodeError)
        assert str(error).startswith("sh: stdin: ")
        assert "latin-1" in str(error)
        assert str(error) == str(errors[0])
        assert error.encoding == "latin-1"
        if secret:
            assert "\u20ac" not in str(error) and "s3cr" not in repr(vars(error))
            assert "s3cr" not in repr(error.args) and "s3cr" not in str(error.object)
        else:
            assert "'\u20ac'" in str(error) and error.object == text
            assert (error.start, error.end) == (5, 6)
        assert pickle.loads(pickle.dumps(error)).args == error.args
