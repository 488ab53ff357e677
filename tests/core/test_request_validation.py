"""Bad option values are refused when the request is built, naming program and parameter.

Nothing may have happened by then: no before hook, no event, no process (each
refused call would otherwise have created a marker file).
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from core_support import Recorder, shell

from cuprum import (
    DEVNULL,
    INHERIT,
    PIPE,
    STDOUT,
    AppendTo,
    ConcurrentConfig,
    ExecutionContext,
    InvalidArgumentError,
    ScopeConfig,
    TimeoutExpired,
    before,
    run_concurrent,
    scoped,
)

pytestmark = pytest.mark.anyio


@contextmanager
def nothing_happens(tmp_path: Path) -> Iterator[Path]:
    """Watch hooks, events and the marker file the refused command would create."""
    marker = tmp_path / "ran"
    calls: list[object] = []
    rec = Recorder()
    with scoped(ScopeConfig(observe_hooks=(rec,))), before(calls.append):
        yield marker
    assert calls == []
    assert rec.events == []
    assert not marker.exists()


async def _refused(tmp_path: Path, match: str, **options: Any) -> None:
    with nothing_happens(tmp_path) as marker:
        with pytest.raises(InvalidArgumentError, match=match):
            await shell(f"touch '{marker}'").run(**options)


# -- timeout ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [("5", "'5' (str)"), (True, "True (bool)"), ([5], "[5] (list)")],
)
async def test_a_timeout_that_is_not_a_number(tmp_path: Path, value: object, shown: str) -> None:
    message = f"sh: timeout must be a number of seconds, got {shown}"
    await _refused(tmp_path, f"^{re.escape(message)}$", timeout=value)


async def test_a_nan_timeout_is_refused_before_the_child_starts(tmp_path: Path) -> None:
    await _refused(tmp_path, "^sh: timeout must be a number of seconds, got NaN$", timeout=math.nan)


async def test_a_timeout_too_large_for_a_float(tmp_path: Path) -> None:
    await _refused(tmp_path, "^sh: timeout of 1000+ seconds is too large$", timeout=10**400)


async def test_the_context_and_scope_timeouts_are_checked_too(tmp_path: Path) -> None:
    bad = ExecutionContext(timeout="5")  # type: ignore[arg-type]
    await _refused(tmp_path, "^sh: ExecutionContext.timeout must be", context=bad)
    with scoped(ScopeConfig(timeout=math.nan)):
        await _refused(tmp_path, "^sh: ScopeConfig.timeout must be a number of seconds, got NaN")


async def test_zero_negative_and_infinite_timeouts_keep_their_meaning(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    for expired in (0, -1, -math.inf, 0.0):
        with pytest.raises(TimeoutExpired):
            await shell(f"touch '{marker}'").run(timeout=expired)
    assert not marker.exists()  # expired at once: nothing started
    assert (await shell("echo ok").run(timeout=math.inf)).stdout == "ok\n"
    assert (await shell("echo ok").run(timeout=5)).stdout == "ok\n"


async def test_a_pipeline_names_its_first_stage(tmp_path: Path) -> None:
    with nothing_happens(tmp_path) as marker:
        with pytest.raises(InvalidArgumentError) as excinfo:
            await (shell("true") | shell(f"touch '{marker}'")).run(timeout="5")  # type: ignore[call-overload]
    assert str(excinfo.value) == (
        "sh (first stage of a 2-stage pipeline): timeout must be a number of seconds, got '5' (str)"
    )


def test_run_sync_and_stream_validate_too(tmp_path: Path) -> None:
    with nothing_happens(tmp_path) as marker:
        for backend in ("asyncio", "trio"):
            with pytest.raises(InvalidArgumentError, match="timeout"):
                shell(f"touch '{marker}'").run_sync(timeout="5", backend=backend)  # type: ignore[call-overload]
        with pytest.raises(InvalidArgumentError, match="stdin"):
            shell(f"touch '{marker}'").stream(stdin=42)  # type: ignore[call-overload]


async def test_run_concurrent_validates_its_context(tmp_path: Path) -> None:
    config = ConcurrentConfig(context=ExecutionContext(env={"A=B": "1"}))
    with nothing_happens(tmp_path) as marker:
        with pytest.raises(InvalidArgumentError, match=r"ExecutionContext\.env"):
            await run_concurrent(shell(f"touch '{marker}'"), config=config)


# -- cwd, env, decoding -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cwd", "match"),
    [
        (42, r"cwd must be a str or os.PathLike path, got 42 \(int\)"),
        (b"/tmp", r"cwd must be a str or os.PathLike path, got b'/tmp' \(bytes\)"),
        ("/tmp\x00x", r"cwd '/tmp\\x00x' contains a NUL byte"),
        (Path("/tmp\x00x"), "cwd .* contains a NUL byte"),
        ("/tmp/\udc80\ud800", r"cwd '/tmp/\\udc80\\ud800' cannot be encoded"),
    ],
)
async def test_bad_cwd(tmp_path: Path, cwd: object, match: str) -> None:
    ctx = ExecutionContext(cwd=cwd)  # type: ignore[arg-type]
    await _refused(tmp_path, "^sh: ExecutionContext." + match, context=ctx)


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ([("A", "1")], r"env must be a mapping of str to str, got \[\('A', '1'\)\] \(list\)"),
        (
            {"A=B": "1"},
            r"env: invalid variable name 'A=B' \(names are non-empty and contain no '='\)",
        ),
        ({"": "1"}, "env: invalid variable name ''"),
        ({"A\x00": "1"}, r"env: variable name 'A\\x00' contains a NUL byte"),
        ({1: "1"}, r"env: variable name 1 \(int\) is not a str"),
        ({"A": 1}, r"env\['A'\] must be a str, got int$"),
        ({"A": "1\x00"}, r"env\['A'\] contains a NUL byte"),
        ({"A": "\ud800"}, r"env\['A'\] cannot be encoded"),
    ],
)
async def test_bad_env(tmp_path: Path, env: object, match: str) -> None:
    ctx = ExecutionContext(env=env)  # type: ignore[arg-type]
    await _refused(tmp_path, "^sh: ExecutionContext." + match, context=ctx)


async def test_good_env_and_cwd_still_run(tmp_path: Path) -> None:
    ctx = ExecutionContext(env={"CUPRUM_V": "é=1"}, cwd=tmp_path)
    result = await shell('echo "$CUPRUM_V $PWD"').run(context=ctx)
    assert result.stdout == f"é=1 {tmp_path}\n"


async def test_bad_decoding_and_grace(tmp_path: Path) -> None:
    for ctx, match in [
        (ExecutionContext(encoding="no-such-codec"), "encoding must name a text encoding"),
        (ExecutionContext(encoding="rot13"), "encoding must name a text encoding"),
        (ExecutionContext(errors="explode"), "errors must name an error handler"),
        (ExecutionContext(cancel_grace=math.nan), "cancel_grace must be a number of seconds"),
        (ExecutionContext(cancel_grace="1"), "cancel_grace must be a number of seconds"),  # type: ignore[arg-type]
        (ExecutionContext(cancel_grace=None), "cancel_grace must be a number of seconds"),  # type: ignore[arg-type]
        (ExecutionContext(tags=None), "tags must be a mapping with str keys, got None"),  # type: ignore[arg-type]
        (ExecutionContext(tags=[1, 2]), "tags must be a mapping with str keys"),  # type: ignore[arg-type]
        (ExecutionContext(tags={1: "x"}), "tags must be a mapping with str keys"),  # type: ignore[dict-item]
    ]:
        await _refused(tmp_path, "^sh: ExecutionContext." + match, context=ctx)


@pytest.mark.parametrize("name", ["stdout_sink", "stderr_sink"])
@pytest.mark.parametrize(
    ("sink", "match"),
    [
        (3, r"must be a text file \(with write\(\)\), got 3"),
        (io.BytesIO(), "must be a text file, got the binary BytesIO"),
    ],
)
def test_a_sink_that_takes_no_text_is_refused_when_the_context_is_made(
    name: str, sink: object, match: str
) -> None:
    with pytest.raises(TypeError, match=f"^{name} {match}"):
        ExecutionContext(**{name: sink})  # type: ignore[arg-type]
    ExecutionContext(**{name: io.StringIO()})  # type: ignore[arg-type]


async def test_a_context_that_is_not_an_execution_context(tmp_path: Path) -> None:
    await _refused(tmp_path, r"^sh: context must be an ExecutionContext", context={"cwd": "/"})


# -- stdin, stdout, stderr ----------------------------------------------------------------


async def _chunks() -> AsyncIterator[bytes]:
    yield b"it\n"


async def test_every_accepted_stdin_kind_still_runs(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.write_bytes(b"file\n")
    with source.open("rb") as opened:
        sources: list[tuple[Any, str]] = [
            (None, ""),
            (DEVNULL, ""),
            (b"b\n", "b\n"),
            ("s\n", "s\n"),
            (bytearray(b"ba\n"), "ba\n"),
            (memoryview(b"mv\n"), "mv\n"),
            (source, "file\n"),
            (opened, "file\n"),
            (_chunks(), "it\n"),
        ]
        for stdin, expected in sources:
            assert (await shell("cat").run(stdin=stdin)).stdout == expected


@pytest.mark.parametrize(
    ("stdin", "match"),
    [
        (42, r"stdin must be bytes, str, a path, .*; got 42 \(int\)$"),
        ([b"a", b"b"], r"stdin must be .*; got \[b'a', b'b'\] \(list\) \(an ordinary iterable"),
        (STDOUT, "stdin cannot be cuprum.STDOUT"),
        (io.BytesIO(b"x"), r"stdin <_io.BytesIO .*> \(BytesIO\) has no file descriptor"),
        (Path("in\x00put"), "stdin 'in\\\\x00put' contains a NUL byte"),
    ],
)
async def test_bad_stdin(tmp_path: Path, stdin: object, match: str) -> None:
    await _refused(tmp_path, "^sh: " + match, stdin=stdin)


async def test_a_closed_file_as_stdin(tmp_path: Path) -> None:
    with (tmp_path / "f").open("wb") as closed:
        pass
    await _refused(tmp_path, r"^sh: stdin .* has no file descriptor \(I/O operation", stdin=closed)


async def test_stdin_pipe_is_still_for_streaming_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="stdin=PIPE is only for streaming"):
        await shell("true").run(stdin=PIPE)


@pytest.mark.parametrize("name", ["stdout", "stderr"])
@pytest.mark.parametrize(
    ("target", "match"),
    [
        (12.5, r"{name} must be a path, AppendTo\(path\), an open file, DEVNULL or INHERIT"),
        (b"/tmp/out", r"{name} must be .*; got b'/tmp/out' \(bytes\)"),
        (PIPE, "{name} cannot be cuprum.PIPE"),
        ("out\x00", r"{name} 'out\\x00' contains a NUL byte"),
        (AppendTo("out\x00"), r"{name} AppendTo path 'out\\x00' contains a NUL byte"),
        (AppendTo(7), r"{name} AppendTo path must be a str or os.PathLike path"),  # type: ignore[arg-type]
        (io.StringIO(), "{name} .*StringIO.* has no file descriptor"),
    ],
)
async def test_bad_redirect(tmp_path: Path, name: str, target: object, match: str) -> None:
    await _refused(tmp_path, "^sh: " + match.format(name=name), **{name: target})


async def test_stdout_cannot_be_stdout(tmp_path: Path) -> None:
    await _refused(tmp_path, "^sh: stdout cannot be cuprum.STDOUT", stdout=STDOUT)


async def test_every_accepted_redirect_still_runs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    both = "echo o; echo e >&2"
    assert (await shell(both).run(stdout=out, stderr=DEVNULL)).stdout is None
    assert out.read_text() == "o\n"
    await shell(both).run(stdout=str(out), stderr=STDOUT)
    assert out.read_text() == "o\ne\n"
    await shell(both).run(stdout=AppendTo(out), stderr=AppendTo(str(out)))
    assert sorted(out.read_text().splitlines()) == ["e", "e", "o", "o"]
    with out.open("wb") as opened:
        await shell(both).run(stdout=opened, stderr=INHERIT)
    assert out.read_text() == "o\n"


# -- capture_limit and on_limit -------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"capture_limit": -1}, "capture_limit must be >= 0, got -1"),
        ({"capture_limit": "10"}, r"capture_limit must be a number of bytes \(int\) or None"),
        ({"capture_limit": 1.5}, r"capture_limit must be a number of bytes"),
        ({"capture_limit": True}, r"capture_limit must be a number of bytes"),
        ({"on_limit": "explode"}, "on_limit must be 'truncate' or 'raise', got 'explode'"),
        ({"on_limit": ["raise"]}, r"on_limit must be 'truncate' or 'raise', got \['raise'\]"),
    ],
)
async def test_bad_capture_options(tmp_path: Path, options: dict[str, Any], match: str) -> None:
    await _refused(tmp_path, "^sh: " + match, **options)


# -- the switches: check, capture, text, echo, stage_events ---------------------------------


@pytest.mark.parametrize(
    ("options", "shown"),
    [
        ({"check": "yes"}, "'yes' (str)"),
        ({"capture": "no"}, "'no' (str)"),  # truthy: it would have captured
        ({"text": None}, "None (NoneType)"),  # falsy: it would have returned bytes
        ({"echo": 1}, "1 (int)"),
        ({"stage_events": 0}, "0 (int)"),
    ],
)
async def test_a_switch_that_is_not_a_bool(
    tmp_path: Path, options: dict[str, Any], shown: str
) -> None:
    (name,) = options
    await _refused(
        tmp_path, f"^sh: {name} must be True or False, got {re.escape(shown)}$", **options
    )


def test_a_bound_switch_is_checked_and_run_sync_checks_too(tmp_path: Path) -> None:
    with nothing_happens(tmp_path) as marker:
        cmd = shell(f"touch '{marker}'")
        with pytest.raises(InvalidArgumentError, match=r"^sh: check must be True or False"):
            cmd.with_options(check="yes").run_sync()  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match=r"^sh: text must be True or False"):
            cmd.run_sync(text=None)  # type: ignore[call-overload]


async def test_every_switch_as_a_bool_still_runs(tmp_path: Path) -> None:
    result = await shell("echo hi").run(check=True, capture=True, text=False, echo=False)
    assert result.stdout == b"hi\n"


def test_the_validator_needs_no_event_loop() -> None:
    # Refused in build_request, before anything async: even outside any loop.
    with pytest.raises(InvalidArgumentError, match="timeout"):
        shell("true").stream(timeout=math.nan)
