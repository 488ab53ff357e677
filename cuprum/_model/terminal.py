"""``Terminal``: the pseudo-terminal a run gets with ``tty=True`` (or ``tty=Terminal(...)``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Terminal"]


@dataclass(frozen=True, slots=True)
class Terminal:
    """How the child's terminal is set up; ``tty=True`` means ``Terminal()``.

    ``rows``/``cols``: the window size the program sees (``stty size``), changeable
    while it runs with ``handle.resize()``. ``term``: when given, the child's
    ``TERM`` (otherwise it inherits yours, or the env overlay's). ``echo_input``:
    whether the terminal echoes what is sent to it (a real terminal does; programs
    that read passwords turn it off themselves). Values are checked when a run is
    built, and a bad one raises ``InvalidArgumentError`` naming the program.
    """

    rows: int = 24
    cols: int = 80
    term: str | None = None
    echo_input: bool = True
