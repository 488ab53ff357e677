"""Choosing the stream strategy: ``auto``, and a forced ``rust`` without the extension."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import cuprum
from cuprum import StreamBackendError, observe

from .pipeline_support import Recorder, cat, python, shell

RUST_MISSING = "cuprum_native extension is not installed"

#: Runs in a child interpreter that imports a copy of cuprum without the extension.
PROBE = """
import json, os, sys
import cuprum
from cuprum import CAT, ECHO, StreamBackendError, sh

backend = sys.argv[1]
pipeline = sh.make(ECHO)("hi") | sh.make(CAT)()
out = {"file": cuprum.__file__, "available": cuprum.is_rust_available()}
os.environ["CUPRUM_STREAM_BACKEND"] = "rust"
try:
    pipeline.run_sync(backend=backend)
except StreamBackendError as exc:
    out["error"] = str(exc)
out["single"] = sh.make(ECHO)("-n", "one").run_sync(backend=backend).stdout
events = []
os.environ["CUPRUM_STREAM_BACKEND"] = "auto"
with sh.observe(events.append):
    result = pipeline.run_sync(backend=backend, stage_events=True)
out["auto"] = result.stdout
out["auto_stage0"] = [
    e.line for e in events if e.phase == "stdout" and e.tags["pipeline_stage_index"] == 0
]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def cuprum_without_extension(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the cuprum package with no native extension in it."""
    root = tmp_path_factory.mktemp("pure")
    source = Path(cuprum.__file__).parent
    shutil.copytree(source, root / "cuprum", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    return root


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_forced_rust_without_extension_is_a_clear_error(
    cuprum_without_extension: Path, backend: str
) -> None:
    env = {**os.environ, "PYTHONPATH": str(cuprum_without_extension)}
    env.pop("CUPRUM_STREAM_BACKEND", None)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, backend],
        cwd=cuprum_without_extension,  # not the source tree, which `-c` puts first
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["file"].startswith(str(cuprum_without_extension))
    assert out["available"] is False
    assert "CUPRUM_STREAM_BACKEND=rust" in out["error"]
    assert RUST_MISSING in out["error"]
    assert "maturin develop" in out["error"]
    # Only pipelines have hops: a single command does not need a strategy.
    assert out["single"] == "one"
    # auto falls back to the python relay when the parent must see the hop.
    assert out["auto"] == "hi\n"
    assert out["auto_stage0"] == ["hi"]


@pytest.mark.anyio
async def test_forced_rust_error_in_this_environment(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if cuprum.is_rust_available():
        pytest.skip("the native extension is installed here; see the test above")
    monkeypatch.setenv("CUPRUM_STREAM_BACKEND", "rust")
    with pytest.raises(StreamBackendError, match=RUST_MISSING):
        await (shell("-c", "echo x") | cat()).run()


@pytest.mark.anyio
@pytest.mark.parametrize("value", ["auto", "", " AUTO "])
async def test_auto_strategy(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CUPRUM_STREAM_BACKEND", value)
    rec = Recorder()
    pipeline = shell("-c", "printf 'a\\nb\\n'") | python(
        "-c", "import sys; print(len(sys.stdin.read()))"
    )
    plain = await pipeline.run()
    with observe(rec):
        observed = await pipeline.run(stage_events=True)
    assert plain.stdout == observed.stdout == "4\n"
    assert rec.lines("stdout", 0) == ["a", "b"]
