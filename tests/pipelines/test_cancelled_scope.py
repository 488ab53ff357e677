"""A pipeline inside a scope that is already cancelled starts nothing (issue 10, #3)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from cuprum import Pipeline, observe

from .pipeline_support import Recorder, shell

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("stage_events", [False, True])
async def test_pipeline_in_a_cancelled_scope_starts_nothing(
    anyio_backend: str, stream_backend: str, tmp_path: Path, stage_events: bool
) -> None:
    if stream_backend == "direct" and stage_events:
        pytest.skip("direct cannot serve stage_events=True")
    markers = [tmp_path / f"stage-{i}" for i in range(3)]
    first, *rest = (shell("-c", 'touch "$1"; cat', "sh", str(marker)) for marker in markers)
    pipeline = Pipeline((first, *rest))
    rec = Recorder()
    with observe(rec), anyio.move_on_after(0) as scope:
        await pipeline.run(stage_events=stage_events)
    assert scope.cancelled_caught
    assert rec.events == []
    assert not any(marker.exists() for marker in markers)
