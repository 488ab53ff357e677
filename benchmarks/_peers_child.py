"""One capture in a fresh interpreter, for the peers benchmark's wall and peak-RSS rows.

    python _peers_child.py CONTENDER SIZE PATH

Imports only what CONTENDER needs and runs ``true`` once with it (so imports and
first-use set-up stay out of the figure: ``peers.ready`` measures those), then
captures ``head -c SIZE PATH`` as text and prints ``{"wall": seconds, "length":
characters, "peak_mib": MiB}`` as JSON. The peak RSS is this interpreter's own
``VmHWM``: ``ru_maxrss`` (from ``wait4`` or ``getrusage``) would be at least the
parent's, which it inherits across ``exec``.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from collections.abc import Callable
from typing import Any

Capture = Callable[[list[str]], str]


def _cuprum() -> Capture:
    from cuprum import Program, ProgramCatalogue, ProjectSettings, sh

    programs = (Program("head"), Program("true"))
    catalogue = ProgramCatalogue(projects=(ProjectSettings("bench", programs),))

    def capture(argv: list[str]) -> str:
        result = sh.make(Program(argv[0]), catalogue=catalogue)(*argv[1:]).run_sync()
        assert result.exit_code == 0
        assert isinstance(result.stdout, str)
        return result.stdout

    return capture


def _subprocess() -> Capture:
    import subprocess

    return lambda argv: subprocess.run(argv, capture_output=True, check=True).stdout.decode()


def _sh() -> Capture:
    sh: Any = importlib.import_module("sh")  # optional peers: no static import
    return lambda argv: str(sh.Command(argv[0])(*argv[1:]))


def _plumbum() -> Capture:
    local: Any = importlib.import_module("plumbum").local
    return lambda argv: str(local[argv[0]](*argv[1:]))


def _shellous() -> Capture:
    import asyncio

    shellous: Any = importlib.import_module("shellous")

    async def main(argv: list[str]) -> str:
        out: str = await shellous.sh(*argv)
        return out

    return lambda argv: asyncio.run(main(argv))


def _anyio() -> Capture:
    import anyio

    async def main(argv: list[str]) -> str:
        return (await anyio.run_process(argv)).stdout.decode()

    return lambda argv: anyio.run(main, argv)


def _trio() -> Capture:
    trio: Any = importlib.import_module("trio")

    async def main(argv: list[str]) -> str:
        done = await trio.run_process(argv, capture_stdout=True, capture_stderr=True)
        out: bytes = done.stdout
        return out.decode()

    return lambda argv: str(trio.run(main, argv))


CONTENDERS: dict[str, Callable[[], Capture]] = {
    "cuprum": _cuprum,
    "subprocess": _subprocess,
    "sh": _sh,
    "plumbum": _plumbum,
    "shellous": _shellous,
    "anyio": _anyio,
    "trio": _trio,
}


def main() -> None:
    who, size, path = sys.argv[1], sys.argv[2], sys.argv[3]
    capture = CONTENDERS[who]()
    capture(["true"])
    start = time.perf_counter()
    text = capture(["head", "-c", size, path])
    wall = time.perf_counter() - start
    print(json.dumps({"wall": wall, "length": len(text), "peak_mib": _peak_mib()}))


def _peak_mib() -> float:
    """This program image's peak resident set (``VmHWM``, in kB), in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


if __name__ == "__main__":
    main()
