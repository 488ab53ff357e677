"""The pytest plugin (entry point ``pytest11``): the ``cuprum_fake`` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cuprum.testing._fake import FakePrograms, UnexpectedCommandError

__all__ = ["cuprum_fake"]


@pytest.fixture
def cuprum_fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakePrograms]:
    """Fake programs for this test: register expectations with ``cuprum_fake.expect(...)``.

    Every command cuprum spawns during the test must match one; at teardown
    the test fails if any did not (even if the code under test caught the error).
    Call ``cuprum_fake.assert_all_used()`` to check that every expectation ran.
    """
    fake = FakePrograms(tmp_path_factory.mktemp("cuprum_fake"))
    with fake:
        yield fake
    message = None
    try:
        fake.verify()
    except UnexpectedCommandError as exc:
        message = str(exc)
    if message is not None:
        pytest.fail(message, pytrace=False)
