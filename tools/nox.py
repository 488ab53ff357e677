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


def _installer() -> list[str] | None:
    """A pip command that installs into the new environment, or None if there is none.

    This interpreter's own pip when it can target another one (pip >= 22.3, as on
    Debian 12 and Ubuntu 24.04); else pip bootstrapped into the environment by
    ensurepip; else nothing.
    """
    probe = "import pip, sys; sys.exit(tuple(map(int, pip.__version__.split('.')[:2])) < (22, 3))"
    if subprocess.run([sys.executable, "-c", probe], capture_output=True, check=False).returncode:
        ensurepip = [str(PYTHON), "-m", "ensurepip", "--default-pip"]
        if subprocess.run(ensurepip, stdout=subprocess.DEVNULL, check=False).returncode:
            return None
        return [str(PYTHON), "-m", "pip", "install"]
    return [sys.executable, "-m", "pip", "--python", str(PYTHON), "install"]


def _create() -> None:
    shutil.rmtree(VENV, ignore_errors=True)
    print(f"tools/nox.py: creating {VENV.relative_to(ROOT)} with {', '.join(REQUIREMENTS)}")
    # Without pip: Debian's venv module needs python3-venv (ensurepip) for that.
    venv.EnvBuilder(with_pip=False, symlinks=True).create(VENV)
    install = _installer()
    if install is None:
        shutil.rmtree(VENV, ignore_errors=True)
        sys.exit(
            f"tools/nox.py: {sys.executable} has neither pip (>= 22.3) nor ensurepip; "
            "install one of them (Debian/Ubuntu: apt-get install python3-pip)"
        )
    quiet = ["--quiet", "--disable-pip-version-check", "--no-input"]
    subprocess.run([*install, *quiet, *REQUIREMENTS], check=True)
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
