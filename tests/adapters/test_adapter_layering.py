"""Adapters and builders are an edge layer: no telemetry imports, nothing in the core uses them."""

from __future__ import annotations

import subprocess
import sys

import cuprum.adapters
import cuprum.builders

PROBE = """
import sys
import cuprum
assert not [m for m in sys.modules if m.startswith(("cuprum.adapters", "cuprum.builders"))]
import cuprum.adapters.logging_adapter, cuprum.adapters.metrics_adapter
import cuprum.adapters.tracing_adapter, cuprum.builders
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("prometheus_client", "opentelemetry"))
assert not loaded, loaded
"""


def test_core_does_not_import_the_edge_and_the_edge_imports_no_telemetry_library() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr


def test_builders_export_what_the_guide_names() -> None:
    assert set(cuprum.builders.__all__) == {
        "GitRef",
        "RsyncOptions",
        "SafePath",
        "TarCreateOptions",
        "git_checkout",
        "git_ref",
        "git_rev_parse",
        "git_status",
        "rsync_sync",
        "safe_path",
        "tar_create",
        "tar_extract",
    }
    for name in cuprum.builders.__all__:
        assert getattr(cuprum.builders, name) is not None
    assert cuprum.adapters.__all__ == []
