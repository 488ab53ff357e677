"""Type stub for the native extension ``cuprum._streams_rs`` (private API).

See ``docs/native.md`` for the semantics.
"""

from typing import Literal

def rust_pump_stream(
    reader_fd: int,
    writer_fd: int,
    *,
    buffer_size: int = 65536,
    tap_fd: int | None = None,
    stop_fd: int | None = None,
    _mode: Literal["auto", "splice", "copy"] = "auto",
) -> int:
    """Move bytes from ``reader_fd`` to ``writer_fd`` until EOF; return the count.

    Releases the GIL; closes none of the descriptors. ``tap_fd`` also receives
    every byte; once ``stop_fd`` is readable the call raises ``InterruptedError``.
    EPIPE on the writer ends the transfer with the count so far; other failures
    raise ``OSError`` with ``errno`` set.
    """
