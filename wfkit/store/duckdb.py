"""``DuckDBStore``: the long-term store in a DuckDB file, the checkpoint
file when given one::

    from wfkit.store.duckdb import DuckDBStore

    store = DuckDBStore("runs.duckdb")             # beside the checkpoints
    app = graph.compile(checkpointer="runs.duckdb", store=store)

The file belongs to a :class:`~wfkit.checkpoint.duckdb.DuckDBCheckpointer`
(its lock, its idle release, its connection): the store uses the one this
process has open on that path, or opens one. So checkpoints and memories
share one connection, and two kernels still take turns on the file.

Tables (made on first use, versioned by ``store_schema_version`` in
``wf_meta``):

- ``wf_store_items``: ``prefix`` (the labels joined by ``.``), ``key``,
  ``value`` (JSON), ``seq`` (the order keys were first put),
  ``created_at``, ``updated_at``, ``expires_at``, ``ttl_minutes``;
- ``wf_store_vectors`` (with an ``index``): ``prefix``, ``key``, ``field``
  (the path embedded), ``embedding`` (``FLOAT[dims]``, DuckDB's fixed-size
  array; ``array_cosine_similarity`` scores it, no extension needed).

Filters become SQL over the JSON column (:func:`wfkit.store.filters.sql_condition`,
every value bound); a query is one SQL statement scoring every vector.
Each batch's writes are one transaction; the stores on a file take its
``store_lock`` to write, and read without it.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from wfkit.checkpoint.duckdb import DuckDBCheckpointer, open_store
from wfkit.errors import InvalidInputError, StoreError
from wfkit.store._flow import TIE_DIGITS, FlowStore, Key, Plan
from wfkit.store.base import (
    IndexConfig,
    Item,
    ListNamespacesOp,
    PutOp,
    SearchItem,
    SearchOp,
    TTLConfig,
)
from wfkit.store.filters import Test, sql_condition

if TYPE_CHECKING:
    import duckdb

__all__ = ["STORE_SCHEMA_VERSION", "DuckDBStore"]

STORE_SCHEMA_VERSION: Final = 1
_MIGRATIONS: Final[dict[int, list[str]]] = {
    1: [
        """CREATE TABLE wf_store_items (
            prefix VARCHAR NOT NULL, key VARCHAR NOT NULL, value JSON NOT NULL,
            seq BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL,
            expires_at TIMESTAMPTZ, ttl_minutes DOUBLE, PRIMARY KEY (prefix, key))""",
    ],
}
_SMALL: Final = 64  # rows bound as VALUES; more go in as an Arrow table
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_COLUMNS: Final = "prefix, key, value, epoch_us(created_at), epoch_us(updated_at)"
_ITEM_COLUMNS: Final = "i.prefix, i.key, i.value, epoch_us(i.created_at), epoch_us(i.updated_at)"
_LIVE: Final = "(expires_at IS NULL OR expires_at > to_timestamp(?))"


def _text(namespace: tuple[str, ...]) -> str:
    return ".".join(namespace)


def _time(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _json(op: PutOp) -> str:
    try:
        return json.dumps(op.value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"put({op.namespace!r}, {op.key!r}, ...): the value is not JSON ({exc}); "
            f"DuckDBStore keeps JSON values, so their fields can be filtered in SQL. Convert "
            f"it (e.g. a datetime to its ISO text), or use InMemoryStore"
        ) from None


class DuckDBStore(FlowStore):
    """A long-term store in a DuckDB file.

    ``file``: a path (the store shares the checkpointer this process has
    open on it, or opens the file itself), a ``DuckDBCheckpointer`` (the
    store lives in its file), or ``":memory:"``. ``index``, ``ttl`` and
    ``clock`` are :class:`~wfkit.store.memory.InMemoryStore`'s.
    ``close()`` closes the file if the store opened it.
    """

    def __init__(
        self,
        file: str | Path | DuckDBCheckpointer = "runs.duckdb",
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(index=index, ttl=ttl, clock=clock)
        if isinstance(file, DuckDBCheckpointer):
            self.file, self._owned = file, False
        elif isinstance(file, str | Path):
            existing = open_store(file)
            self._owned = existing is None
            self.file = existing if existing is not None else DuckDBCheckpointer(file)
        else:
            raise StoreError(
                f"DuckDBStore takes a path to a DuckDB file or a DuckDBCheckpointer, "
                f"got {type(file).__name__}"
            )
        self.path = self.file.path
        self._vector_sql = ""
        self._registered: list[tuple[Any, str]] = []  # Arrow batches of the open transaction
        self._vectors = False  # the file has wf_store_vectors (kept current by every write)
        try:
            self._migrate()
        except BaseException:
            if self._owned:
                self.file.close()
            raise

    def __repr__(self) -> str:
        return f"DuckDBStore({self.path!r}{', indexed' if self.index else ''})"

    def __enter__(self) -> DuckDBStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file if this store opened it (a checkpointer given to it,
        or one it found open, stays open)."""
        if self._owned:
            self.file.close()

    # ------------------------------------------------------------ the tables
    @contextlib.contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.file.cursor() as cur:
            yield cur

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.file.store_lock, self._cursor() as cur:
            cur.execute("BEGIN")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):  # a failed COMMIT has ended it already
                    cur.execute("ROLLBACK")
                raise
            finally:
                for holder, name in self._registered:
                    with contextlib.suppress(Exception):
                        holder.unregister(name)
                self._registered.clear()

    def _migrate(self) -> None:
        with self._transaction() as cur:
            found = cur.execute(
                "SELECT key, value FROM wf_meta WHERE key IN "
                "('store_schema_version', 'store_vector_dims')"
            ).fetchall()
            meta = dict(found)
            version = int(meta.get("store_schema_version") or 0)
            if version > STORE_SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} holds a long-term store written by a newer wfkit (store schema "
                    f"{version}, this wfkit reads up to {STORE_SCHEMA_VERSION}); upgrade wfkit to "
                    f"open it. The file was left untouched"
                )
            for v in range(version + 1, STORE_SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[v]:
                    cur.execute(statement)
            if version < STORE_SCHEMA_VERSION:
                cur.execute(
                    "INSERT OR REPLACE INTO wf_meta VALUES ('store_schema_version', ?)",
                    [str(STORE_SCHEMA_VERSION)],
                )
            had = meta.get("store_vector_dims")
            self._vectors = had is not None
            if self.index is None:
                return
            dims = self.index.dims
            if had is None:
                cur.execute(
                    f"""CREATE TABLE wf_store_vectors (
                        prefix VARCHAR NOT NULL, key VARCHAR NOT NULL, field VARCHAR NOT NULL,
                        embedding FLOAT[{dims}] NOT NULL)"""
                )
                cur.execute("INSERT INTO wf_meta VALUES ('store_vector_dims', ?)", [str(dims)])
                self._vectors = True
            elif int(had) != dims:
                raise StoreError(
                    f"the long-term store in {self.path} keeps vectors of {had} numbers, but "
                    f'index={{"dims": {dims}}} was given; give "dims": {had} (the same '
                    f"embedding model), or keep this store in another file"
                )
        self._vector_sql = f"FLOAT[{int(dims)}]"

    def _batch_relation(
        self, cur: duckdb.DuckDBPyConnection, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> tuple[str, list[Any]]:
        """``rows`` as a relation named ``batch`` with ``columns``, and its parameters."""
        names = ", ".join(columns)
        if len(rows) <= _SMALL:
            one = "(" + ", ".join("?" * len(columns)) + ")"
            values = ", ".join([one] * len(rows))
            return f"(VALUES {values}) AS batch({names})", [v for r in rows for v in r]
        import pyarrow as pa

        table = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})
        name = f"wf_store_batch_{len(self._registered)}"
        cur.register(name, table)
        self._registered.append((cur, name))
        return f"{name} AS batch({names})", []

    # ------------------------------------------------------------ reads
    def _read(self, plan: Plan, queries: dict[str, list[float]], now: float) -> None:
        results = plan.results
        touched: list[tuple[str, str]] = []
        with self._cursor() as cur:
            for i, get in plan.gets:
                row = cur.execute(
                    f"SELECT {_COLUMNS}, ttl_minutes FROM wf_store_items "
                    f"WHERE prefix = ? AND key = ? AND {_LIVE}",
                    [_text(get.namespace), get.key, now],
                ).fetchone()
                results[i] = _item(row, Item) if row is not None else None
                if row is not None and get.refresh_ttl and row[5] is not None:
                    touched.append((row[0], row[1]))
            for i, op, tests in plan.searches:
                vector = queries.get(op.query) if op.query else None
                rows = self._search(cur, op, tests, vector, now)
                results[i] = [_item(r, SearchItem) for r in rows]
                if op.refresh_ttl:
                    touched.extend((r[0], r[1]) for r in rows if r[5] is not None)
            for i, listing in plan.listings:
                results[i] = self._namespaces(cur, listing, now)
        if touched:
            self._restart(list(dict.fromkeys(touched)), now)

    def _restart(self, keys: list[tuple[str, str]], now: float) -> None:
        with self._transaction() as cur:
            batch, params = self._batch_relation(cur, ("prefix", "key"), keys)
            _do(
                cur,
                f"UPDATE wf_store_items SET expires_at = to_timestamp(? + 60 * ttl_minutes) "
                f"FROM {batch} WHERE wf_store_items.prefix = batch.prefix "
                f"AND wf_store_items.key = batch.key AND ttl_minutes IS NOT NULL",
                [now, *params],
            )

    def _where(
        self, op: SearchOp, tests: list[Test], now: float, table: str = ""
    ) -> tuple[str, list[Any]]:
        parts = [_LIVE.replace("expires_at", f"{table}expires_at")]
        params: list[Any] = [now]
        if op.namespace_prefix:
            text = _text(op.namespace_prefix)
            parts.append(f"({table}prefix = ? OR starts_with({table}prefix, ?))")
            params += [text, text + "."]
        if tests:
            sql, args = sql_condition(tests, f"{table}value")
            parts.append(sql)
            params += args
        return " AND ".join(parts), params

    def _search(
        self,
        cur: duckdb.DuckDBPyConnection,
        op: SearchOp,
        tests: list[Test],
        vector: list[float] | None,
        now: float,
    ) -> list[tuple[Any, ...]]:
        if vector is None or self.index is None:
            where, params = self._where(op, tests, now)
            return cur.execute(
                f"SELECT {_COLUMNS}, ttl_minutes, NULL FROM wf_store_items WHERE {where} "
                f"ORDER BY seq LIMIT ? OFFSET ?",
                [*params, op.limit, op.offset],
            ).fetchall()
        where, params = self._where(op, tests, now, "i.")
        near = ""
        near_params: list[Any] = []
        if op.namespace_prefix:
            text = _text(op.namespace_prefix)
            near = "WHERE prefix = ? OR starts_with(prefix, ?)"
            near_params = [text, text + "."]
        sql = f"""
            WITH scores AS (
                SELECT prefix, key, max(CASE WHEN isnan(s) THEN 0 ELSE s END) AS score
                FROM (SELECT prefix, key, array_cosine_similarity(embedding, ?::{self._vector_sql}) AS s
                      FROM wf_store_vectors {near})
                GROUP BY prefix, key)
            SELECT {_ITEM_COLUMNS}, i.ttl_minutes, scores.score
            FROM wf_store_items i LEFT JOIN scores ON i.prefix = scores.prefix AND i.key = scores.key
            WHERE {where}
            ORDER BY round(scores.score, {TIE_DIGITS}) DESC NULLS LAST, i.seq
            LIMIT ? OFFSET ?"""
        return cur.execute(sql, [vector, *near_params, *params, op.limit, op.offset]).fetchall()

    def _namespaces(
        self, cur: duckdb.DuckDBPyConnection, op: ListNamespacesOp, now: float
    ) -> list[tuple[str, ...]]:
        parts = [_LIVE]
        params: list[Any] = [now]
        for condition in op.match_conditions or ():
            path = tuple(condition.path)
            parts.append(f"len(labels) >= {len(path)}")
            for i, label in enumerate(path):
                if label == "*":
                    continue
                index = i + 1 if condition.match_type == "prefix" else i - len(path)
                parts.append(f"labels[{index}] = ?")
                params.append(label)
        labels = "labels" if op.max_depth is None else f"labels[1:{int(op.max_depth)}]"
        rows = cur.execute(
            f"""SELECT DISTINCT {labels} AS ns FROM (
                    SELECT string_split(prefix, '.') AS labels, expires_at FROM wf_store_items)
                WHERE {" AND ".join(parts)} ORDER BY ns LIMIT ? OFFSET ?""",
            [*params, op.limit, op.offset],
        ).fetchall()
        return [tuple(r[0]) for r in rows]

    # ------------------------------------------------------------ writes
    def _check_values(self, puts: dict[Key, PutOp]) -> None:
        for op in puts.values():
            if op.value is not None:
                _json(op)

    def _write(
        self,
        puts: dict[Key, PutOp],
        texts: list[tuple[tuple[str, ...], str, str, str]],
        vectors: list[list[float]],
        now: float,
    ) -> None:
        keys = [(_text(ns), key) for ns, key in puts]
        upserts = [
            (_text(op.namespace), op.key, _json(op), self._expires(op, now), op.ttl)
            for op in puts.values()
            if op.value is not None
        ]
        deletes = [(_text(ns), key) for (ns, key), op in puts.items() if op.value is None]
        with self._transaction() as cur:
            batch, params = self._batch_relation(cur, ("prefix", "key"), keys)
            match = "wf_store_items.prefix = batch.prefix AND wf_store_items.key = batch.key"
            if deletes:
                dbatch, dparams = self._batch_relation(cur, ("prefix", "key"), deletes)
                _do(cur, f"DELETE FROM wf_store_items USING {dbatch} WHERE {match}", dparams)
            # a key whose item expired: the put starts a new item (new place, new created_at)
            _do(
                cur,
                f"DELETE FROM wf_store_items USING {batch} WHERE {match} "
                f"AND wf_store_items.expires_at <= to_timestamp(?)",
                [*params, now],
            )
            if self._vectors:
                _do(
                    cur,
                    f"DELETE FROM wf_store_vectors USING {batch} WHERE wf_store_vectors.prefix = "
                    f"batch.prefix AND wf_store_vectors.key = batch.key",
                    params,
                )
            if upserts:
                self._upsert(cur, upserts, now)
            if texts:
                rows = [
                    (_text(ns), key, field, vector)
                    for (ns, key, field, _), vector in zip(texts, vectors, strict=True)
                ]
                vbatch, vparams = self._batch_relation(
                    cur, ("prefix", "key", "field", "embedding"), rows
                )
                _do(
                    cur,
                    f"INSERT INTO wf_store_vectors SELECT prefix, key, field, "
                    f"embedding::{self._vector_sql} FROM {vbatch}",
                    vparams,
                )

    def _upsert(
        self, cur: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]], now: float
    ) -> None:
        ((top,),) = _do(cur, "SELECT coalesce(max(seq), 0) FROM wf_store_items")
        base = int(top)
        numbered = [(*row, base + i + 1) for i, row in enumerate(rows)]
        batch, params = self._batch_relation(
            cur, ("prefix", "key", "value", "expires", "ttl", "seq"), numbered
        )
        _do(
            cur,
            f"""INSERT INTO wf_store_items
                SELECT prefix, key, value::JSON, seq::BIGINT, to_timestamp(?), to_timestamp(?),
                       to_timestamp(expires::DOUBLE), ttl::DOUBLE FROM {batch}
                ON CONFLICT (prefix, key) DO UPDATE SET value = excluded.value,
                    updated_at = excluded.updated_at, expires_at = excluded.expires_at,
                    ttl_minutes = excluded.ttl_minutes""",
            [now, now, *params],
        )

    def sweep_ttl(self) -> int:
        now = self.clock()
        with self._transaction() as cur:
            (row,) = _do(
                cur,
                "SELECT count(*) FROM wf_store_items WHERE expires_at <= to_timestamp(?)",
                [now],
            )
            count = int(row[0])
            if count:
                if self._vectors:
                    _do(
                        cur,
                        "DELETE FROM wf_store_vectors v USING wf_store_items i WHERE "
                        "v.prefix = i.prefix AND v.key = i.key AND i.expires_at <= to_timestamp(?)",
                        [now],
                    )
                _do(cur, "DELETE FROM wf_store_items WHERE expires_at <= to_timestamp(?)", [now])
        return count


def _do(cur: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run a statement to its end (DuckDB wants a result fetched before the
    cursor registers the next Arrow batch)."""
    rows: list[tuple[Any, ...]] = cur.execute(sql, list(params)).fetchall()
    return rows


def _item(row: tuple[Any, ...], kind: type[Item]) -> Any:
    prefix, key, value, created, updated = row[:5]
    namespace = tuple(prefix.split("."))
    if kind is SearchItem:
        score = row[6]
        return SearchItem(
            namespace,
            key,
            json.loads(value),
            _time(created),
            _time(updated),
            float(score) if score is not None else None,
        )
    return Item(
        value=json.loads(value),
        key=key,
        namespace=namespace,
        created_at=_time(created),
        updated_at=_time(updated),
    )
