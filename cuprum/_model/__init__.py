"""Layer 4: immutable run options: ``ExecutionContext`` and the stream targets (``io``)."""
