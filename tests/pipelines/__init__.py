"""Pipeline tests (a package, so its ``conftest`` does not clash with others for mypy)."""
