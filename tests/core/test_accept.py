"""Accepted exit codes (``accept=``): per command, per run; ``ok``, ``check`` and fail-fast."""

from __future__ import annotations

import pytest
from core_support import shell

from cuprum import (
    CommandFailedError,
    ConcurrentConfig,
    InvalidArgumentError,
    run_concurrent,
    sh,
)
from cuprum._core.programs import GREP

pytestmark = pytest.mark.anyio


async def test_by_default_only_zero_is_success() -> None:
    result = await shell("exit 1").run()
    assert not result.ok
    assert result.accepted == frozenset({0})
    with pytest.raises(CommandFailedError):
        await shell("exit 1").run(check=True)


async def test_a_run_may_accept_other_codes() -> None:
    result = await shell("exit 1").run(accept=(0, 1), check=True)
    assert result.ok and result.exit_code == 1
    assert result.accepted == frozenset({0, 1})
    assert (await shell("exit 0").run(accept={0, 1})).ok
    # accept is the whole set: a code left out fails, even 0
    assert not (await shell("exit 0").run(accept=[1])).ok
    with pytest.raises(CommandFailedError) as caught:
        await shell("exit 2").run(accept=(0, 1), check=True)
    assert caught.value.returncode == 2


async def test_a_command_declares_its_codes_once() -> None:
    grep = sh.make(GREP, accept=(0, 1))
    cmd = grep("-q", "needle")
    assert cmd.accept == frozenset({0, 1})
    no_match = await cmd.run(stdin=b"hay\n", check=True)
    assert no_match.exit_code == 1 and no_match.ok
    error = await grep("-q", "[").run(stdin=b"hay\n")  # a bad pattern: status 2
    assert error.exit_code == 2 and not error.ok
    # The call's accept replaces the command's own, as any keyword of the call does.
    assert not (await cmd.run(stdin=b"hay\n", accept=(0,))).ok


async def test_bound_accept_and_the_calls() -> None:
    bound = shell("exit 3").with_options(accept=(0, 3))
    assert (await bound.run()).ok
    assert not (await bound.with_options(accept=(0,)).run()).ok  # rebinding replaces it


@pytest.mark.parametrize(
    "codes",
    [1, "01", (), [0, "1"], {0: 1}, [True], None.__class__, [0.5]],
    ids=repr,
)
async def test_accept_must_be_a_collection_of_ints(codes: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^sh: accept must be a non-empty collection"):
        await shell("true").run(accept=codes)  # type: ignore[call-overload]
    with pytest.raises(InvalidArgumentError, match=r"^sh: accept must be"):
        shell("true").with_options(accept=codes)  # type: ignore[arg-type]


def test_bound_accept_in_run_sync() -> None:
    assert shell("exit 3").with_options(accept=(0, 3)).run_sync(check=True).ok


async def test_run_concurrent_honours_each_commands_accepted_codes() -> None:
    tolerant = shell("exit 1").with_options(accept=(0, 1))
    result = await run_concurrent(tolerant, shell("exit 0"))
    assert result.ok and result.failures == ()
    result = await run_concurrent(tolerant, shell("exit 1"))
    assert result.failures == (1,)


async def test_fail_fast_is_not_triggered_by_an_accepted_code() -> None:
    tolerant = shell("exit 1").with_options(accept=(0, 1))
    slow = shell("sleep 0.2; echo done")
    result = await run_concurrent(tolerant, slow, config=ConcurrentConfig(fail_fast=True))
    assert [r.outcome for r in result.results] == ["exited", "exited"]
    assert result.ok and result.results[1].stdout == "done\n"


async def test_concurrent_result_check_raises_for_the_first_failure() -> None:
    result = await run_concurrent(shell("exit 0"), shell("exit 4"))
    with pytest.raises(CommandFailedError) as caught:
        result.check()
    assert caught.value.returncode == 4
    assert (await run_concurrent(shell("exit 0"))).check().ok


async def test_a_bound_check_does_not_make_run_concurrent_raise() -> None:
    strict = shell("exit 5").with_options(check=True)
    result = await run_concurrent(strict)  # collected, not raised
    assert result.failures == (0,)
    with pytest.raises(CommandFailedError):
        await strict.run()
