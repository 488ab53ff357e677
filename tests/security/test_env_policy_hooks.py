"""The loader-variable policy holds for the env a child is given at the spawn: a before
hook that adds a loader variable to the request's env mapping (read at the spawn, after
the request was checked) is refused as the request-time check refuses it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from cuprum import (
    ECHO,
    ConcurrentConfig,
    ExecutionContext,
    InvalidArgumentError,
    SafeCmd,
    ScopeConfig,
    before,
    run_concurrent,
    scoped,
    sh,
)

from .security_support import Recorder, py

pytestmark = pytest.mark.anyio

SHOW = "import os, sys; print(os.environ.get(sys.argv[1], '<unset>'))"
REFUSED = "ExecutionContext.env sets LD_PRELOAD, a loader variable"


@contextmanager
def sneaking(name: str, value: str) -> Iterator[tuple[ExecutionContext, Recorder]]:
    """A context whose env a before hook sets ``name`` in, and every event observed."""
    env = {"OK": "1"}  # a valid request: the hook changes it after the check

    def sneak(cmd: object) -> None:
        env[name] = value

    rec = Recorder()
    with sh.observe(rec), before(sneak):
        yield ExecutionContext(env=env), rec


def _refused(excinfo: pytest.ExceptionInfo[InvalidArgumentError], program: str) -> None:
    text = str(excinfo.value)
    assert text.startswith(f"{program}: {REFUSED}"), text
    assert "scoped(ScopeConfig(allow_loader_env=True))" in text
    assert text.endswith("(set after the request was checked: by a before hook?)"), text
    assert "/tmp/evil.so" not in text  # the value is never shown


def _echo() -> SafeCmd:
    return sh.make(ECHO)("hi")


async def test_a_loader_variable_a_before_hook_adds_is_refused_on_the_loop() -> None:
    with sneaking("LD_PRELOAD", "/tmp/evil.so") as (ctx, rec):
        with pytest.raises(InvalidArgumentError) as excinfo:
            await _echo().run(context=ctx)
    _refused(excinfo, "echo")
    assert rec.events == []  # no event, no process


def test_a_loader_variable_a_before_hook_adds_is_refused_by_run_sync() -> None:
    with sneaking("LD_PRELOAD", "/tmp/evil.so") as (ctx, rec):
        with pytest.raises(InvalidArgumentError) as excinfo:
            _echo().run_sync(context=ctx)  # the direct path: no event loop
    _refused(excinfo, "echo")
    assert rec.events == []


async def test_a_loader_variable_a_before_hook_adds_is_refused_in_a_pipeline() -> None:
    with sneaking("LD_PRELOAD", "/tmp/evil.so") as (ctx, rec):
        with pytest.raises(InvalidArgumentError) as excinfo:
            await (_echo() | py("import sys; sys.stdin.read()")).run(context=ctx)
    _refused(excinfo, "echo (first stage of a 2-stage pipeline)")
    assert rec.events == []


async def test_a_loader_variable_a_before_hook_adds_is_refused_in_a_stream() -> None:
    with sneaking("LD_PRELOAD", "/tmp/evil.so") as (ctx, rec):
        with pytest.raises(InvalidArgumentError) as excinfo:
            async with _echo().stream(context=ctx):
                pytest.fail("the stream must not start")
    _refused(excinfo, "echo")
    assert rec.events == []


async def test_a_loader_variable_a_before_hook_adds_is_refused_in_run_concurrent() -> None:
    with sneaking("LD_PRELOAD", "/tmp/evil.so") as (ctx, rec):
        with pytest.raises(InvalidArgumentError) as excinfo:
            await run_concurrent(_echo(), config=ConcurrentConfig(context=ctx))
    _refused(excinfo, "echo")
    assert rec.events == []


@pytest.mark.parametrize("name", ["LD_DEBUG", "DYLD_INSERT_LIBRARIES", "GCONV_PATH"])
async def test_every_loader_name_is_refused_at_the_spawn(name: str) -> None:
    with sneaking(name, "x") as (ctx, _), pytest.raises(InvalidArgumentError, match=name):
        await _echo().run(context=ctx)


async def test_a_scope_that_allows_loader_variables_lets_the_hook_set_one() -> None:
    with scoped(ScopeConfig(allow_loader_env=True)), sneaking("LD_CUPRUM_TEST", "yes") as (ctx, _):
        result = await py(SHOW, "LD_CUPRUM_TEST").run(context=ctx)
    assert result.stdout == "yes\n"


async def test_an_ordinary_variable_a_before_hook_adds_still_reaches_the_child() -> None:
    with sneaking("CUPRUM_ADDED", "late") as (ctx, _):
        result = await py(SHOW, "CUPRUM_ADDED").run(context=ctx)
    assert result.stdout == "late\n"
