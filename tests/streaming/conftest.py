"""The streaming suite's fixtures: ``line_cursor`` runs a test once per form of the
cursor behind ``stdout_lines()`` (the extension's, then the async generator the pure
install uses)."""

from __future__ import annotations

import pytest

from cuprum._transport import native


@pytest.fixture(params=["native", "python"])
def line_cursor(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Make ``stdout_lines()`` use one form of the cursor for the test."""
    form = str(request.param)
    if form == "native" and native.line_cursor() is None:
        pytest.skip("the native cursor needs the cuprum_native extension (not installed)")
    if form == "python":  # as a pure run is asked for; only the cursor reads it here
        monkeypatch.setenv("CUPRUM_STREAM_BACKEND", "python")
    return form
