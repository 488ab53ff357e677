"""User code under ``mypy --strict`` and pyright strict: the attributes of builders,
registrations and errors are declared types, not inferred ones.

Checked by tests/test_typing.py (mypy, then run for real) and tests/test_pyright.py
(pyright strict; ``--verifytypes`` there covers the rest of the public API).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, assert_type

from cuprum import (
    ECHO,
    AllowRegistration,
    CommandFailedError,
    ExpectTimeout,
    HookRegistration,
    Program,
    ProgramCatalogue,
    ResourceUsage,
    Secret,
    TimeoutExpired,
    allow,
    is_rust_available,
    sh,
)

PY = Program(sys.executable)
catalogue = ProgramCatalogue.of(ECHO, PY, project="typing")
echo = sh.make(ECHO, catalogue=catalogue)
assert_type(echo.program, Program)
assert_type(echo.options, Mapping[str, Any])
assert echo.project.name == "typing"

registration = allow(ECHO)
assert_type(registration, AllowRegistration)
assert_type(registration.added, frozenset[Program])
registration.detach()

hooks = sh.observe(lambda event: None)
assert_type(hooks, HookRegistration)
assert len(hooks.hooks) == 1
hooks.detach()

py = sh.make(PY, catalogue=catalogue)


def failed() -> CommandFailedError:
    try:
        py("-c", "raise SystemExit(3)").run_sync(check=True)
    except CommandFailedError as exc:
        return exc
    raise AssertionError("check=True did not raise")


def timed_out() -> TimeoutExpired:
    try:
        py("-c", "import time; time.sleep(30)").run_sync(timeout=0.2)
    except TimeoutExpired as exc:
        return exc
    raise AssertionError("the timeout did not expire")


failure = failed()
assert_type(failure.program, str)
assert_type(failure.stage_index, int | None)
assert failure.returncode == 3 and failure.program == sys.executable
expired = timed_out()
assert_type(expired.program, str)
assert_type(expired.running, tuple[int, ...])


def expect_patterns(exc: ExpectTimeout) -> tuple[object, ...]:
    assert_type(exc.program, str)
    return exc.patterns


usage = py("-c", "pass").run_sync().usage
assert_type(usage, ResourceUsage | None)
assert_type(is_rust_available(), bool)
token = Secret("s3cret")
assert_type(token, Secret[str])
assert_type(hash(token), int)
assert hash(token) == hash(Secret("s3cret"))
