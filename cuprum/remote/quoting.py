"""The remote command line: an argv that arrives exactly as built, whatever the login shell.

sshd hands the command to the user's login shell (``$SHELL -c LINE``), and sh, bash,
fish and tcsh each split and expand words differently. So nothing the caller built
is ever shell syntax: the line is one fixed ``exec /usr/bin/env CUPRUM_RUN=<token>
/bin/sh -c '<wrapper>' cuprum`` (the token is hex: teardown finds the run by it from
the login shell's command line on) followed by words of ``[A-Za-z0-9_./:=@+,-]``
only, which every shell passes through unchanged. Each word is ``r<text>`` (the
text is already in that set) or ``x<octal,octal,...>`` (a number per byte, UTF-8), and
the wrapper, a POSIX sh script with no backslash pair, no single quote and no
newline, decodes them with ``printf``.

The wrapper then pins ``PATH``, finds the program as an executable file of that path
(never a builtin of ``/bin/sh``, never through an env ``PATH``), marks the run with
``CUPRUM_RUN=<token>`` in the environment (so teardown can find every process of the
run), applies the remote cwd and env, and runs the program by its full path as its
child (a subshell that execs it; the wrapper itself does not ``exec``): the shell
then always ends with an exit status, 128+N for a program killed by signal N, so a
session that ends without one is ssh's own failure (a lost connection), never the
program's. The shell's own report of such a death ("Killed") goes to /dev/null,
never to the program's stderr. Its own shell variables are all
``_cuprum_*`` (:data:`RESERVED`), so no env name can steer it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = [
    "MAX_LINE",
    "RESERVED",
    "SHELL_OWN",
    "WRAPPER",
    "check_env",
    "check_line",
    "check_loader_env",
    "decode_word",
    "encode_word",
    "remote_line",
    "secret_preamble",
]

_SAFE = re.compile(r"[A-Za-z0-9_./:=@+,-]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN = re.compile(r"[0-9a-f]{16,64}")
#: Names the wrapper keeps for itself: an env= of one of them would steer the wrapper
#: (its loop counters, the program it runs) or hide the run from teardown.
RESERVED = re.compile(r"CUPRUM_RUN|_cuprum_.*")
#: Names the remote /bin/sh (dash or bash) sets, resets or refuses itself: exported by
#: the wrapper they would not reach the program as given (``PWD`` is the cwd's,
#: bash's ``UID`` is read-only) or would stop the wrapper (dash: ``OPTIND=x``).
SHELL_OWN = frozenset({
    "OPTIND", "OPTARG", "PPID", "PWD", "OLDPWD", "LINENO", "UID", "EUID", "SHELLOPTS",
    "BASHOPTS", "BASHPID", "RANDOM", "SRANDOM", "SECONDS", "GROUPS", "FUNCNAME", "HISTCMD",
    "EPOCHSECONDS", "EPOCHREALTIME", "BASH_COMMAND",
})  # fmt: skip

# Read by /bin/sh after the login shell passed it through single quotes untouched:
# no "'" and no backslash pair (fish would fold it), no "!" (csh history), one line.
# b holds one backslash ("\z" is two characters in sh and in fish; strip the z).
WRAPPER = "; ".join(
    (
        '_cuprum_b="\\z"',
        "_cuprum_b=${_cuprum_b%z}",
        # d decodes "303,251" in time linear in its length: printf reuses its format
        # for each comma-split number ("\\%s": a backslash before each), then reads
        # the octal escapes of that.
        '_cuprum_d() { _cuprum_f=$(IFS=,; printf "$_cuprum_b$_cuprum_b%s" $1);'
        ' printf "${_cuprum_f}x"; }',
        # The argv is set once, from a list of references: "${N#r}" for a word sent as
        # it is, "${_cuprum_N}" for one decoded into that variable. Linear in the
        # number of words (adding each to "$@" copied all the others: 20,000 words
        # took half a minute), and one variable per decoded word only (dash's
        # variable table slows down with thousands of them).
        "_cuprum_k=0",
        "for _cuprum_a do _cuprum_k=$((_cuprum_k+1)); case $_cuprum_a in"
        ' x*) _cuprum_v=$(_cuprum_d "${_cuprum_a#x}"); eval "_cuprum_$_cuprum_k=\\${_cuprum_v%x}";;'
        " esac; done",
        "_cuprum_r=$(_cuprum_k=0; for _cuprum_a do _cuprum_k=$((_cuprum_k+1)); case $_cuprum_a in"
        ' r*) printf " \\"\\${%d#r}\\"" "$_cuprum_k";;'
        ' *) printf " \\"\\${_cuprum_%d}\\"" "$_cuprum_k";; esac; done)',
        'eval "set -- $_cuprum_r"',
        "CUPRUM_RUN=$1; PATH=$2; export CUPRUM_RUN PATH; _cuprum_c=$3; _cuprum_p=$4; _cuprum_n=$4;"
        " _cuprum_e=$5; shift 5",
        # The program is a file of the pinned PATH, found before any env= is exported
        # (never a builtin or function of /bin/sh, never through the caller's own PATH).
        "case $_cuprum_p in */*) ;; *) _cuprum_w=; IFS=:; for _cuprum_i in $PATH; do"
        ' if [ -f "$_cuprum_i/$_cuprum_p" ] && [ -x "$_cuprum_i/$_cuprum_p" ]; then'
        " _cuprum_w=$_cuprum_i/$_cuprum_p; break; fi; done; unset IFS;"
        ' [ -n "$_cuprum_w" ] || { printf "cuprum: %s: not found in PATH$_cuprum_b"n'
        ' "$_cuprum_p" >&2; exit 127; }; _cuprum_p=$_cuprum_w;; esac',
        'while [ "$_cuprum_e" -gt 0 ]; do export "$1=$2"; shift 2;'
        " _cuprum_e=$((_cuprum_e-1)); done",
        "_cuprum_s=$1; shift",
        '[ "$_cuprum_s" = 0 ] || while IFS= read -r _cuprum_l; do [ -n "$_cuprum_l" ] || break;'
        ' _cuprum_v=$(_cuprum_d "${_cuprum_l#*=}"); export "${_cuprum_l%%=*}=${_cuprum_v%x}"; done',
        # A cwd that cannot be entered: 126 and one message, whatever /bin/sh is
        # (dash and bash word cd's own differently, with the script's line number).
        '[ -z "$_cuprum_c" ] || cd "$_cuprum_c" 2>/dev/null || { printf'
        ' "cuprum: %s: cwd %s: cannot change to this directory$_cuprum_b"n'
        ' "$_cuprum_n" "$_cuprum_c" >&2; exit 126; }',
        # From here the shell's own stderr is /dev/null: dash and bash report a child
        # killed by a signal there ("Killed"), which is no text the program wrote. The
        # program gets the real stderr back (fd 9) in a subshell that execs it.
        "exec 9>&2 2>/dev/null",
        '( exec 2>&9 9>&-; exec "$_cuprum_p" "$@" )',
        'exit "$?"',
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
    data = bytes(int(number, 8) for number in word[1:].split(","))
    return data.decode("utf-8", "surrogateescape")


def check_env(program: str, env: Mapping[str, str]) -> None:
    """Remote env names must be plain identifiers; values any text without NUL."""
    from cuprum._core.errors import InvalidArgumentError

    for name, value in env.items():
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            raise InvalidArgumentError(f"{program}: remote env name {name!r} is not an identifier")
        if RESERVED.fullmatch(name):
            raise InvalidArgumentError(
                f"{program}: remote env name {name!r} is reserved for cuprum's remote wrapper"
            )
        if name in SHELL_OWN:
            raise InvalidArgumentError(
                f"{program}: remote env name {name!r} is one the remote shell sets itself "
                "(it would not reach the program as given)"
            )
        if not isinstance(value, str) or "\x00" in value:
            raise InvalidArgumentError(f"{program}: remote env {name} must be str without NUL")


def check_loader_env(program: str, host: str, names: Iterable[str], allowed: bool) -> None:
    """Loader variables (``LD_*``, ``GCONV_PATH``, ...) are refused in a remote env as
    in ``ExecutionContext.env``, unless the scope allows them (``allow_loader_env``)."""
    from cuprum._core.context import is_loader_variable
    from cuprum._core.errors import InvalidArgumentError

    if allowed:
        return
    for name in names:
        if is_loader_variable(name):
            raise InvalidArgumentError(
                f"{program}: remote env on {host} sets {name}, a loader variable (it can "
                "run code of its choosing inside the program); refused unless the scope "
                "allows it: scoped(ScopeConfig(allow_loader_env=True))"
            )


#: The longest remote line: ssh sends it as one argument, and Linux refuses an
#: argument of 128 KiB or more (``MAX_ARG_STRLEN``, with its NUL), locally for ssh
#: and remotely for the login shell's ``-c``.
MAX_LINE = 128 * 1024 - 1


def check_line(program: str, host: str, line: str) -> None:
    """Refuse a remote line over :data:`MAX_LINE` with what a local ``E2BIG`` is (a
    ``SpawnError``), naming the program and the host rather than the local ssh."""
    if len(line) <= MAX_LINE:
        return
    import errno

    from cuprum._core.errors import SpawnError

    raise SpawnError(
        errno.E2BIG,
        f"{program}: the remote command line for {host} is {len(line)} bytes once encoded, "
        f"over the {MAX_LINE} bytes ssh can send as one argument (each byte outside "
        "[A-Za-z0-9_./:=@+,-] takes up to 4; see docs/remote.md)",
    )


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
    program, *args = argv
    words = [token, path, cwd or "", program, str(len(pairs) // 2), *pairs, flag, *args]
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
    return ",".join(f"{byte:o}" for byte in data)
