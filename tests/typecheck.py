"""Running ``mypy --strict`` on code a user would write (doc examples, tests/typing).

The doc examples are every ```python block in README.md and docs/*.md; each is
checked as a module of its own (:func:`doc_blocks`, :func:`write_doc_blocks`).
"""

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
FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def doc_blocks() -> list[tuple[str, str]]:
    """``(where, code)`` for each ```python block, ``where`` as ``users-guide.md:12``."""
    found: list[tuple[str, str]] = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        if not doc.exists():
            continue
        text = doc.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{doc.name}:{line}", match.group(1)))
    return found


def block_module_name(where: str) -> str:
    """``users-guide.md:12`` -> ``users_guide_md_12`` (one module per block)."""
    return re.sub(r"\W", "_", where)


def write_doc_blocks(blocks: Sequence[tuple[str, str]], folder: Path) -> list[Path]:
    """Each block as ``folder/<module name>.py``, for a checker to read as user code."""
    files = []
    for where, code in blocks:
        path = folder / f"{block_module_name(where)}.py"
        path.write_text(code, encoding="utf-8")
        files.append(path)
    return files


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
