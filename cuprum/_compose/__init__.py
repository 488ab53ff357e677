"""Layer 5: composition over the runtime (``run_concurrent``; streaming handles)."""
