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
:mod:`wfkit.threads.saver`, so every store behaves the same.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from wfkit._ids import new_checkpoint_id as new_id
from wfkit._ids import new_run_id
from wfkit.errors import StoreError
from wfkit.types import DURABILITY, Durability, check_durability

__all__ = [
    "CHECKPOINT_COLUMNS",
    "DURABILITY",
    "VALUE_COLUMNS",
    "WRITE_COLUMNS",
    "Checkpointer",
    "check_durability",
    "Durability",
    "StoreError",
    "new_id",
    "new_run_id",
]


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
SpanRow = tuple[Any, ...]
Rows = tuple[list[CheckpointRow], list[ValueRow], list[WriteRow], list[SpanRow]]


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
        spans: Sequence[SpanRow] = (),
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

    def put_spans(self, rows: Sequence[SpanRow]) -> None:
        """Enqueue trace spans (rows in ``wfkit.trace.record.SPAN_COLUMNS`` order)."""
        ...

    def put_run(self, record: Any) -> None:
        """A finished run's spans, compact (``wfkit.trace.record.expand`` makes rows)."""
        ...

    def get_spans(
        self, *, thread_id: str | None = None, run_id: str | None = None
    ) -> list[SpanRow]: ...

    def threads(self) -> list[str]: ...

    def delete_thread(self, thread_id: str) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class SeenThreads:
    """The threads a store has written, in fixed memory: a Bloom filter.

    ``thread in seen`` is False only for a thread never added, so a store
    can answer "this thread certainly has no rows" without a query; a rare
    false True costs one query. A set would grow by every thread ever
    written (100,000 runs on their own threads: 100,000 strings)."""

    __slots__ = ("bits",)
    _MASK = (1 << 21) - 1  # 2**21 bits (256 KB): 0.3 % false hits at 100,000 threads

    def __init__(self) -> None:
        self.bits = bytearray((self._MASK + 1) // 8)

    def _spots(self, thread: str) -> tuple[int, int, int]:
        h = hash(thread) & 0xFFFFFFFFFFFFFFFF
        return h & self._MASK, (h >> 21) & self._MASK, (h >> 42) & self._MASK

    def add(self, thread: str) -> None:
        bits = self.bits
        for spot in self._spots(thread):
            bits[spot >> 3] |= 1 << (spot & 7)

    def __contains__(self, thread: object) -> bool:
        if not isinstance(thread, str):
            return False
        bits = self.bits
        return all(bits[spot >> 3] & (1 << (spot & 7)) for spot in self._spots(thread))


class BufferedStore:
    """Shared by file stores: a row buffer with tickets, group commit, and a
    background flusher thread.

    Rows reach the tables in big batches (one transaction, one bulk insert
    per table). A run that must wait for durability (``sync``, ``exit``)
    should not pay for a wide bulk insert per superstep, so such small
    commits go to a journal first: one narrow row holding the batch, which
    commits in about a millisecond. The flusher moves journaled rows into
    the tables in bulk later: when someone reads, every ``migrate_interval``
    seconds, when the journal grows past ``journal_limit`` rows, and on
    close. Opening a store moves whatever a crash left in the journal.

    Subclasses implement ``_write_tables(rows, clear_journal)`` and
    ``_write_journal(ticket, rows)``, each one transaction.
    """

    flush_interval = 0.05
    migrate_interval = 1.0
    journal_limit = 5_000
    max_buffered_rows = 20_000

    def __init__(self, durability: Durability) -> None:
        self.durability: Durability = check_durability(durability)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._buf: Rows = ([], [], [], [])  # not written anywhere yet
        self._jbuf: Rows = ([], [], [], [])  # durable in the journal, not yet in the tables
        self._rows = 0
        self._jrows = 0
        self._enqueued = 0  # ticket of the newest rows
        self._committed = 0  # durable up to this ticket
        self._visible = 0  # in the tables up to this ticket
        self._want_durable = 0
        self._want_visible = 0
        self._last_migrate = time.monotonic()
        self._first_row_at = 0.0
        self._error: BaseException | None = None
        self._error_ticket = 0  # rows up to this ticket failed to commit
        self._error_reported = False
        self._closed = False
        self._waiters: list[tuple[int, Any]] = []  # (ticket, asyncio future) for await_
        self._dirty: dict[str, int] = {}  # thread id -> ticket of its newest rows not in the tables
        self.written_threads = SeenThreads()  # threads this process has written to
        self._thread = threading.Thread(
            target=self._loop, name=f"wfkit-store-{id(self):x}", daemon=True
        )
        self._thread.start()

    def _write_tables(self, rows: Rows, clear_journal: bool) -> None:
        raise NotImplementedError

    def _write_journal(self, ticket: int, rows: Rows) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- enqueue
    def put(
        self,
        checkpoints: Sequence[CheckpointRow],
        values: Sequence[ValueRow],
        writes: Sequence[WriteRow],
        spans: Sequence[SpanRow] = (),
    ) -> int:
        with self._lock:
            if self._closed:
                raise StoreError("the checkpoint store is closed; open a new one to keep writing")
            if self._error is not None and not self._error_reported:
                self._error_reported = True  # a background flush failed: say so once
                raise StoreError(
                    f"an earlier background write of checkpoints failed ({self._error}); those rows "
                    f"are not in the file"
                ) from self._error
            if self._rows == 0:
                self._first_row_at = time.monotonic()
                self._cond.notify_all()  # start the flusher's timer
            b = self._buf
            b[0].extend(checkpoints)
            b[1].extend(values)
            b[2].extend(writes)
            b[3].extend(spans)
            self._rows += len(checkpoints) + len(values) + len(writes) + len(spans)
            self._enqueued += 1
            ticket = self._enqueued
            dirty = self._dirty
            for rows in (checkpoints, values, writes):  # spans are read without flushing a thread
                for row in rows:
                    dirty[row[0]] = ticket
            if self._rows >= self.max_buffered_rows:
                self._cond.notify_all()
            return ticket

    def _check(self, ticket: int) -> None:
        if self._error is not None and ticket <= self._error_ticket:
            raise StoreError(f"writing checkpoints failed: {self._error}") from self._error

    def wait(self, ticket: int) -> None:
        """Block until the rows up to ``ticket`` are durable."""
        self._block(ticket, visible=False)

    def _block(self, ticket: int, *, visible: bool) -> None:
        """Ask the flusher for the rows up to ``ticket`` (durable, or also in
        the tables) and wait until they are there."""
        with self._lock:
            while (self._visible if visible else self._committed) < ticket:
                if visible:
                    self._want_visible = max(self._want_visible, ticket)
                else:
                    self._want_durable = max(self._want_durable, ticket)
                self._cond.notify_all()
                self._cond.wait(1.0)
            self._check(ticket)

    async def await_(self, ticket: int) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        with self._lock:
            if self._committed >= ticket:
                self._check(ticket)
                return
            fut = loop.create_future()
            self._waiters.append((ticket, fut))
            self._want_durable = max(self._want_durable, ticket)
            self._cond.notify_all()
        await fut

    def put_spans(self, rows: Sequence[SpanRow]) -> None:
        if rows:
            self.put((), (), (), rows)

    def put_run(self, record: Any) -> None:
        """A finished run's spans (see ``wfkit.trace.record``)."""
        from wfkit.trace.record import expand

        self.put_spans(expand(record))

    def flush_thread(self, thread_id: str) -> None:
        """Move a thread's rows into the tables (before reading it back)."""
        with self._lock:
            ticket = self._dirty.get(thread_id)
        if ticket is not None:
            self._block(ticket, visible=True)

    def flush(self) -> None:
        """Make everything enqueued so far durable and visible in the tables."""
        with self._lock:
            ticket = self._enqueued
        self._block(ticket, visible=True)

    # ---------------------------------------------------------------- flusher
    def _loop(self) -> None:
        while True:
            with self._lock:
                self._wait_for_work()
                if (
                    self._closed
                    and self._rows == 0
                    and self._jrows == 0
                    and self._visible == self._enqueued
                ):
                    return
                ticket = self._enqueued
                batch, self._buf, self._rows = self._buf, ([], [], [], []), 0
                due = time.monotonic() - self._last_migrate >= self.migrate_interval
                to_tables = (
                    self._want_durable
                    <= self._committed  # a timer or size flush: nobody is waiting
                    or self._closed
                    or self._want_visible > self._visible
                    or self._jrows + sum(map(len, batch)) >= self.journal_limit
                    or due
                )
                if to_tables:
                    jbatch, self._jbuf, self._jrows = self._jbuf, ([], [], [], []), 0
            try:
                if to_tables:
                    rows: Rows = (
                        jbatch[0] + batch[0],
                        jbatch[1] + batch[1],
                        jbatch[2] + batch[2],
                        jbatch[3] + batch[3],
                    )
                    if any(rows):
                        self._write_tables(rows, clear_journal=any(jbatch))
                elif any(batch):
                    self._write_journal(ticket, batch)
            except BaseException as exc:  # reported to every waiter of these rows
                with self._lock:
                    self._error, self._error_ticket = exc, ticket
                    self._error_reported = False
                    self._committed = self._visible = max(self._visible, ticket)
                    self._dirty = {t: k for t, k in self._dirty.items() if k > ticket}
                    self._cond.notify_all()
                    self._release(ticket, exc)
                continue
            with self._lock:
                self._committed = max(self._committed, ticket)
                if to_tables:
                    self._visible = max(self._visible, ticket)
                    self._last_migrate = time.monotonic()
                    for thread in [t for t, k in self._dirty.items() if k <= ticket]:
                        self.written_threads.add(thread)
                        del self._dirty[thread]
                else:
                    for part, extra in zip(self._jbuf, batch, strict=True):
                        part.extend(extra)
                    self._jrows += sum(map(len, batch))
                self._cond.notify_all()
                self._release(ticket, None)

    def _wait_for_work(self) -> None:
        """Sleep until a waiter, a full buffer, or a timer needs a flush."""
        while not self._pressing():
            now = time.monotonic()
            if self._rows:
                left: float | None = self.flush_interval - (now - self._first_row_at)
            elif self._jrows:
                left = self.migrate_interval - (now - self._last_migrate)
            else:
                left = None
            if left is not None and left <= 0:
                return
            self._cond.wait(left)

    def _pressing(self) -> bool:
        return (
            self._closed
            or self._want_durable > self._committed
            or self._want_visible > self._visible
            or self._rows >= self.max_buffered_rows
        )

    def _release(self, ticket: int, exc: BaseException | None) -> None:
        keep = []
        for t, fut in self._waiters:
            if t <= ticket:
                err = None if exc is None else StoreError(f"writing checkpoints failed: {exc}")
                fut.get_loop().call_soon_threadsafe(_resolve, fut, err)
            else:
                keep.append((t, fut))
        self._waiters = keep

    def _stop(self) -> None:
        """Write what is buffered into the tables and stop the flusher thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self._thread.join()


def _resolve(fut: Any, exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is None:
        fut.set_result(None)
    else:
        fut.set_exception(exc)
