"""Terminal session tests (a package, so its modules do not clash with others for mypy)."""
