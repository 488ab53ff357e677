"""``python -m cuprum`` when its output cannot be written, and a ``--catalogue`` that
cannot be imported: status 1 and at most one line on stderr, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest


def _cli(
    *args: str, stdout: Any = subprocess.PIPE, pythonpath: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """``python -m cuprum args...`` in a fresh interpreter, its stderr (and stdout) as text."""
    env = {k: v for k, v in os.environ.items() if k != "CUPRUM_STREAM_BACKEND"}
    env["PYTHONPATH"] = os.pathsep.join([*pythonpath, *sys.path])
    return subprocess.run(
        [sys.executable, *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("args", [["info"], ["which", "echo"], ["demo"], ["--help"]])
def test_a_reader_that_left_ends_it_quietly(args: list[str]) -> None:
    # `python -m cuprum demo | head -1`: the reader is gone before the first write.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = _cli("-m", "cuprum", *args, stdout=write_end)
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (1, "")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["info"], ["which", "echo"], ["demo"]])
def test_a_failed_write_is_one_line_on_stderr(args: list[str]) -> None:
    with open("/dev/full", "w", encoding="utf-8") as full:
        proc = _cli("-m", "cuprum", *args, stdout=full)
    assert proc.returncode == 1
    assert proc.stderr == (
        "python -m cuprum: cannot write the output: [Errno 28] No space left on device\n"
    )


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("cuprum_no_such_module:CATALOGUE", "ModuleNotFoundError: No module named"),
        (":CATALOGUE", "ValueError: Empty module name"),
        ("cuprum_failing_catalogue", "RuntimeError: broken on import"),
    ],
)
def test_a_catalogue_module_that_cannot_be_imported_is_named(
    tmp_path: Path, spec: str, error: str
) -> None:
    (tmp_path / "cuprum_failing_catalogue.py").write_text(
        "raise RuntimeError('broken on import')\n"
    )
    proc = _cli("-m", "cuprum", "which", "echo", "--catalogue", spec, pythonpath=[str(tmp_path)])
    module = spec.partition(":")[0]
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.startswith(f"which: --catalogue {spec}: cannot import {module!r}: {error}")
    assert "Traceback" not in proc.stderr


# Run the command line in an interpreter where trio cannot be imported.
WITHOUT_TRIO = """
import importlib.machinery, sys
class Hidden(importlib.machinery.PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.split(".")[0] in ("trio", "_trio"):
            return None
        return importlib.machinery.PathFinder.find_spec(name, path, target)
sys.meta_path = [Hidden if f is importlib.machinery.PathFinder else f for f in sys.meta_path]
from cuprum._cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_demo_on_trio_without_trio_is_a_usage_error() -> None:
    proc = _cli("-c", WITHOUT_TRIO, "demo", "--backend", "trio")
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.endswith(
        'python -m cuprum demo: error: --backend trio needs trio: pip install "cuprum[trio]"\n'
    )
