"""``python -m cuprum``, run as a real subprocess: plain-text help, the demo, info."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from cuprum import _cli

MARKUP = re.compile(r"``|:(?:class|mod|func|meth|attr):`|`")


def _run(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "CUPRUM_STREAM_BACKEND"}
    proc = subprocess.run(
        [sys.executable, "-m", "cuprum", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert proc.stderr == "", proc.stderr
    return proc.stdout


@pytest.mark.parametrize("args", [["--help"], ["demo", "--help"], ["info", "--help"]])
def test_help_is_plain_text(args: list[str]) -> None:
    text = _run(*args)
    assert text.startswith("usage: python -m cuprum"), text
    assert not MARKUP.search(text), f"reST markup in the help:\n{text}"
    if args == ["--help"]:
        assert "demo" in text and "info" in text, text


def test_every_scenario_has_its_code_in_the_source() -> None:
    code = _cli.snippets()
    assert set(code) == {"catalogue", *(name for name, _, _ in _cli.SCENARIOS)}
    for name, text in code.items():
        assert "sh.make" in text or name == "catalogue", (name, text)
        assert "demo-code" not in text, (name, text)


def _sections(output: str) -> dict[tuple[str, str], str]:
    """Each scenario's printed text by (event loop, scenario number)."""
    found: dict[tuple[str, str], str] = {}
    for part in re.split(r"^######## ", output, flags=re.MULTILINE)[1:]:
        loop = part.split("\n", 1)[0].removeprefix("event loop: ")
        for scenario in re.split(r"^== ", part, flags=re.MULTILINE)[1:]:
            found[(loop, scenario.split(".", 1)[0])] = scenario
    return found


def test_demo_shows_the_code_above_each_output_on_both_loops() -> None:
    output = _run("demo")
    sections = _sections(output)
    code = _cli.snippets()
    for number, (name, title, _) in enumerate(_cli.SCENARIOS, 1):
        first = sections[("asyncio", str(number))]
        assert first.startswith(f"{number}. {title} [asyncio]"), first
        shown = "\n".join(f"    | {line}" for line in code[name].splitlines())
        # The code comes first, then the arrow, then what it printed.
        assert first.index(shown) < first.index("  ->\n") < len(first) - 40, first
        again = sections[("trio", str(number))]
        assert again.startswith(f"{number}. {title} [trio]"), again
    assert "\n".join(f"    | {line}" for line in code["catalogue"].splitlines()) in output


def test_demo_explains_its_figures() -> None:
    output = _run("demo", "--backend", "asyncio")
    sections = _sections(output)
    assert "stage exit codes: 3, -15 (killed by SIGTERM)" in sections[("asyncio", "3")]
    assert "-15 is SIGTERM" in sections[("asyncio", "3")]
    assert "stream strategy: how bytes move from one stage to the next" in output
    assert "took: wall-clock time" in output
    assert "TimeoutExpired(timeout=0.3) output='partial\\n'" in output
    assert "ok=True results=8" in output
    assert "trio" not in "".join(key[0] for key in sections)
    assert "\ncuprum " in output and "stream strategy " in output  # then `info`


def test_info_lists_what_a_bug_report_needs() -> None:
    output = _run("info")
    for row in ("cuprum", "python", "anyio", "event loops", "native extension", "stream strategy"):
        assert re.search(rf"^{row} +\S", output, re.MULTILINE), output
