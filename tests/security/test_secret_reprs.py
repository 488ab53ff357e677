"""The repr and message of results and errors hide a secret whatever characters its
value holds: the values are redacted before ``repr`` escapes them (a search of the
repr's text would miss a value holding ``\\n``, a quote, a backslash, or, in
``bytes``, non-ASCII)."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuprum import (
    CaptureLimitExceeded,
    CommandFailedError,
    CommandResult,
    ConcurrentResult,
    PipelineResult,
    Secret,
    TimeoutExpired,
)
from cuprum._core.secret import redactor

from .leak_support import assert_not_shown, secret_bytes, secret_values


def _output(value: str, text: bool) -> str | bytes:
    shown = f"out {value} end\n"
    return shown if text else shown.encode()


def _result(value: str, text: bool, exit_code: int = 1) -> CommandResult[Any]:
    out = _output(value, text)
    return CommandResult(
        program="prog",
        argv=("prog", str(Secret(value)), value),  # also a plain copy in the argv
        exit_code=exit_code,
        pid=1,
        stdout=out,
        stderr=out,
        secrets=(Secret(value),),
    )


@settings(max_examples=300, deadline=None)
@given(value=secret_values(), text=st.booleans())
def test_results_and_errors_never_show_a_secret(value: str, text: bool) -> None:
    result = _result(value, text)
    pipeline = PipelineResult(stages=(result, result), failure_index=0)
    batch = ConcurrentResult(results=(result,))
    with pytest.raises(CommandFailedError) as failed:
        result.check()
    with pytest.raises(CommandFailedError) as failed_stage:
        pipeline.check()
    secrets = (Secret(value),)
    out = _output(value, text)
    timeout = TimeoutExpired(["prog", value], 1.0, out, out, secrets=secrets)
    stage_timeout = TimeoutExpired(
        ["a", value, "|", "b"], 1.0, out, out, stage_index=0, running=(0,), secrets=secrets
    )
    limit = CaptureLimitExceeded("prog", "stdout", 4, out, secrets=secrets)
    shown: list[object] = [result, pipeline, batch, failed.value, failed_stage.value]
    shown += [timeout, stage_timeout, limit]
    for item in shown:
        assert_not_shown(value, repr(item), str(item))
    # what the program wrote stays as it was
    assert result.stdout == out
    assert failed.value.stderr == out
    assert timeout.output == out


@settings(max_examples=300, deadline=None)
@given(value=secret_values(), before=st.text(max_size=8), after=st.text(max_size=8))
def test_every_line_of_an_output_quoting_a_secret_is_scrubbed(
    value: str, before: str, after: str
) -> None:
    scrub = redactor([Secret(value)])
    assert scrub is not None
    output = f"{before}{value}{after}\n{value}"
    lines = [scrub(line) for line in output.split("\n")]  # as line events are made
    assert_not_shown(value, *lines, lines_only=True)
    assert_not_shown(value, scrub(output))


def test_a_repr_without_secrets_is_the_standard_one() -> None:
    result = CommandResult("prog", ("prog",), 1, 2, "o\n", b"e\\")
    assert repr(result) == (
        "CommandResult(program='prog', argv=('prog',), exit_code=1, pid=2, stdout='o\\n', "
        "stderr=b'e\\\\', duration_s=0.0, outcome='exited', stdout_truncated=False, "
        "stderr_truncated=False, accepted=frozenset({0}), usage=None, limit=None)"
    )
    error = CommandFailedError(1, ["prog", "x"], "o", b"e")
    assert repr(error) == "CommandFailedError(1, ['prog', 'x'], 'o', b'e')"
    for code in (1, -9, -1000):  # worded as subprocess words it
        error = CommandFailedError(code, ["prog", "x"], "o", b"e", secrets=(Secret("v"),))
        assert str(error) == f"prog: {subprocess.CalledProcessError.__str__(error)} (stderr: e)"
    assert repr(TimeoutExpired(["prog"], 1.5)) == "TimeoutExpired(['prog'], 1.5)"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("pa\\ss-1234", "out *** end"),
        ("pass\t1234", "out *** end"),
        ("pass-1234\n", "out ***\n end"),  # the newline is no part of the secret
        ("pa\"ss'1234", "out *** end"),
        ("pässwörd-1234", "out *** end"),
    ],
)
@pytest.mark.parametrize("text", [True, False])
def test_the_probe_values_show_as_the_redaction(value: str, shown: str, text: bool) -> None:
    expected: str | bytes = f"{shown}\n" if text else f"{shown}\n".encode()
    assert f"stdout={expected!r}" in repr(_result(value, text))


@settings(max_examples=300, deadline=None)
@given(value=secret_bytes())
def test_a_bytes_secret_never_shows_in_bytes_or_decoded_output(value: bytes) -> None:
    secret = Secret(value)
    decoded = value.decode("utf-8", "replace")  # as a text run decodes it
    for out in (b"out " + value + b" end\n", f"out {decoded} end\n"):
        result = CommandResult("prog", ("prog",), 1, 1, out, out, secrets=(secret,))
        with pytest.raises(CommandFailedError) as failed:
            result.check()
        for shown in (repr(result), repr(failed.value), str(failed.value)):
            assert repr(value)[2:-1] not in shown
            assert_not_shown(decoded, shown)
    scrub = redactor([secret])
    assert scrub is not None
    lines = [scrub(line) for line in f"out {decoded} end\n{decoded}".split("\n")]
    assert_not_shown(decoded, *lines, lines_only=True)
