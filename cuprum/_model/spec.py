"""Old home of ``CommandSpec``; it lives in :mod:`cuprum._core.spec` now."""

from __future__ import annotations

from cuprum._core.spec import CommandSpec

__all__ = ["CommandSpec"]
