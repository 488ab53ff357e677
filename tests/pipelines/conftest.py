"""Fixtures for pipeline tests: every pipeline test runs on every stream strategy."""

from __future__ import annotations

import pytest

import cuprum

STRATEGIES = ["direct", "python", "rust"]


@pytest.fixture(params=STRATEGIES)
def stream_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Force ``CUPRUM_STREAM_BACKEND`` to one strategy for the test.

    ``direct`` hands kernel pipes straight to the children; ``python`` and
    ``rust`` relay every hop through the parent. ``rust`` is skipped when the
    native extension is not installed.
    """
    strategy = str(request.param)
    if strategy == "rust" and not cuprum.is_rust_available():
        pytest.skip("stream strategy 'rust' needs the cuprum_native extension (not installed)")
    monkeypatch.setenv("CUPRUM_STREAM_BACKEND", strategy)
    return strategy
