"""The typed API as users meet it: ``mypy --strict`` on user code, and what editors show.

``tests/typing/*.py`` are ordinary user programs with ``assert_type`` expectations;
they must type-check under the project's strict settings *and* run, so the types
describe what really comes back.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typecheck import mypy_errors, revealed_types

HERE = Path(__file__).resolve().parent
USER_CODE = sorted((HERE / "typing").glob("user_*.py"))


def test_there_is_user_code_to_check() -> None:
    assert len(USER_CODE) >= 2


def test_user_code_type_checks_under_strict_mypy() -> None:
    errors = mypy_errors(USER_CODE)
    assert not errors, "\n".join(f"{name}:{e}" for name, lines in errors.items() for e in lines)


@pytest.mark.parametrize("path", USER_CODE, ids=[p.name for p in USER_CODE])
def test_user_code_runs_and_the_types_tell_the_truth(path: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CUPRUM_STREAM_BACKEND"}
    proc = subprocess.run(
        [sys.executable, str(path)],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


REVEAL = """
from cuprum import DEVNULL, ECHO, STDOUT, ConcurrentConfig, run_concurrent_sync, sh

cmd = sh.make(ECHO)("x")
reveal_type(cmd.run_sync())
reveal_type(cmd.run_sync(text=False))
reveal_type(cmd.run_sync(capture=False))
reveal_type(cmd.run_sync(stdout=DEVNULL))
reveal_type(cmd.run_sync(stderr=STDOUT))
reveal_type((cmd | cmd).run_sync().stdout)
reveal_type(run_concurrent_sync(cmd, config=ConcurrentConfig(text=False)))
reveal_type(cmd.run)
"""

R = "cuprum._core.results."
EXPECTED = {
    5: f"{R}CommandResult[str, str]",
    6: f"{R}CommandResult[bytes, bytes]",
    7: f"{R}CommandResult[None, None]",
    8: f"{R}CommandResult[None, str]",
    9: f"{R}CommandResult[str, None]",
    10: "str",
    11: f"{R}ConcurrentResult[bytes, bytes]",
}


def test_what_an_editor_shows_for_each_call(tmp_path: Path) -> None:
    probe = tmp_path / "reveal_probe.py"
    probe.write_text(REVEAL, encoding="utf-8")
    revealed = revealed_types(probe)
    assert {line: revealed.get(line) for line in EXPECTED} == EXPECTED
    # The method is overloaded: one signature per output shape.
    assert revealed[12].startswith("Overload(")


def test_the_checker_reports_what_a_user_gets_wrong(tmp_path: Path) -> None:
    """The harness itself: a mistake in checked code must surface, by module and line."""
    wrong = tmp_path / "wrong_user_code.py"
    wrong.write_text(
        "from cuprum import ECHO, sh\n\nsh.make(ECHO)('x').run_sync().stdout.decode()\n",
        encoding="utf-8",
    )
    errors = mypy_errors([wrong])
    assert list(errors) == ["wrong_user_code"]
    (error,) = errors["wrong_user_code"]
    assert error.startswith("3: ") and '"str" has no attribute "decode"' in error
