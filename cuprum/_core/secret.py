"""``Secret``: a value only the child sees; every text cuprum shows holds ``***`` instead.

A ``Secret`` is a ``str`` whose text *is* the redaction (``"***"``, or
``"--token=***"`` for a flag built from one) and which carries the real value
aside. So an argv, an env overlay or a stdin value holding one stays a plain
sequence of strings for every consumer (events, logs, spans, ``repr``, JSON, pickle),
and each consumer shows the redaction without knowing about secrets; only the
places that hand a value to a child (:func:`reveal`) use the real one. Forgetting
to reveal fails closed: the child gets ``***``, nothing leaks.

Text cuprum reports that may quote a run's secrets (output line events, error
messages, a result's ``repr``) is scrubbed with :func:`redact`, given the secrets of
that run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

__all__ = [
    "REDACTED",
    "Secret",
    "redact",
    "redact_value",
    "redactor",
    "reveal",
    "secrets_in",
    "shown_argv",
    "shown_env",
]

REDACTED = "***"
"""What a secret's value is replaced with wherever cuprum shows it."""

V = TypeVar("V", str, bytes)


class _Hidden:
    """Holds the real value; its ``repr`` does not show it (``vars(secret)`` stays safe)."""

    __slots__ = ("parts", "value")

    def __init__(self, value: str | bytes, parts: tuple[str, ...]) -> None:
        self.value = value
        self.parts = parts  # the secret values to scrub from text (no prefixes)

    def __repr__(self) -> str:
        return "<hidden>"


class Secret(str, Generic[V]):
    """A value passed to a program that cuprum never shows: ``Secret(token)``.

    Use it as a positional argument, a keyword-flag value (``--token=***``), an
    ``ExecutionContext.env`` value or ``stdin``. Its text, ``str()``, ``repr()``,
    JSON and pickled form are the redaction; :meth:`reveal` returns the value.
    ``"--token=" + secret`` is a ``Secret`` too (``--token=***``). Two secrets are
    equal when their values are; a secret never equals a plain string.

    A ``bytes`` value is for ``stdin`` (and works as an argument or env value too).
    Arguments are visible to other local users in ``/proc/PID/cmdline``; prefer env
    or stdin (see ``docs/security.md``).
    """

    __slots__ = ("_hidden",)
    _hidden: _Hidden

    def __new__(cls, value: V) -> Secret[V]:
        if not isinstance(value, str | bytes):
            raise TypeError(f"Secret takes a str or bytes value, got {type(value).__name__}")
        return _make(REDACTED, value, _parts_of(value))

    def reveal(self) -> V:
        """The real value, for the code that hands it to a child (and nobody else)."""
        return self._hidden.value  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"Secret({str.__repr__(self)})"

    def __add__(self, other: str) -> Secret[Any]:
        return _concat(self, other)

    def __radd__(self, other: str) -> Secret[Any]:
        return _concat(other, self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return False
        import hmac  # imported on first comparison: not a cost of `import cuprum`

        mine, theirs = _as_bytes(self.reveal()), _as_bytes(other.reveal())
        return str.__eq__(self, other) and hmac.compare_digest(mine, theirs)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        """The redacted text's hash: equal secrets have equal text."""
        return str.__hash__(self)

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return (str, (str(self),))  # pickled, a secret is its redaction

    def __copy__(self) -> Secret[V]:
        return self

    def __deepcopy__(self, memo: object) -> Secret[V]:
        return self


def _make(text: str, value: str | bytes, parts: tuple[str, ...]) -> Secret[Any]:
    secret = str.__new__(Secret, text)
    secret._hidden = _Hidden(value, parts)
    return secret


def _parts_of(value: str | bytes) -> tuple[str, ...]:
    """The texts to scrub: the value; a ``bytes`` value as output decoding shows it
    (UTF-8 with ``replace``, or ``surrogateescape``)."""
    if not value:
        return ()
    if isinstance(value, str):
        return (value,)
    shown = {value.decode("utf-8", "replace"), value.decode("utf-8", "surrogateescape")}
    return tuple(sorted(shown))


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def _concat(left: str, right: str) -> Secret[Any]:
    """``left + right`` where one or both are secrets: a secret of the whole."""
    values: list[str] = []
    parts: list[str] = []
    texts: list[str] = []
    for piece in (left, right):
        if not isinstance(piece, str):
            return NotImplemented
        if isinstance(piece, Secret):
            value = piece.reveal()
            if not isinstance(value, str):
                raise TypeError("a bytes Secret cannot be joined to text")
            values.append(value)
            parts += piece._hidden.parts
        else:
            values.append(str(piece))
        texts.append(str(piece))
    return _make("".join(texts), "".join(values), tuple(parts))


def reveal(value: str) -> str | bytes:
    """The real value of a secret, or ``value`` itself."""
    return value._hidden.value if type(value) is Secret else value


def shown_argv(argv: tuple[str, ...]) -> tuple[str, ...]:
    """``argv`` as plain strings, secrets redacted (the same tuple when it holds none)."""
    for arg in argv:
        if type(arg) is not str:
            return tuple(str(a) for a in argv)
    return argv


def secrets_in(values: Iterable[object]) -> list[Secret[Any]]:
    """The secrets among ``values``."""
    return [value for value in values if type(value) is Secret]


def shown_env(env: Mapping[str, str] | None) -> dict[str, str] | None:
    """An env overlay as plain strings, secret values redacted; ``None`` if empty."""
    return {str(k): str(v) for k, v in env.items()} if env else None


def redactor(secrets: Iterable[Secret[Any]]) -> Callable[[str], str] | None:
    """A function that replaces each of these secrets' values in a text by ``***``, or
    ``None`` when there are none (so a run without secrets pays nothing per line).

    Longer values are replaced first, so no part of one is left behind. A value with
    a newline is matched line by line too (see :func:`_parts`); those holding one
    are tried only on a text that has one, so a line costs what it did.
    """
    found = {form for secret in secrets for part in _parts(secret) for form in _shown(part)}
    if not found:
        return None
    values = tuple(sorted(found, key=len, reverse=True))
    single = tuple(value for value in values if "\n" not in value)

    def scrub(text: str) -> str:
        for value in single:
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    if len(single) == len(values):
        return scrub
    # Those with a newline first: one may hold a single-line one, never the reverse.
    multi = tuple(value for value in values if "\n" in value) + single

    def scrub_text(text: str) -> str:
        if "\n" not in text:
            return scrub(text)
        for value in multi:
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    return scrub_text


def redact(text: str, secrets: Iterable[Secret[Any]]) -> str:
    """``text`` with the value of each of ``secrets`` replaced by ``***``."""
    scrub = redactor(secrets)
    return text if scrub is None else scrub(text)


def redact_value(value: object, secrets: Iterable[Secret[Any]]) -> Any:
    """``value`` with each secret's value as ``***`` when it is text or ``bytes`` (a
    secret's text UTF-8 encoded, as output decoding shows it); anything else as it is."""
    if isinstance(value, str):
        return redact(value, secrets)
    if not isinstance(value, bytes):
        return value
    found = {_encoded(part) for secret in secrets for part in _parts(secret)}
    for part in sorted(found, key=len, reverse=True):
        value = value.replace(part, REDACTED.encode())
    return value


def _encoded(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")  # a bytes value's exact bytes
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _shown(part: str) -> set[str]:
    """``part`` and how a ``repr()`` shows it, inside a quoted ``str`` or ``bytes`` of
    either quote (``\\n`` for a newline, ``\\xe4``...): a result's or an error's
    ``repr()`` is redacted as text, and must not show the value escaped."""
    forms = {part}
    if part.isascii() and part.isprintable() and "\\" not in part and "'" not in part:
        return forms  # (the common case: every repr shows it as it is)
    forms.add(repr(part + "'\"")[1:-4])  # single-quoted: both quotes in it
    if '"' not in part:
        forms.add(repr(part + "'")[1:-2])  # double-quoted: a ' but no " in it
    raw = _encoded(part)
    forms.add(repr(raw + b"'\"")[2:-4])
    if b'"' not in raw:
        forms.add(repr(raw + b"'")[2:-2])
    return forms


def _parts(secret: Secret[Any]) -> tuple[str, ...]:
    """The texts to scrub for ``secret``: its values and, for one with a newline, each
    of its lines and the value without its trailing newline.

    Output is split into lines before it is scrubbed, so a value ending in a newline
    (``Secret(path.read_text())``) or holding several (a PEM key) would never be
    found whole in a line. A line's ``\\r`` before the newline is dropped (a
    terminal's line events drop it too); a blank line hides nothing and is not matched.
    """
    hidden = getattr(secret, "_hidden", None)  # an unpickled secret is a plain "***"
    if not isinstance(hidden, _Hidden):
        return ()
    return tuple(piece for part in hidden.parts for piece in _pieces(part))


def _pieces(part: str) -> tuple[str, ...]:
    if "\n" not in part:
        return (part,)
    lines = (line.removesuffix("\r") for line in part.split("\n"))
    pieces = {piece for piece in (part.rstrip("\r\n"), *lines) if piece.strip()}
    return tuple(pieces) if pieces else (part,)
