"""One batch of store operations, written once for sync and async.

A store built on :class:`FlowStore` writes its batch as a generator
(:meth:`FlowStore._flow`) that does every read and write itself and
*yields* only what needs the embedding function: :class:`Embed` (these
texts, as documents or as queries). ``batch`` answers with the sync
embedding calls, ``abatch`` awaits the async ones; nothing else differs
(the httpx auth-flow shape). The same module checks the operations
(:func:`plan`): types, namespaces, limits, filters.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from wfkit.errors import InvalidInputError, StoreError
from wfkit.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchOp,
    TTLConfig,
    check_labels,
    check_namespace,
)
from wfkit.store.embed import Index
from wfkit.store.filters import Test, parse_filter

__all__ = ["TIE_DIGITS", "Embed", "Flow", "FlowStore", "Plan", "plan"]

Key = tuple[tuple[str, ...], str]

TIE_DIGITS = 6
"""Scores equal to this many decimals rank as ties (the first put first): the
rounding of 32-bit floats must not decide an order, and both stores agree."""


class Embed(NamedTuple):
    """The flow's request: vectors for ``texts`` (queries or documents)."""

    texts: list[str]
    query: bool


Flow = Generator[Embed, list[list[float]], list[Result]]


@dataclass
class Plan:
    """A checked batch: results to fill, the reads by kind (with their
    index in the batch), the puts with the last one per key kept, and each
    search's parsed filter."""

    results: list[Result]
    gets: list[tuple[int, GetOp]] = field(default_factory=list)
    searches: list[tuple[int, SearchOp, list[Test]]] = field(default_factory=list)
    listings: list[tuple[int, ListNamespacesOp]] = field(default_factory=list)
    puts: dict[Key, PutOp] = field(default_factory=dict)

    def queries(self) -> list[str]:
        """The distinct search queries, in order."""
        return list(dict.fromkeys(op.query for _, op, _ in self.searches if op.query))


def _count(value: Any, what: str, op: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInputError(f"{what}={value!r} in {op!r}: give a whole number >= 0")
    return value


def _check_put(op: PutOp) -> None:
    if op.value is None:
        check_labels(op.namespace)
        return
    check_namespace(op.namespace)
    if not isinstance(op.value, Mapping):
        raise InvalidInputError(
            f"put({op.namespace!r}, {op.key!r}, ...): the value is a {type(op.value).__name__}; "
            f"a store keeps dicts, e.g. {{'text': ...}}"
        )
    index: Any = op.index
    if (index is not None and index is not False) and (
        isinstance(index, str) or not all(isinstance(p, str) for p in index)
    ):
        raise InvalidInputError(
            f"put({op.namespace!r}, {op.key!r}, ..., index={op.index!r}): give a list of "
            f"paths (['text']), False (embed nothing) or None (the store's fields)"
        )
    if op.ttl is not None and (
        not isinstance(op.ttl, int | float) or isinstance(op.ttl, bool) or op.ttl <= 0
    ):
        raise InvalidInputError(
            f"put({op.namespace!r}, {op.key!r}, ..., ttl={op.ttl!r}): give minutes > 0, or None"
        )


def _check_conditions(op: ListNamespacesOp) -> None:
    for condition in op.match_conditions or ():
        if not isinstance(condition, MatchCondition) or condition.match_type not in (
            "prefix",
            "suffix",
        ):
            raise InvalidInputError(
                f"{condition!r} in {op!r}: give MatchCondition('prefix' or 'suffix', path)"
            )
        check_labels(tuple(condition.path), f"{condition.match_type} path")
    if op.max_depth is not None and (
        not isinstance(op.max_depth, int) or isinstance(op.max_depth, bool) or op.max_depth < 1
    ):
        raise InvalidInputError(f"max_depth={op.max_depth!r} in {op!r}: give an int >= 1 or None")


def plan(ops: Iterable[Op]) -> Plan:
    """Check ``ops`` and sort them by kind (see :class:`Plan`)."""
    ops = list(ops)
    p = Plan([None] * len(ops))
    for i, op in enumerate(ops):
        if isinstance(op, GetOp):
            p.gets.append((i, op._replace(namespace=check_labels(op.namespace))))
        elif isinstance(op, SearchOp):
            check_labels(op.namespace_prefix, "namespace prefix")
            _count(op.limit, "limit", op)
            _count(op.offset, "offset", op)
            if op.query is not None and not isinstance(op.query, str):
                raise InvalidInputError(f"query={op.query!r} in {op!r}: give a string")
            op = op._replace(namespace_prefix=tuple(op.namespace_prefix))
            p.searches.append((i, op, parse_filter(op.filter)))
        elif isinstance(op, ListNamespacesOp):
            _check_conditions(op)
            _count(op.limit, "limit", op)
            _count(op.offset, "offset", op)
            p.listings.append((i, op))
        elif isinstance(op, PutOp):
            _check_put(op)
            op = op._replace(namespace=tuple(op.namespace), key=str(op.key))
            p.puts[op.namespace, op.key] = op  # the last put of a key wins, in the first's place
        else:
            raise InvalidInputError(
                f"{op!r} is not a store operation; give GetOp, PutOp, SearchOp or ListNamespacesOp"
            )
    return p


def matches(namespace: tuple[str, ...], condition: MatchCondition) -> bool:
    """Whether ``namespace`` starts (or ends) with the condition's path (``*``: any label)."""
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    part = namespace[: len(path)] if condition.match_type == "prefix" else namespace[-len(path) :]
    return all(want == "*" or want == have for want, have in zip(path, part, strict=True))


def _check_ttl(ttl: Any) -> TTLConfig | None:
    if ttl is None:
        return None
    if not isinstance(ttl, Mapping):
        raise StoreError(f'ttl= takes a dict such as {{"default_ttl": 60}}, got {ttl!r}')
    unknown = set(ttl) - {"default_ttl", "refresh_on_read", "sweep_interval_minutes"}
    if unknown:
        raise StoreError(
            f"ttl= has unknown key(s) {sorted(unknown)}; the keys are default_ttl, "
            f"refresh_on_read, sweep_interval_minutes"
        )
    return TTLConfig(**ttl)  # type: ignore[typeddict-item]


class FlowStore(BaseStore):
    """The base of wfkit's stores: ``batch`` / ``abatch`` drive one
    :meth:`_flow`; ``index`` and ``ttl`` are checked here; ``clock`` (seconds
    since the epoch) is what expiry is measured with."""

    supports_ttl = True

    def __init__(
        self,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.index: Index | None = Index(index) if index is not None else None
        self.index_config = dict(index) if index is not None else None
        self.ttl_config = _check_ttl(ttl)
        self.clock = clock
        sweep = (self.ttl_config or {}).get("sweep_interval_minutes")
        self._sweep_every = 60.0 * (sweep if sweep else 1)
        self._swept = 0.0

    @property
    def embeddings(self) -> Any:
        """The index's embedding function (LangGraph's attribute), or ``None``."""
        return self.index.embedder if self.index is not None else None

    # ------------------------------------------------------------ the flow
    def _flow(self, ops: Iterable[Op]) -> Flow:
        p = plan(ops)
        vectors: dict[str, list[float]] = {}
        if self.index is not None and p.searches:
            queries = p.queries()
            if queries:
                vectors = dict(zip(queries, (yield Embed(queries, True)), strict=True))
        now = self.clock()
        self._read(p, vectors, now)
        if p.puts:
            self._check_values(p.puts)
            texts = self.index.texts(list(p.puts.values())) if self.index is not None else []
            found: list[list[float]] = []
            if texts:
                distinct = list(dict.fromkeys(t for *_, t in texts))
                by_text = dict(zip(distinct, (yield Embed(distinct, False)), strict=True))
                found = [by_text[t] for *_, t in texts]
            self._write(p.puts, texts, found, now)
            if now - self._swept >= self._sweep_every:  # a write also clears out expired items
                self._swept = now
                self.sweep_ttl()
        return p.results

    def _check_values(self, puts: dict[Key, PutOp]) -> None:
        """Refuse values the store cannot keep, before anything is embedded."""

    def _read(self, plan: Plan, queries: dict[str, list[float]], now: float) -> None:
        """Fill ``plan.results`` for its gets, searches and listings."""
        raise NotImplementedError

    def _write(
        self,
        puts: dict[Key, PutOp],
        texts: list[tuple[tuple[str, ...], str, str, str]],
        vectors: list[list[float]],
        now: float,
    ) -> None:
        """Apply ``puts``; ``texts[i]`` (namespace, key, field, text) has ``vectors[i]``."""
        raise NotImplementedError

    def sweep_ttl(self) -> int:
        """Delete the expired items now; returns how many. (Expired items are
        never returned; writes also sweep, every ``sweep_interval_minutes``.)"""
        raise NotImplementedError

    # ------------------------------------------------------------ the drivers
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        flow = self._flow(ops)
        try:
            ask = next(flow)
            while True:
                embedder = self.index.embedder  # type: ignore[union-attr]
                got = embedder.queries(ask.texts) if ask.query else embedder.documents(ask.texts)
                ask = flow.send(got)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        flow = self._flow(ops)
        try:
            ask = next(flow)
            while True:
                embedder = self.index.embedder  # type: ignore[union-attr]
                if ask.query:
                    got = await embedder.aqueries(ask.texts)
                else:
                    got = await embedder.adocuments(ask.texts)
                ask = flow.send(got)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _expires(self, op: PutOp, now: float) -> float | None:
        return None if op.ttl is None else now + 60.0 * op.ttl
