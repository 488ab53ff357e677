"""``stdin=PIPE`` (cuprum's, or subprocess's ``-1``) outside streaming is refused with an
``InvalidArgumentError`` naming the program and the parameter, before anything runs."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from core_support import shell

from cuprum import PIPE, InvalidArgumentError, Pipeline, SafeCmd, before

pytestmark = pytest.mark.anyio

CUPRUM_PIPE = r"stdin=PIPE is only for streaming: use cmd.stream(stdin=PIPE)"
SUBPROCESS_PIPE = (
    "stdin must be bytes, str, a path, an open file, an async iterable of bytes, DEVNULL, "
    "INHERIT or PIPE (streaming only); got -1 (int) "
    "(subprocess.PIPE: to write to stdin, use cmd.stream(stdin=cuprum.PIPE))"
)
CASES = [(PIPE, CUPRUM_PIPE), (subprocess.PIPE, SUBPROCESS_PIPE)]
PIPELINE = "sh (first stage of a 2-stage pipeline)"


@contextmanager
def refused(tmp_path: Path, who: str, message: str) -> Iterator[SafeCmd]:
    """A command that would leave a marker; no hook may run, no marker may appear."""
    marker = tmp_path / "ran"
    calls: list[object] = []
    with before(calls.append), pytest.raises(InvalidArgumentError) as info:
        yield shell(f"touch '{marker}'")
    assert str(info.value) == f"{who}: {message}"
    assert isinstance(info.value, ValueError)
    assert calls == []
    assert not marker.exists()


def _piped(cmd: SafeCmd) -> Pipeline:
    return cmd | shell("cat")


@pytest.mark.parametrize(("stdin", "message"), CASES, ids=["cuprum", "subprocess"])
async def test_run(anyio_backend: str, tmp_path: Path, stdin: Any, message: str) -> None:
    with refused(tmp_path, "sh", message) as cmd:
        await cmd.run(stdin=stdin)


@pytest.mark.parametrize(("stdin", "message"), CASES, ids=["cuprum", "subprocess"])
async def test_a_pipeline_run(anyio_backend: str, tmp_path: Path, stdin: Any, message: str) -> None:
    with refused(tmp_path, PIPELINE, message) as cmd:
        await _piped(cmd).run(stdin=stdin)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize(("stdin", "message"), CASES, ids=["cuprum", "subprocess"])
def test_run_sync(tmp_path: Path, stdin: Any, message: str, backend: Any) -> None:
    with refused(tmp_path, "sh", message) as cmd:
        cmd.run_sync(stdin=stdin, backend=backend)
    with refused(tmp_path, PIPELINE, message) as cmd:
        _piped(cmd).run_sync(stdin=stdin, backend=backend)


@pytest.mark.parametrize(("stdin", "message"), CASES, ids=["cuprum", "subprocess"])
def test_a_bound_stdin_pipe(tmp_path: Path, stdin: Any, message: str) -> None:
    with refused(tmp_path, "sh", message) as cmd:
        cmd.with_options(stdin=stdin).run_sync()


async def test_streaming_refuses_subprocess_pipe_too(anyio_backend: str, tmp_path: Path) -> None:
    with refused(tmp_path, "sh", SUBPROCESS_PIPE) as cmd:
        async with cmd.stream(stdin=subprocess.PIPE):  # type: ignore[call-overload]
            pass


@pytest.mark.parametrize(
    ("name", "value", "hint"),
    [
        (
            "stdout",
            subprocess.PIPE,
            "(subprocess.PIPE: to read stdout as it comes, use cmd.stream())",
        ),
        ("stderr", subprocess.DEVNULL, "(subprocess.DEVNULL: use cuprum.DEVNULL)"),
        ("stdin", subprocess.DEVNULL, "(subprocess.DEVNULL: use cuprum.DEVNULL)"),
    ],
)
def test_subprocess_markers_say_what_to_use(
    tmp_path: Path, name: str, value: int, hint: str
) -> None:
    options: Any = {name: value}
    with pytest.raises(InvalidArgumentError, match=rf"^sh: {name} must be .*{re.escape(hint)}$"):
        shell("true").run_sync(**options)
