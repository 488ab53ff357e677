"""Layer 4: the one place that owns a process's life, built on anyio.

``child`` spawns and tears down process groups, ``pipes`` makes and sizes OS
pipes, ``stdin`` feeds a child's input, ``streams`` reads output into captures, echo sinks and line events,
``engine`` runs one or more wired stages under hooks, events and deadlines, and
``sync`` drives the same code from synchronous callers.
"""
