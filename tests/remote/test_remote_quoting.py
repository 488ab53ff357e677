"""The remote argv arrives exactly as built, whatever the remote user's login shell."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuprum import InvalidArgumentError
from cuprum.remote import SshHost
from cuprum.remote.quoting import SHELL_OWN, WRAPPER, decode_word, encode_word, remote_line

from .remote_support import printf

# Any text an argv may hold: no NUL; surrogates excluded (not valid UTF-8 on the wire).
ARG = st.text(st.characters(codec="utf-8", blacklist_characters="\x00"))
NASTY = [
    "",
    "a b",
    "'\"",
    "\\",
    "\\\\n",
    "$HOME",
    "`id`",
    "$(id)",
    "*",
    "-n",
    "--",
    "é ü 日本",
    "line\nnext\n",
    "%s",
    "!x",
    "~",
    "{a,b}",
    "\t",
    "\\101",
    ";exit 1",
    "-oProxyCommand=touch /tmp/x",
]


@given(ARG)
def test_words_round_trip_and_use_only_neutral_characters(text: str) -> None:
    word = encode_word(text)
    assert decode_word(word) == text
    assert all(c.isascii() and (c.isalnum() or c in "_./:=@+,-") for c in word)


def test_the_wrapper_is_one_line_without_single_quotes_or_backslash_pairs() -> None:
    assert "'" not in WRAPPER and "\\\\" not in WRAPPER and "\n" not in WRAPPER


@pytest.mark.parametrize("shell", ["/bin/sh", "/bin/bash", "/usr/bin/fish"])
def test_every_login_shell_passes_the_line_through(shell: str) -> None:
    if not os.path.exists(shell):
        pytest.skip(f"{shell} is not installed")
    line = remote_line(["printf", "%s\\0", *NASTY], token="0123456789abcdef", path="/usr/bin:/bin")
    out = subprocess.run([shell, "-c", line], capture_output=True, check=True)
    assert out.stdout.decode().split("\0")[:-1] == NASTY


async def _round_trip(host: SshHost, args: list[str]) -> list[str]:
    result = await host(printf("%s\\0", "first", *args)).run(text=False)
    assert result.exit_code == 0, result.stderr
    assert isinstance(result.stdout, bytes)
    return result.stdout.decode("utf-8").split("\0")[1:-1]


@pytest.mark.anyio
async def test_nasty_arguments_arrive_intact_through_sshd(shell_host: SshHost) -> None:
    assert await _round_trip(shell_host, NASTY) == NASTY


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(args=st.lists(ARG, max_size=6))
def test_hypothesis_round_trips_through_sshd(shell_host: SshHost, args: list[str]) -> None:
    assert anyio.run(_round_trip, shell_host, args) == args


def _local(
    argv: list[str], shell: str = "/bin/sh", **kw: object
) -> subprocess.CompletedProcess[bytes]:
    """The remote line run by a login shell here (what sshd does), for the wrapper's rules."""
    line = remote_line(argv, token="0123456789abcdef", path="/usr/bin:/bin", **kw)  # type: ignore[arg-type]
    return subprocess.run([shell, "-c", line], capture_output=True, check=False)


@pytest.mark.parametrize("shell", ["/bin/sh", "/bin/bash"])
def test_long_encoded_arguments_and_env_values_decode_in_linear_time(shell: str) -> None:
    # The decoder used to copy the rest of the word for every byte: 5 KB of spaces
    # took over 20 s, 30 KB several minutes. Now 12 KB of them take milliseconds;
    # the timeout is a guard against the old behaviour, not a measurement.
    big = " é\n%$" * 1_700  # 12 KB: the line stays within one argument's 128 KiB
    env = {"BIG": big}
    line = remote_line(
        ["sh", "-c", 'printf "%s|%s" "$1" "$BIG"', "sh", big],
        token="0123456789abcdef",
        path="/usr/bin:/bin",
        env=env,
    )
    out = subprocess.run([shell, "-c", line], capture_output=True, check=True, timeout=60)
    assert out.stdout.decode() == f"{big}|{big}"


@pytest.mark.parametrize("shell", ["/bin/sh", "/bin/bash", "/usr/bin/fish"])
def test_many_words_decode_in_linear_time(shell: str) -> None:
    # The wrapper used to add each decoded word to "$@", copying all the others:
    # 20,000 one-letter arguments took half a minute, 32,000 well over a minute (a
    # local printf takes a millisecond). Now they take a fraction of a second; the
    # timeout guards against the old behaviour, it is not a measurement.
    if not os.path.exists(shell):
        pytest.skip(f"{shell} is not installed")
    words = ["é" if i % 40 == 0 else ("a", "-n", "")[i % 3] for i in range(32_000)]
    line = remote_line(
        ["printf", "%s\\0", *words],
        token="0123456789abcdef",
        path="/usr/bin:/bin",
        env={"A": "x y", "B": "-n"},
    )
    out = subprocess.run([shell, "-c", line], capture_output=True, check=True, timeout=60)
    assert out.stdout.decode().split("\0")[:-1] == words


@pytest.mark.anyio
async def test_many_arguments_arrive_intact_through_sshd(host: SshHost) -> None:
    words = [str(i % 10) if i % 100 else f"-{i} x" for i in range(28_000)]
    with anyio.fail_after(30):  # 28,000 words used to take over a minute to decode
        assert await _round_trip(host, words) == words


def test_the_program_is_a_file_of_the_pinned_path_never_a_builtin() -> None:
    # dash's builtin echo reads escapes and no options; coreutils' echo reads -e.
    out = _local(["echo", "-e", "a\\tb"])
    assert out.stdout == b"a\tb\n"


def test_an_env_path_does_not_choose_the_program(tmp_path: Path) -> None:
    fake = tmp_path / "printf"
    fake.write_text("#!/bin/sh\necho hijacked\n")
    fake.chmod(0o755)
    out = _local(["printf", "%s", "real"], env={"PATH": str(tmp_path)})
    assert out.stdout == b"real"


def test_a_program_missing_from_the_path_exits_127_naming_it() -> None:
    out = _local(["no-such-program-cuprum"])
    assert out.returncode == 127
    assert out.stderr == b"cuprum: no-such-program-cuprum: not found in PATH\n"


@settings(max_examples=40, deadline=None)
@given(
    args=st.lists(ARG, max_size=12),
    # A prefix of their own: names such as PWD or OPTIND are the shell's (refused).
    env=st.dictionaries(st.from_regex(r"T_[A-Z0-9_]{0,6}", fullmatch=True), ARG, max_size=4),
)
def test_hypothesis_argv_and_env_round_trip_through_the_wrapper(
    args: list[str], env: dict[str, str]
) -> None:
    # The decoded words are read back by position (env pairs, the secret flag, the
    # argv): every mix of plain and encoded words must land in its own place.
    shown = " ".join(f'"${{{name}}}"' for name in env)
    script = f'printf "%s\\0" - "$@" - {shown}'
    out = _local(["sh", "-c", script, "sh", *args], env=env, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode().split("\0")[:-1] == ["-", *args, "-", *env.values()]


@pytest.mark.parametrize("shell", ["/bin/sh", "/bin/bash"])
@pytest.mark.parametrize("cwd", ["/no/such/dir-cuprum", "/etc/passwd"])
def test_a_cwd_that_cannot_be_entered_exits_126_with_one_message(shell: str, cwd: str) -> None:
    # It used to be cd's own words, which differ per /bin/sh and carry the wrapper's
    # line number ("cuprum: 1: cd: can't cd to ..." from dash).
    out = _local(["printf", "never"], shell=shell, cwd=cwd)
    assert (out.returncode, out.stdout) == (126, b"")
    assert out.stderr == f"cuprum: printf: cwd {cwd}: cannot change to this directory\n".encode()


@pytest.mark.parametrize("name", ["e", "n", "s", "c", "a", "IFS", "x", "b", "d", "l"])
def test_env_names_never_steer_the_wrapper(name: str) -> None:
    env = {name: "0", "ZZ": "1"}
    out = _local(["printf", "%s|", "a", "b"], env=env)
    assert (out.returncode, out.stdout) == (0, b"a|b|")
    shown = _local(["/usr/bin/env"], env=env)
    assert f"{name}=0\n".encode() in shown.stdout


@pytest.mark.parametrize("name", ["CUPRUM_RUN", "_cuprum_e", "_cuprum_p", "_cuprum_"])
def test_the_wrappers_own_names_are_refused_in_env_and_secret_env(name: str) -> None:
    host = SshHost("127.0.0.1")
    with pytest.raises(InvalidArgumentError, match=name):
        host.cmd(printf("x"), env={name: "1"})
    with pytest.raises(InvalidArgumentError, match=name):
        host.cmd(printf("x"), secret_env={name: "1"})


@pytest.mark.parametrize("name", sorted(SHELL_OWN))
def test_names_the_remote_shell_sets_itself_are_refused(name: str) -> None:
    # Exported by the wrapper they did not reach the program as given (PWD was the
    # cwd's, bash's UID read-only) or stopped the wrapper (dash: "Illegal number").
    host = SshHost("127.0.0.1")
    refused = f"printf: remote env name '{name}' is one the remote shell sets itself"
    with pytest.raises(InvalidArgumentError, match=refused):
        host.cmd(printf("x"), env={name: "val"})
    with pytest.raises(InvalidArgumentError, match=refused):
        host.cmd(printf("x"), secret_env={name: "val"})


@pytest.mark.parametrize("shell", ["/bin/sh", "/bin/bash"])
def test_other_names_reach_the_program_as_given(shell: str) -> None:
    # Names next to the shell's own, which the wrapper exports as they are.
    env = {"IFS": "val", "PS1": "val", "ENV": "val", "HOME": "/val", "BASH_ENV": "val"}
    out = _local(["/usr/bin/env"], shell=shell, env=env, cwd="/")
    assert out.returncode == 0, out.stderr
    for name, value in env.items():
        assert f"{name}={value}\n".encode() in out.stdout, name


@pytest.mark.parametrize("path", ["/bin:rel", "/usr/bin:", ":/bin", "a::b", "/bin::/usr/bin", ""])
def test_remote_path_entries_must_all_be_absolute(path: str) -> None:
    with pytest.raises(InvalidArgumentError, match="remote_path"):
        SshHost("127.0.0.1", remote_path=path)
