"""Putting the secret preamble in front of a run's stdin (``RemoteCmd.secret_env``).

The wrapper reads ``NAME=<octal>`` lines up to an empty line, then ``exec``s the
program on what follows, so the program's input is exactly what the caller passed.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from cuprum._core.errors import InvalidArgumentError
from cuprum._model.io import Stream

__all__ = ["with_preamble"]


async def _chained(preamble: bytes, rest: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    yield preamble
    async for chunk in rest:
        yield chunk


def with_preamble(program: str, preamble: bytes, stdin: object) -> object:
    """``stdin`` with ``preamble`` first; file and fd sources cannot be prefixed."""
    if stdin is None or stdin is Stream.DEVNULL:
        return preamble
    if isinstance(stdin, bytes):
        return preamble + stdin
    if isinstance(stdin, str):
        return preamble + stdin.encode("utf-8")
    if isinstance(stdin, AsyncIterable):
        return _chained(preamble, stdin)
    raise InvalidArgumentError(
        f"{program}: with secret_env, stdin must be bytes, str, an async iterable of "
        f"bytes or none, not {type(stdin).__name__}"
    )
