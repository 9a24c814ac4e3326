"""Long-term memory: stores that outlive a thread (LangGraph's ``langgraph.store``).

A node reaches the graph's store through a ``store`` parameter,
``runtime.store`` or :func:`wfkit.config.get_store`::

    from wfkit.store import InMemoryStore

    def remember(state, store):
        store.put(("memories", state["user"]), "last", {"text": state["text"]})
        return {}

    app = graph.compile(store=InMemoryStore())

- :class:`InMemoryStore` (``wfkit.store.memory``) keeps items in memory;
- :class:`DuckDBStore` (``wfkit.store.duckdb``) keeps them in a DuckDB file,
  the checkpoint file when given one (tables ``wf_store_*``);
- :class:`BaseStore` (``wfkit.store.base``) is the contract, with the verbs
  written once over ``batch``; ``wfkit.store.testing`` checks a store
  against it.

See ``docs/store.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from wfkit.errors import GraphValidationError, InvalidNamespaceError
from wfkit.store.base import (
    NOT_PROVIDED,
    BaseStore,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)
from wfkit.store.memory import InMemoryStore

if TYPE_CHECKING:
    from wfkit.store.duckdb import DuckDBStore

__all__ = [
    "NOT_PROVIDED",
    "BaseStore",
    "DuckDBStore",
    "GetOp",
    "InMemoryStore",
    "IndexConfig",
    "InvalidNamespaceError",
    "Item",
    "ListNamespacesOp",
    "MatchCondition",
    "Op",
    "PutOp",
    "Result",
    "SearchItem",
    "SearchOp",
    "TTLConfig",
    "open_store",
]


def __getattr__(name: str) -> Any:
    if name == "DuckDBStore":  # imports duckdb: only when asked for
        from wfkit.store.duckdb import DuckDBStore

        return DuckDBStore
    raise AttributeError(f"module 'wfkit.store' has no attribute {name!r}")


def open_store(value: Any, owner: str = "the graph") -> BaseStore | None:
    """What ``compile(store=...)`` (and ``entrypoint(store=...)``) accepts: a
    store (wfkit's, or any object with LangGraph's ``batch`` / ``abatch``
    and verbs), a path to a DuckDB file (the checkpoint file may be the
    same: it is shared), or ``None``."""
    if value is None:
        return None
    if isinstance(value, str | Path):
        from wfkit.store.duckdb import DuckDBStore

        return DuckDBStore(value)
    if isinstance(value, BaseStore) or all(
        callable(getattr(value, verb, None)) for verb in ("batch", "abatch", "get", "put", "search")
    ):
        return cast(BaseStore, value)
    raise GraphValidationError(
        f"store= of {owner} takes a long-term store, e.g. wfkit.store.InMemoryStore() or "
        f"DuckDBStore('runs.duckdb'), or a path to a DuckDB file; got {type(value).__name__}"
    )
