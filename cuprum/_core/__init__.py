"""Layers 1-3: vocabulary (programs, errors, catalogue), values (the command protocol,
results, events) and policy (the context, its hooks, ``logging_hook``).

Nothing here knows about processes or event loops.
"""
