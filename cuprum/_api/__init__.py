"""Layer 6: the front door. ``SafeCmd``, ``Pipeline``, ``sh.make`` and ``run_concurrent``
are immutable values and thin functions that hand themselves to the runtime."""
