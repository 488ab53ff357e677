"""The remote command line: an argv that arrives exactly as built, whatever the login shell.

sshd hands the command to the user's login shell (``$SHELL -c LINE``), and sh, bash,
fish and tcsh each split and expand words differently. So nothing the caller built
is ever shell syntax: the line is one fixed ``exec /usr/bin/env CUPRUM_RUN=<token>
/bin/sh -c '<wrapper>' cuprum`` (the token is hex: teardown finds the run by it from
the login shell's command line on) followed by words of ``[A-Za-z0-9_./:=@+,-]``
only, which every shell passes through unchanged. Each word is ``r<text>`` (the
text is already in that set) or ``x<octal digits>`` (three per byte, UTF-8), and
the wrapper, a POSIX sh script with no backslash pair, no single quote and no
newline, decodes them with ``printf``.

The wrapper then pins ``PATH``, marks the run with ``CUPRUM_RUN=<token>`` in the
environment (so teardown can find every process of the run), applies the remote cwd
and env, and runs the program as its child (no ``exec``): the shell then always ends
with an exit status, 128+N for a program killed by signal N, so a session that ends
without one is ssh's own failure (a lost connection), never the program's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = ["WRAPPER", "decode_word", "encode_word", "remote_line", "secret_preamble"]

_SAFE = re.compile(r"[A-Za-z0-9_./:=@+,-]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN = re.compile(r"[0-9a-f]{16,64}")

# Read by /bin/sh after the login shell passed it through single quotes untouched:
# no "'" and no backslash pair (fish would fold it), no "!" (csh history), one line.
# b holds one backslash ("\z" is two characters in sh and in fish; strip the z).
WRAPPER = "; ".join(
    (
        'b="\\z"',
        "b=${b%z}",
        'd() { f=; x=$1; while [ -n "$x" ]; do r=${x#???}; f="$f$b${x%"$r"}"; x=$r; done;'
        ' printf "${f}x"; }',
        "n=$#",
        "while [ $n -gt 0 ]; do a=$1; shift; case $a in"
        ' r*) set -- "$@" "${a#r}";;'
        ' *) v=$(d "${a#x}"); set -- "$@" "${v%x}";; esac; n=$((n-1)); done',
        "CUPRUM_RUN=$1; PATH=$2; export CUPRUM_RUN PATH; c=$3; e=$4; shift 4",
        'while [ $e -gt 0 ]; do export "$1=$2"; shift 2; e=$((e-1)); done',
        "s=$1; shift",
        '[ "$s" = 0 ] || while IFS= read -r l; do [ -n "$l" ] || break;'
        ' v=$(d "${l#*=}"); export "${l%%=*}=${v%x}"; done',
        '[ -z "$c" ] || cd "$c" || exit 126',
        '"$@"',
        "exit $?",
    )
)
assert "'" not in WRAPPER and "\\\\" not in WRAPPER and "\n" not in WRAPPER


def encode_word(text: str) -> str:
    """One argument as a shell-neutral word (``r``: as is; ``x``: octal bytes)."""
    if _SAFE.fullmatch(text):
        return "r" + text
    return "x" + _octal(text)


def decode_word(word: str) -> str:
    """The inverse of :func:`encode_word` (what the wrapper does remotely)."""
    if word.startswith("r"):
        return word[1:]
    digits = word[1:]
    data = bytes(int(digits[i : i + 3], 8) for i in range(0, len(digits), 3))
    return data.decode("utf-8", "surrogateescape")


def check_env(program: str, env: Mapping[str, str]) -> None:
    """Remote env names must be plain identifiers; values any text without NUL."""
    from cuprum._core.errors import InvalidArgumentError

    for name, value in env.items():
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            raise InvalidArgumentError(f"{program}: remote env name {name!r} is not an identifier")
        if not isinstance(value, str) or "\x00" in value:
            raise InvalidArgumentError(f"{program}: remote env {name} must be str without NUL")


def remote_line(
    argv: Iterable[str],
    *,
    token: str,
    path: str,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    secret_stdin: bool = False,
) -> str:
    """The single command line ssh sends: the wrapper, then every word encoded.

    ``secret_stdin``: the wrapper first reads ``NAME=<octal>`` lines from stdin up to
    an empty line (:func:`secret_preamble`) and exports them, so those values never
    appear on any command line.
    """
    pairs = [part for item in (env or {}).items() for part in item]
    flag = "1" if secret_stdin else "0"
    words = [token, path, cwd or "", str(len(pairs) // 2), *pairs, flag, *argv]
    if not _TOKEN.fullmatch(token):
        raise ValueError(f"run token {token!r} must be lowercase hex")
    head = f"exec /usr/bin/env CUPRUM_RUN={token} /bin/sh -c '{WRAPPER}' cuprum "
    return head + " ".join(encode_word(w) for w in words)


def secret_preamble(env: Mapping[str, str | bytes]) -> bytes:
    """The stdin lines the wrapper reads before the program's own input starts
    (the real values: the caller reveals its secrets)."""
    lines = (f"{name}={_octal(value)}\n" for name, value in env.items())
    return "".join(lines).encode("ascii") + b"\n"


def _octal(text: str | bytes) -> str:
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
    return "".join(f"{byte:03o}" for byte in data)
