"""``python -m cuprum which PROGRAM``: the file cuprum runs, and why not another."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .security_support import script

REAL_ECHO = "/usr/bin/echo"


def _which(*args: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **env_vars}
    return subprocess.run(
        [sys.executable, "-m", "cuprum", "which", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _rows(out: str) -> dict[str, str]:
    rows = {}
    for line in out.splitlines():
        key, _, value = line.partition("  ")
        rows[key.strip()] = value.strip()
    return rows


def test_which_shows_the_pin_and_the_path_search_it_differs_from(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    fake = script(shared / "echo", "#!/bin/sh\necho FAKE\n")
    proc = _which("echo", PATH=f"{shared}:{os.environ['PATH']}")
    assert proc.returncode == 0, proc.stderr
    rows = _rows(proc.stdout)
    real = os.path.realpath(rows["runs"])
    assert real == os.path.realpath(REAL_ECHO)
    assert rows["catalogue"] == "cuprum.DEFAULT_CATALOGUE (project core-ops)"
    assert rows["skipped"] == f"{shared}: writable by others"
    assert rows["PATH search"].startswith(f"{fake} (differs: subprocess would run that;")
    assert len(rows["sha256"].split()[0]) == 64
    assert rows["identity"].startswith("device ")


def test_which_of_a_program_it_cannot_pin_fails_and_says_why() -> None:
    proc = _which("cuprum-which-no-such-program")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "cuprum-which-no-such-program: program not found on the trusted search path" in (
        proc.stderr
    )


def test_which_consults_the_catalogue_it_is_given(tmp_path: Path) -> None:
    script(tmp_path / "cuprum-which-tool", "#!/bin/sh\necho hi\n")
    (tmp_path / "which_catalogue.py").write_text(
        "from cuprum import Program, ProgramCatalogue, ProjectSettings\n"
        "CATALOGUE = ProgramCatalogue(projects=(ProjectSettings(\n"
        "    name='local', programs=(Program('cuprum-which-tool'),),\n"
        f"    search_path=({str(tmp_path)!r},),\n"
        "),))\n"
    )
    pythonpath = os.pathsep.join([str(tmp_path), *sys.path])
    proc = _which(
        "cuprum-which-tool", "--catalogue", "which_catalogue:CATALOGUE", PYTHONPATH=pythonpath
    )
    assert proc.returncode == 0, proc.stderr
    rows = _rows(proc.stdout)
    assert rows["runs"] == str(tmp_path / "cuprum-which-tool")
    assert rows["catalogue"] == "which_catalogue:CATALOGUE (project local)"
    assert rows["searched"] == str(tmp_path)
