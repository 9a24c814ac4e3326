"""The DuckDB store's memory of its threads: every row of a thread, kept
beside the file, so reading a thread it knows never waits for a flush or
asks DuckDB (a point query costs milliseconds: DuckDB is built for scans).

The process that holds a checkpoint file is its only writer, so once a
thread's rows are here (read from the file in bulk, or the thread is new)
every row it writes is added as it is enqueued (write-through) and the
copy stays exactly what the file will hold. :class:`ThreadRows` is one
thread; it answers the store's read methods for that thread.
:class:`RowCache` keeps the recently used ones, least recently used
dropped first, within a byte budget. A thread dropped from memory is read
from the file again, in bulk, the next time.

Each :class:`ThreadRows` also keeps the decoded value of each state key at
the version read last (``decoded``), so continuing a thread decodes only
what the last turn appended. What is kept there is never handed out: the
reader copies it (:mod:`wfkit.threads.fold`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from wfkit.checkpoint.base import CheckpointRow, ValueRow, WriteRow

__all__ = [
    "DEFAULT_CACHE_BYTES",
    "RowCache",
    "as_stored",
    "ThreadReader",
    "ThreadRows",
    "stored_time",
]

DEFAULT_CACHE_BYTES = 64 * 2**20
# What a row costs in this process beyond its long texts (measured with
# tracemalloc: the tuple, its ids, numbers and times, its dict entries, once
# the cache is the only holder of the row), so that the budget is close to
# the memory the cache really takes. (Measured again on 2026-12-03: the
# figures before were 1.3 to 4 times what tracemalloc counted.)
_CHECKPOINT_COST = 700
_VALUE_COST = 300
_WRITE_COST = 500
_THREAD_COST = 1100  # a ThreadRows and its empty dicts and sets


def stored_time(x: Any) -> Any:
    """A ``time.time()`` float as DuckDB gives it back after a
    ``to_timestamp(x)`` / ``epoch(...)`` round trip (rounded to microseconds,
    divided the way DuckDB divides), so a row in memory equals its row in
    the file."""
    if type(x) is not float:
        return x
    us = round(x * 1e6)
    return (us // 1000) / 1e3 + (us % 1000) / 1e6


class ThreadReader(Protocol):
    """What reading a thread needs: a store (every ``Checkpointer`` is one),
    or one thread's rows in memory (:class:`ThreadRows`)."""

    def get_checkpoint(
        self, thread_id: str, checkpoint_id: str | None = None
    ) -> CheckpointRow | None: ...

    def list_checkpoints(
        self, thread_id: str, *, limit: int | None = None, before: str | None = None
    ) -> list[CheckpointRow]: ...

    def has_children(self, thread_id: str, checkpoint_id: str) -> bool: ...

    def get_values(self, thread_id: str, keys: Sequence[str]) -> list[ValueRow]: ...

    def get_writes(self, thread_id: str, checkpoint_id: str | None = None) -> list[WriteRow]: ...

    def max_version(self, thread_id: str) -> int: ...


def _text(v: Any) -> int:
    return len(v) if type(v) is str else 0


def _write_size(row: WriteRow) -> int:
    return _WRITE_COST + _text(row[8]) + _text(row[9]) + _text(row[12])


ALL = object()  # every checkpoint's writes


class Loader(Protocol):
    """Fetches the part of a thread a :class:`ThreadRows` does not hold yet."""

    def fetch_rest(self, entry: ThreadRows, *, checkpoints: bool, writes: Any) -> None: ...


def _by_time(row: WriteRow) -> tuple[float, int]:
    return (row[17] or 0.0, row[5] or 0)  # written_at, task_index


class ThreadRows:
    """Every row of one thread, and its reading methods (the store's, for
    this one thread: ``get_checkpoint``, ``list_checkpoints``, ...)."""

    __slots__ = (
        "_order",
        "by_key",
        "checkpoints",
        "decoded",
        "filling",
        "loader",
        "nbytes",
        "owner",
        "parents",
        "partial_checkpoints",
        "partial_writes",
        "reserved",
        "thread_id",
        "top_version",
        "values",
        "writes",
        "writes_known",
    )

    def __init__(self, thread_id: str) -> None:
        self.thread_id = thread_id
        self.checkpoints: dict[str, CheckpointRow] = {}
        self.values: dict[tuple[str, int], ValueRow] = {}  # (key, version) -> row
        self.by_key: dict[str, list[ValueRow]] = {}
        # checkpoint id -> rows, put order (tuples, which the garbage collector
        # stops following once it has seen them; a list it follows for ever)
        self.writes: dict[Any, tuple[WriteRow, ...]] = {}
        # (dicts used as sets: the garbage collector stops following a dict
        # of strings, never a set, and a store keeps thousands of these)
        self.parents: dict[str, None] = {}
        self.top_version = 0
        self.reserved = 0  # the highest version handed out to a run (reserve_version)
        self.nbytes = _THREAD_COST
        # key -> (version, decoded value, whether it holds only immutable parts, bytes);
        # private to the reader (wfkit.threads.fold), which copies what it hands out
        self.decoded: dict[str, tuple[int, Any, bool, int]] = {}
        self.owner: RowCache | None = None  # the cache keeping it, if any
        self._order: tuple[int, Sequence[str]] = (0, ())  # (how many, ids newest first)
        # A thread read cold holds every value row but only the newest checkpoint
        # (and checkpoints written since) and the writes of the checkpoints in
        # writes_known: the loader (the store) fetches the rest when asked for it.
        self.loader: Loader | None = None
        self.partial_checkpoints = False
        self.partial_writes = False
        self.writes_known: dict[Any, None] = {}
        # True while a cold read fills it: kept in the cache (so rows put
        # meanwhile are written through) but not handed to readers yet
        self.filling = False

    def add(
        self,
        checkpoints: Iterable[CheckpointRow],
        values: Iterable[ValueRow],
        writes: Iterable[WriteRow],
        *,
        new: bool = False,
    ) -> int:
        """Take rows (as the file holds them); returns the bytes they cost.
        ``new``: rows just put, so every write of these checkpoints is to come
        this way too."""
        n = 0
        # values and writes before the checkpoints that refer to them: readers
        # of a kept thread take no lock, so a checkpoint must never be seen
        # before its rows are
        index, by_key, top = self.values, self.by_key, self.top_version
        for row in values:
            key, version = row[2], row[3]
            index[(key, version)] = row
            rows = by_key.get(key)
            if rows is None:
                by_key[key] = [row]
            else:
                rows.append(row)
            if type(version) is int and version > top:
                top = version
            n += _VALUE_COST + _text(row[6])
        self.top_version = top
        writes_ = self.writes
        grouped: dict[Any, list[WriteRow]] = {}
        for row in writes:
            part = grouped.get(row[1])
            if part is None:
                grouped[row[1]] = [row]
            else:
                part.append(row)
            n += _write_size(row)
        for cid, part in grouped.items():  # one new tuple per checkpoint, not per row
            old = writes_.get(cid)
            writes_[cid] = tuple(part) if old is None else old + tuple(part)
        checkpoints_ = self.checkpoints
        parents = self.parents
        for row in checkpoints:
            if row[1] in checkpoints_:
                continue
            checkpoints_[row[1]] = row
            if row[2] is not None:
                parents[row[2]] = None
            if new:
                self.writes_known[row[1]] = None
            n += _CHECKPOINT_COST + _text(row[7]) + _text(row[9]) + _text(row[11])
        self.nbytes += n
        return n

    def complete(self) -> None:
        """Fetch whatever of the thread is not here yet (at most two queries)."""
        if self.loader is not None and (self.partial_checkpoints or self.partial_writes):
            self.loader.fetch_rest(self, checkpoints=self.partial_checkpoints, writes=ALL)

    def _all_checkpoints(self) -> None:
        if self.partial_checkpoints and self.loader is not None:
            self.loader.fetch_rest(self, checkpoints=True, writes=None)

    def _writes_of(self, checkpoint_id: Any) -> None:
        if (
            self.partial_writes
            and self.loader is not None
            and (checkpoint_id is ALL or checkpoint_id not in self.writes_known)
        ):
            self.loader.fetch_rest(self, checkpoints=False, writes=checkpoint_id)

    def take_writes(self, rows: Sequence[WriteRow], marks: dict[Any, int], which: Any) -> int:
        """The writes of checkpoint ``which`` (or ``ALL``) as fetched, with the
        writes put since ``marks`` was taken (list lengths then) kept after
        them; returns the bytes that added."""
        grouped: dict[Any, list[WriteRow]] = {}
        for row in rows:
            grouped.setdefault(row[1], []).append(row)
        targets = set(grouped) | (set(self.writes) if which is ALL else {which})
        n = 0
        for cid in targets:
            old = self.writes.get(cid, ())
            mark = marks.get(cid, 0)
            fetched = tuple(grouped.get(cid, ()))
            n += sum(map(_write_size, fetched)) - sum(map(_write_size, old[:mark]))
            self.writes[cid] = fetched + old[mark:]
        if which is ALL:
            self.partial_writes = False
        else:
            self.writes_known[which] = None
        self.nbytes += n
        return n

    # ---------------------------------------------------------------- reading
    def _ids(self) -> Sequence[str]:
        # checkpoints are only ever added: the count says whether the order is current
        n, order = self._order
        if n != len(self.checkpoints):
            n = len(self.checkpoints)
            order = sorted(list(self.checkpoints)[:n], reverse=True)
            self._order = (n, order)
        return order

    def get_checkpoint(
        self, thread_id: str, checkpoint_id: str | None = None
    ) -> CheckpointRow | None:
        if checkpoint_id is not None:
            row = self.checkpoints.get(checkpoint_id)
            if row is None and self.partial_checkpoints:
                self._all_checkpoints()
                row = self.checkpoints.get(checkpoint_id)
            return row
        ids = self._ids()  # the newest is always here
        return self.checkpoints[ids[0]] if ids else None

    def list_checkpoints(
        self, thread_id: str, *, limit: int | None = None, before: str | None = None
    ) -> list[CheckpointRow]:
        self._all_checkpoints()
        ids = self._ids()
        if before is not None:
            ids = [i for i in ids if i < before]
        if limit is not None:
            ids = ids[: max(int(limit), 0)]
        return [self.checkpoints[i] for i in ids]

    def has_children(self, thread_id: str, checkpoint_id: str) -> bool:
        self._all_checkpoints()
        return checkpoint_id in self.parents

    def get_values(self, thread_id: str, keys: Sequence[str]) -> list[ValueRow]:
        out: list[ValueRow] = []
        for key in dict.fromkeys(keys):
            out.extend(list(self.by_key.get(key, ())))
        return out

    def value_rows(self, thread_id: str) -> dict[tuple[str, int], ValueRow]:
        """Every value row of the thread by (key, version): read, never change."""
        return self.values

    def get_writes(self, thread_id: str, checkpoint_id: str | None = None) -> list[WriteRow]:
        self._writes_of(ALL if checkpoint_id is None else checkpoint_id)
        if checkpoint_id is None:
            rows = [r for part in list(self.writes.values()) for r in list(part)]
        else:
            rows = list(self.writes.get(checkpoint_id, ()))
        rows.sort(key=_by_time)  # the file's order: written_at, then task_index
        return rows

    def max_version(self, thread_id: str) -> int:
        return self.top_version

    def remember(self, key: str, version: int, value: Any, frozen: bool, nbytes: int) -> None:
        """Keep ``key``'s decoded value at ``version`` (one version per key,
        the one read last), counted in the cache's budget."""
        owner = self.owner
        if owner is None:
            self.decoded[key] = (version, value, frozen, nbytes)
            return
        with owner.lock:
            old = self.decoded.get(key)
            self.decoded[key] = (version, value, frozen, nbytes)
            grown = nbytes - (old[3] if old is not None else 0)
            self.nbytes += grown
            if owner._threads.get(self.thread_id) is self:
                owner.nbytes += grown
                owner._evict()


class RowCache:
    """Threads' rows in memory, least recently used dropped first once
    they take more than ``limit`` bytes (``0``: keep nothing)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(int(limit), 0)
        self.lock = threading.Lock()
        self._threads: OrderedDict[str, ThreadRows] = OrderedDict()
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._threads)

    def __contains__(self, thread_id: object) -> bool:
        return thread_id in self._threads

    def get(self, thread_id: str) -> ThreadRows | None:
        """The thread's rows if kept here and complete (None while a cold
        read is still filling them: the caller reads it as a cold read does,
        waiting for that one)."""
        with self.lock:
            entry = self._threads.get(thread_id)
            if entry is None or entry.filling:
                return None
            self._threads.move_to_end(thread_id)
            return entry

    def filled(self, entry: ThreadRows) -> None:
        """A cold read has put every row of ``entry`` in it: hand it out."""
        with self.lock:
            entry.filling = False

    def install(self, entry: ThreadRows) -> bool:
        """Keep ``entry`` (if it fits); False when it does not."""
        if self.limit == 0 or entry.nbytes > self.limit:
            return False
        with self.lock:
            old = self._threads.pop(entry.thread_id, None)
            if old is not None:
                self.nbytes -= old.nbytes
            self._threads[entry.thread_id] = entry
            entry.owner = self
            self.nbytes += entry.nbytes
            self._evict()
        return True

    def fill(
        self,
        entry: ThreadRows,
        checkpoints: Sequence[CheckpointRow],
        values: Sequence[ValueRow],
        writes: Sequence[WriteRow],
    ) -> None:
        """Add rows read from the file (or still buffered, ``stored``-shaped
        here) to ``entry``, which puts may be writing through to already."""
        with self.lock:
            grown = entry.add(checkpoints, values, writes)
            if self._threads.get(entry.thread_id) is entry:
                self.nbytes += grown
                self._evict()

    def take(
        self,
        entry: ThreadRows,
        checkpoints: Sequence[CheckpointRow],
        writes: Sequence[WriteRow],
        marks: dict[Any, int],
        which: Any,
    ) -> None:
        """The rest of a thread fetched: its checkpoints (if ``checkpoints``
        is not empty or they were asked for) and the writes of ``which``
        (a checkpoint id, ``ALL``, or None for none)."""
        with self.lock:
            grown = entry.add(checkpoints, (), ())
            if which is not None:
                grown += entry.take_writes(writes, marks, which)
            if self._threads.get(entry.thread_id) is entry:
                self.nbytes += grown
                self._evict()

    def add(
        self,
        checkpoints: Sequence[CheckpointRow],
        values: Sequence[ValueRow],
        writes: Sequence[WriteRow],
        threads: Sequence[str] | None = None,
    ) -> None:
        """Write-through: rows just enqueued, added to the threads kept here
        (rows of other threads are not: those are read from the file).
        ``threads``: the threads the rows belong to, if the caller knows."""
        kept = self._threads
        if not kept:
            return
        if threads is None:
            threads = list(
                dict.fromkeys(r[0] for part in (checkpoints, values, writes) for r in part)
            )
        names = [t for t in threads if t in kept]
        if not names:
            return
        with self.lock:
            for name in names:
                entry = kept.get(name)
                if entry is None:
                    continue
                if len(threads) == 1:  # one run's rows: all of them
                    rows = _stored(checkpoints, values, writes)
                else:
                    rows = as_stored(checkpoints, values, writes, name)
                self.nbytes += entry.add(*rows, new=True)
                kept.move_to_end(name)
            if self.nbytes > self.limit:
                self._evict()

    def drop(self, threads: Iterable[str]) -> None:
        with self.lock:
            for thread in threads:
                entry = self._threads.pop(thread, None)
                if entry is not None:
                    self.nbytes -= entry.nbytes

    def drop_prefix(self, prefix: str) -> None:
        """Drop the threads whose ids start with ``prefix`` (a thread's namespaces)."""
        with self.lock:
            for thread in [t for t in self._threads if t.startswith(prefix)]:
                self.nbytes -= self._threads.pop(thread).nbytes

    def clear(self) -> None:
        with self.lock:
            self._threads.clear()
            self.nbytes = 0

    def _evict(self) -> None:
        while self.nbytes > self.limit and self._threads:
            _, entry = self._threads.popitem(last=False)
            self.nbytes -= entry.nbytes


def _stored(
    checkpoints: Sequence[CheckpointRow],
    values: Sequence[ValueRow],
    writes: Sequence[WriteRow],
) -> tuple[Sequence[CheckpointRow], Sequence[ValueRow], Sequence[WriteRow]]:
    """These rows as the file gives them back (times rounded to its microseconds)."""
    t = stored_time
    return (
        [(*r[:12], t(r[12])) for r in checkpoints] if checkpoints else (),
        values,
        [(*r[:15], t(r[15]), t(r[16]), t(r[17])) for r in writes] if writes else (),
    )


def as_stored(
    checkpoints: Iterable[CheckpointRow],
    values: Iterable[ValueRow],
    writes: Iterable[WriteRow],
    thread: str,
) -> tuple[list[CheckpointRow], list[ValueRow], list[WriteRow]]:
    """``thread``'s rows among these, as the file gives them back (times
    rounded to its microseconds)."""
    return (
        [(*r[:12], stored_time(r[12])) for r in checkpoints if r[0] == thread],
        [r for r in values if r[0] == thread],
        [
            (*r[:15], stored_time(r[15]), stored_time(r[16]), stored_time(r[17]))
            for r in writes
            if r[0] == thread
        ],
    )
