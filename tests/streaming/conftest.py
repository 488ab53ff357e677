"""Fixtures for the streaming tests: every pipeline/stream test runs over every stream
strategy installed (and, through ``tests/conftest.py``, on asyncio and trio)."""

from __future__ import annotations

import pytest

import cuprum

STRATEGIES = ["direct", "python", "rust"]


@pytest.fixture(params=STRATEGIES)
def stream_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Force ``CUPRUM_STREAM_BACKEND`` for the test; ``rust`` is skipped without the extension."""
    strategy = str(request.param)
    if strategy == "rust" and not cuprum.is_rust_available():
        pytest.skip("the cuprum_native extension is not installed")
    monkeypatch.setenv("CUPRUM_STREAM_BACKEND", strategy)
    return strategy
