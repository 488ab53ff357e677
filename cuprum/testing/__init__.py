"""Testing code that runs programs through cuprum, without the real programs.

``cuprum.testing`` is a pytest plugin (registered through the ``pytest11``
entry point, so installing cuprum is enough) with one fixture, ``cuprum_fake``:
a :class:`FakePrograms` on which a test registers argv patterns and canned
outcomes. Matching commands run a small stand-in process that replays the
outcome, so events, timeouts, pipelines and ``run_concurrent`` behave as with
the real program. See ``docs/testing.md``.
"""

from __future__ import annotations

from cuprum.testing._fake import (
    Call,
    Expectation,
    FakePrograms,
    Outcome,
    OutcomeSource,
    Pattern,
    Prefix,
    UnexpectedCommandError,
)

__all__ = [
    "Call",
    "Expectation",
    "FakePrograms",
    "Outcome",
    "OutcomeSource",
    "Pattern",
    "Prefix",
    "UnexpectedCommandError",
]
