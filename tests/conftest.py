"""Shared fixtures: every async test runs on asyncio and on trio; a test that asks for
``stream_backend`` runs once per stream strategy."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each ``@pytest.mark.anyio`` test once per event loop backend."""
    return str(request.param)


@pytest.fixture(params=["direct", "python", "rust"])
def stream_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Force ``CUPRUM_STREAM_BACKEND`` to one strategy for the test.

    ``direct`` hands kernel pipes straight to the children; ``python`` and ``rust``
    relay every hop through the parent. ``rust`` is skipped without the extension.
    """
    strategy = str(request.param)
    if strategy == "rust" and not _native_available():
        pytest.skip("stream strategy 'rust' needs the cuprum_native extension (not installed)")
    monkeypatch.setenv("CUPRUM_STREAM_BACKEND", strategy)
    return strategy


@pytest.fixture
def inheritable_fd() -> Iterator[int]:
    """An fd the parent marked inheritable: ``close_fds`` must still keep it from children."""
    read_fd, write_fd = os.pipe()
    os.set_inheritable(read_fd, True)
    os.set_inheritable(write_fd, True)
    try:
        yield read_fd
    finally:
        os.close(read_fd)
        os.close(write_fd)


def _native_available() -> bool:
    try:
        from cuprum._transport.native import is_available
    except ImportError:
        return False
    return is_available()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``native`` tests on a pure install; refuse to run where native is required.

    ``CUPRUM_REQUIRE_NATIVE=1`` (set by the native nox session) turns a missing
    extension into an error, so the native session can never pass by skipping.
    """
    if _native_available():
        return
    if os.environ.get("CUPRUM_REQUIRE_NATIVE") == "1":
        raise pytest.UsageError("CUPRUM_REQUIRE_NATIVE=1 but cuprum._streams_rs is not importable")
    skip = pytest.mark.skip(reason="cuprum_native extension is not installed")
    for item in items:
        if "native" in item.keywords:
            item.add_marker(skip)


def pytest_configure(config: pytest.Config) -> None:
    """Under nox the installed wheel must be what is tested, not the source tree."""
    if os.environ.get("CUPRUM_EXPECT_INSTALLED") == "1":
        import cuprum

        source_tree = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        if os.path.abspath(cuprum.__file__).startswith(os.path.join(source_tree, "cuprum")):
            raise pytest.UsageError(f"testing the source tree, not the wheel: {cuprum.__file__}")
