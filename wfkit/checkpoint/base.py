"""The checkpoint store contract, its row layout, and what stores share.

A store keeps three kinds of rows (the column names are the DuckDB
columns; see ``docs/checkpoints.md``):

- checkpoints: one per superstep of a thread (and per input, update, fork);
- values: one per state key *changed* in a checkpoint. ``kind`` is ``set``
  (the whole value) or ``append`` (what an append-style reducer added: the
  value is the tail, folded onto ``base_version``), so a growing message
  list is not stored again at every step;
- writes: one per node execution: what it received, what it returned,
  status, error, timing.

A store implements :class:`Checkpointer` (enqueue rows, wait for them to
be durable, read them back, delete a thread). Everything else — deltas,
rebuilding a state, turning runs into rows — is shared code in
:mod:`wfkit.checkpoint.saver`, so every store behaves the same.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from wfkit.errors import WfkitError

__all__ = [
    "CHECKPOINT_COLUMNS",
    "DURABILITY",
    "VALUE_COLUMNS",
    "WRITE_COLUMNS",
    "Checkpointer",
    "Durability",
    "StoreError",
    "new_id",
]

Durability = Literal["sync", "async", "exit"]
DURABILITY: tuple[str, ...] = ("sync", "async", "exit")

CHECKPOINT_COLUMNS = (
    "thread_id",
    "checkpoint_id",
    "parent_id",
    "run_id",
    "step",
    "source",
    "next",
    "tasks",
    "interrupts",
    "versions",
    "joins",
    "metadata",
    "created_at",
)
VALUE_COLUMNS = ("thread_id", "checkpoint_id", "key", "version", "base_version", "kind", "value")
WRITE_COLUMNS = (
    "thread_id",
    "checkpoint_id",
    "run_id",
    "step",
    "task_id",
    "task_index",
    "node",
    "attempt",
    "input",
    "result",
    "status",
    "error_type",
    "error",
    "interrupts",
    "resume",
    "started_at",
    "ended_at",
    "written_at",
)

CheckpointRow = tuple[Any, ...]
ValueRow = tuple[Any, ...]
WriteRow = tuple[Any, ...]


class StoreError(WfkitError, RuntimeError):
    """The checkpoint file cannot be used: locked, corrupt, not a wfkit store,
    or written by a newer wfkit. The file is left as it was."""


_counter = itertools.count()
_node = os.getpid() & 0xFFFF


def new_id() -> str:
    """A checkpoint id that sorts by creation time (then by process and order)."""
    return f"{time.time_ns():016x}-{_node:04x}-{next(_counter) & 0xFFFFFF:06x}"


@runtime_checkable
class Checkpointer(Protocol):
    """What a checkpoint store implements. Rows are tuples in the column
    orders above; JSON columns hold JSON text."""

    durability: Durability
    serde_options: dict[str, Any]

    def put(
        self,
        checkpoints: Sequence[CheckpointRow],
        values: Sequence[ValueRow],
        writes: Sequence[WriteRow],
    ) -> int:
        """Enqueue rows; returns a ticket for :meth:`wait`."""
        ...

    def wait(self, ticket: int) -> None:
        """Block until everything enqueued up to ``ticket`` is durable."""
        ...

    async def await_(self, ticket: int) -> None:
        """:meth:`wait` without blocking the event loop."""
        ...

    def get_checkpoint(
        self, thread_id: str, checkpoint_id: str | None = None
    ) -> CheckpointRow | None:
        """The newest checkpoint of a thread, or the one with that id."""
        ...

    def list_checkpoints(
        self, thread_id: str, *, limit: int | None = None, before: str | None = None
    ) -> list[CheckpointRow]:
        """Checkpoints of a thread, newest first."""
        ...

    def has_children(self, thread_id: str, checkpoint_id: str) -> bool: ...

    def get_values(self, thread_id: str, keys: Sequence[str]) -> list[ValueRow]:
        """Every value row of these keys in the thread."""
        ...

    def get_writes(self, thread_id: str, checkpoint_id: str | None = None) -> list[WriteRow]:
        """Write rows of a checkpoint (or the whole thread), oldest first."""
        ...

    def max_version(self, thread_id: str) -> int: ...

    def threads(self) -> list[str]: ...

    def delete_thread(self, thread_id: str) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class BufferedStore:
    """Shared by the stores: a row buffer with tickets, group commit and a
    background flusher for ``durability="async"``.

    Subclasses implement ``_write(checkpoints, values, writes)`` (one
    transaction). Flushing happens on a daemon thread; ``wait`` asks for a
    flush and blocks until the batch holding the ticket is committed, so
    concurrent runs waiting together share one commit.
    """

    flush_interval = 0.05
    max_buffered_rows = 20_000

    def __init__(self, durability: Durability) -> None:
        if durability not in DURABILITY:
            raise ValueError(
                f"durability must be one of {', '.join(DURABILITY)}, got {durability!r}"
            )
        self.durability: Durability = durability
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._buf: tuple[list[CheckpointRow], list[ValueRow], list[WriteRow]] = ([], [], [])
        self._rows = 0
        self._enqueued = 0  # ticket of the newest rows
        self._committed = 0  # ticket up to which rows are durable
        self._error: BaseException | None = None
        self._error_ticket = 0  # rows up to this ticket failed to commit
        self._wanted = False
        self._closed = False
        self._waiters: list[tuple[int, Any]] = []  # (ticket, asyncio future) for await_
        self._thread = threading.Thread(
            target=self._loop, name=f"wfkit-store-{id(self):x}", daemon=True
        )
        self._thread.start()

    def _write(
        self, checkpoints: list[CheckpointRow], values: list[ValueRow], writes: list[WriteRow]
    ) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- enqueue
    def put(
        self,
        checkpoints: Sequence[CheckpointRow],
        values: Sequence[ValueRow],
        writes: Sequence[WriteRow],
    ) -> int:
        with self._lock:
            if self._closed:
                raise StoreError("the checkpoint store is closed; open a new one to keep writing")
            b = self._buf
            b[0].extend(checkpoints)
            b[1].extend(values)
            b[2].extend(writes)
            self._rows += len(checkpoints) + len(values) + len(writes)
            self._enqueued += 1
            if self._rows >= self.max_buffered_rows:
                self._wanted = True
                self._cond.notify_all()
            return self._enqueued

    def wait(self, ticket: int) -> None:
        with self._lock:
            while self._committed < ticket:
                self._wanted = True
                self._cond.notify_all()
                self._cond.wait(1.0)
            if self._error is not None and ticket <= self._error_ticket:
                raise StoreError(f"writing checkpoints failed: {self._error}") from self._error

    async def await_(self, ticket: int) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        with self._lock:
            if self._committed >= ticket:
                return
            fut = loop.create_future()
            self._waiters.append((ticket, fut))
            self._wanted = True
            self._cond.notify_all()
        await fut

    def flush(self) -> None:
        """Make everything enqueued so far durable."""
        with self._lock:
            ticket = self._enqueued
        self.wait(ticket)

    # ---------------------------------------------------------------- flusher
    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._wanted and not self._closed:
                    self._cond.wait(self.flush_interval if self.durability == "async" else None)
                if self._closed and self._rows == 0 and self._committed == self._enqueued:
                    return
                batch = self._buf
                ticket = self._enqueued
                self._buf = ([], [], [])
                self._rows = 0
                self._wanted = False
            if batch[0] or batch[1] or batch[2]:
                try:
                    self._write(*batch)
                except BaseException as exc:  # reported to every waiter
                    with self._lock:
                        self._error = exc
                        self._error_ticket = ticket
                        self._committed = ticket
                        self._cond.notify_all()
                        self._release(ticket, exc)
                    continue
            with self._lock:
                self._committed = max(self._committed, ticket)
                self._cond.notify_all()
                self._release(ticket, None)

    def _release(self, ticket: int, exc: BaseException | None) -> None:
        keep = []
        for t, fut in self._waiters:
            if t <= ticket:
                loop = fut.get_loop()
                if exc is None:
                    loop.call_soon_threadsafe(_resolve, fut, None)
                else:
                    loop.call_soon_threadsafe(
                        _resolve, fut, StoreError(f"writing checkpoints failed: {exc}")
                    )
            else:
                keep.append((t, fut))
        self._waiters = keep

    def _stop(self) -> None:
        """Flush what is buffered and stop the flusher thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._wanted = True
            self._cond.notify_all()
        self._thread.join()


def _resolve(fut: Any, exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is None:
        fut.set_result(None)
    else:
        fut.set_exception(exc)
