"""The only place where the engine under test is imported.

wfkit copies LangGraph's verbs, so porting LangGraph code means changing
imports and nothing else.  :func:`load_engine` is exactly those import
lines; everything in :mod:`benchmarks.graphs` is written once against the
returned :class:`Engine` and runs unchanged on either engine.

:func:`open_store` likewise opens each engine's file-backed checkpoint
store (wfkit: DuckDB; LangGraph: ``SqliteSaver``) for the ``ckpt_*``
scenarios.

Imports happen lazily inside :func:`load_engine` so that a benchmark
subprocess only pays for (and only holds in memory) the engine it measures.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
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


# --------------------------------------------------------------------------
# Checkpoint stores (file-backed), for the ckpt_* scenarios
# --------------------------------------------------------------------------

#: File name suffix of each engine's checkpoint file.
STORE_SUFFIX = {"wfkit": ".duckdb", "langgraph": ".sqlite"}


@dataclass(frozen=True)
class Store:
    """A file-backed checkpoint store of one engine.

    ``saver`` is what ``compile(checkpointer=...)`` takes; ``close()``
    makes everything durable and releases the file; ``threads()`` lists the
    thread ids stored in it.
    """

    saver: Any
    close: Callable[[], None]
    threads: Callable[[], list[str]]


def open_store(name: str, path: Path, durability: str | None = None) -> Store:
    """Open (or create) engine ``name``'s checkpoint file at ``path``.

    wfkit: ``DuckDBCheckpointer`` (its default durability unless
    ``durability`` is given). LangGraph: ``SqliteSaver`` on one sqlite3
    connection (LangGraph's per-call ``durability`` is left at its default).
    """
    if name == "wfkit":
        from wfkit.checkpoint import DuckDBCheckpointer

        if durability is None:
            store = DuckDBCheckpointer(path)  # the default durability
        else:
            store = DuckDBCheckpointer(path, durability=durability)
        return Store(store, store.close, store.threads)
    if name == "langgraph":
        import sqlite3

        from langgraph.checkpoint.sqlite import SqliteSaver

        if durability is not None:
            raise ValueError("the LangGraph store takes no durability option here")
        conn = sqlite3.connect(str(path), check_same_thread=False)
        saver = SqliteSaver(conn)

        def threads() -> list[str]:
            ids = {c.config["configurable"]["thread_id"] for c in saver.list(None)}
            return sorted(ids)

        return Store(saver, conn.close, threads)
    raise ValueError(f"unknown engine {name!r}; expected one of {ENGINES}")


def is_installed(module: str) -> bool:
    """Whether ``module`` can be found, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
