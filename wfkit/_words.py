"""How counts read in what wfkit prints: ``1 run``, ``2 runs``."""

from __future__ import annotations


def count(n: int, noun: str) -> str:
    """``n`` and ``noun``, with an ``s`` unless ``n`` is one: ``count(1, "node") == "1 node"``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")
