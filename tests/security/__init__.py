"""Security tests: pinning, env policy, secrets (a package, so its ``conftest`` does not clash)."""
