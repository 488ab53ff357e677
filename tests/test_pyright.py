"""pyright's strict mode on user code, and the public API's type completeness.

mypy is not the only checker users run: the code in tests/typing and the docs'
examples must also pass pyright's ``strict`` rules (through ``basedpyright``, which
ships its own Node.js as a wheel), and ``--verifytypes`` must find every symbol
that ``cuprum`` exports fully typed (nothing unknown, nothing left to inference).

``nox -s lint`` installs basedpyright and runs this file with
``CUPRUM_REQUIRE_PYRIGHT=1``; elsewhere it is skipped when basedpyright is missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typecheck import block_module_name, doc_blocks, write_doc_blocks

import cuprum

HERE = Path(__file__).resolve().parent
USER_CODE = sorted((HERE / "typing").glob("user_*.py"))
# The folder the tests import cuprum from (source tree or installed wheel): pyright
# checks that copy.
PACKAGE_PARENT = str(Path(cuprum.__file__).resolve().parent.parent)


def _basedpyright() -> list[str]:
    """The command: this interpreter's basedpyright, else one on ``PATH`` (pipx)."""
    checked = ["--pythonpath", sys.executable]
    if importlib.util.find_spec("basedpyright") is not None:
        return [sys.executable, "-m", "basedpyright", *checked]
    found = shutil.which("basedpyright")
    if found is not None:
        return [found, *checked]
    if os.environ.get("CUPRUM_REQUIRE_PYRIGHT") == "1":
        raise AssertionError("CUPRUM_REQUIRE_PYRIGHT=1 but basedpyright is not installed")
    pytest.skip("basedpyright is not installed (nox -s lint installs it)")


def _run(args: Sequence[str], cwd: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": PACKAGE_PARENT}
    proc = subprocess.run(
        [*_basedpyright(), "--outputjson", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode not in (0, 1):
        raise AssertionError(f"basedpyright did not run:\n{proc.stdout}\n{proc.stderr}")
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def pyright_errors(files: Sequence[Path], folder: Path) -> dict[str, list[str]]:
    """pyright strict over ``files``; errors keyed by module name as ``line: text``."""
    config = {
        "typeCheckingMode": "strict",
        "pythonVersion": "3.11",
        "include": [str(path) for path in files],
    }
    (folder / "pyrightconfig.json").write_text(json.dumps(config), encoding="utf-8")
    found: dict[str, list[str]] = defaultdict(list)
    for diagnostic in _run(["-p", str(folder / "pyrightconfig.json")], folder)[
        "generalDiagnostics"
    ]:
        if diagnostic["severity"] == "error":
            line = diagnostic["range"]["start"]["line"] + 1
            text = diagnostic["message"].replace("\n", " ").replace("\xa0", "")
            found[Path(diagnostic["file"]).stem].append(f"{line}: {text} ({diagnostic['rule']})")
    return dict(found)


def _listed(errors: dict[str, list[str]]) -> str:
    return "\n".join(f"{name}:{e}" for name, lines in errors.items() for e in lines)


def test_user_code_type_checks_under_strict_pyright(tmp_path: Path) -> None:
    errors = pyright_errors(USER_CODE, tmp_path)
    assert not errors, _listed(errors)


def test_doc_examples_type_check_under_strict_pyright(tmp_path: Path) -> None:
    blocks = doc_blocks()
    folder = tmp_path / "doc-blocks"
    folder.mkdir()
    errors = pyright_errors(write_doc_blocks(blocks, folder), tmp_path)
    where = {block_module_name(place): place for place, _ in blocks}
    assert not errors, _listed({where[name]: lines for name, lines in errors.items()})


def test_the_public_api_is_completely_typed(tmp_path: Path) -> None:
    """``--verifytypes``: no exported symbol's type is unknown or left to inference."""
    report = _run(["--verifytypes", "cuprum", "--ignoreexternal"], tmp_path)["typeCompleteness"]
    assert report["packageRootDirectory"] == str(Path(cuprum.__file__).resolve().parent)
    problems = [
        f"{symbol['name']}: {diagnostic['message']}".replace("\n", " ").replace("\xa0", "")
        for symbol in report["symbols"]
        for diagnostic in symbol["diagnostics"]
        if diagnostic["severity"] == "error"
    ]
    assert not problems, "\n".join(problems)
    assert report["completenessScore"] == 1.0


def test_the_checker_reports_what_a_user_gets_wrong(tmp_path: Path) -> None:
    """The harness itself: a mistake in checked code must surface, by module and line."""
    wrong = tmp_path / "wrong_user_code.py"
    wrong.write_text(
        "from cuprum import ECHO, sh\n\nsh.make(ECHO)('x').run_sync().stdout.decode()\n",
        encoding="utf-8",
    )
    errors = pyright_errors([wrong], tmp_path)
    assert list(errors) == ["wrong_user_code"]
    assert all(error.startswith("3: ") for error in errors["wrong_user_code"])
    assert any('Cannot access attribute "decode"' in e for e in errors["wrong_user_code"])
