"""Every ```python block in README.md and docs/*.md runs, as written, in a fresh
interpreter, and passes ``mypy --strict`` as a user's own code would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typecheck import mypy_errors

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _blocks() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        if not doc.exists():
            continue
        text = doc.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{doc.name}:{line}", match.group(1)))
    return found


BLOCKS = _blocks()


def _module_name(where: str) -> str:
    """``users-guide.md:12`` -> ``users_guide_md_12`` (one module per block)."""
    return re.sub(r"\W", "_", where)


def test_docs_have_examples() -> None:
    assert len(BLOCKS) >= 10, "the guide should show what it describes"


@pytest.mark.parametrize(("where", "code"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_doc_example_runs(where: str, code: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CUPRUM_STREAM_BACKEND"}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"{where} failed:\n{proc.stdout}\n{proc.stderr}"


@pytest.fixture(scope="module")
def docs_type_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """``mypy --strict`` over every block at once (one module each); errors by block."""
    folder = tmp_path_factory.mktemp("doc-blocks")
    files = []
    for where, code in BLOCKS:
        path = folder / f"{_module_name(where)}.py"
        path.write_text(code, encoding="utf-8")
        files.append(path)
    return mypy_errors(files)


@pytest.mark.parametrize(("where", "code"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_doc_example_type_checks(
    where: str, code: str, docs_type_errors: dict[str, list[str]]
) -> None:
    errors = docs_type_errors.get(_module_name(where), [])
    assert not errors, f"{where} does not pass mypy --strict:\n" + "\n".join(errors)
