"""Layer 4: the one place that owns a process's life, built on anyio.

``child`` spawns and tears down process groups, ``pipes`` makes and sizes OS
pipes, ``stdin`` feeds a child's input, ``streams`` turns output into captures,
echo and line events, ``request`` holds a run's resolved options, ``engine`` runs
one or more wired stages under hooks, events and deadlines, and ``sync`` drives
the same code from synchronous callers.
"""
