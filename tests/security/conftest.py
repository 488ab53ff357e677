"""Fixtures for the security tests: pipeline tests run on every stream strategy."""

from __future__ import annotations

import pytest

import cuprum


@pytest.fixture(params=["direct", "python", "rust"])
def stream_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Force ``CUPRUM_STREAM_BACKEND`` to one strategy (``rust`` needs the extension)."""
    strategy = str(request.param)
    if strategy == "rust" and not cuprum.is_rust_available():
        pytest.skip("stream strategy 'rust' needs the cuprum_native extension (not installed)")
    monkeypatch.setenv("CUPRUM_STREAM_BACKEND", strategy)
    return strategy
