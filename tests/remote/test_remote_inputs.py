"""Bad ``SshHost`` fields and ``run_fleet`` inputs are ``InvalidArgumentError`` naming the
parameter; a host is only built here, no server is needed."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest

from cuprum import InvalidArgumentError
from cuprum.remote import FleetConfig, SshHost, run_fleet, run_fleet_sync

from .remote_support import echo

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("connect_timeout", "5"),
        ("connect_timeout", True),
        ("connect_timeout", None),
        ("connect_timeout", math.nan),
        ("connect_timeout", 0),
        ("persist", "x"),
        ("persist", True),
        ("persist", -1),
        ("persist", math.inf),
    ],
)
def test_seconds_that_are_not_numbers(field: str, value: Any) -> None:
    message = f"SshHost: {field}={value!r} must be a number of seconds in "
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message)}"):
        SshHost("example.org", **{field: value})


@pytest.mark.parametrize("field", ["identity_file", "known_hosts", "config_file"])
@pytest.mark.parametrize("value", [5, b"/etc/key"])
def test_paths_that_are_not_paths(field: str, value: Any) -> None:
    message = f"SshHost: {field}={value!r} must be a str or os.PathLike path"
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message)}$"):
        SshHost("example.org", **{field: value})


@pytest.mark.parametrize("value", [5, None])
def test_a_remote_path_that_is_not_text(value: Any) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^SshHost: remote_path="):
        SshHost("example.org", remote_path=value)


def test_good_values_still_build(tmp_path: Path) -> None:
    host = SshHost("example.org", connect_timeout=2.5, persist=0, identity_file=tmp_path / "k")
    assert (host.connect_timeout, host.persist, host.identity_file) == (2.5, 0, str(tmp_path / "k"))


@pytest.mark.parametrize(
    ("value", "shown"),
    [(echo("x"), "(SafeCmd)"), (None, "None (NoneType)"), ("echo", "'echo' (str)")],
)
async def test_run_fleet_refuses_what_is_not_a_remote_command(
    anyio_backend: str, value: Any, shown: str
) -> None:
    host = SshHost("example.org")
    prefix = "run_fleet: commands[1] must be a RemoteCmd (host.cmd(...)), got "
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(prefix)}.*{re.escape(shown)}$"):
        await run_fleet(host.cmd(echo("x")), value)


def test_run_fleet_sync_refuses_them_too() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^run_fleet_sync: commands\[0\]"):
        run_fleet_sync(echo("x"))  # type: ignore[arg-type]


async def test_a_fleet_config_that_is_not_one(anyio_backend: str) -> None:
    host = SshHost("example.org")
    with pytest.raises(InvalidArgumentError, match=r"^run_fleet: config must be a FleetConfig"):
        await run_fleet(host.cmd(echo("x")), config={"concurrency": 2})  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["concurrency", "per_host"])
@pytest.mark.parametrize("value", ["2", 0, -3, True, 1.5])
def test_fleet_limits_that_are_not_limits(field: str, value: Any) -> None:
    message = f"FleetConfig: {field} must be an int >= 1 or None, got {value!r}"
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message)} "):
        FleetConfig(**{field: value})


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("timeout", "x", "must be a number of seconds, got 'x' (str)"),
        ("timeout", True, "must be a number of seconds, got True (bool)"),
        ("timeout", math.nan, "must be a number of seconds, got NaN"),
        ("timeout", [5], "must be a number of seconds, got [5] (list)"),
        ("fail_fast", "yes", "must be True or False, got 'yes' (str)"),
        ("fail_fast", 1, "must be True or False, got 1 (int)"),
        ("capture", None, "must be True or False, got None (NoneType)"),
        ("capture", 0, "must be True or False, got 0 (int)"),
    ],
)
def test_fleet_config_is_refused_when_built_not_when_run(
    field: str, value: Any, shown: str
) -> None:
    # Refused at construction, naming the class and the field (was: only once
    # run_fleet built the requests, naming the program of the first command).
    message = f"FleetConfig: {field} {shown}"
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message)}$"):
        FleetConfig(**{field: value})


@pytest.mark.parametrize("timeout", [None, 0, -1, 2.5, 3, math.inf])
def test_fleet_config_takes_what_run_takes_as_a_timeout(timeout: float | None) -> None:
    # As run(timeout=...): <= 0 expires at once, inf never, None: no limit.
    config = FleetConfig(timeout=timeout, fail_fast=True, capture=False)
    assert (config.timeout, config.fail_fast, config.capture) == (timeout, True, False)
