"""Run nox from a private virtual environment, creating it on first use.

``python3 tools/nox.py -s demo`` works with any CPython 3.11+, including a
Debian or Ubuntu ``python3`` that refuses a global ``pip install`` (PEP 668)
or lacks ``ensurepip`` (no ``python3-venv`` package): nox and uv go into
``.nox/bootstrap``, never into the interpreter that runs this script. Every
argument is passed to nox unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".nox" / "bootstrap"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / "cuprum-bootstrap.json"
# uv stays on the 0.13 series of the build backend pinned in pyproject.toml.
REQUIREMENTS = ("nox==2026.10.20", "uv==0.13.9")


def _wanted() -> dict[str, object]:
    """What the environment must have been built from; any change rebuilds it."""
    return {"base": os.path.realpath(sys.executable), "requirements": list(REQUIREMENTS)}


def _ready() -> bool:
    try:
        return bool(json.loads(STAMP.read_text()) == _wanted() and PYTHON.exists())
    except (OSError, ValueError):
        return False


def _pip_can_target() -> bool:
    """True when this interpreter's own pip can install into another one (pip >= 22.3)."""
    probe = "import pip, sys; sys.exit(tuple(map(int, pip.__version__.split('.')[:2])) < (22, 3))"
    return (
        subprocess.run([sys.executable, "-c", probe], capture_output=True, check=False).returncode
        == 0
    )


def _create() -> None:
    shutil.rmtree(VENV, ignore_errors=True)
    print(f"tools/nox.py: creating {VENV.relative_to(ROOT)} with {', '.join(REQUIREMENTS)}")
    # Without pip: Debian's venv module needs python3-venv (ensurepip) for that.
    venv.EnvBuilder(with_pip=False, symlinks=True).create(VENV)
    quiet = ["--quiet", "--disable-pip-version-check", "--no-input"]
    if _pip_can_target():
        command = [sys.executable, "-m", "pip", "--python", str(PYTHON), "install", *quiet]
    elif (
        subprocess.run([str(PYTHON), "-m", "ensurepip", "--default-pip"], check=False).returncode
        == 0
    ):
        command = [str(PYTHON), "-m", "pip", "install", *quiet]
    else:
        shutil.rmtree(VENV, ignore_errors=True)
        sys.exit(
            f"tools/nox.py: {sys.executable} has neither pip (>= 22.3) nor ensurepip; "
            "install one of them (Debian/Ubuntu: apt-get install python3-pip)"
        )
    subprocess.run([*command, *REQUIREMENTS], check=True)
    STAMP.write_text(json.dumps(_wanted()))


def main(argv: list[str]) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 (a clear message on older Pythons)
        sys.exit(f"tools/nox.py: cuprum needs CPython 3.11 or newer, not {sys.version.split()[0]}")
    if not _ready():
        _create()
    os.chdir(ROOT)
    os.execv(PYTHON, [str(PYTHON), "-m", "nox", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
