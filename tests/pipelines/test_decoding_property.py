"""Whatever bytes a run carries and wherever a timeout or a capture limit cuts them,
the run's own error is raised (never ``UnicodeDecodeError``) and what it kept is a
prefix of what was written: as text where it decodes, as bytes where it does not.

The bytes (text with multi-byte characters and raw, often invalid, bytes) are fed
in chunks split at random boundaries to ``cat`` (or ``cat | cat``, on every stream
strategy), whose stdin then stays open, so nothing ends on its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import anyio
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cuprum import CaptureLimitExceeded, ExecutionContext, Pipeline, TimeoutExpired

from .pipeline_support import cat

pytestmark = pytest.mark.anyio

GUARD = 20.0  # bounds a run that a limit should have stopped (a failure, never a hang)


@dataclass(frozen=True)
class Cut:
    """How the run ends: a ``timeout``, or ``capture_limit`` with ``on_limit``."""

    timeout: float
    limit: int | None = None
    on_limit: Literal["truncate", "raise"] = "truncate"


def payloads() -> st.SearchStrategy[bytes]:
    piece = st.one_of(st.text(max_size=6).map(str.encode), st.binary(min_size=1, max_size=3))
    return st.lists(piece, min_size=1, max_size=6).map(b"".join).filter(bool)


@st.composite
def cuts(draw: st.DrawFn, size: int) -> Cut:
    kind = draw(st.sampled_from(["timeout", "raise", "truncate"]))
    if kind == "timeout":  # anywhere: at once, before the output, during, after
        return Cut(timeout=draw(st.floats(0.0, 0.08)))
    limit = draw(st.integers(0, size - 1))  # always inside what is written
    if kind == "raise":
        return Cut(timeout=GUARD, limit=limit, on_limit="raise")
    return Cut(timeout=draw(st.floats(0.02, 0.08)), limit=limit)


async def chunked(payload: bytes, bounds: list[int]) -> AsyncIterator[bytes]:
    """``payload`` in chunks ending at ``bounds``, a moment apart; then stdin stays open."""
    start = 0
    for end in [*bounds, len(payload)]:
        yield payload[start:end]
        start = end
        await anyio.sleep(0.002)  # shapes the chunks; nothing waits on it
    await anyio.sleep_forever()


def assert_a_prefix(kept: str | bytes, payload: bytes, errors: str, cut: Cut, text: bool) -> None:
    """``kept`` is what ``payload`` began with: exactly ``limit`` bytes of it when the
    limit raised, at most that many when it truncated (the timeout may come first)."""
    most = len(payload) if cut.limit is None else cut.limit
    least = most if cut.on_limit == "raise" else 0
    if isinstance(kept, bytes):
        assert not text or errors == "strict", "bytes only where text was not asked or fails"
        assert payload.startswith(kept)
        assert least <= len(kept) <= most
        return
    assert text
    if errors == "replace":
        assert any(payload[:n].decode("utf-8", "replace") == kept for n in range(least, most + 1))
        return
    raw = kept.encode("utf-8", errors)
    assert payload.startswith(raw)
    # strict leaves out a character the limit split (at most 3 bytes of it)
    assert least - (3 if errors == "strict" else 0) <= len(raw) <= most


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    # No target phase: nothing is targeted, and importing its optimiser lazily, deep
    # in an event loop's stack, trips CPython 3.11.7's "AST constructor recursion
    # depth mismatch" when pytest rewrites it.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)
@given(
    payload=payloads(),
    errors=st.sampled_from(["strict", "replace", "surrogateescape"]),
    text=st.booleans(),
    stages=st.integers(1, 2),
    data=st.data(),
)
async def test_a_cut_anywhere_raises_the_runs_error_and_keeps_a_prefix(
    anyio_backend: str,
    stream_backend: str,
    *,
    payload: bytes,
    errors: str,
    text: bool,
    stages: int,
    data: st.DataObject,
) -> None:
    drawn = data.draw(st.sets(st.integers(0, len(payload)), max_size=5))
    bounds = sorted(b for b in drawn if 0 < b < len(payload))
    cut = data.draw(cuts(len(payload)))
    pipeline = Pipeline(tuple(cat() for _ in range(stages)))
    try:
        with anyio.fail_after(GUARD * 2):
            await pipeline.run(
                stdin=chunked(payload, bounds),
                context=ExecutionContext(errors=errors),
                text=text,
                timeout=cut.timeout,
                capture_limit=cut.limit,
                on_limit=cut.on_limit,
            )
    except TimeoutExpired as exc:
        assert cut.on_limit != "raise"
        kept = exc.output
    except CaptureLimitExceeded as exc:
        assert cut.on_limit == "raise"
        kept = exc.captured
    except UnicodeDecodeError as exc:  # pragma: no cover - the defect this guards against
        pytest.fail(f"UnicodeDecodeError escaped: {exc}")
    else:  # pragma: no cover
        pytest.fail("the run ended on its own: its stdin never closes")
    assert kept is not None
    assert_a_prefix(kept, payload, errors, cut, text)
