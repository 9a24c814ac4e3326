"""``InMemoryStore``: the long-term store in a dict, with optional vector
search (``langgraph.store.memory``'s name)::

    from wfkit.store.memory import InMemoryStore

    store = InMemoryStore(index={"dims": 384, "embed": embed, "fields": ["text"]})

Items are kept in the order their keys were first put, which is the order
a search without a query returns them in. A filter is compiled once per
search into a Python function, and a search stops scanning as soon as it
has ``offset + limit`` items. Vectors are rows of one NumPy matrix,
normalised when stored, so a query is scored against every item with one
matrix product (without NumPy, in plain Python). Every operation holds the
store's lock, so threads may share one store; the embedding function is
called outside it.
"""

from __future__ import annotations

import functools
import heapq
import math
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from wfkit.store._flow import TIE_DIGITS, FlowStore, Key, Plan, matches
from wfkit.store.base import (
    IndexConfig,
    Item,
    ListNamespacesOp,
    PutOp,
    SearchItem,
    SearchOp,
    TTLConfig,
)
from wfkit.store.filters import Test, python_checks

__all__ = ["InMemoryStore"]


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:  # the pure-Python rows below do the same, slower
        return None
    return numpy


class _Entry:
    __slots__ = ("expires", "item", "seq", "slots", "ttl")

    def __init__(self, item: Item, seq: int, ttl: float | None, expires: float | None) -> None:
        self.item = item
        self.seq = seq
        self.ttl = ttl
        self.expires = expires
        self.slots: tuple[int, ...] = ()


class _Rows:
    """Unit vectors in numbered rows (a NumPy matrix, or lists without
    NumPy); rows of deleted items are reused."""

    def __init__(self, dims: int, np: Any) -> None:
        self.dims = dims
        self.np = np
        self.owner: list[Key | None] = []
        self.free: list[int] = []
        self.matrix: Any = np.zeros((16, dims), dtype=np.float32) if np is not None else []

    def add(self, vector: list[float], owner: Key) -> int:
        norm = math.sqrt(sum(x * x for x in vector)) or 1.0
        unit = [x / norm for x in vector]
        if self.free:
            slot = heapq.heappop(self.free)
            self.owner[slot] = owner
        else:
            slot = len(self.owner)
            self.owner.append(owner)
            if self.np is None:
                self.matrix.append(unit)
            elif slot >= len(self.matrix):
                grown = self.np.zeros((2 * len(self.matrix), self.dims), dtype=self.np.float32)
                grown[: len(self.matrix)] = self.matrix
                self.matrix = grown
        self.matrix[slot] = unit
        return slot

    def remove(self, slots: tuple[int, ...]) -> None:
        for slot in slots:
            self.owner[slot] = None
            heapq.heappush(self.free, slot)

    def scorer(self, query: list[float]) -> Callable[[int], float]:
        """A function of a row number: its cosine similarity to ``query``."""
        norm = math.sqrt(sum(x * x for x in query))
        if norm == 0:
            return lambda slot: 0.0
        if self.np is not None:
            np = self.np
            q = np.asarray(query, dtype=np.float32) / np.float32(norm)
            scores = (self.matrix[: len(self.owner)] @ q).tolist()
            return scores.__getitem__  # type: ignore[no-any-return]
        unit = [x / norm for x in query]
        rows = self.matrix
        return lambda slot: sum(a * b for a, b in zip(rows[slot], unit, strict=True))

    def ranked(self, query: list[float], first: int) -> Iterator[tuple[float, int]]:
        """(score, row) of every row, best first (NumPy only): the best
        ``first`` from a partial sort, the others only if asked for."""
        np = self.np
        norm = math.sqrt(sum(x * x for x in query))
        size = len(self.owner)
        if norm == 0:
            scores = np.zeros(size, dtype=np.float32)
        else:
            q = np.asarray(query, dtype=np.float32) / np.float32(norm)
            scores = self.matrix[:size] @ q
        values = scores.tolist()
        done: set[int] = set()
        if first < size:  # rows outside the partition score no more than those in it
            top = np.argpartition(-scores, first - 1)[:first]
            for slot in top[np.argsort(-scores[top], kind="stable")].tolist():
                done.add(slot)
                yield values[slot], slot
        for slot in np.argsort(-scores, kind="stable").tolist():
            if slot not in done:
                yield values[slot], slot


class InMemoryStore(FlowStore):
    """A long-term store kept in memory (lost when the process ends).

    ``index``: ``{"dims": N, "embed": fn, "fields": [...]}`` for
    ``search(query=...)``; ``ttl``: ``{"default_ttl": minutes,
    "refresh_on_read": True}``; ``clock``: the time, for tests of expiry.
    See :class:`~wfkit.store.base.BaseStore` for the verbs.
    """

    def __init__(
        self,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(index=index, ttl=ttl, clock=clock)
        self._items: dict[Key, _Entry] = {}
        self._seq = 0
        self._lock = threading.RLock()
        self._rows = _Rows(self.index.dims, _numpy()) if self.index is not None else None

    def __repr__(self) -> str:
        return f"InMemoryStore({len(self._items)} items{', indexed' if self.index else ''})"

    def __len__(self) -> int:
        """How many items the store holds (expired ones until they are swept)."""
        return len(self._items)

    # ------------------------------------------------------------ reads
    def _live(self, key: Key, now: float) -> _Entry | None:
        entry = self._items.get(key)
        if entry is not None and entry.expires is not None and entry.expires <= now:
            return None
        return entry

    def _read(self, plan: Plan, queries: dict[str, list[float]], now: float) -> None:
        results = plan.results
        with self._lock:
            for i, get in plan.gets:
                entry = self._live((get.namespace, get.key), now)
                if entry is not None and get.refresh_ttl:
                    self._restart(entry, now)
                results[i] = entry.item if entry is not None else None
            for i, op, tests in plan.searches:
                vector = queries.get(op.query) if op.query else None
                found = self._search(op, tests, vector, now)
                if op.refresh_ttl:
                    for entry, _ in found:
                        self._restart(entry, now)
                results[i] = [_search_item(e.item, score) for e, score in found]
            for i, listing in plan.listings:
                results[i] = self._namespaces(listing, now)

    def _restart(self, entry: _Entry, now: float) -> None:
        if entry.ttl is not None:
            entry.expires = now + 60.0 * entry.ttl

    def _scan(self, prefix: tuple[str, ...], tests: list[Test], now: float) -> Iterator[_Entry]:
        """The live entries under ``prefix`` whose values pass ``tests``, in order."""
        return filter(_scanner(tests, prefix, now), self._items.values())

    def _search(
        self, op: SearchOp, tests: list[Test], vector: list[float] | None, now: float
    ) -> list[tuple[_Entry, float | None]]:
        want = op.offset + op.limit
        if vector is None or self._rows is None:
            out: list[tuple[_Entry, float | None]] = []
            if want:
                for entry in self._scan(op.namespace_prefix, tests, now):
                    out.append((entry, None))
                    if len(out) == want:
                        break
            return out[op.offset :]
        if not tests and self._rows.np is not None:
            return self._ranked_all(op, vector, now)[op.offset :]
        score = self._rows.scorer(vector)
        scored: list[tuple[_Entry, float | None]] = []
        plain: list[tuple[_Entry, float | None]] = []
        for entry in self._scan(op.namespace_prefix, tests, now):
            if entry.slots:
                scored.append((entry, max(score(s) for s in entry.slots)))
            else:
                plain.append((entry, None))
        scored.sort(key=lambda pair: (-round(pair[1], TIE_DIGITS), pair[0].seq))  # type: ignore[arg-type]
        return (scored + plain)[op.offset : want]

    def _ranked_all(
        self, op: SearchOp, vector: list[float], now: float
    ) -> list[tuple[_Entry, float | None]]:
        """A query with no filter: rows best first, until ``offset + limit``
        items (and every item tied with the last) are found."""
        assert self._rows is not None
        want = op.offset + op.limit
        prefix, n = op.namespace_prefix, len(op.namespace_prefix)
        best: dict[Key, tuple[_Entry, float]] = {}
        last = math.inf
        if want:
            owners = self._rows.owner
            for value, slot in self._rows.ranked(vector, 4 * want + 16):
                key = owners[slot]
                if key is None or key in best:
                    continue
                if len(best) >= want and round(value, TIE_DIGITS) < last:
                    break
                if n and key[0][:n] != prefix:
                    continue
                entry = self._live(key, now)
                if entry is None:
                    continue
                best[key] = (entry, value)
                last = round(value, TIE_DIGITS)
        ranked = sorted(best.values(), key=lambda p: (-round(p[1], TIE_DIGITS), p[0].seq))
        scored: list[tuple[_Entry, float | None]] = list(ranked)
        if len(scored) < want:  # fewer items with vectors than asked for: the others after
            for entry in self._scan(prefix, [], now):
                if not entry.slots:
                    scored.append((entry, None))
                    if len(scored) == want:
                        break
        return scored[:want]

    def _namespaces(self, op: ListNamespacesOp, now: float) -> list[tuple[str, ...]]:
        found = {
            namespace
            for (namespace, _), entry in self._items.items()
            if entry.expires is None or entry.expires > now
        }
        conditions = op.match_conditions or ()
        kept = [ns for ns in found if all(matches(ns, c) for c in conditions)]
        if op.max_depth is not None:
            kept = list({ns[: op.max_depth] for ns in kept})
        kept.sort()
        return kept[op.offset : op.offset + op.limit]

    # ------------------------------------------------------------ writes
    def _write(
        self,
        puts: dict[Key, PutOp],
        texts: list[tuple[tuple[str, ...], str, str, str]],
        vectors: list[list[float]],
        now: float,
    ) -> None:
        by_key: dict[Key, list[list[float]]] = {}
        for (namespace, name, _, _), vector in zip(texts, vectors, strict=True):
            by_key.setdefault((namespace, name), []).append(vector)
        stamp = datetime.fromtimestamp(now, UTC)
        with self._lock:
            for key, op in puts.items():
                old = self._items.get(key)
                if old is not None and (
                    op.value is None or (old.expires is not None and old.expires <= now)
                ):
                    self._drop(key, old)  # an expired item is gone: a put starts a new one
                    old = None
                if op.value is None:
                    continue
                item = Item(
                    value=dict(op.value),
                    key=key[1],
                    namespace=key[0],
                    created_at=old.item.created_at if old is not None else stamp,
                    updated_at=stamp,
                )
                expires = self._expires(op, now)
                if old is not None:
                    old.item, old.ttl, old.expires = item, op.ttl, expires
                    entry = old
                else:
                    self._seq += 1
                    entry = self._items[key] = _Entry(item, self._seq, op.ttl, expires)
                if self._rows is not None:
                    self._rows.remove(entry.slots)
                    entry.slots = tuple(self._rows.add(v, key) for v in by_key.get(key, ()))

    def _drop(self, key: Key, entry: _Entry) -> None:
        del self._items[key]
        if self._rows is not None:
            self._rows.remove(entry.slots)

    def sweep_ttl(self) -> int:
        now = self.clock()
        with self._lock:
            gone = [
                (k, e) for k, e in self._items.items() if e.expires is not None and e.expires <= now
            ]
            for key, entry in gone:
                self._drop(key, entry)
        return len(gone)


_SAMPLE: dict[str, Any] = {"none": None, "bool": True, "str": "", "number": 0}


def _kind_of(operand: Any) -> str:
    if operand is None:
        return "none"
    if isinstance(operand, bool):
        return "bool"
    return "str" if isinstance(operand, str) else "number"


@functools.lru_cache(maxsize=256)
def _scan_code(shape: tuple[Any, ...], prefixed: bool) -> tuple[Any, dict[str, Any]]:
    tests = [Test(path, kind, _SAMPLE[kind_of]) for path, kind, kind_of in shape]
    checks, names = python_checks(tests)
    lines = [
        "def keep(entry):",
        "    if entry.expires is not None and entry.expires <= now: return False",
        "    item = entry.item",
    ]
    if prefixed:
        lines.append("    if item.namespace[:n] != prefix: return False")
    lines.append("    value = item.value")
    lines += ["    " + line for line in checks]
    lines.append("    return True")
    code = compile("\n".join(lines), "<wfkit.store.memory filter>", "exec")
    return code, names


def _scanner(tests: list[Test], prefix: tuple[str, ...], now: float) -> Callable[[_Entry], bool]:
    """One function deciding whether an entry is in a search's results,
    compiled once per filter shape (see :func:`~wfkit.store.filters.python_checks`)."""
    # the shape: paths, kinds and the operands' types (the text depends on nothing else)
    shape = tuple((t.path, t.kind, _kind_of(t.operand)) for t in tests)
    code, template = _scan_code(shape, bool(prefix))
    names = dict(template)
    names.update({f"c{j}": t.operand for j, t in enumerate(tests)})
    names.update(now=now, n=len(prefix), prefix=prefix)
    exec(code, names)  # defines keep() in names: the text is ours, the values are bound names
    return names["keep"]  # type: ignore[no-any-return]


def _search_item(item: Item, score: float | None) -> SearchItem:
    return SearchItem(item.namespace, item.key, item.value, item.created_at, item.updated_at, score)
