"""The only place where the engine under test is imported.

wfkit copies LangGraph's verbs, so porting LangGraph code means changing
imports and nothing else.  :func:`load_engine` is exactly those import
lines; everything in :mod:`benchmarks.graphs` is written once against the
returned :class:`Engine` and runs unchanged on either engine.

The one other difference is ``Engine.compile_options``, the keyword
arguments every graph's ``compile()`` gets: empty for LangGraph; for wfkit
the tracing level, always spelled out.  The headline wfkit rows use
:data:`WFKIT_TRACE` (``"timing"``, ``compile()``'s default, so what users
get); the ``*_untraced`` rows load wfkit with ``trace="off"``.

:func:`open_store` likewise opens each engine's file-backed checkpoint
store (wfkit: DuckDB; LangGraph: ``SqliteSaver``) for the ``ckpt_*``
scenarios.

Imports happen lazily inside :func:`load_engine` so that a benchmark
subprocess only pays for (and only holds in memory) the engine it measures.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

ENGINES = ("wfkit", "langgraph")

#: wfkit's tracing level in the headline rows: ``compile()``'s default
#: (wall + CPU time per node span), i.e. what users get without asking.
WFKIT_TRACE = "timing"
#: The levels ``compile(trace=...)`` accepts.
WFKIT_TRACE_LEVELS = ("off", "timing", "memory")


@dataclass(frozen=True)
class Engine:
    """The LangGraph-compatible verbs of one engine.

    ``compile_options`` are passed to every ``compile()`` in
    :mod:`benchmarks.graphs`; ``trace`` is wfkit's tracing level (``None``
    for LangGraph, which has no such option).
    """

    name: str
    StateGraph: Any
    START: Any
    END: Any
    Send: Any
    trace: str | None = None
    compile_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


def load_engine(name: str, *, trace: str | None = None) -> Engine:
    """Import the verbs of engine ``name`` (``"wfkit"`` or ``"langgraph"``).

    ``trace`` is wfkit's ``compile(trace=...)``; ``None`` means
    :data:`WFKIT_TRACE`, passed explicitly all the same.  LangGraph takes
    none.
    """
    if name == "wfkit":
        return _wfkit(WFKIT_TRACE if trace is None else trace)
    if name == "langgraph":
        if trace is not None:
            raise ValueError("LangGraph has no trace option")
        return _langgraph()
    raise ValueError(f"unknown engine {name!r}; expected one of {ENGINES}")


def _wfkit(trace: str) -> Engine:
    from wfkit import END, START, Send, StateGraph

    if trace not in WFKIT_TRACE_LEVELS:
        raise ValueError(
            f"unknown wfkit trace level {trace!r}; expected one of {WFKIT_TRACE_LEVELS}"
        )
    options = MappingProxyType({"trace": trace})
    return Engine("wfkit", StateGraph, START, END, Send, trace, options)


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


@dataclass(frozen=True)
class FunctionalApi:
    """The functional API of one engine: ``entrypoint``, ``task``, and its
    in-memory checkpointer class (LangGraph's ``InMemorySaver``)."""

    entrypoint: Any
    task: Any
    InMemorySaver: Any


def functional_api(name: str) -> FunctionalApi:
    """Import engine ``name``'s functional API (the same import lines on both)."""
    if name == "wfkit":
        from wfkit.checkpoint.memory import InMemorySaver
        from wfkit.func import entrypoint, task

        return FunctionalApi(entrypoint, task, InMemorySaver)
    if name == "langgraph":
        from langgraph.checkpoint.memory import InMemorySaver
        from langgraph.func import entrypoint, task

        return FunctionalApi(entrypoint, task, InMemorySaver)
    raise ValueError(f"unknown engine {name!r}; expected one of {ENGINES}")


def is_installed(module: str) -> bool:
    """Whether ``module`` can be found, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
