"""Layers 1-2: vocabulary (programs, catalogue, errors) and policy (context, hooks, events).

Nothing here knows about processes or event loops.
"""
