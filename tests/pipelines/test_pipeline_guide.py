"""The users' guide spec's "Pipeline execution" example, run as written on every strategy.

(``tests/test_docs.py`` runs the examples of ``docs/*.md`` with the default strategy.)
"""

from __future__ import annotations

import pytest

from cuprum import PipelineResult

GUIDE_PIPELINE_EXAMPLE = """
import sys
from pathlib import Path

from cuprum import ECHO, Program, ProgramCatalogue, ProjectSettings, ScopeConfig, scoped, sh

PYTHON = Program(str(Path(sys.executable)))
project = ProjectSettings(
    name="pipeline-example",
    programs=(ECHO, PYTHON),
    documentation_locations=(),
    noise_rules=(),
)
catalogue = ProgramCatalogue(projects=(project,))

echo = sh.make(ECHO, catalogue=catalogue)
python = sh.make(PYTHON, catalogue=catalogue)

pipeline = echo("-n", "hello") | python(
    "-c",
    "import sys; sys.stdout.write(sys.stdin.read().upper())",
)

with scoped(ScopeConfig(allowlist=catalogue.allowlist)):
    result = pipeline.run_sync()

print(result.stdout)  # "HELLO"
print([stage.exit_code for stage in result.stages])  # per-stage exit codes
"""


def test_guide_pipeline_example(stream_backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {"__name__": "guide_example"}
    exec(compile(GUIDE_PIPELINE_EXAMPLE, "users-guide.md", "exec"), namespace)
    assert capsys.readouterr().out == "HELLO\n[0, 0]\n"
    result = namespace["result"]
    assert isinstance(result, PipelineResult)
    assert result.stages[0].stdout is None  # intermediate stdout is not kept
