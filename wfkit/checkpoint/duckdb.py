"""``DuckDBCheckpointer``: checkpoints in one embedded DuckDB file.

DuckDB is columnar: one-row INSERTs cost about a millisecond, while an
Arrow batch goes in at hundreds of thousands of rows a second. So rows are
buffered and written by one background thread, one Arrow batch per table
and one transaction per flush, shared by every run in the process (group
commit). ``durability`` says what a crash can lose:

- ``"sync"``: nothing that a finished superstep wrote; each superstep
  waits for its commit before the next one starts;
- ``"async"`` (default): at most the last ``flush_interval`` seconds
  (0.05 s) of writes, plus a flush in progress;
- ``"exit"``: a run's writes are committed when it ends, fails or pauses.

Everything is flushed on ``close()``, on leaving a ``with`` block, and at
interpreter exit. One process writes a file at a time: a second gets a
``StoreError`` naming the file and the process holding it.

The tables (``wf_meta``, ``wf_checkpoints``, ``wf_values``, ``wf_writes``
and the view ``wf_threads``) are documented in ``docs/checkpoints.md``.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import re
import warnings
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfkit._ids import check_id
from wfkit.checkpoint.base import (
    CHECKPOINT_COLUMNS,
    VALUE_COLUMNS,
    WRITE_COLUMNS,
    BufferedStore,
    CheckpointRow,
    Durability,
    Rows,
    StoreError,
    ValueRow,
    WriteRow,
    _passed,
    check_durability,
    merge,
)
from wfkit.trace.record import REMOTE_COLUMNS, SPAN_COLUMNS, SPAN_FLOAT_COLUMNS, SPAN_INT_COLUMNS

if TYPE_CHECKING:
    import duckdb

__all__ = ["SCHEMA_VERSION", "DuckDBCheckpointer"]

SCHEMA_VERSION = 2

_MIGRATIONS: dict[int, list[str]] = {
    1: [
        "CREATE TABLE wf_meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
        """CREATE TABLE wf_checkpoints (
            thread_id VARCHAR NOT NULL, checkpoint_id VARCHAR NOT NULL, parent_id VARCHAR,
            run_id VARCHAR, step INTEGER, source VARCHAR, next JSON, tasks JSON,
            interrupts JSON, versions JSON, joins JSON, metadata JSON, created_at TIMESTAMPTZ)""",
        """CREATE TABLE wf_values (
            thread_id VARCHAR NOT NULL, checkpoint_id VARCHAR NOT NULL, key VARCHAR NOT NULL,
            version BIGINT NOT NULL, base_version BIGINT, kind VARCHAR NOT NULL, value JSON)""",
        """CREATE TABLE wf_writes (
            thread_id VARCHAR NOT NULL, checkpoint_id VARCHAR NOT NULL, run_id VARCHAR, step INTEGER,
            task_id VARCHAR, task_index INTEGER, node VARCHAR, attempt INTEGER, input JSON, result JSON,
            status VARCHAR, error_type VARCHAR, error VARCHAR, interrupts JSON, resume JSON,
            started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, written_at TIMESTAMPTZ)""",
        "CREATE TABLE wf_journal (seq BIGINT NOT NULL, payload JSON NOT NULL)",
        "CREATE TABLE wf_graphs (workflow VARCHAR PRIMARY KEY, graph JSON, updated_at TIMESTAMPTZ)",
        """CREATE TABLE wf_spans (
            trace_id VARCHAR, span_id VARCHAR, parent_span_id VARCHAR, name VARCHAR, kind VARCHAR,
            workflow VARCHAR, thread_id VARCHAR, run_id VARCHAR, step INTEGER, task_id VARCHAR,
            node VARCHAR, attempt INTEGER, start_time_unix_nano BIGINT, end_time_unix_nano BIGINT,
            start_ns BIGINT, end_ns BIGINT, wall_ms DOUBLE, cpu_ms DOUBLE, memory_bytes BIGINT,
            status VARCHAR, status_code VARCHAR, exception_type VARCHAR, exception_message VARCHAR)""",
        """CREATE VIEW wf_threads AS
            SELECT thread_id, count(*) AS checkpoints, min(created_at) AS created_at,
                   max(created_at) AS updated_at, max(checkpoint_id) AS latest_checkpoint_id
            FROM wf_checkpoints GROUP BY thread_id""",
    ],
    # where a remote executor ran each node call (wfkit.trace.record.REMOTE_COLUMNS)
    2: [
        "ALTER TABLE wf_spans ADD COLUMN worker VARCHAR",
        "ALTER TABLE wf_spans ADD COLUMN queue_ms DOUBLE",
        "ALTER TABLE wf_spans ADD COLUMN run_ms DOUBLE",
        "ALTER TABLE wf_spans ADD COLUMN transfer_ms DOUBLE",
    ],
}
#: span rows journalled by a schema-1 wfkit lack the remote columns
_SPAN_WIDTH_V1 = len(SPAN_COLUMNS) - len(REMOTE_COLUMNS)

KEPT_SEQ = 0  # journal rows the tables refused: kept, never cleared (tickets start at 1)
_SMALL_BATCH = 64
_BLOCK_SIZE = 16_384
_TIME_COLUMNS = {"created_at", "started_at", "ended_at", "written_at"}
_INT_COLUMNS = {"step", "version", "base_version", "task_index", "attempt"} | SPAN_INT_COLUMNS
_FLOAT_COLUMNS = SPAN_FLOAT_COLUMNS

_open_stores: weakref.WeakSet[DuckDBCheckpointer] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for store in list(_open_stores):
        with contextlib.suppress(Exception):  # best effort at exit
            store.close()


@functools.cache
def _arrow_struct(columns: tuple[str, ...]) -> Any:
    import pyarrow as pa

    def kind(name: str) -> Any:
        if name in _TIME_COLUMNS or name in _FLOAT_COLUMNS:
            return pa.float64()
        return pa.int64() if name in _INT_COLUMNS else pa.string()

    return pa.struct([(name, kind(name)) for name in columns])


def _key(path: str | Path) -> str:
    return ":memory:" if str(path) == ":memory:" else str(Path(path).resolve())


def open_store(path: str | Path) -> DuckDBCheckpointer | None:
    """The store this process has open on ``path``, if any."""
    key = _key(path)
    if key == ":memory:":
        return None
    return next((s for s in list(_open_stores) if s._key == key and not s._closed), None)


def _identity(path: str) -> tuple[int, int] | None:
    """Which file ``path`` is (device, inode), or None (``:memory:``, gone)."""
    if path == ":memory:":
        return None
    try:
        st = Path(path).stat()
    except OSError:
        return (-1, -1)
    return (st.st_dev, st.st_ino)


def _loads_or_none(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def _columns(con: Any) -> dict[tuple[str, str], str]:
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_name LIKE 'wf\\_%' ESCAPE '\\'"
    ).fetchall()
    return {(t, c): k for t, c, k in rows}


@functools.cache
def _schema_columns() -> dict[tuple[str, str], str]:
    """The tables and columns (with types) the migrations make."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        for v in sorted(_MIGRATIONS):
            for statement in _MIGRATIONS[v]:
                con.execute(statement)
        return _columns(con)
    finally:
        con.close()


def parse_journal_payload(payload: Any) -> Rows:
    """A journal entry's rows; ``ValueError`` if it is not the journal's shape
    (four lists of rows with the tables' column counts)."""
    try:
        parts = json.loads(payload)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    widths = (len(CHECKPOINT_COLUMNS), len(VALUE_COLUMNS), len(WRITE_COLUMNS), len(SPAN_COLUMNS))
    if not isinstance(parts, list) or len(parts) != 4:
        raise ValueError("not a list of four tables")
    rows: Rows = ([], [], [], [])
    for out, part, width in zip(rows, parts, widths, strict=True):
        if not isinstance(part, list):
            raise ValueError("a table that is not a list of rows")
        for row in part:
            if out is rows[3] and isinstance(row, list) and len(row) == _SPAN_WIDTH_V1:
                row = row + [None] * len(REMOTE_COLUMNS)
            if not isinstance(row, list) or len(row) != width:
                raise ValueError(f"a row that is not a list of {width} values")
            out.append(tuple(row))
    return rows


def _select_list(table: str, columns: Sequence[str]) -> str:
    parts = []
    for c in columns:
        parts.append(f"to_timestamp({c})" if c in _TIME_COLUMNS else c)
    return f"INSERT INTO {table} SELECT {', '.join(parts)} FROM batch"


def _read_list(columns: Sequence[str]) -> str:
    return ", ".join(f"epoch({c})" if c in _TIME_COLUMNS else c for c in columns)


class DuckDBCheckpointer(BufferedStore):
    """Checkpoints in a DuckDB file (created with its folder), or ``":memory:"``.

    >>> with DuckDBCheckpointer(":memory:") as store:  # doctest: +SKIP
    ...     app = graph.compile(checkpointer=store)
    """

    def __init__(
        self,
        path: str | Path = "runs.duckdb",
        *,
        durability: Durability = "async",
        allowed_types: Sequence[type] = (),
        allow_pickle: bool = False,
    ) -> None:
        import duckdb

        check_durability(durability)  # before creating anything
        self.path = str(path)
        self._key = _key(path)
        if open_store(path) is not None:
            raise StoreError(
                f"checkpoint file {self.path} is already open in this process; use that store "
                f"(compile(checkpointer=store)) or close it first: two stores on one file would "
                f"not see each other's buffered writes"
            )
        self.serde_options: dict[str, Any] = {
            "allowed_types": tuple(allowed_types),
            "allow_pickle": allow_pickle,
        }
        # everything writing needs, before the journal is recovered with it
        self._values_cache: dict[tuple[str, int], str] = {}
        self._insert_sql = {
            "wf_checkpoints": _select_list("wf_checkpoints", CHECKPOINT_COLUMNS),
            "wf_values": _select_list("wf_values", VALUE_COLUMNS),
            "wf_writes": _select_list("wf_writes", WRITE_COLUMNS),
            "wf_spans": _select_list("wf_spans", SPAN_COLUMNS),
        }
        self.recovery_problems: list[str] = []  # journal rows the file refused at open
        self._con = self._open(duckdb)
        self._wcon = self._con.cursor()  # the flusher thread's own cursor
        super().__init__(durability)  # the flusher waits for rows; recovery writes directly
        try:
            self._recover_journal(self._wcon)
            row = self._con.execute("SELECT count(*) FROM wf_checkpoints").fetchone()
        except BaseException:
            self._stop()
            self._con.close()
            raise
        self._fresh = not (row and row[0])
        self._identity = _identity(self.path)
        _open_stores.add(self)

    def __repr__(self) -> str:
        return f"DuckDBCheckpointer({self.path!r}, durability={self.durability!r})"

    def __enter__(self) -> DuckDBCheckpointer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- opening
    def _open(self, duckdb: Any) -> duckdb.DuckDBPyConnection:
        path = self.path
        if path != ":memory:":
            file = Path(path)
            if file.is_dir():
                raise StoreError(
                    f"{path} is a folder; give the checkpoint file's path, e.g. {file / 'runs.duckdb'}"
                )
            if file.exists() and file.stat().st_size > 0:
                with file.open("rb") as fh:
                    head = fh.read(12)
                if head[8:12] != b"DUCK":
                    raise StoreError(
                        f"{path} is not a DuckDB file, so it cannot be a wfkit checkpoint store; "
                        f"it was left untouched. Choose another path"
                    )
            file.parent.mkdir(parents=True, exist_ok=True)
        try:
            # small blocks: a thread of a few hundred KB should not occupy 256 KB blocks
            con = duckdb.connect(path, config={"default_block_size": str(_BLOCK_SIZE)})
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" in text.lower():
                pid = re.search(r"PID (\d+)", text)
                holder = f"process {pid.group(1)}" if pid else "another process"
                raise StoreError(
                    f"checkpoint file {path} is open for writing in {holder}; DuckDB allows one writing "
                    f"process per file. Close it there (checkpointer.close()) or use another file"
                ) from exc
            if "read-only" in text.lower() or "permission denied" in text.lower():
                raise StoreError(
                    f"cannot open checkpoint file {path} for writing ({text.splitlines()[0]}); "
                    f"a store writes to its file. Use a writable folder, or read the file without "
                    f"writing: wfkit check {path}, wfkit trace runs {path}"
                ) from exc
            raise StoreError(
                f"cannot open checkpoint file {path}: it looks corrupt ({text}); it was left untouched"
            ) from exc
        except duckdb.Error as exc:
            raise StoreError(
                f"cannot open checkpoint file {path}: {exc}; it was left untouched"
            ) from exc
        try:
            self._check_and_migrate(con)
        except BaseException:
            con.close()
            raise
        return con  # type: ignore[no-any-return]

    def _check_and_migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        import duckdb

        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        version = 0
        if "wf_meta" in tables:
            version = self._schema_version(con, duckdb)
            if version == SCHEMA_VERSION:
                self._check_tables(con)
        elif tables:
            listed = ", ".join(sorted(tables)[:5])
            raise StoreError(
                f"{self.path} is a DuckDB database but not a wfkit checkpoint store (it has tables {listed}); "
                f"it was left untouched. Give wfkit its own file"
            )
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer wfkit (schema version {version}, this wfkit reads up to "
                f"{SCHEMA_VERSION}); upgrade wfkit to open it. The file was left untouched"
            )
        if version == SCHEMA_VERSION:
            return
        con.execute("BEGIN")
        try:
            for v in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[v]:
                    con.execute(statement)
            con.execute(
                "INSERT OR REPLACE INTO wf_meta VALUES ('schema_version', ?), ('created_by', 'wfkit')",
                [str(SCHEMA_VERSION)],
            )
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):  # a failed COMMIT has ended it already
                con.execute("ROLLBACK")
            raise

    def _schema_version(self, con: duckdb.DuckDBPyConnection, duckdb: Any) -> int:
        """The file's schema version, or the store's error if its ``wf_meta``
        is not wfkit's (a foreign table, a version that is not a number)."""
        try:
            rows = con.execute("SELECT value FROM wf_meta WHERE key = 'schema_version'").fetchall()
        except duckdb.Error as exc:
            raise StoreError(
                f"{self.path} has a wf_meta table that is not wfkit's ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0]}); it was left untouched. Give wfkit its own file"
            ) from None
        raw = rows[0][0] if len(rows) == 1 else None
        try:
            version = int(str(raw))
        except ValueError:
            version = 0
        if version < 1 or str(raw) != str(version):
            found = f"schema version {raw!r}" if rows else "no schema version"
            raise StoreError(
                f"{self.path} has {found} in wf_meta (wfkit writes a whole number such as "
                f"'{SCHEMA_VERSION}'), so it is not a wfkit checkpoint store or was changed "
                f"outside wfkit; it was left untouched. Give wfkit its own file"
            )
        return version

    def _check_tables(self, con: duckdb.DuckDBPyConnection) -> None:
        """Every table and column of the schema, with its type."""
        found = _columns(con)
        want = _schema_columns()
        problems = [
            f"{table}.{column} "
            + (f"is {found[table, column]}" if (table, column) in found else "is missing")
            for (table, column), kind in want.items()
            if found.get((table, column)) != kind
        ]
        if problems:
            raise StoreError(
                f"{self.path} says it is a wfkit store (schema version {SCHEMA_VERSION}) but its "
                f"tables differ: {'; '.join(problems[:5])}; it was changed outside wfkit and was "
                f"left untouched. Check it with: wfkit check {self.path}"
            )

    # ---------------------------------------------------------------- writing
    def _write_tables(self, rows: Rows, clear_journal: bool, keep: Rows | None = None) -> None:
        con = self._wcon
        con.execute("BEGIN")
        try:
            self._insert(con, rows)
            if clear_journal:
                con.execute(f"DELETE FROM wf_journal WHERE seq <> {KEPT_SEQ}")
            if keep is not None and any(keep):
                con.execute("INSERT INTO wf_journal VALUES (?, ?)", [KEPT_SEQ, json.dumps(keep)])
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):  # a failed COMMIT has ended it already
                con.execute("ROLLBACK")
            raise

    def _probe(self, rows: Rows, *, journal: bool) -> None:
        con = self._wcon
        con.execute("BEGIN")
        try:
            if journal:
                con.execute("INSERT INTO wf_journal VALUES (?, ?)", [-1, json.dumps(rows)])
            else:
                self._insert(con, rows)
        finally:
            with contextlib.suppress(Exception):
                con.execute("ROLLBACK")

    def _write_journal(self, ticket: int, rows: Rows) -> None:
        # one narrow row commits in about a millisecond; a wide bulk insert
        # costs several, so durable small commits are staged here
        self._wcon.execute("INSERT INTO wf_journal VALUES (?, ?)", [ticket, json.dumps(rows)])

    def _insert(self, con: duckdb.DuckDBPyConnection, rows: Rows) -> None:
        import pyarrow as pa

        for table, columns, part in zip(
            ("wf_checkpoints", "wf_values", "wf_writes", "wf_spans"),
            (CHECKPOINT_COLUMNS, VALUE_COLUMNS, WRITE_COLUMNS, SPAN_COLUMNS),
            rows,
            strict=True,
        ):
            if not part:
                continue
            if (
                len(part) <= _SMALL_BATCH
            ):  # planning an Arrow scan costs more than binding a few rows
                con.execute(
                    self._values_sql(table, columns, len(part)), [v for r in part for v in r]
                )
                continue
            # rows straight into Arrow (transposed in C): no Python-level zip(*rows)
            batch = pa.Table.from_struct_array(pa.array(part, type=_arrow_struct(columns)))  # noqa: F841 - read by the SQL
            con.execute(self._insert_sql[table])

    def _recover_journal(self, con: duckdb.DuckDBPyConnection) -> None:
        """Move rows a crash left in the journal into the tables.

        Rows the tables refuse (a tampered or otherwise bad entry) never
        block the others: they are tried thread by thread, the refused ones
        stay in the journal (``seq`` 0) and are listed in
        ``recovery_problems``; reading or writing their thread raises."""
        found = con.execute("SELECT seq, payload FROM wf_journal ORDER BY seq").fetchall()
        if not found:
            return
        entries: list[tuple[int, Rows]] = []
        unreadable: set[int] = set()
        for seq, payload in found:
            try:
                entries.append((seq, parse_journal_payload(payload)))
            except ValueError as exc:
                unreadable.add(seq)
                self.recovery_problems.append(f"journal entry {seq} cannot be read ({exc})")
        # an entry sharing its seq with an unreadable one stays too (deleting is by seq)
        rows = merge([parsed for seq, parsed in entries if seq not in unreadable])
        failed: dict[str, BaseException] = {}
        try:
            self._insert_and_clear(con, rows, ([], [], [], []), unreadable)
        except Exception:
            good, bad = self._salvage(rows, journal=False)
            keep = merge([part for part, _ in bad.values()])
            failed = {t: exc for t, (_, exc) in bad.items()}
            self._insert_and_clear(con, good, keep, unreadable)
        _passed("journal-recovered")
        for thread, why in failed.items():
            self.recovery_problems.append(
                f"journaled rows of thread {thread!r} cannot be written to the tables ({why})"
            )
        self._thread_errors.update(failed)
        if self.recovery_problems:
            warnings.warn(
                f"checkpoint file {self.path}: {'; '.join(self.recovery_problems)}. Every other "
                f"row was recovered; the refused ones are kept in wf_journal. "
                f"See: wfkit check {self.path}",
                RuntimeWarning,
                stacklevel=3,
            )

    def _insert_and_clear(
        self, con: duckdb.DuckDBPyConnection, rows: Rows, keep: Rows, unreadable: set[int]
    ) -> None:
        """One transaction: ``rows`` into the tables, the journal emptied but
        for ``keep`` and the entries that cannot be read (left as they are)."""
        con.execute("BEGIN")
        try:
            self._insert(con, rows)
            con.execute(
                "DELETE FROM wf_journal WHERE NOT list_contains(?::BIGINT[], seq)",
                [sorted(unreadable)],
            )
            if any(keep):
                con.execute("INSERT INTO wf_journal VALUES (?, ?)", [KEPT_SEQ, json.dumps(keep)])
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):  # a failed COMMIT has ended it already
                con.execute("ROLLBACK")
            raise

    def _values_sql(self, table: str, columns: Sequence[str], n: int) -> str:
        key = (table, n)
        sql = self._values_cache.get(key)
        if sql is None:
            one = (
                "("
                + ", ".join("to_timestamp(?)" if c in _TIME_COLUMNS else "?" for c in columns)
                + ")"
            )
            sql = f"INSERT INTO {table} VALUES " + ", ".join([one] * n)
            self._values_cache[key] = sql
        return sql

    # ---------------------------------------------------------------- reading
    def _unknown(self, thread_id: str) -> bool:
        """True when the thread certainly has no rows: the file had no
        checkpoints when opened and this process never wrote the thread."""
        return (
            self._fresh and thread_id not in self.written_threads and thread_id not in self._dirty
        )

    def _open_cursor(self) -> Any:
        if self._closed:
            raise StoreError(f"checkpoint store {self.path} is closed; open it again to read it")
        return self._con.cursor()

    def _query(
        self, sql: str, params: Sequence[Any], thread_id: str | None = None
    ) -> list[tuple[Any, ...]]:
        if thread_id is None:
            self.flush()
        else:
            self.flush_thread(thread_id)
        cur = self._open_cursor()
        try:
            rows: list[tuple[Any, ...]] = cur.execute(sql, list(params)).fetchall()
            return rows
        except Exception as exc:
            raise self._damaged(exc) from exc
        finally:
            cur.close()

    def _damaged(self, exc: BaseException) -> StoreError:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return StoreError(
            f"cannot read checkpoint file {self.path} ({first}); it may be damaged. "
            f"Check it with: wfkit check {self.path}"
        )

    def get_checkpoint(
        self, thread_id: str, checkpoint_id: str | None = None
    ) -> CheckpointRow | None:
        thread_id = check_id(thread_id, "thread id")
        if checkpoint_id is not None:
            checkpoint_id = check_id(checkpoint_id, "checkpoint id")
        if self._unknown(thread_id):
            return None
        cols = _read_list(CHECKPOINT_COLUMNS)
        if checkpoint_id is None:
            rows = self._query(
                f"SELECT {cols} FROM wf_checkpoints WHERE thread_id = ? ORDER BY checkpoint_id DESC LIMIT 1",
                [thread_id],
                thread_id,
            )
        else:
            rows = self._query(
                f"SELECT {cols} FROM wf_checkpoints WHERE thread_id = ? AND checkpoint_id = ?",
                [thread_id, checkpoint_id],
                thread_id,
            )
        return rows[0] if rows else None

    def list_checkpoints(
        self, thread_id: str, *, limit: int | None = None, before: str | None = None
    ) -> list[CheckpointRow]:
        thread_id = check_id(thread_id, "thread id")
        if before is not None:
            before = check_id(before, "checkpoint id")
        sql = f"SELECT {_read_list(CHECKPOINT_COLUMNS)} FROM wf_checkpoints WHERE thread_id = ?"
        params: list[Any] = [thread_id]
        if before is not None:
            sql += " AND checkpoint_id < ?"
            params.append(before)
        sql += " ORDER BY checkpoint_id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return self._query(sql, params, thread_id)

    def has_children(self, thread_id: str, checkpoint_id: str) -> bool:
        thread_id = check_id(thread_id, "thread id")
        checkpoint_id = check_id(checkpoint_id, "checkpoint id")
        rows = self._query(
            "SELECT 1 FROM wf_checkpoints WHERE thread_id = ? AND parent_id = ? LIMIT 1",
            [thread_id, checkpoint_id],
            thread_id,
        )
        return bool(rows)

    def get_values(self, thread_id: str, keys: Sequence[str]) -> list[ValueRow]:
        thread_id = check_id(thread_id, "thread id")
        if not keys:
            return []
        return self._query(
            f"SELECT {_read_list(VALUE_COLUMNS)} FROM wf_values WHERE thread_id = ? AND list_contains(?, key)",
            [thread_id, list(keys)],
            thread_id,
        )

    def get_writes(self, thread_id: str, checkpoint_id: str | None = None) -> list[WriteRow]:
        thread_id = check_id(thread_id, "thread id")
        if checkpoint_id is not None:
            checkpoint_id = check_id(checkpoint_id, "checkpoint id")
        sql = f"SELECT {_read_list(WRITE_COLUMNS)} FROM wf_writes WHERE thread_id = ?"
        params: list[Any] = [thread_id]
        if checkpoint_id is not None:
            sql += " AND checkpoint_id = ?"
            params.append(checkpoint_id)
        return self._query(sql + " ORDER BY written_at, task_index", params, thread_id)

    def max_version(self, thread_id: str) -> int:
        thread_id = check_id(thread_id, "thread id")
        if self._unknown(thread_id):
            return 0
        rows = self._query(
            "SELECT max(version) FROM wf_values WHERE thread_id = ?", [thread_id], thread_id
        )
        return int(rows[0][0] or 0)

    def get_spans(
        self, *, thread_id: str | None = None, run_id: str | None = None
    ) -> list[tuple[Any, ...]]:
        sql = f"SELECT {', '.join(SPAN_COLUMNS)} FROM wf_spans WHERE 1 = 1"
        params: list[Any] = []
        if thread_id is not None:
            sql += " AND thread_id = ?"
            params.append(thread_id)
        if run_id is not None:
            sql += " AND run_id = ?"
            params.append(run_id)
        return self._query(sql + " ORDER BY start_ns", params)

    def save_graph(self, workflow: str, graph: dict[str, Any]) -> None:
        """Keep a workflow's structure beside its runs (for pictures drawn from
        the file alone, e.g. ``wfkit trace draw``)."""
        text = json.dumps(graph)
        cur = self._con.cursor()
        try:
            old = cur.execute(
                "SELECT graph FROM wf_graphs WHERE workflow = ?", [workflow]
            ).fetchone()
            if old is None or _loads_or_none(old[0]) != graph:
                cur.execute(
                    "INSERT OR REPLACE INTO wf_graphs VALUES (?, ?, now())", [workflow, text]
                )
        except Exception as exc:
            raise self._damaged(exc) from exc
        finally:
            cur.close()

    def graphs(self) -> dict[str, dict[str, Any]]:
        cur = self._con.cursor()
        try:
            return {
                w: json.loads(g)
                for w, g in cur.execute("SELECT workflow, graph FROM wf_graphs").fetchall()
            }
        except Exception as exc:
            raise self._damaged(exc) from exc
        finally:
            cur.close()

    def threads(self) -> list[str]:
        return [
            r[0]
            for r in self._query("SELECT DISTINCT thread_id FROM wf_checkpoints ORDER BY 1", [])
        ]

    def delete_thread(self, thread_id: str) -> None:
        thread_id = check_id(thread_id, "thread id")
        self.flush()  # also spans, which do not mark their thread for flush_thread
        cur = self._con.cursor()
        try:
            cur.execute("BEGIN")
            for table in ("wf_checkpoints", "wf_values", "wf_writes", "wf_spans"):
                cur.execute(f"DELETE FROM {table} WHERE thread_id = ?", [thread_id])
            cur.execute("COMMIT")
        except Exception as exc:
            with contextlib.suppress(Exception):
                cur.execute("ROLLBACK")
            raise self._damaged(exc) from exc
        finally:
            cur.close()

    def sql(self, query: str, params: Sequence[Any] = ()) -> Any:
        """Run a read query on the store and return a Polars DataFrame."""
        self.flush()
        cur = self._con.cursor()
        try:
            return cur.sql(query, params=list(params)).pl()
        finally:
            cur.close()

    def close(self) -> None:
        """Flush everything and close the file (idempotent). Raises
        ``StoreError`` if the file was deleted or replaced while it was open:
        what was written since went to the old file."""
        was_open = not self._closed
        self._stop()
        self._wcon.close()
        self._con.close()
        _open_stores.discard(self)
        if was_open and self._identity is not None and _identity(self.path) != self._identity:
            raise StoreError(
                f"checkpoint file {self.path} was deleted or replaced while this store had it "
                f"open; the checkpoints written to it are not at that path any more. Keep the "
                f"file in place while a store uses it"
            )
