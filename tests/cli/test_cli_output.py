"""``python -m cuprum`` when its output cannot be written, and a ``--catalogue`` that
cannot be imported: status 1 and at most one line on stderr, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CUPRUM_STREAM_BACKEND"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    return {**env, **extra}


@pytest.mark.parametrize("args", [["info"], ["which", "echo"], ["demo"], ["--help"]])
def test_a_reader_that_left_ends_it_quietly(args: list[str]) -> None:
    # `python -m cuprum demo | head -1`: the reader is gone before the first write.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "cuprum", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (1, "")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["info"], ["which", "echo"], ["demo"]])
def test_a_failed_write_is_one_line_on_stderr(args: list[str]) -> None:
    with open("/dev/full", "w", encoding="utf-8") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "cuprum", *args],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            timeout=120,
            check=False,
        )
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
    pythonpath = os.pathsep.join([str(tmp_path), *sys.path])
    proc = subprocess.run(
        [sys.executable, "-m", "cuprum", "which", "echo", "--catalogue", spec],
        capture_output=True,
        text=True,
        env=_env(PYTHONPATH=pythonpath),
        timeout=120,
        check=False,
    )
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
    proc = subprocess.run(
        [sys.executable, "-c", WITHOUT_TRIO, "demo", "--backend", "trio"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
        check=False,
    )
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.endswith(
        'python -m cuprum demo: error: --backend trio needs trio: pip install "cuprum[trio]"\n'
    )
