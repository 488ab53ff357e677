"""The run options: one definition, bound options, and what is refused."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, get_overloads

import pytest
from core_support import PY, SH, TEST_CATALOGUE, py, shell

from cuprum import (
    ECHO,
    CommandFailedError,
    ExecutionContext,
    InvalidArgumentError,
    RunOptions,
    TimeoutExpired,
    run_concurrent_sync,
    sh,
)
from cuprum._runtime.request import OPTION_NAMES, SHAPE_OPTIONS, RunRequest

pytestmark = pytest.mark.anyio


def test_the_options_are_defined_once_and_agree_with_the_request() -> None:
    keys = set(RunOptions.__annotations__)
    assert RunOptions.__optional_keys__ == keys  # every key optional
    assert keys.isdisjoint(SHAPE_OPTIONS)
    assert keys | SHAPE_OPTIONS == OPTION_NAMES
    assert keys <= set(RunRequest._fields)
    # Every option of the request except those resolved there has a default.
    assert OPTION_NAMES - {"context"} <= RunRequest._field_defaults.keys()


@pytest.mark.parametrize("method", ["run", "run_sync", "stream"])
def test_the_methods_list_the_shape_options_and_unpack_the_rest(method: str) -> None:
    from cuprum._api.runnable import Runnable

    implementation = getattr(Runnable, method)
    parameters = inspect.signature(implementation).parameters
    shape = {"capture", "text", "stderr"} | ({"stdout"} if method != "stream" else set())
    assert shape <= parameters.keys()
    assert parameters["options"].annotation == "Unpack[RunOptions]"
    overloads = get_overloads(implementation)
    assert len(overloads) >= 7  # one per output shape


async def test_an_unknown_option_is_a_type_error_with_a_suggestion() -> None:
    suggestion = r"^sh: unexpected run option 'timout'; did you mean 'timeout'"
    with pytest.raises(TypeError, match=suggestion):
        await shell("true").run(timout=5)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="unexpected run option 'colour'"):
        sh.make(ECHO).with_options(colour=True)  # type: ignore[call-arg]


@pytest.mark.parametrize("name", sorted(SHAPE_OPTIONS))
def test_the_shape_options_cannot_be_bound(name: str) -> None:
    shape: dict[str, Any] = {name: False}  # what mypy refuses, tried at run time
    with pytest.raises(TypeError, match=f"'{name}' cannot be bound: it decides the type"):
        shell("true").with_options(**shape)
    with pytest.raises(TypeError, match="cannot be bound"):
        sh.make(SH, catalogue=TEST_CATALOGUE, **shape)


async def test_options_bound_to_a_command_apply_to_every_run(tmp_path: Path) -> None:
    ctx = ExecutionContext(cwd=tmp_path, env={"CUPRUM_BOUND": "yes"})
    where = shell('pwd; echo "$CUPRUM_BOUND"').with_options(context=ctx)
    assert (await where.run()).stdout == f"{tmp_path}\nyes\n"
    assert where.options["context"] is ctx
    assert where != shell('pwd; echo "$CUPRUM_BOUND"')
    # A keyword of the call replaces the bound value (a context as a whole).
    other = ExecutionContext(cwd="/")
    assert (await where.run(context=other)).stdout == "/\n\n"


async def test_a_bound_timeout_applies_and_the_call_wins() -> None:
    slow = shell("sleep 30").with_options(timeout=0.2)
    with pytest.raises(TimeoutExpired) as caught:
        await slow.run()
    assert caught.value.timeout == 0.2
    quick = shell("sleep 0.05").with_options(timeout=0.001)
    assert (await quick.run(timeout=20)).ok


async def test_options_bound_to_a_builder_travel_with_its_commands() -> None:
    ctx = ExecutionContext(env={"CUPRUM_BOUND": "builder"})
    python = sh.make(PY, catalogue=TEST_CATALOGUE, context=ctx, check=True)
    code = "import os; print(os.environ['CUPRUM_BOUND'])"
    assert (await python("-c", code).run()).stdout == "builder\n"
    assert python.with_options(timeout=5)("-c", "pass").options.keys() == {
        "context",
        "check",
        "timeout",
    }
    with pytest.raises(Exception, match="returned non-zero exit status 3"):
        await python("-c", "raise SystemExit(3)").run()


async def test_options_bound_to_a_stage_apply_to_its_pipeline(tmp_path: Path) -> None:
    ctx = ExecutionContext(cwd=tmp_path)
    pipeline = shell("pwd").with_options(context=ctx) | py("import sys; print(sys.stdin.read())")
    assert (await pipeline.run()).stdout.strip() == str(tmp_path)
    bound = pipeline.with_options(context=ExecutionContext(cwd="/"))  # the pipeline's own wins
    assert (await bound.run()).stdout.strip() == "/"


def test_with_options_checks_what_it_can_when_binding() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^echo: accept must be"):
        sh.make(ECHO).with_options(accept=[])
    cmd = sh.make(ECHO)("x").with_options(accept=[0, 1])
    assert cmd.accept == frozenset({0, 1})
    assert cmd.with_options(timeout=3).accept == frozenset({0, 1})
    # Bad values of other options are refused when the run is built, naming them.
    with pytest.raises(InvalidArgumentError, match=r"^echo: timeout must be a number"):
        cmd.with_options(timeout="soon").run_sync()  # type: ignore[arg-type]


def test_a_bound_stdin_pipe_is_refused_by_run_before_anything_starts() -> None:
    from cuprum import PIPE

    with pytest.raises(InvalidArgumentError, match=r"^sh: stdin=PIPE is only for streaming"):
        shell("cat").with_options(stdin=PIPE).run_sync()
    with pytest.raises(InvalidArgumentError, match=r"^sh: stdin=PIPE is only for streaming"):
        run_concurrent_sync(shell("cat").with_options(stdin=PIPE))


def test_commands_with_bound_options_stay_values_that_pickle() -> None:
    import pickle

    ctx = ExecutionContext(env={"A": "1"})
    cmd = shell("true").with_options(timeout=3, context=ctx, accept=(0, 1))
    assert pickle.loads(pickle.dumps(cmd)) == cmd
    pipeline = cmd | shell("cat")
    assert pickle.loads(pickle.dumps(pipeline)) == pipeline
    assert hash(shell("true")) == hash(shell("true"))
    assert cmd != shell("true")
    with pytest.raises(TypeError):
        cmd.options["timeout"] = 4  # type: ignore[index]


BINDABLE_SWITCHES = ["check", "echo", "stage_events"]  # capture and text are never bound


@pytest.mark.parametrize("name", BINDABLE_SWITCHES)
@pytest.mark.parametrize("value", ["yes", 1, None])
async def test_a_switch_that_is_not_a_bool_is_refused_when_bound(name: str, value: object) -> None:
    bad: dict[str, Any] = {name: value}
    cmd = shell("true")
    with pytest.raises(InvalidArgumentError) as at_run:
        await cmd.run(**bad)
    expected = str(at_run.value)  # the run's own error: the same when bound
    assert expected.startswith(f"sh: {name} must be True or False, got ")
    with pytest.raises(InvalidArgumentError) as bound:
        cmd.with_options(**bad)
    assert str(bound.value) == expected
    with pytest.raises(InvalidArgumentError, match=f"^sh: {name} must be True or False"):
        sh.make(SH, catalogue=TEST_CATALOGUE, **bad)
    with pytest.raises(InvalidArgumentError, match=f"^sh: {name} must be True or False"):
        sh.make(SH, catalogue=TEST_CATALOGUE).with_options(**bad)
    pipeline = cmd | shell("cat")
    with pytest.raises(InvalidArgumentError) as piped_run:
        await pipeline.run(**bad)
    with pytest.raises(InvalidArgumentError) as piped_bound:
        pipeline.with_options(**bad)
    assert str(piped_bound.value) == str(piped_run.value)
    assert str(piped_bound.value).startswith("sh (first stage of a 2-stage pipeline): ")


async def test_a_bound_bool_switch_still_applies() -> None:
    failing = shell("exit 3")
    assert not (await failing.with_options(check=False).run()).ok
    with pytest.raises(CommandFailedError):
        await failing.with_options(check=True).run()
