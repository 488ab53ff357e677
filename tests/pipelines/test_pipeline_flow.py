"""Data flow through pipelines: 2, 3 and 5 stages, 200 MiB, binary integrity."""

from __future__ import annotations

import hashlib
import random
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuprum import Pipeline, PipelineResult, SafeCmd

from .pipeline_support import cat, echo, grep, head, python, shell, sort, tail, wc

pytestmark = pytest.mark.anyio

UPPER = "import sys; sys.stdout.write(sys.stdin.read().upper())"


def assert_all_ok(result: PipelineResult[str] | PipelineResult[bytes], stages: int) -> None:
    assert len(result.stages) == stages
    assert [s.exit_code for s in result.stages] == [0] * stages
    assert result.failure_index is None
    assert result.failure is None
    assert result.ok
    pids = [s.pid for s in result.stages]
    assert None not in pids
    assert len(set(pids)) == stages


async def test_pipe_operator_builds_pipelines(anyio_backend: str, stream_backend: str) -> None:
    a, b, c = echo("a"), cat(), wc("-c")
    left = (a | b) | c
    right = a | (b | c)
    assert isinstance(left, Pipeline)
    assert left.parts == right.parts == (a, b, c)
    assert (a | b | c).parts == (a, b, c)
    result = await left.run()
    assert result.stdout == "2\n"
    assert_all_ok(result, 3)


async def test_two_stages(anyio_backend: str, stream_backend: str) -> None:
    result = await (echo("-n", "hello world") | python("-c", UPPER)).run()
    assert_all_ok(result, 2)
    assert result.stdout == "HELLO WORLD"
    assert result.stages[-1].stdout == "HELLO WORLD"
    # Only the final stage's stdout is captured.
    assert result.stages[0].stdout is None
    assert result.stages[0].stderr == ""
    assert result.stages[0].argv == ("echo", "-n", "hello world")


async def test_three_stages_with_stdin(anyio_backend: str, stream_backend: str) -> None:
    words = ["pear", "apple", "fig", "banana", "cherry"]
    result = await (cat() | sort() | head("-n", "3")).run(stdin="\n".join(words) + "\n")
    assert_all_ok(result, 3)
    assert result.stdout == "".join(f"{w}\n" for w in sorted(words)[:3])
    assert [s.stdout for s in result.stages[:-1]] == [None, None]


async def test_five_stages(anyio_backend: str, stream_backend: str) -> None:
    numbers = list(range(2000))
    pipeline = (
        cat()
        | grep("7")
        | sort("-n", "-r")
        | tail("-n", "4")
        | python("-c", "import sys; print(sum(int(x) for x in sys.stdin))")
    )
    result = await pipeline.run(stdin="".join(f"{n}\n" for n in numbers))
    assert_all_ok(result, 5)
    with_seven = sorted((n for n in numbers if "7" in str(n)), reverse=True)
    assert result.stdout == f"{sum(with_seven[-4:])}\n"
    assert all(stage.stdout is None for stage in result.stages[:-1])
    assert [stage.program for stage in result.stages] == [p.program for p in pipeline.parts]


async def test_200_mib_through_a_pipeline(anyio_backend: str, stream_backend: str) -> None:
    size = 200 * 1024 * 1024
    result = await (head("-c", str(size), "/dev/zero") | cat() | wc("-c")).run()
    assert_all_ok(result, 3)
    assert result.stdout == f"{size}\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_random_binary_through_cat_keeps_every_byte(
    anyio_backend: str, stream_backend: str
) -> None:
    data = random.Random(1234).randbytes(3 * 1024 * 1024 + 4321)
    result = await (cat() | cat() | cat()).run(stdin=data, text=False)
    assert_all_ok(result, 3)
    assert isinstance(result.stdout, bytes)
    assert len(result.stdout) == len(data)
    assert sha256(result.stdout) == sha256(data)
    # text=False applies to every captured stream.
    assert all(stage.stderr == b"" for stage in result.stages)


PIPE_SIZES = [4096, 65536, 1 << 20]


@st.composite
def payloads(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    """Random bytes whose length sits on or next to a pipe size, and where to cut it."""
    base = draw(st.sampled_from([0, *PIPE_SIZES, 2 * (1 << 20)]))
    size = max(0, base + draw(st.integers(-2, 2)))
    data = random.Random(draw(st.integers(0, 2**32))).randbytes(size)
    cuts = draw(st.lists(st.integers(0, size), max_size=6))
    # Cuts exactly at pipe-size boundaries as well as random ones.
    cuts += [b for b in PIPE_SIZES if draw(st.booleans()) and b <= size]
    return data, sorted(set(cuts))


async def chunks(data: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    start = 0
    for cut in [*cuts, len(data)]:
        if cut > start:
            yield data[start:cut]
            start = cut


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(payload=payloads())
async def test_binary_chunks_around_pipe_sizes(
    anyio_backend: str, stream_backend: str, payload: tuple[bytes, list[int]]
) -> None:
    data, cuts = payload
    pipeline: Pipeline = cat() | cat()
    result = await pipeline.run(stdin=chunks(data, cuts), text=False)
    assert_all_ok(result, 2)
    assert isinstance(result.stdout, bytes)
    assert len(result.stdout) == len(data)
    assert sha256(result.stdout) == sha256(data)


async def test_bytes_result_does_not_decode(anyio_backend: str, stream_backend: str) -> None:
    raw = bytes(range(256)) * 4  # not valid UTF-8
    result = await (cat() | shell("-c", "cat; printf '\\377' >&2")).run(stdin=raw, text=False)
    assert_all_ok(result, 2)
    assert result.stdout == raw
    assert result.stages[1].stderr == b"\xff"
    decoded = await (cat() | cat()).run(stdin=raw)
    assert isinstance(decoded.stdout, str)
    assert decoded.stdout == raw.decode("utf-8", "replace")


def test_single_command_pipeline_is_a_pipeline(stream_backend: str) -> None:
    single: SafeCmd = echo("-n", "x")
    result = Pipeline((single,)).run_sync()
    assert isinstance(result, PipelineResult)
    assert result.stdout == "x"
    assert result.ok
