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
from collections.abc import Callable, Sequence
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

# Tests only (``tests/faults``): called with the name of a point the flusher
# passed ("journal-written", "tables-written", "journal-recovered"), e.g. to
# kill the process there. None costs one comparison per flush.
fault_hook: Callable[[str], None] | None = None


def _passed(point: str) -> None:
    if fault_hook is not None:
        fault_hook(point)


def _thread_of_row(table: int, row: Sequence[Any]) -> str:
    value = row[6 if table == 3 else 0] if len(row) > 6 else None  # spans: column thread_id
    return value if isinstance(value, str) else repr(value)


def by_thread(rows: Rows) -> dict[str, Rows]:
    """Rows grouped by their thread id (spans by theirs)."""
    groups: dict[str, Rows] = {}
    for table, part in enumerate(rows):
        for row in part:
            thread = _thread_of_row(table, row)
            group = groups.get(thread)
            if group is None:
                group = groups[thread] = ([], [], [], [])
            group[table].append(row)
    return groups


def merge(parts: Sequence[Rows]) -> Rows:
    out: Rows = ([], [], [], [])
    for part in parts:
        for table in range(4):
            out[table].extend(part[table])
    return out


def threads_in(rows: Rows) -> set[str]:
    return {_thread_of_row(t, r) for t, part in enumerate(rows) for r in part}


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

    Subclasses implement ``_write_tables``, ``_write_journal`` and
    ``_probe``, each one transaction.

    Rows the file refuses (a bad JSON text put by hand, a full disk) fail
    only the threads they belong to: the flush is tried again thread by
    thread, and the error goes to whoever waits for those rows and to the
    next put or read of those threads, never to another thread.
    """

    flush_interval = 0.05
    migrate_interval = 1.0
    journal_limit = 5_000
    max_buffered_rows = 20_000
    #: a put waits while this many rows wait for the flusher to take them, so
    #: a writer faster than the file is held back: what is buffered, and what
    #: one flush writes, stay bounded (a single larger put still goes in)
    max_pending_rows = 20_000

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
        # a failed background write is reported to the runs whose rows failed,
        # never to another thread's: by ticket to whoever waits for it, and by
        # thread to the next put or read of that thread
        self._ticket_errors: dict[int, BaseException] = {}
        self._thread_errors: dict[str, BaseException] = {}
        # threads whose rows are in neither the journal nor the tables, and whose
        # error no run has been given yet (True: checkpoint rows, not only spans):
        # close() reports them
        self._unreported: dict[str, tuple[BaseException, bool]] = {}
        self._ticket_threads: dict[int, set[str]] = {}  # the threads of a failed ticket
        # buffered puts: ticket, threads (a tuple: kept by the thousand, and a
        # tuple of strings is not followed by the garbage collector, a set is)
        self._tickets: list[tuple[int, tuple[str, ...]]] = []
        self._closed = False
        self._waiters: list[tuple[int, Any]] = []  # (ticket, asyncio future) for await_
        self._dirty: dict[str, int] = {}  # thread id -> ticket of its newest rows not in the tables
        self.written_threads = SeenThreads()  # threads this process has written to
        # held by the flusher from taking a batch until the tables have it: while
        # a reader holds it, every row is either in the tables or in the buffers
        self._flushing = threading.Lock()
        self._last_activity = time.monotonic()  # the last flush or read of the file
        self._thread = threading.Thread(
            target=self._loop, name=f"wfkit-store-{id(self):x}", daemon=True
        )
        self._thread.start()

    def _write_tables(self, rows: Rows, clear_journal: bool, keep: Rows | None = None) -> None:
        """One transaction: insert ``rows``; if ``clear_journal``, empty the
        journal except for rows kept earlier, then journal ``keep``."""
        raise NotImplementedError

    def _write_journal(self, ticket: int, rows: Rows) -> None:
        raise NotImplementedError

    def _probe(self, rows: Rows, *, journal: bool) -> None:
        """Try writing ``rows`` (to the journal or the tables) in a
        transaction that is rolled back; raise what the file raises."""
        raise NotImplementedError

    def _wrote(
        self,
        checkpoints: Sequence[CheckpointRow],
        values: Sequence[ValueRow],
        writes: Sequence[WriteRow],
        threads: tuple[str, ...],
    ) -> None:
        """Rows (of ``threads``) were just enqueued (under the buffer's lock):
        a store that keeps threads in memory adds them there."""

    def _forget(self, threads: set[str]) -> None:
        """These threads' rows failed to reach the file: forget any copy kept
        in memory (called under the buffer's lock)."""

    def _idle_after(self) -> float | None:
        """Seconds until the store may let its file go, or None (never, or
        already let go). Called by the flusher, under the buffer's lock."""
        return None

    def _release_idle(self) -> None:
        """Let the file go (the flusher found nothing to do for a while)."""

    # ---------------------------------------------------------------- enqueue
    def put(
        self,
        checkpoints: Sequence[CheckpointRow],
        values: Sequence[ValueRow],
        writes: Sequence[WriteRow],
        spans: Sequence[SpanRow] = (),
    ) -> int:
        with self._lock:
            if self._rows >= self.max_pending_rows:
                self._hold_back()
            if self._closed:
                raise StoreError("the checkpoint store is closed; open a new one to keep writing")
            if self._thread_errors:
                self._raise_for_threads(
                    {r[0] for rows in (checkpoints, values, writes) for r in rows}
                    | {_thread_of_row(3, r) for r in spans}
                )
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
            one: str | None = None  # the thread of these rows (one, as a rule: a run's)
            mixed = False
            for rows in (checkpoints, values, writes):
                for row in rows:
                    thread = row[0]
                    dirty[thread] = ticket
                    if one is None:
                        one = thread
                    elif thread != one:
                        mixed = True
            if mixed:
                written = tuple(
                    {r[0]: None for part in (checkpoints, values, writes) for r in part}
                )
            else:
                written = () if one is None else (one,)
            threads = written
            if spans:  # spans are read without flushing a thread
                threads = tuple(dict.fromkeys((*written, *(_thread_of_row(3, r) for r in spans))))
            self._tickets.append((ticket, threads))
            if written:
                self._wrote(checkpoints, values, writes, written)
            if self._rows >= self.max_buffered_rows:
                self._cond.notify_all()
            return ticket

    def _hold_back(self) -> None:
        """Wait (under the buffer's lock) until the flusher has taken the
        buffered rows, or the store closes."""
        flusher = self._thread
        if threading.current_thread() is flusher:
            return
        while self._rows >= self.max_pending_rows and not self._closed and flusher.is_alive():
            self._cond.notify_all()
            self._cond.wait(0.5)

    def _check(self, ticket: int) -> None:
        exc = self._ticket_errors.get(ticket)
        if exc is not None:
            self._told(ticket)
            raise StoreError(f"writing checkpoints failed: {exc}") from exc

    def _told(self, ticket: int) -> None:
        """The run waiting for ``ticket`` was given its error (under the lock)."""
        for thread in self._ticket_threads.get(ticket, ()):
            self._unreported.pop(thread, None)

    def _raise_for_threads(self, threads: set[str]) -> None:
        """Report (once) a failed background write of one of ``threads``."""
        for thread in threads:
            exc = self._thread_errors.pop(thread, None)
            if exc is not None:
                self._unreported.pop(thread, None)
                raise StoreError(
                    f"an earlier background write of thread {thread!r} failed ({exc}); those "
                    f"rows are not in the file's tables. Other threads were not affected"
                ) from exc

    def wait(self, ticket: int) -> None:
        """Block until the rows up to ``ticket`` are durable."""
        self._block(ticket, visible=False)

    def _block(self, ticket: int, *, visible: bool, check: bool = True) -> None:
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
            if check:
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
            self._block(ticket, visible=True, check=False)  # its errors are by thread
        if self._thread_errors:
            with self._lock:
                self._raise_for_threads({thread_id})

    def flush(self) -> None:
        """Make everything enqueued so far durable and visible in the tables."""
        with self._lock:
            ticket = self._enqueued
        self._block(ticket, visible=True, check=False)  # failed rows fail their own threads

    # ---------------------------------------------------------------- flusher
    def _loop(self) -> None:
        while True:
            with self._lock:
                idle = self._wait_for_work()
            if idle:
                self._release_idle()
                continue
            with self._flushing:
                if self._flush_once():
                    return

    def _flush_once(self) -> bool:
        """One flush (or journal write) of what is buffered; True when the
        store is closed and everything is written."""
        with self._lock:
            if (
                self._closed
                and self._rows == 0
                and self._jrows == 0
                and self._visible == self._enqueued
            ):
                return True
            ticket = self._enqueued
            batch, self._buf, self._rows = self._buf, ([], [], [], []), 0
            tickets, self._tickets = self._tickets, []
            self._cond.notify_all()  # puts held back (max_pending_rows) go on
            due = time.monotonic() - self._last_migrate >= self.migrate_interval
            to_tables = (
                self._want_durable <= self._committed  # a timer or size flush: nobody is waiting
                or self._closed
                or self._want_visible > self._visible
                or self._jrows + sum(map(len, batch)) >= self.journal_limit
                or due
            )
            jbatch: Rows = ([], [], [], [])
            if to_tables:
                jbatch, self._jbuf, self._jrows = self._jbuf, ([], [], [], []), 0
        failed: dict[str, BaseException] = {}
        lost: Rows = ([], [], [], [])  # rows that failed and are not kept in the journal
        try:
            if to_tables:
                if any(batch) or any(jbatch):
                    failed, lost = self._to_tables(jbatch, batch)
                    _passed("tables-written")
            elif any(batch):
                batch, failed, lost = self._to_journal(ticket, batch)
                _passed("journal-written")
        except Exception as exc:  # reported to the runs of these rows, no one else
            failed = dict.fromkeys(threads_in(batch) | threads_in(jbatch), exc)
            lost = batch
            with self._lock:  # journaled rows are still in the file: try them again later
                if not self._closed:  # (or when the file is next opened)
                    self._jbuf = merge([jbatch, self._jbuf])
                    self._jrows += sum(map(len, jbatch))
                    self._enqueued += 1  # a ticket for them, so readers wait for the retry
                    for thread in threads_in(jbatch):
                        self._dirty[thread] = self._enqueued
            batch = ([], [], [], [])
        with self._lock:
            self._fail(failed, tickets, lost)
            self._committed = max(self._committed, ticket)
            if to_tables:
                self._visible = max(self._visible, ticket)
                self._last_migrate = time.monotonic()
                for thread in [t for t, k in self._dirty.items() if k <= ticket]:
                    if thread not in failed:
                        self.written_threads.add(thread)
                    del self._dirty[thread]
            else:
                for part, extra in zip(self._jbuf, batch, strict=True):
                    part.extend(extra)
                self._jrows += sum(map(len, batch))
            self._last_activity = time.monotonic()
            self._cond.notify_all()
            self._release(ticket)
        return False

    def _fail(
        self,
        failed: dict[str, BaseException],
        tickets: list[tuple[int, tuple[str, ...]]],
        lost: Rows,
    ) -> None:
        if not failed:
            return
        self._thread_errors.update(failed)
        for table, part in enumerate(lost):
            for row in part:
                thread = _thread_of_row(table, row)
                if thread in failed:
                    known = self._unreported.get(thread)
                    checkpoints = table < 3 or (known is not None and known[1])
                    self._unreported[thread] = (failed[thread], checkpoints)
        self._forget(set(failed))
        for t, threads in tickets:
            hit = next((failed[th] for th in threads if th in failed), None)
            if hit is not None:
                self._ticket_errors[t] = hit
                self._ticket_threads[t] = {th for th in threads if th in failed}

    def _lost_rows(self) -> tuple[str, BaseException] | None:
        """What ``close()`` reports of rows that never reached the file and
        whose failure no run was given (an ``"async"`` run on a full disk):
        a message and the first error."""
        if not self._unreported:
            return None

        def named(threads: list[str]) -> str:
            more = f" and {len(threads) - 5} more" if len(threads) > 5 else ""
            return ", ".join(map(repr, threads[:5])) + more

        runs = sorted(t for t, (_, c) in self._unreported.items() if c)
        traces = sorted(t for t, (_, c) in self._unreported.items() if not c)
        first = self._unreported[(runs or traces)[0]][0]
        parts = []
        if runs:
            parts.append(
                f"the checkpoints of thread(s) {named(runs)} could not be written ({first}); "
                f"they are not in the file, and no run was told. Run those threads again "
                f"once the cause is fixed"
            )
        if traces:
            parts.append(f"the trace spans of thread(s) {named(traces)} could not be written")
        return "; ".join(parts), first

    def _to_tables(self, jbatch: Rows, batch: Rows) -> tuple[dict[str, BaseException], Rows]:
        """Move journaled and buffered rows into the tables, in one transaction.
        When that fails, the rows are tried thread by thread: the threads
        whose rows the file refuses fail alone (their journaled rows stay in
        the journal), the others are written. Returns the failed threads, and
        their buffered rows (lost: they are not in the journal)."""
        rows = merge([jbatch, batch])
        try:
            self._write_tables(rows, clear_journal=any(jbatch))
            return {}, ([], [], [], [])
        except Exception:
            good_j, bad_j = self._salvage(jbatch, journal=False)
            good_b, bad_b = self._salvage(batch, journal=False)
            if not (bad_j or bad_b):  # every thread alone is fine: not the rows' fault
                raise
        keep = merge([part for part, _ in bad_j.values()])
        self._write_tables(merge([good_j, good_b]), clear_journal=any(jbatch), keep=keep)
        failed = {t: exc for t, (_, exc) in (bad_j | bad_b).items()}
        return failed, merge([part for part, _ in bad_b.values()])

    def _to_journal(self, ticket: int, batch: Rows) -> tuple[Rows, dict[str, BaseException], Rows]:
        """Journal ``batch``; returns the rows journaled, the failed threads
        and their rows (lost)."""
        try:
            self._write_journal(ticket, batch)
            return batch, {}, ([], [], [], [])
        except Exception:
            good, bad = self._salvage(batch, journal=True)
            if not bad:
                raise
        if any(good):
            self._write_journal(ticket, good)
        failed = {t: exc for t, (_, exc) in bad.items()}
        return good, failed, merge([part for part, _ in bad.values()])

    def _salvage(
        self, rows: Rows, *, journal: bool
    ) -> tuple[Rows, dict[str, tuple[Rows, BaseException]]]:
        """Split ``rows`` by thread into those the file takes and those it
        refuses (each tried alone in a transaction that is rolled back)."""
        good: list[Rows] = []
        bad: dict[str, tuple[Rows, BaseException]] = {}
        for thread, part in by_thread(rows).items():
            try:
                self._probe(part, journal=journal)
            except Exception as exc:
                bad[thread] = (part, exc)
            else:
                good.append(part)
        return merge(good), bad

    def _wait_for_work(self) -> bool:
        """Sleep until a waiter, a full buffer, or a timer needs a flush
        (False), or until the file has been idle long enough to let go (True)."""
        while not self._pressing():
            now = time.monotonic()
            if self._rows:
                left: float | None = self.flush_interval - (now - self._first_row_at)
            elif self._jrows:
                left = self.migrate_interval - (now - self._last_migrate)
            else:
                left = self._idle_after()
                if left is not None and left <= 0:
                    return True
            if left is not None and left <= 0:
                return False
            self._cond.wait(left)
        return False

    def _pressing(self) -> bool:
        return (
            self._closed
            or self._want_durable > self._committed
            or self._want_visible > self._visible
            or self._rows >= self.max_buffered_rows
        )

    def _release(self, ticket: int) -> None:
        keep = []
        for t, fut in self._waiters:
            if t <= ticket:
                exc = self._ticket_errors.get(t)
                err = None if exc is None else StoreError(f"writing checkpoints failed: {exc}")
                if exc is not None:
                    self._told(t)
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
