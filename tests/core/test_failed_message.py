"""``CommandFailedError``'s message ends with the last line of stderr, for a ``text=False``
run as for a text one (decoded with ``errors="replace"``), with the run's secrets as ``***``."""

from __future__ import annotations

import uuid

import pytest
from core_support import py, shell

from cuprum import CommandFailedError, Secret

pytestmark = pytest.mark.anyio

FAIL = "printf 'first line\\nlast: bad \\377 input\\n' >&2; exit 4"


@pytest.mark.parametrize("text", [True, False])
async def test_the_message_ends_with_the_stderr_tail(anyio_backend: str, text: bool) -> None:
    with pytest.raises(CommandFailedError) as info:
        await shell(FAIL).run(check=True, text=text)
    error = info.value
    assert isinstance(error.stderr, str if text else bytes)
    assert str(error).endswith("exit status 4. (stderr: last: bad \ufffd input)")


def test_run_sync_of_bytes_quotes_the_tail_too() -> None:
    with pytest.raises(CommandFailedError) as info:
        shell(FAIL).run_sync(check=True, text=False)
    assert str(info.value).endswith("(stderr: last: bad \ufffd input)")
    assert info.value.stderr == b"first line\nlast: bad \xff input\n"  # kept as written


@pytest.mark.parametrize("text", [True, False])
async def test_a_bytes_tail_hides_the_secrets(anyio_backend: str, text: bool) -> None:
    value = f"pw-{uuid.uuid4().hex}"
    code = "import sys; sys.stderr.write('denied for ' + sys.argv[1] + '\\n'); sys.exit(1)"
    with pytest.raises(CommandFailedError) as info:
        await py(code, Secret(value)).run(check=True, text=text)
    assert value not in str(info.value)
    assert str(info.value).endswith("(stderr: denied for ***)")


async def test_a_pipeline_stage_quotes_its_bytes_stderr(anyio_backend: str) -> None:
    with pytest.raises(CommandFailedError) as info:
        await (shell("echo x") | shell(FAIL)).run(check=True, text=False)
    assert info.value.stage_index == 1
    assert str(info.value).endswith("(stderr: last: bad \ufffd input)")


def test_whitespace_only_bytes_stderr_adds_no_tail() -> None:
    error = CommandFailedError(1, ["x"], b"", b"\n  \n")
    assert str(error) == "x: Command '['x']' returned non-zero exit status 1."
