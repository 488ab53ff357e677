"""The common run (one command, default options, no hooks) skips the steps that have
nothing to do: no option check for a value left at its default, no ``stat`` for a
stream that cannot name a FIFO, no cgroup steps without containment, no event
fields without observers. Each skipped step still runs when there is work for it."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from core_support import shell

from cuprum import DEVNULL, INHERIT, STDOUT, AppendTo, ExecutionContext, InvalidArgumentError
from cuprum._runtime import cgroupfs, contain, fifo, validate
from cuprum._runtime.emit import Emitter
from cuprum._runtime.request import build_request

TRUE = shell("true")


def _refuse(*args: object, **kwargs: object) -> Any:
    raise AssertionError("called on a run that had nothing for it to do")


def test_a_run_with_the_defaults_calls_no_option_check(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("_check_context", "_check_seconds", "_check_stdin", "_check_target"):
        monkeypatch.setattr(validate, name, _refuse)
    assert TRUE.run_sync().exit_code == 0
    assert TRUE.run_sync(context=None).exit_code == 0  # None: the default context


def test_a_context_given_is_still_checked_whole() -> None:
    # Equal to the default, but the caller's own: checked like any other.
    with pytest.raises(InvalidArgumentError, match=r"sh: ExecutionContext\.timeout"):
        TRUE.run_sync(context=ExecutionContext(timeout="soon"))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"sh: ExecutionContext\.encoding"):
        TRUE.run_sync(context=ExecutionContext(encoding="no-such-codec"))
    assert TRUE.run_sync(context=ExecutionContext()).exit_code == 0


@pytest.mark.parametrize(
    "streams",
    [
        {},
        {"stdin": b"data", "stdout": DEVNULL, "stderr": STDOUT},
        {"stdin": "text, not a path", "stdout": INHERIT, "stderr": DEVNULL},
        {"stdin": bytearray(b"x"), "stderr": INHERIT},
        {"stdin": memoryview(b"x")},
    ],
)
def test_streams_that_name_no_path_need_no_fifo_check(streams: dict[str, Any]) -> None:
    assert not fifo.may_name_fifo(_unchecked(**streams))


def test_every_stream_that_may_name_a_fifo_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "out"
    maybe: list[dict[str, Any]] = [
        {"stdin": path},
        {"stdout": str(path)},
        {"stdout": path},
        {"stderr": AppendTo(path)},
        {"stdout": io.StringIO()},  # no path, but not a kind ruled out cheaply
    ]
    for streams in maybe:
        assert fifo.may_name_fifo(_unchecked(**streams)), streams


def _unchecked(**streams: Any) -> Any:
    """A request with these streams, unchecked (an ``io.StringIO`` has no fd)."""
    return build_request(TRUE._stages())._replace(**streams)


def test_a_fifo_named_by_a_str_is_still_opened(tmp_path: Path) -> None:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert shell("echo through").run_sync(stdout=str(path)).exit_code == 0
        assert os.read(reader, 100) == b"through\n"
    finally:
        os.close(reader)


def test_an_uncontained_run_runs_no_cgroup_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cgroupfs, "run_steps_blocking", _refuse)
    assert contain.prepare_blocking(ExecutionContext(), ["true"]) is None
    assert contain.prepare_blocking(ExecutionContext(contain=False), ["true"]) is None
    assert TRUE.run_sync().exit_code == 0


def test_an_emitter_without_hooks_fixes_no_event_field() -> None:
    ctx = ExecutionContext(cwd="/", env={"NAME": "value"})
    quiet = Emitter((), ctx)
    assert (quiet.cwd, quiet.env, quiet.line_hooks, quiet.batch_hooks) == (None, None, (), ())
    heard = Emitter((print,), ctx)
    assert (heard.cwd, heard.env, heard.line_hooks) == ("/", {"NAME": "value"}, (print,))
