"""Deterministic blame (issue 10, #8) and SIGPIPE excusal only for a lost reader (#10).

Blame: the first stage that failed on its own; when several are found failed at
the same time, the most upstream one. Excused: a non-final stage that died of
SIGPIPE (or exited non-zero) only because the stage reading from it had gone.
"""

from __future__ import annotations

import pytest

from .pipeline_support import SIGPIPE_EXIT, SIGTERM_EXIT, cat, python, shell, yes

pytestmark = pytest.mark.anyio

#: Repeats per test: the verdict must not depend on which exit is seen first.
RUNS = 25

READ_ALL_THEN_EXIT = "import sys; sys.stdin.buffer.read(); sys.exit(int(sys.argv[1]))"


async def test_the_most_upstream_of_stages_failed_together_is_blamed(
    anyio_backend: str, stream_backend: str
) -> None:
    # Stage 3 can only finish after stage 2 has exited (it reads to EOF), yet both
    # exits are often seen in the same step: stage 2 failed first.
    pipeline = (
        python("-c", "pass")
        | cat()
        | python("-c", READ_ALL_THEN_EXIT, "2")
        | python("-c", READ_ALL_THEN_EXIT, "5")
    )
    for _ in range(RUNS):
        result = await pipeline.run()
        codes = [stage.exit_code for stage in result.stages]
        # cat closes its stdout before it exits: stage 2 can fail while cat still
        # runs, and cat is given the grace to exit on its own before fail-fast.
        assert codes[0] == 0
        assert codes[1] == 0
        assert codes[2] == 2
        assert codes[3] in (5, SIGTERM_EXIT)
        assert result.failure_index == 2, codes


async def test_blame_among_shell_stages_failing_together(
    anyio_backend: str, stream_backend: str
) -> None:
    pipeline = shell("-c", "exit 0") | shell("-c", "cat; exit 3") | shell("-c", "cat; exit 4")
    for _ in range(RUNS // 2):
        result = await pipeline.run()
        codes = [stage.exit_code for stage in result.stages]
        assert codes[0] in (0, SIGTERM_EXIT)
        assert codes[1] == 3
        assert codes[2] in (4, SIGTERM_EXIT)
        assert result.failure_index == 1, codes


@pytest.mark.parametrize(
    "script",
    ["kill -PIPE $$", "exit 141", "echo data; kill -PIPE $$", "echo data; exit 141"],
)
async def test_sigpipe_without_a_lost_reader_is_blamed(
    anyio_backend: str, stream_backend: str, script: str
) -> None:
    # The reader (cat) reads to the end: nothing made this stage lose it. (Once it
    # is blamed, fail-fast may stop cat before it sees the end of its input.)
    for _ in range(10):
        result = await (shell("-c", script) | cat()).run()
        assert result.stages[1].exit_code in (0, SIGTERM_EXIT)
        assert result.stages[0].exit_code in (SIGPIPE_EXIT, 141)
        assert result.failure_index == 0
        assert not result.ok


async def test_sigpipe_in_the_middle_without_a_lost_reader_is_blamed(
    anyio_backend: str, stream_backend: str
) -> None:
    for _ in range(10):
        result = await (shell("-c", "echo x") | shell("-c", "cat; kill -PIPE $$") | cat()).run()
        codes = [s.exit_code for s in result.stages]
        assert codes[1] == SIGPIPE_EXIT
        assert result.failure_index == 1, codes


async def test_sigpipe_after_the_reader_has_gone_is_still_excused(
    anyio_backend: str, stream_backend: str
) -> None:
    for _ in range(10):
        result = await (yes() | shell("-c", "read line; echo $line")).run()
        assert result.stdout == "y\n"
        assert result.stages[0].exit_code == SIGPIPE_EXIT
        assert result.ok
        assert result.failure_index is None


async def test_an_upstream_that_closed_its_output_exits_on_its_own(
    anyio_backend: str, stream_backend: str
) -> None:
    # The upstream closes stdout first, then exits 1 (as GNU tools close stdout in
    # their exit handlers): the downstream sees EOF and fails while the upstream
    # still runs. The upstream is not stopped, and it is blamed: it failed first
    # (then fail-fast may stop the downstream before it exits).
    late_exit = "import os, sys; sys.stdout.close(); os.close(1); sys.exit(1)"
    for _ in range(RUNS // 2):
        result = await (python("-c", late_exit) | python("-c", READ_ALL_THEN_EXIT, "3")).run()
        codes = [stage.exit_code for stage in result.stages]
        assert codes[0] == 1
        assert codes[1] in (3, SIGTERM_EXIT)
        assert result.failure_index == 0, codes


async def test_an_upstream_that_closed_its_output_but_lingers_is_still_stopped(
    anyio_backend: str, stream_backend: str
) -> None:
    # Closing its output buys an upstream the grace period, no more.
    lingers = "import os, sys, time; sys.stdout.close(); os.close(1); time.sleep(60)"
    result = await (python("-c", lingers) | python("-c", READ_ALL_THEN_EXIT, "3")).run()
    codes = [stage.exit_code for stage in result.stages]
    assert codes == [SIGTERM_EXIT, 3]
    assert result.failure_index == 1
    assert result.duration_s < 30
