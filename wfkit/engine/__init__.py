"""The engine: the superstep machine, the effect loop written once, and its
interpreters.

- :mod:`wfkit.engine.machine` — the semantics, no I/O (``Machine``, ``Task``);
- :mod:`wfkit.engine.loop` — the superstep loop as a generator of effects,
  and the hook protocol persistence and tracing implement;
- :mod:`wfkit.engine.attempts` — one task's attempts: retries, timing;
- :mod:`wfkit.engine.interpret` — the sync and async interpreters;
- :mod:`wfkit.engine.runs` — the stepping API (``Run``, ``AsyncRun``).
"""
