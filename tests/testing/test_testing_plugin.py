"""``cuprum.testing`` from a real pytest run (pytester): the fixture as a user's suite sees it.

The user's tests are in ``user_tests.py``; each scenario runs on asyncio and trio
where it is async. Two of them must fail, with messages that name the command
or the expectation.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import cuprum

pytest_plugins = ["pytester"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

STRATEGIES = ["direct", "python", "rust"] if cuprum.is_rust_available() else ["direct", "python"]
SKIPPED = 0 if cuprum.is_rust_available() else 2  # the rust pipelines, on each event loop
PASSING = [
    "test_canned_stdout_and_exit_code",
    "test_killed_by_a_signal",
    "test_async_run_regex_and_bytes[[]asyncio[]]",
    "test_async_run_regex_and_bytes[[]trio[]]",
    "test_delay_hits_timeout_and_partial_output_survives[[]asyncio[]]",
    "test_delay_hits_timeout_and_partial_output_survives[[]trio[]]",
    *(
        f"test_pipeline_of_fakes[[]{loop}-{strategy}[]]"
        for loop in ("asyncio", "trio")
        for strategy in STRATEGIES
    ),
    "test_streaming_a_fake[[]asyncio[]]",
    "test_streaming_a_fake[[]trio[]]",
    "test_run_concurrent_of_fakes[[]asyncio[]]",
    "test_run_concurrent_of_fakes[[]trio[]]",
    "test_times_then_the_next_expectation",
    "test_unexpected_command_fails_even_when_caught",  # the test body passes...
]


def _entry_point() -> importlib.metadata.EntryPoint | None:
    found = importlib.metadata.entry_points(group="pytest11", name="cuprum")
    return next(iter(found), None)


def test_the_fixture_in_a_real_pytest_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=(HERE / "user_tests.py").read_text(encoding="utf-8"))
    # Installed (the nox sessions test the wheel), the entry point loads the plugin;
    # from the source tree it must be named (naming it twice is a pytest error).
    load = [] if _entry_point() is not None else ["-p", "cuprum.testing.plugin"]
    result = pytester.runpytest_subprocess(*load, "-p", "no:cacheprovider", "-rA", timeout=300)
    # ...and its teardown errors: the unexpected command is reported even though caught.
    result.assert_outcomes(passed=len(PASSING), failed=1, errors=1, skipped=SKIPPED)
    result.stdout.fnmatch_lines(
        [f"PASSED test_user.py::{name}" for name in PASSING], consecutive=False
    )
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_unexpected_command_fails_even_when_caught*",
            "*unexpected command(s):*",
            "*tool-that-is-not-installed push --force*",
        ],
        consecutive=False,
    )
    output = result.stdout.str()
    assert (
        "cuprum.testing: expectations not used:\n"
        "E             prefix ['tool-that-is-not-installed', 'deploy']: "
        "called 0 time(s), expected 2"
    ) in output
    assert "exact ['tool-that-is-not-installed', 'status']: called" not in output


def test_the_plugin_is_registered_through_the_pytest11_entry_point() -> None:
    entry_point = _entry_point()
    if entry_point is not None:  # an installed cuprum: the entry point is the one declared
        assert entry_point.value == "cuprum.testing.plugin"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["entry-points"]["pytest11"] == {"cuprum": "cuprum.testing.plugin"}


def test_fake_programs_need_no_pytest() -> None:
    """``FakePrograms`` works in any test runner: only the plugin module imports pytest."""
    probe = "import sys, cuprum.testing; assert 'pytest' not in sys.modules, 'pytest loaded'"
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
