"""``PipelineResult.outcome``: a pipeline cuprum stopped (its stages ``cancelled``, as
a ``stream()`` block left early leaves them) is not ok, and ``check()`` says so."""

from __future__ import annotations

import pytest

from cuprum import CommandFailedError, CommandResult, PipelineResult
from cuprum._core.results import Outcome


def stage(program: str, exit_code: int, outcome: Outcome = "exited") -> CommandResult[None, str]:
    return CommandResult(program, (program,), exit_code, 100, None, "", outcome=outcome)


def test_a_pipeline_that_ran_to_its_end() -> None:
    result = PipelineResult((stage("a", 0), stage("b", 0)))
    assert result.outcome == "exited"
    assert result.ok
    assert result.check() is result


def test_a_stopped_pipeline_is_not_ok() -> None:
    result = PipelineResult((stage("a", -15, "cancelled"), stage("b", 0, "cancelled")))
    assert result.outcome == "cancelled"
    assert not result.ok
    with pytest.raises(CommandFailedError) as caught:
        result.check()
    assert (caught.value.program, caught.value.stage_index) == ("a", 0)
    assert caught.value.returncode == -15


def test_a_blamed_stage_is_still_the_one_check_names() -> None:
    result = PipelineResult(
        (stage("a", 0), stage("b", 2, "cancelled"), stage("c", 1)), failure_index=2
    )
    assert result.outcome == "cancelled"
    with pytest.raises(CommandFailedError) as caught:
        result.check()
    assert (caught.value.program, caught.value.stage_index) == ("c", 2)
