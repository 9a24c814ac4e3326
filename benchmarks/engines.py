"""The only place where the engine under test is imported.

wfkit copies LangGraph's verbs, so porting LangGraph code means changing
imports and nothing else.  :func:`load_engine` is exactly those import
lines; everything in :mod:`benchmarks.graphs` is written once against the
returned :class:`Engine` and runs unchanged on either engine.

Imports happen lazily inside :func:`load_engine` so that a benchmark
subprocess only pays for (and only holds in memory) the engine it measures.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

ENGINES = ("wfkit", "langgraph")


@dataclass(frozen=True)
class Engine:
    """The LangGraph-compatible verbs of one engine."""

    name: str
    StateGraph: Any
    START: Any
    END: Any
    Send: Any


def load_engine(name: str) -> Engine:
    """Import the verbs of engine ``name`` (``"wfkit"`` or ``"langgraph"``)."""
    loaders = {"wfkit": _wfkit, "langgraph": _langgraph}
    if name not in loaders:
        raise ValueError(f"unknown engine {name!r}; expected one of {ENGINES}")
    return loaders[name]()


def _wfkit() -> Engine:
    from wfkit import END, START, Send, StateGraph

    return Engine("wfkit", StateGraph, START, END, Send)


def _langgraph() -> Engine:
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Send

    return Engine("langgraph", StateGraph, START, END, Send)


def is_installed(module: str) -> bool:
    """Whether ``module`` can be found, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
