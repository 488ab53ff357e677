"""What is not a command, or a concurrency that is not a limit, is an
``InvalidArgumentError`` naming the function (or config) and the parameter."""

from __future__ import annotations

import re
from typing import Any

import pytest
from concurrent_support import shell, true

from cuprum import ConcurrentConfig, InvalidArgumentError, run_concurrent, run_concurrent_sync

pytestmark = pytest.mark.anyio

NOT_COMMANDS = [
    pytest.param(shell("-c", "true") | shell("-c", "true"), "(Pipeline)", id="pipeline"),
    pytest.param("echo", "'echo' (str)", id="str"),
    pytest.param(None, "None (NoneType)", id="none"),
    pytest.param(["echo"], "['echo'] (list)", id="list"),
]


@pytest.mark.parametrize(("value", "shown"), NOT_COMMANDS)
async def test_run_concurrent_refuses_what_is_not_a_command(
    anyio_backend: str, value: Any, shown: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^run_concurrent: commands\[1\] must be a"):
        await run_concurrent(true(), value)
    with pytest.raises(InvalidArgumentError, match=re.escape(shown)):
        await run_concurrent(value)


def test_a_pipeline_is_pointed_at_its_own_run() -> None:
    with pytest.raises(InvalidArgumentError, match=r"run a pipeline with its own run\(\)"):
        run_concurrent_sync(true() | true())  # type: ignore[call-overload]


@pytest.mark.parametrize(("value", "shown"), NOT_COMMANDS)
def test_run_concurrent_sync_refuses_them_too(value: Any, shown: str) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^run_concurrent_sync: commands\[0\]"):
        run_concurrent_sync(value)


async def test_a_config_that_is_not_one(anyio_backend: str) -> None:
    message = "run_concurrent: config must be a ConcurrentConfig or None, got 3 (int)"
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message)}$"):
        await run_concurrent(true(), config=3)  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2", "'2' (str)"),
        (0, "0 (int)"),
        (-1, "-1 (int)"),
        (True, "True (bool)"),
        (2.0, "2.0 (float)"),
    ],
)
def test_a_concurrency_that_is_not_a_limit(value: Any, shown: str) -> None:
    message = f"ConcurrentConfig: concurrency must be an int >= 1 or None, got {shown}"
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message)}$"):
        ConcurrentConfig(concurrency=value)


async def test_valid_limits_still_run(anyio_backend: str) -> None:
    result = await run_concurrent(true(), true(), config=ConcurrentConfig(concurrency=1))
    assert result.ok


@pytest.mark.parametrize("name", ["capture", "echo", "fail_fast", "text"])
@pytest.mark.parametrize(
    ("value", "shown"), [("no", "'no' (str)"), (1, "1 (int)"), (None, "None (NoneType)")]
)
def test_a_switch_that_is_not_a_bool(name: str, value: Any, shown: str) -> None:
    # fail_fast="no" is truthy: taken as given it would switch fail-fast on.
    message = f"ConcurrentConfig: {name} must be True or False, got {shown}"
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message)}$"):
        ConcurrentConfig(**{name: value})


def test_a_context_that_is_not_one() -> None:
    message = "ConcurrentConfig: context must be an ExecutionContext or None, got {} (dict)"
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message)}$"):
        ConcurrentConfig(context={})  # type: ignore[call-overload]
