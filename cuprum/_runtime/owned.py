"""Making an fd (or any result) so that its owner holds it from the first instant.

CPython runs a Python signal handler where its eval loop checks for one, among
other places as a C call returns, before the result is stored: ``fd = os.open(...)``
loses the fd to a handler that raises there. Here the call that makes a resource
and the store that hands it to its owner are both made from C (``list.extend`` or
``setattr``, driven by ``map``), with no bytecode, so no check, between them.
"""

from __future__ import annotations

import collections
import itertools
import operator
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["closer", "consume", "make_into", "open_into", "store"]

consume: Callable[[Iterable[Any]], None] = collections.deque[Any](maxlen=0).extend
"""Run an iterator to its end, in one C call (``map(os.close, fds)``, say)."""


def closer(fds: list[int]) -> Iterator[None]:
    """What closes every fd in ``fds`` (but those set to -1) when :func:`consume` runs it.

    Made before the first fd exists, it sees those added later; the close is then one
    C call (``consume(close)``), where making the ``map`` there and then would be a
    call of its own, after which a handler could raise before anything is closed.
    """
    return map(os.close, filter((-1).__lt__, fds))


def open_into(owned: list[int], path: str, flags: int) -> int:
    """``os.open(path, flags)``, the fd appended to ``owned`` as it is made; returned too."""
    owned.extend(map(os.open, (path,), (flags,)))
    return owned[-1]


def make_into(owned: list[int], make: Callable[[], tuple[int, ...]]) -> None:
    """``make()`` (``os.pipe``, ``os.openpty``), every fd it returns appended to ``owned``."""
    owned.extend(itertools.chain.from_iterable(map(operator.call, (make,))))


def store(owner: object, name: str, make: Callable[..., Any], *args: object) -> None:
    """``setattr(owner, name, make(*args))``, the result stored as ``make`` returns it."""
    consume(map(setattr, (owner,), (name,), itertools.starmap(make, (args,))))
