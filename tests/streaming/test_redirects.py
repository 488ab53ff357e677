"""Redirects: final stdout and every stage's stderr to files, DEVNULL, INHERIT, or merged."""

from __future__ import annotations

from pathlib import Path

import pytest

from cuprum import DEVNULL, INHERIT, STDOUT, AppendTo, InvalidArgumentError

from .streaming_support import CAT, chain, py, text

pytestmark = pytest.mark.anyio

BOTH = """
import os, sys
os.write(1, b"out:" + sys.argv[1].encode() + b"\\n")
os.write(2, b"err:" + sys.argv[1].encode() + b"\\n")
"""
"""Writes ``out:<arg>`` to stdout and ``err:<arg>`` to stderr, one write each."""

STDERR_THEN_COPY = "import os, sys; os.write(2, b'err:' + sys.argv[1].encode() + b'\\n')\n" + CAT
"""Writes ``err:<arg>`` to stderr, then copies stdin to stdout."""


# -- commands ---------------------------------------------------------------------


async def test_stdout_to_a_path_truncates(anyio_backend: str, tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old content that is longer than the new\n")
    result = await py(BOTH, "1").run(stdout=target)
    assert target.read_text() == "out:1\n"
    assert result.stdout is None  # it went to the file
    assert result.stderr == "err:1\n"


async def test_stdout_appends_with_append_to(anyio_backend: str, tmp_path: Path) -> None:
    target = tmp_path / "log.txt"
    target.write_text("existing\n")
    for n in ("1", "2"):
        await py(BOTH, n).run(stdout=AppendTo(target))
    assert target.read_text() == "existing\nout:1\nout:2\n"
    created = tmp_path / "new.txt"
    await py(BOTH, "3").run(stdout=AppendTo(str(created)))  # str paths work too
    assert created.read_text() == "out:3\n"


async def test_stdout_to_an_open_binary_file(anyio_backend: str, tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with target.open("wb") as f:
        f.write(b"header\n")  # buffered in Python: flushed before the child writes
        await py(BOTH, "1").run(stdout=f)
        await py(BOTH, "2").run(stdout=f)
    assert target.read_bytes() == b"header\nout:1\nout:2\n"


async def test_stderr_to_files(anyio_backend: str, tmp_path: Path) -> None:
    errors = tmp_path / "err.txt"
    result = await py(BOTH, "1").run(stderr=errors)
    assert (result.stdout, result.stderr) == ("out:1\n", None)
    assert errors.read_text() == "err:1\n"
    await py(BOTH, "2").run(stderr=AppendTo(errors))
    assert errors.read_text() == "err:1\nerr:2\n"
    await py(BOTH, "3").run(stderr=errors)
    assert errors.read_text() == "err:3\n"


async def test_both_streams_to_separate_files(anyio_backend: str, tmp_path: Path) -> None:
    out, err = tmp_path / "out", tmp_path / "err"
    result = await py(BOTH, "x").run(stdout=out, stderr=AppendTo(err))
    assert (out.read_text(), err.read_text()) == ("out:x\n", "err:x\n")
    assert (result.stdout, result.stderr) == (None, None)


async def test_devnull(anyio_backend: str) -> None:
    result = await py(BOTH, "1").run(stdout=DEVNULL, stderr=DEVNULL)
    assert result.ok
    assert (result.stdout, result.stderr) == (None, None)


async def test_inherit_writes_to_the_parents_fds(
    anyio_backend: str, capfd: pytest.CaptureFixture[str]
) -> None:
    result = await py(BOTH, "1").run(stdout=INHERIT, stderr=INHERIT)
    assert (result.stdout, result.stderr) == (None, None)
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("out:1\n", "err:1\n")


async def test_merge_stderr_into_captured_stdout(anyio_backend: str) -> None:
    result = await py(BOTH, "1").run(stderr=STDOUT)
    assert result.stdout == "out:1\nerr:1\n"  # 2>&1: one pipe, in write order
    assert result.stderr is None


async def test_merge_into_a_file(anyio_backend: str, tmp_path: Path) -> None:
    target = tmp_path / "all.txt"
    await py(BOTH, "1").run(stdout=target, stderr=STDOUT)  # > all.txt 2>&1
    await py(BOTH, "2").run(stdout=AppendTo(target), stderr=STDOUT)
    assert target.read_text() == "out:1\nerr:1\nout:2\nerr:2\n"


async def test_merge_with_inherit(anyio_backend: str, capfd: pytest.CaptureFixture[str]) -> None:
    await py(BOTH, "1").run(stdout=INHERIT, stderr=STDOUT)
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("out:1\nerr:1\n", "")


async def test_merge_into_devnull(anyio_backend: str) -> None:
    result = await py(BOTH, "1").run(stdout=DEVNULL, stderr=STDOUT)
    assert result.ok
    assert (result.stdout, result.stderr) == (None, None)


async def test_merge_without_capture(anyio_backend: str) -> None:
    result = await py(BOTH, "1").run(capture=False, stderr=STDOUT)
    assert result.ok
    assert (result.stdout, result.stderr) == (None, None)


async def test_redirect_to_a_directory_fails_cleanly(anyio_backend: str, tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        await py(BOTH, "1").run(stdout=tmp_path)


async def test_invalid_redirect_target_is_refused(anyio_backend: str) -> None:
    with pytest.raises(InvalidArgumentError, match="stdout must be a path"):
        await py(BOTH, "1").run(stdout=12.5)  # type: ignore[call-overload]


def test_run_sync_redirects(tmp_path: Path) -> None:
    target = tmp_path / "sync.txt"
    result = py(BOTH, "s").run_sync(stdout=target, stderr=STDOUT)
    assert result.ok
    assert target.read_text() == "out:s\nerr:s\n"


# -- pipelines --------------------------------------------------------------------


async def test_pipeline_stdout_to_file(
    anyio_backend: str, stream_backend: str, tmp_path: Path
) -> None:
    target = tmp_path / "out.txt"
    target.write_text("stale\n" * 100)
    pipeline = chain(py(BOTH, "a"), py(STDERR_THEN_COPY, "b"), py(STDERR_THEN_COPY, "c"))
    result = await pipeline.run(stdout=target)
    assert target.read_text() == "out:a\n"
    assert result.stdout is None
    assert [stage.stderr for stage in result.stages] == ["err:a\n", "err:b\n", "err:c\n"]
    await pipeline.run(stdout=AppendTo(target))
    assert target.read_text() == "out:a\nout:a\n"


async def test_pipeline_stderr_of_every_stage_to_one_file(
    anyio_backend: str, stream_backend: str, tmp_path: Path
) -> None:
    errors = tmp_path / "err.txt"
    pipeline = chain(py(BOTH, "a"), py(STDERR_THEN_COPY, "b"), py(STDERR_THEN_COPY, "c"))
    result = await pipeline.run(stderr=errors)
    assert result.stdout == "out:a\n"
    assert all(stage.stderr is None for stage in result.stages)
    assert sorted(errors.read_text().splitlines()) == ["err:a", "err:b", "err:c"]
    await pipeline.run(stderr=AppendTo(errors))
    assert sorted(errors.read_text().splitlines()) == sorted(["err:a", "err:b", "err:c"] * 2)


async def test_pipeline_merge_collects_every_stage_in_the_final_stdout(
    anyio_backend: str, stream_backend: str
) -> None:
    pipeline = chain(py(BOTH, "a"), py(STDERR_THEN_COPY, "b"), py(CAT))
    result = await pipeline.run(stderr=STDOUT)
    assert sorted(text(result.stdout).splitlines()) == ["err:a", "err:b", "out:a"]
    assert all(stage.stderr is None for stage in result.stages)
    assert result.ok


async def test_pipeline_merge_into_an_appended_file(
    anyio_backend: str, stream_backend: str, tmp_path: Path
) -> None:
    target = tmp_path / "all.txt"
    target.write_text("start\n")
    pipeline = py(BOTH, "a") | py(STDERR_THEN_COPY, "b")
    result = await pipeline.run(stdout=AppendTo(target), stderr=STDOUT)
    assert result.ok
    lines = target.read_text().splitlines()
    assert lines[0] == "start"
    assert sorted(lines[1:]) == ["err:a", "err:b", "out:a"]


async def test_pipeline_stderr_devnull_and_inherit(
    anyio_backend: str, stream_backend: str, capfd: pytest.CaptureFixture[str]
) -> None:
    pipeline = py(BOTH, "a") | py(STDERR_THEN_COPY, "b")
    quiet = await pipeline.run(stderr=DEVNULL)
    assert quiet.stdout == "out:a\n"
    assert [stage.stderr for stage in quiet.stages] == [None, None]
    loud = await pipeline.run(stderr=INHERIT, stdout=INHERIT)
    assert loud.stdout is None
    captured = capfd.readouterr()
    assert captured.out == "out:a\n"
    assert sorted(captured.err.splitlines()) == ["err:a", "err:b"]
