"""``MemoryCheckpointer``: the store kept in this process's memory.

Rows are stored encoded, exactly as the DuckDB store keeps them, so a graph
that checkpoints here checkpoints there too: use it in tests, or when runs
need interrupts and time travel but not a file.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from wfkit._ids import KEY_SEP, check_id
from wfkit.checkpoint.base import CheckpointRow, Durability, ValueRow, WriteRow, check_durability

__all__ = ["InMemorySaver", "MemoryCheckpointer", "MemorySaver"]


class MemoryCheckpointer:
    """Checkpoints in memory (lost when the process ends)."""

    def __init__(
        self,
        *,
        durability: Durability = "async",
        allowed_types: Sequence[type] = (),
        allow_pickle: bool = False,
    ) -> None:
        self.durability: Durability = check_durability(durability)
        self.serde_options: dict[str, Any] = {
            "allowed_types": tuple(allowed_types),
            "allow_pickle": allow_pickle,
        }
        self._lock = threading.Lock()
        self._checkpoints: dict[str, list[CheckpointRow]] = {}
        self._values: dict[str, list[ValueRow]] = {}
        self._writes: dict[str, list[WriteRow]] = {}
        self._spans: list[Any] = []
        self._ticket = 0

    def __repr__(self) -> str:
        return f"MemoryCheckpointer({len(self._checkpoints)} threads)"

    def __enter__(self) -> MemoryCheckpointer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def put(
        self,
        checkpoints: Sequence[CheckpointRow],
        values: Sequence[ValueRow],
        writes: Sequence[WriteRow],
        spans: Sequence[Any] = (),
    ) -> int:
        with self._lock:
            for row in checkpoints:
                self._checkpoints.setdefault(row[0], []).append(row)
            for row in values:
                self._values.setdefault(row[0], []).append(row)
            for row in writes:
                self._writes.setdefault(row[0], []).append(row)
            self._spans.extend(spans)
            self._ticket += 1
            return self._ticket

    def put_run(self, record: Any) -> None:
        from wfkit.trace.record import expand

        self.put_spans(expand(record))

    def put_spans(self, rows: Sequence[Any]) -> None:
        with self._lock:
            self._spans.extend(rows)

    def get_spans(self, *, thread_id: str | None = None, run_id: str | None = None) -> list[Any]:
        with self._lock:
            rows = list(self._spans)
        return [
            r
            for r in rows
            if (thread_id is None or r[6] == thread_id) and (run_id is None or r[7] == run_id)
        ]

    def wait(self, ticket: int) -> None:
        return None

    async def await_(self, ticket: int) -> None:
        return None

    def flush(self) -> None:
        return None

    def get_checkpoint(
        self, thread_id: str, checkpoint_id: str | None = None
    ) -> CheckpointRow | None:
        thread_id = check_id(thread_id, "thread id")
        if checkpoint_id is not None:
            checkpoint_id = check_id(checkpoint_id, "checkpoint id")
        with self._lock:
            rows = self._checkpoints.get(thread_id, [])
            if checkpoint_id is None:
                return max(rows, key=lambda r: r[1], default=None)
            return next((r for r in rows if r[1] == checkpoint_id), None)

    def list_checkpoints(
        self, thread_id: str, *, limit: int | None = None, before: str | None = None
    ) -> list[CheckpointRow]:
        thread_id = check_id(thread_id, "thread id")
        if before is not None:
            before = check_id(before, "checkpoint id")
        with self._lock:
            rows = sorted(self._checkpoints.get(thread_id, []), key=lambda r: r[1], reverse=True)
        if before is not None:
            rows = [r for r in rows if r[1] < before]
        return rows[:limit] if limit is not None else rows

    def has_children(self, thread_id: str, checkpoint_id: str) -> bool:
        thread_id = check_id(thread_id, "thread id")
        checkpoint_id = check_id(checkpoint_id, "checkpoint id")
        with self._lock:
            return any(r[2] == checkpoint_id for r in self._checkpoints.get(thread_id, []))

    def get_values(self, thread_id: str, keys: Sequence[str]) -> list[ValueRow]:
        thread_id = check_id(thread_id, "thread id")
        wanted = set(keys)
        with self._lock:
            return [r for r in self._values.get(thread_id, []) if r[2] in wanted]

    def get_writes(self, thread_id: str, checkpoint_id: str | None = None) -> list[WriteRow]:
        thread_id = check_id(thread_id, "thread id")
        if checkpoint_id is not None:
            checkpoint_id = check_id(checkpoint_id, "checkpoint id")
        with self._lock:
            rows = list(self._writes.get(thread_id, []))
        if checkpoint_id is not None:
            rows = [r for r in rows if r[1] == checkpoint_id]
        return sorted(rows, key=lambda r: r[-1])

    def max_version(self, thread_id: str) -> int:
        thread_id = check_id(thread_id, "thread id")
        with self._lock:
            return max((r[3] for r in self._values.get(thread_id, [])), default=0)

    def threads(self) -> list[str]:
        """The root threads (a subgraph's checkpoints are its thread's)."""
        with self._lock:
            return sorted(t for t in self._checkpoints if KEY_SEP not in t)

    def delete_thread(self, thread_id: str) -> None:
        """Delete a thread's rows, its subgraphs' checkpoints with them."""
        thread_id = check_id(thread_id, "thread id")
        inside = thread_id + KEY_SEP  # its namespaces' stored thread ids start so
        with self._lock:
            for table in (self._checkpoints, self._values, self._writes):
                for key in [k for k in table if k == thread_id or k.startswith(inside)]:
                    del table[key]
            self._spans = [r for r in self._spans if r[6] != thread_id]

    def close(self) -> None:
        return None


InMemorySaver = MemoryCheckpointer
"""LangGraph's name for the in-memory store (``langgraph.checkpoint.memory``)."""

MemorySaver = MemoryCheckpointer
"""LangGraph's older name for the in-memory store."""
