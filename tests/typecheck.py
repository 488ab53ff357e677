"""Running ``mypy --strict`` on code a user would write (doc examples, tests/typing)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_LINE = re.compile(r"^(?P<path>[^:\n]+\.py):(?P<line>\d+): (?P<kind>error|note): (?P<text>.*)$")


def run_mypy(files: Sequence[Path], *extra: str) -> subprocess.CompletedProcess[str]:
    """mypy with the project's strict settings over ``files`` (not the configured ones).

    It runs from the project root, so its cache is reused from run to run, and it
    reads the package from the source tree or the installed wheel, whichever the
    tests import.
    """
    pytest.importorskip("mypy", reason="the type checks need mypy (in the test dependencies)")
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--no-error-summary",
        "--show-error-codes",
        "--hide-error-context",
        "--no-pretty",
        *extra,
        *map(str, files),
    ]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def mypy_errors(files: Sequence[Path]) -> dict[str, list[str]]:
    """mypy's errors, keyed by module name (the file's stem), as ``line: text``."""
    proc = run_mypy(files)
    found: dict[str, list[str]] = defaultdict(list)
    for line in proc.stdout.splitlines():
        match = _LINE.match(line)
        if match and match["kind"] == "error":
            found[Path(match["path"]).stem].append(f"{match['line']}: {match['text']}")
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and not found):
        raise AssertionError(f"mypy did not run:\n{proc.stdout}\n{proc.stderr}")
    return dict(found)


def revealed_types(path: Path) -> dict[int, str]:
    """``reveal_type`` notes of ``path``, by line: what an editor shows on hover."""
    proc = run_mypy([path])
    revealed: dict[int, str] = {}
    for line in proc.stdout.splitlines():
        match = _LINE.match(line)
        if match and match["kind"] == "note" and match["text"].startswith("Revealed type is "):
            text = match["text"].removeprefix("Revealed type is ").strip('"')
            revealed[int(match["line"])] = text.replace("builtins.", "")  # mypy < 2 spells it
        elif match and match["kind"] == "error":
            raise AssertionError(f"{path.name}:{match['line']}: {match['text']}")
    return revealed
