"""``ExecutionContext``: per-call execution details (env, cwd, timeouts, sinks, decoding)."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TextIO

from cuprum._model.limits import Limits

__all__ = ["ExecutionContext"]


@dataclass(frozen=True, slots=True)
class ExecutionContext:
    """How to run a command; every field has a sensible default.

    ``env`` is overlaid on ``os.environ`` for the child only (a value may be a
    :class:`~cuprum.Secret`); with ``inherit_env=False`` the child starts from an
    empty environment instead, plus the variables of ``os.environ`` named in
    ``keep_env``. An overlay's ``PATH`` reaches the child but does not choose which
    binary runs (programs are pinned). ``timeout`` is used when the call passes none.
    ``stdout_sink``/``stderr_sink`` receive echoed text (default: the interpreter's
    ``sys.stdout``/``sys.stderr`` at call time).
    ``tags`` are merged into every event's tags.

    Containment (docs/containment.md): ``limits`` bounds each command's
    resources; ``contain`` puts each command's process tree in a cgroup of its
    own, killed as a whole at teardown: ``None`` (default) where cgroups are
    available and the native extension is installed, ``True`` wherever cgroups
    are available (an error naming the reason where not), ``False`` never.
    """

    env: Mapping[str, str] | None = None
    cwd: str | os.PathLike[str] | None = None
    cancel_grace: float = 0.5
    timeout: float | None = None
    stdout_sink: TextIO | None = None
    stderr_sink: TextIO | None = None
    encoding: str = "utf-8"
    errors: str = "replace"
    tags: Mapping[str, object] = field(default_factory=dict)
    inherit_env: bool = True
    keep_env: tuple[str, ...] = ()
    limits: Limits | None = None
    contain: bool | None = None

    def __post_init__(self) -> None:
        # A value that is not a number is refused when a run is built, naming the
        # program (validate.py), as the other fields are.
        grace = self.cancel_grace
        if isinstance(grace, int | float) and grace < 0:
            raise ValueError(f"cancel_grace must be >= 0, got {grace}")
        if self.limits is not None and not isinstance(self.limits, Limits):
            raise TypeError(f"limits must be a cuprum.Limits, not {type(self.limits).__name__}")
        for name in ("stdout_sink", "stderr_sink"):
            _check_sink(name, getattr(self, name))
        if self.contain not in (None, True, False):
            raise TypeError(f"contain must be True, False or None, not {self.contain!r}")


def _check_sink(name: str, sink: object) -> None:
    """A sink takes text: refused when the context is made, not at the first echoed
    write (an ``int``, or a binary file such as ``io.BytesIO``)."""
    if sink is None:
        return
    if not callable(getattr(sink, "write", None)):
        raise TypeError(f"{name} must be a text file (with write()), got {sink!r}")
    if isinstance(sink, io.BufferedIOBase | io.RawIOBase):
        raise TypeError(
            f"{name} must be a text file, got the binary {type(sink).__name__} {sink!r} "
            "(wrap it in io.TextIOWrapper, or pass sys.stdout)"
        )
