"""Accepted exit codes in a pipeline: per stage, per run; blame, fail-fast, ``check``.

On every stream strategy: the verdict must not depend on how bytes move.
"""

from __future__ import annotations

import pytest

from cuprum import CommandFailedError, InvalidArgumentError, Pipeline

from .pipeline_support import cat, grep, shell, sleep, wc

pytestmark = pytest.mark.anyio


async def test_a_stage_that_declares_its_code_is_not_blamed(stream_backend: str) -> None:
    no_match = grep("needle").with_options(accept=(0, 1))  # grep: 1 is "no line matched"
    result = await (shell("-c", "echo hay") | no_match | wc("-l")).run(check=True)
    assert result.ok and result.failure_index is None
    assert [stage.exit_code for stage in result.stages] == [0, 1, 0]
    assert [stage.ok for stage in result.stages] == [True, True, True]
    assert result.stdout.strip() == "0"
    assert result.exit_code == 0


async def test_without_the_declaration_the_same_stage_fails(stream_backend: str) -> None:
    result = await (shell("-c", "echo hay") | grep("needle") | wc("-l")).run()
    assert result.failure_index == 1 and not result.ok
    assert result.exit_code == 1  # the failing stage's
    with pytest.raises(CommandFailedError):
        result.check()


async def test_an_accepted_code_does_not_start_fail_fast(stream_backend: str) -> None:
    quits_early = shell("-c", "exit 1").with_options(accept=(0, 1))
    # The stage after it would be killed (-15) if its exit started fail-fast.
    result = await (quits_early | shell("-c", "cat; sleep 0.2; echo finished")).run()
    assert result.ok
    assert [stage.exit_code for stage in result.stages] == [1, 0]
    assert result.stdout == "finished\n"


async def test_a_code_that_is_not_accepted_still_fails_fast(stream_backend: str) -> None:
    picky = shell("-c", "exit 2").with_options(accept=(0, 1))
    result = await (picky | sleep("30")).run(timeout=20)
    assert result.failure_index == 0 and result.exit_code == 2
    assert result.stages[1].exit_code == -15  # stopped, not blamed


async def test_a_run_accept_covers_the_stages_that_declare_none(stream_backend: str) -> None:
    strict = shell("-c", "cat >/dev/null; exit 3").with_options(accept=(0,))
    lenient = shell("-c", "exit 3")
    result = await (lenient | cat()).run(accept=(0, 3))
    assert result.ok
    result = await (lenient | strict).run(accept=(0, 3))  # strict keeps its own
    assert result.failure_index == 1
    # bound on the pipeline, the same
    result = await (lenient | cat()).with_options(accept=(0, 3)).run()
    assert result.ok


async def test_run_sync_and_stream_honour_accept(stream_backend: str) -> None:
    pipeline = shell("-c", "echo a; exit 1").with_options(accept=(0, 1)) | cat()
    async with pipeline.stream(check=True) as handle:
        lines = [line async for line in handle.stdout_lines()]
        result = await handle.wait()
    assert lines == ["a"] and result.ok


async def test_stream_check_raises_from_wait_when_not_ok(stream_backend: str) -> None:
    with pytest.raises(CommandFailedError):
        async with (shell("-c", "echo a") | shell("-c", "cat; exit 4")).stream(
            check=True
        ) as handle:
            await handle.wait()


def test_stages_binding_different_options_cannot_be_piped() -> None:
    a = cat().with_options(timeout=5)
    b = wc().with_options(timeout=10)
    with pytest.raises(InvalidArgumentError, match="cat and wc bind different values of 'timeout'"):
        _ = a | b
    assert (a | wc()).parts[0].options["timeout"] == 5
    _ = a | wc().with_options(timeout=5)  # the same value agrees
    with pytest.raises(InvalidArgumentError):
        Pipeline((a, b))


def test_a_pipeline_result_sums_up_its_stages() -> None:
    pipeline = shell("-c", "sleep 0.1; echo x") | shell("-c", "cat; exit 6") | cat()
    result = pipeline.run_sync()
    assert result.failure_index == 1 and result.exit_code == 6
    assert result.duration_s == max(stage.duration_s for stage in result.stages)
    assert result.duration_s >= result.stages[0].duration_s > 0
