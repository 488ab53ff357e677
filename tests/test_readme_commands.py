"""The README opens with exactly two commands (the demo, the whole suite), and CI runs
the second one verbatim; the suite's command runs every default nox session."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first = re.search(r"^```bash\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    assert first is not None, "the README starts with a bash block"
    assert text.index(first.group(0)) < text.index("\n## "), "the commands come first"
    return first.group(1).strip().splitlines()


def test_readme_has_two_commands_demo_then_suite() -> None:
    demo, suite = _commands()
    assert demo == "python3 tools/nox.py -s demo"
    assert suite.startswith("python3 tools/nox.py -s ")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, suite = _commands()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert suite in ci, f".ci/run must run {suite!r}"


def test_the_suite_command_runs_every_default_session() -> None:
    _, suite = _commands()
    listed = suite.split(" -s ", 1)[1].split()
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    default = re.search(r"^nox\.options\.sessions = \[(.*?)\]", noxfile, re.MULTILINE)
    assert default is not None
    assert listed == re.findall(r'"(\w+)"', default.group(1))
    assert {"lint", "wheels", "docs", "tests"} <= set(listed)
