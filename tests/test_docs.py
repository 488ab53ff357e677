"""Every ```python block in README.md and docs/*.md runs, as written, in a fresh
interpreter, and passes ``mypy --strict`` as a user's own code would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typecheck import block_module_name, doc_blocks, mypy_errors, write_doc_blocks

BLOCKS = doc_blocks()


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
    return mypy_errors(write_doc_blocks(BLOCKS, tmp_path_factory.mktemp("doc-blocks")))


@pytest.mark.parametrize(("where", "code"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_doc_example_type_checks(
    where: str, code: str, docs_type_errors: dict[str, list[str]]
) -> None:
    errors = docs_type_errors.get(block_module_name(where), [])
    assert not errors, f"{where} does not pass mypy --strict:\n" + "\n".join(errors)
