"""``python -m cuprum which PROGRAM``: the file cuprum runs for a program (its pin), and why."""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from datetime import UTC, datetime

import cuprum
from cuprum import DEFAULT_CATALOGUE, Program, ProgramCatalogue, SpawnError
from cuprum._core import pinning

__all__ = ["which"]


def _catalogue(spec: str | None) -> tuple[str, ProgramCatalogue]:
    """``MODULE:NAME`` names a catalogue; default: ``cuprum.DEFAULT_CATALOGUE``."""
    if spec is None:
        return "cuprum.DEFAULT_CATALOGUE", DEFAULT_CATALOGUE
    module, _, name = spec.partition(":")
    try:
        imported = importlib.import_module(module)
    except Exception as exc:  # not found, or the module failed as it ran: say which
        raise SystemExit(
            f"which: --catalogue {spec}: cannot import {module!r}: {type(exc).__name__}: {exc}"
        ) from None
    found = getattr(imported, name or "CATALOGUE", None)
    if not isinstance(found, ProgramCatalogue):
        raise SystemExit(f"which: {spec} is not a ProgramCatalogue")
    return spec, found


def which(name: str, catalogue_spec: str | None = None) -> int:
    """Print the pin of ``name``: the file cuprum runs for it, and where it looked."""
    program = Program(name)
    where, catalogue = _catalogue(catalogue_spec)
    project = catalogue.lookup(program).project if catalogue.is_known(program) else None
    owner = f"project {project.name}" if project else "not listed: the default policy"
    try:
        pin = catalogue.resolve(program)[program] if project else pinning.pin(program, None)
    except (SpawnError, cuprum.InvalidArgumentError) as exc:
        print(f"which: {exc}", file=sys.stderr)
        return 1
    ident = pin.identity
    mtime = datetime.fromtimestamp(ident.mtime_ns / 1e9, UTC).isoformat(timespec="seconds")
    digest = pinning.sha256_of(pin.path)
    pinned = "pinned by the project, verified" if pin.sha256 else "not pinned by the project"
    rows = {
        "program": program,
        "catalogue": f"{where} ({owner})",
        "runs": pin.path,
        "identity": f"device {ident.device}, inode {ident.inode}, size {ident.size}, "
        f"mode {oct(ident.mode & 0o7777)}, mtime {mtime}",
        "sha256": f"{digest} ({pinned})",
    }
    if pin.searched or pin.skipped:
        rows["searched"] = os.pathsep.join(pin.searched)
        rows["skipped"] = "; ".join(f"{d or '(empty)'}: {why}" for d, why in pin.skipped) or "-"
    found = shutil.which(program) if "/" not in program else program
    if found != pin.path:
        rows["PATH search"] = (
            f"{found or 'nothing'} (differs: subprocess would run that; cuprum runs {pin.path})"
        )
    width = max(map(len, rows))
    for key, value in rows.items():
        print(f"{key:<{width}}  {value}")
    return 0
