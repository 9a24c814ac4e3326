"""Durable runs: checkpoint stores and what reads them back.

``compile(checkpointer="runs.duckdb")`` (a path) or
``compile(checkpointer=DuckDBCheckpointer(path, durability=...))`` stores
every superstep in a DuckDB file; :class:`MemoryCheckpointer` keeps them in
memory. See ``docs/checkpoints.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wfkit.checkpoint.base import Checkpointer, Durability
from wfkit.checkpoint.memory import MemoryCheckpointer
from wfkit.errors import GraphValidationError, SerializationError, StoreError, UnsafeValueError
from wfkit.threads.snapshot import StateSnapshot, TaskInfo

__all__ = [
    "Checkpointer",
    "DuckDBCheckpointer",
    "Durability",
    "MemoryCheckpointer",
    "SerializationError",
    "StateSnapshot",
    "StoreError",
    "TaskInfo",
    "UnsafeValueError",
    "open_checkpointer",
]


def __getattr__(name: str) -> Any:
    if name == "DuckDBCheckpointer":  # imports duckdb: only when asked for
        from wfkit.checkpoint.duckdb import DuckDBCheckpointer

        return DuckDBCheckpointer
    raise AttributeError(f"module 'wfkit.checkpoint' has no attribute {name!r}")


def open_checkpointer(value: Any) -> Checkpointer:
    """What ``compile(checkpointer=...)`` accepts: a store, or a path (str or
    ``Path``) to a DuckDB file (``":memory:"`` for an in-memory database)."""
    if isinstance(value, str | Path):
        from wfkit.checkpoint.duckdb import DuckDBCheckpointer, open_store

        existing = open_store(value)  # one store per file in a process: share it
        return existing if existing is not None else DuckDBCheckpointer(value)
    if isinstance(value, Checkpointer):
        return value
    raise GraphValidationError(
        f"checkpointer must be a path to a DuckDB file, DuckDBCheckpointer(...) or MemoryCheckpointer(), "
        f"got {type(value).__name__}"
    )
