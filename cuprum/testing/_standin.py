"""The stand-in process ``cuprum.testing`` spawns in place of a faked program.

Run as ``python -I -S _standin.py SPEC``: it reads the canned outcome from the
JSON file ``SPEC``, copies whatever arrives on stdin into the file the spec
names (in a thread, so a full pipe never blocks it), writes the canned stdout
and stderr, sleeps the delay, waits for the end of its input, and exits with
the canned code (a negative one kills it with that signal, as a real program's
death would read). Standard library only, so it starts fast.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import signal
import sys
import threading
import time


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _drain(path: str) -> None:
    with open(path, "wb") as sink:
        while chunk := os.read(0, 65536):
            sink.write(chunk)


def main(spec_path: str) -> int:
    """Replay the outcome described in ``spec_path``; returns the exit code."""
    # Python starts with SIGPIPE ignored; a real program writing to a closed pipe dies of it.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    reader = threading.Thread(target=_drain, args=(spec["stdin"],), daemon=True)
    reader.start()
    _write_all(1, base64.b64decode(spec["stdout"]))
    _write_all(2, base64.b64decode(spec["stderr"]))
    if spec["delay"] > 0:
        time.sleep(spec["delay"])
    reader.join()
    code = int(spec["exit_code"])
    if code < 0:
        # No core file for SIGSEGV or SIGABRT; SIGKILL's action cannot be set (nor needs to be).
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if -code != signal.SIGKILL:
            signal.signal(-code, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {-code})
        os.kill(os.getpid(), -code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
