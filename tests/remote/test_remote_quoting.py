"""The remote argv arrives exactly as built, whatever the remote user's login shell."""

from __future__ import annotations

import os
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuprum.remote import SshHost
from cuprum.remote.quoting import WRAPPER, decode_word, encode_word, remote_line

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
    import anyio

    assert anyio.run(_round_trip, shell_host, args) == args
