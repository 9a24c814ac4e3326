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
interpreter exit.

Reads of a thread the store has in memory (:mod:`wfkit.checkpoint.cache`:
the threads it read or wrote lately, up to ``cache_bytes``) never wait for
a flush and never ask DuckDB; another thread is read in bulk, three
queries for all of its rows.

DuckDB lets one process open a file at a time. The store lets its file go
after ``idle_release`` seconds with nothing to write or read (commit,
close, unlock) and opens it again when next used, so two processes take
turns on one file; a process that finds the file taken waits up to
``lock_wait`` seconds for it, then gets a ``StoreError`` naming the file
and the process holding it.

The tables (``wf_meta``, ``wf_checkpoints``, ``wf_values``, ``wf_writes``
and the view ``wf_threads``) are documented in ``docs/checkpoints.md``.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import re
import threading
import time
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfkit._ids import KEY_SEP, check_id
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
from wfkit.checkpoint.cache import ALL, DEFAULT_CACHE_BYTES, RowCache, ThreadRows, as_stored
from wfkit.trace.record import REMOTE_COLUMNS, SPAN_COLUMNS, SPAN_FLOAT_COLUMNS, SPAN_INT_COLUMNS

if TYPE_CHECKING:
    import duckdb

__all__ = ["SCHEMA_VERSION", "DuckDBCheckpointer"]

SCHEMA_VERSION = 3

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
    # a subgraph's checkpoints are stored under "<thread>" || chr(31) || "<checkpoint_ns>"
    # (wfkit.threads.lineage): the threads are the root threads, with their namespaces
    3: [
        """CREATE OR REPLACE VIEW wf_threads AS
            SELECT split_part(thread_id, chr(31), 1) AS thread_id,
                   count(*) FILTER (WHERE NOT contains(thread_id, chr(31))) AS checkpoints,
                   min(created_at) AS created_at, max(created_at) AS updated_at,
                   max(checkpoint_id) FILTER (WHERE NOT contains(thread_id, chr(31)))
                       AS latest_checkpoint_id,
                   count(DISTINCT thread_id) FILTER (WHERE contains(thread_id, chr(31)))
                       AS namespaces
            FROM wf_checkpoints GROUP BY 1""",
    ],
}
#: span rows journalled by a schema-1 wfkit lack the remote columns
_SPAN_WIDTH_V1 = len(SPAN_COLUMNS) - len(REMOTE_COLUMNS)

KEPT_SEQ = 0  # journal rows the tables refused: kept, never cleared (tickets start at 1)
_SMALL_BATCH = 64
_BLOCK_SIZE = 16_384
_ARROW_SLICE = 20_000  # rows per Arrow batch of a bulk insert
#: the write-ahead log's size at which DuckDB moves it into the file. With
#: DuckDB's 16 MB, 500,000 rows written in flushes of 20,000 left a 91 MB
#: file (row groups written again and again, the old blocks left free); at
#: 32 MB the same rows take 47 MB, the size one bulk insert gives
_CHECKPOINT_THRESHOLD = "32MB"
_HANDED_OUT_THREADS = 4096
_TIME_COLUMNS = {"created_at", "started_at", "ended_at", "written_at"}
_INT_COLUMNS = {"step", "version", "base_version", "task_index", "attempt"} | SPAN_INT_COLUMNS
_FLOAT_COLUMNS = SPAN_FLOAT_COLUMNS

_open_stores: weakref.WeakSet[DuckDBCheckpointer] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for store in list(_open_stores):
        with contextlib.suppress(Exception):  # best effort at exit
            store.close()


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


def _file_state(path: str) -> tuple[Any, ...]:
    """What changes when anyone writes the file: its and its WAL's inode,
    size and modification time."""
    out: list[Any] = []
    for name in (path, path + ".wal"):
        try:
            st = os.stat(name)
        except OSError:
            out.append(None)
        else:
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


class _Locked(Exception):
    """The file is open in another process (the holder, as DuckDB names it)."""


def _loads_or_none(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


_TASKS = CHECKPOINT_COLUMNS.index("tasks")


def _plans(checkpoint: Sequence[Any]) -> bool:
    """Whether a checkpoint row plans tasks (its ``tasks`` is not ``[]``)."""
    return bool(_loads_or_none(checkpoint[_TASKS]) != [])


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


def foreign_objects(con: Any) -> list[str]:
    """What a database without tables holds that is someone's: sequences,
    macros, types, schemas (a file with any of them is not wfkit's to write)."""
    found = []
    for what, query in (
        ("sequence", "SELECT sequence_name FROM duckdb_sequences()"),
        ("macro", "SELECT DISTINCT function_name FROM duckdb_functions() WHERE NOT internal"),
        ("type", "SELECT type_name FROM duckdb_types() WHERE NOT internal"),
        ("schema", "SELECT schema_name FROM duckdb_schemas() WHERE NOT internal"),
    ):
        found += [f"{what} {name}" for (name,) in con.execute(query).fetchall()]
    return found


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
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        idle_release: float | None = 1.0,
        lock_wait: float = 2.0,
    ) -> None:
        import duckdb

        check_durability(durability)  # before creating anything
        for name, value in (("idle_release", idle_release), ("lock_wait", lock_wait)):
            if value is not None and not (isinstance(value, int | float) and value >= 0):
                raise StoreError(
                    f"DuckDBCheckpointer({name}={value!r}): give a number of seconds >= 0"
                    + (" (or None: keep the file open)" if name == "idle_release" else "")
                )
        if not isinstance(cache_bytes, int) or cache_bytes < 0:
            raise StoreError(
                f"DuckDBCheckpointer(cache_bytes={cache_bytes!r}): give a number of bytes >= 0 "
                f"(0 keeps no thread in memory; the default is {DEFAULT_CACHE_BYTES})"
            )
        self.path = str(path)
        self.idle_release = None if self.path == ":memory:" else idle_release
        self.lock_wait = float(lock_wait)
        self._cache = RowCache(cache_bytes)
        # the last version handed out per thread written lately, for a thread not in memory
        self._handed_out: OrderedDict[str, int] = OrderedDict()
        self._open_lock = threading.RLock()  # opening and letting go of the file
        self.store_lock = threading.Lock()  # the writes of the long-term stores on this file
        self._users = 0  # reads using the connection now
        self._released: tuple[Any, ...] | None = None  # the file's state when let go
        self._changed = False  # the file changed while let go: reopen recovers it
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
        con = self._open(duckdb)
        self._con: duckdb.DuckDBPyConnection | None = con
        self._wcon: duckdb.DuckDBPyConnection | None = con.cursor()  # the flusher's own cursor
        super().__init__(durability)  # the flusher waits for rows; recovery writes directly
        try:
            # under the open lock: the flusher, already started, must not let the file go
            # idle (close this connection) while a long recovery writes through it
            with self._open_lock:
                self._recover_journal(con)
                row = con.execute("SELECT count(*) FROM wf_checkpoints").fetchone()
        except BaseException:
            self._stop()
            con.close()
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
        deadline = time.monotonic() + self.lock_wait
        pause = 0.02
        while True:
            try:
                con = self._connect(duckdb)
                break
            except _Locked as locked:
                now = time.monotonic()
                if now >= deadline:
                    text = str(locked.__cause__ or locked)
                    pid = re.search(r"PID (\d+)", text)
                    holder = f"process {pid.group(1)}" if pid else "another process"
                    raise StoreError(
                        f"checkpoint file {path} is open for writing in {holder} (waited "
                        f"{self.lock_wait:g} s for it); DuckDB allows one process per file. "
                        f"Close it there (checkpointer.close()), let it go idle (a store lets "
                        f"its file go after idle_release seconds), or use another file"
                    ) from locked.__cause__
                time.sleep(min(pause, deadline - now))
                pause = min(pause * 2, 0.25)
        try:
            self._check_and_migrate(con)
        except BaseException:
            con.close()
            raise
        return con

    def _connect(self, duckdb: Any) -> duckdb.DuckDBPyConnection:
        path = self.path
        try:
            # small blocks: a thread of a few hundred KB should not occupy 256 KB blocks
            config = {
                "default_block_size": str(_BLOCK_SIZE),
                "checkpoint_threshold": _CHECKPOINT_THRESHOLD,
            }
            return duckdb.connect(path, config=config)  # type: ignore[no-any-return]
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" in text.lower():
                raise _Locked(text) from exc
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

    def _ensure_open(self) -> duckdb.DuckDBPyConnection:
        """The connection, opening the file again if it was let go (waiting
        up to ``lock_wait`` for another process to let it go)."""
        con = self._con
        if con is not None:
            return con
        import duckdb

        with self._open_lock:
            if self._con is not None:
                return self._con
            changed = self._changed or _file_state(self.path) != self._released
            con = self._open(duckdb)
            wcon = con.cursor()
            if changed:  # another process wrote it: what this one remembers may be old
                self._cache.clear()
                self._fresh = False
                try:
                    self._recover_journal(wcon)  # e.g. what a crash there left in the journal
                except BaseException:
                    wcon.close()
                    con.close()
                    raise
            self._changed = False
            self._released = None
            self._identity = _identity(self.path)
            self._wcon = wcon
            self._con = con
            return con

    def _writer(self) -> duckdb.DuckDBPyConnection:
        """The flusher's cursor (the flusher is the only one to let the file go)."""
        self._ensure_open()
        assert self._wcon is not None
        return self._wcon

    @contextlib.contextmanager
    def _reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for one read; the file is not let go while it is in use."""
        if self._closed:
            raise StoreError(f"checkpoint store {self.path} is closed; open it again to read it")
        with self._open_lock:
            con = self._ensure_open()
            self._users += 1
        try:
            cur = con.cursor()
            try:
                yield cur
            finally:
                cur.close()
        finally:
            with self._open_lock:
                self._users -= 1
            self._last_activity = time.monotonic()

    def cursor(self) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A cursor on the file for one piece of work, which the store does
        not let go of while it is in use (reopening it first if it was let
        go): how a long-term store on the same file (``wfkit.store.duckdb``)
        shares this connection."""
        return self._reading()

    def _idle_after(self) -> float | None:
        if self.idle_release is None or self._con is None or self._closed:
            return None
        if self._users:
            return self.idle_release
        return self.idle_release - (time.monotonic() - self._last_activity)

    def _release_idle(self) -> None:
        """Commit (every flush did), close the connection, unlock the file."""
        with self._open_lock:
            left = self._idle_after()
            if left is None or left > 0 or self._rows or self._jrows or self._closed:
                return
            if self._visible < self._enqueued:
                return
            con, wcon = self._con, self._wcon
            self._con = self._wcon = None
            with contextlib.suppress(Exception):  # closing never loses a committed row
                if wcon is not None:
                    wcon.close()
            if con is not None:
                con.close()
            self._released = _file_state(self.path)

    def _check_released(self) -> None:
        """While the file is let go, another process may write it: if it did,
        forget the threads kept in memory (the next read fetches them)."""
        if (
            self._released is not None
            and not self._changed
            and _file_state(self.path) != self._released
        ):
            with self._open_lock:
                if self._con is None:
                    self._changed = True
                    self._cache.clear()
                    self._fresh = False

    @property
    def file_open(self) -> bool:
        """Whether this store holds its file now (False while it is let go)."""
        return self._con is not None

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
        elif tables or (others := foreign_objects(con)):
            listed = f"tables {', '.join(sorted(tables)[:5])}" if tables else ", ".join(others[:5])
            raise StoreError(
                f"{self.path} is a DuckDB database but not a wfkit checkpoint store (it has {listed}); "
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
        con = self._writer()
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
        con = self._writer()
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
        self._writer().execute("INSERT INTO wf_journal VALUES (?, ?)", [ticket, json.dumps(rows)])

    def _insert(self, con: duckdb.DuckDBPyConnection, rows: Rows) -> None:
        from wfkit.checkpoint.arrow import ArrowRows

        floats = frozenset(_TIME_COLUMNS | _FLOAT_COLUMNS)
        ints = frozenset(_INT_COLUMNS)
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
            # a slice at a time, so a large flush never holds all of it as Arrow at once
            for start in range(0, len(part), _ARROW_SLICE):
                piece = part[start : start + _ARROW_SLICE]
                batch = ArrowRows(piece, columns, floats=floats, ints=ints)  # read by name
                con.execute(self._insert_sql[table])
                del batch, piece

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

    # ---------------------------------------------------------------- memory
    def _wrote(
        self,
        checkpoints: Sequence[CheckpointRow],
        values: Sequence[ValueRow],
        writes: Sequence[WriteRow],
        threads: tuple[str, ...],
    ) -> None:
        # write-through (under the buffer's lock)
        self._cache.add(checkpoints, values, writes, threads)

    def _forget(self, threads: set[str]) -> None:
        self._cache.drop(threads)

    @property
    def cache(self) -> RowCache:
        """The threads this store keeps in memory (``len``, ``nbytes``, ``limit``)."""
        return self._cache

    # ---------------------------------------------------------------- reading
    def _unknown(self, thread_id: str) -> bool:
        """True when the thread certainly has no rows: the file had no
        checkpoints when opened and this process never wrote the thread."""
        return (
            self._fresh and thread_id not in self.written_threads and thread_id not in self._dirty
        )

    def thread_rows(self, thread_id: str, *, fresh: bool = False) -> ThreadRows:
        """Every row of a thread: from memory when the store keeps it (never
        waiting for a flush), else read from the file in bulk once the
        thread's rows are in its tables (and kept, if it fits ``cache_bytes``).
        ``fresh``: read the file (and the buffers) even if the thread is in
        memory, and keep nothing: what the cache must agree with."""
        if self._closed:
            raise StoreError(f"checkpoint store {self.path} is closed; open it again to read it")
        if self._con is None:
            self._check_released()
        if self._thread_errors:
            with self._lock:
                self._raise_for_threads({thread_id})
        entry = None if fresh else self._cache.get(thread_id)
        if entry is not None:
            return entry
        with self._lock:
            if not fresh and self._unknown(thread_id):  # a new thread: nothing to read
                entry = ThreadRows(thread_id)
                self._cache.install(entry)
                return entry
        # a thread read from the file waits for its rows to reach the tables, so
        # that rows the tables refuse are reported now, not read and then lost
        self.flush_thread(thread_id)
        return self._fetch(thread_id, keep=not fresh)

    def _fetch(self, thread_id: str, *, keep: bool) -> ThreadRows:
        """A thread read from the file: every value row, the newest checkpoint
        and its writes (the rest is fetched when something asks for it,
        ``fetch_rest``), plus the thread's rows still buffered. ``keep``:
        keep it in memory; otherwise fetch all of it, for one reading."""
        # No flush runs while this holds _flushing, so every row of the thread
        # is either in the tables or in the buffers; rows put from the moment
        # the entry is installed are written through to it.
        with self._flushing:
            entry = self._cache.get(thread_id) if keep else None
            if entry is not None:
                return entry
            entry = ThreadRows(thread_id)
            # kept from now on, so rows put meanwhile are written through, but not
            # handed to another reader (RowCache.get) until the rows below are in it
            entry.filling = keep
            with self._lock:
                buffered = merge([self._jbuf, self._buf])  # the journaled ones are older
                if keep:
                    self._cache.install(entry)
            cols = _read_list(CHECKPOINT_COLUMNS)
            try:
                with self._reading() as cur:
                    if keep:
                        checkpoints = cur.execute(
                            f"SELECT {cols} FROM wf_checkpoints WHERE thread_id = ? "
                            "ORDER BY checkpoint_id DESC LIMIT 1",
                            [thread_id],
                        ).fetchall()
                    else:
                        checkpoints = cur.execute(
                            f"SELECT {cols} FROM wf_checkpoints WHERE thread_id = ?", [thread_id]
                        ).fetchall()
                    values = cur.execute(
                        f"SELECT {_read_list(VALUE_COLUMNS)} FROM wf_values WHERE thread_id = ?",
                        [thread_id],
                    ).fetchall()
                    sql = f"SELECT {_read_list(WRITE_COLUMNS)} FROM wf_writes WHERE thread_id = ?"
                    # the newest checkpoint's writes, unless it plans no task: then
                    # get_state needs none (a run going on from it asks: fetched then)
                    head = [checkpoints[0][1]] if checkpoints and _plans(checkpoints[0]) else []
                    if keep:
                        writes = (
                            cur.execute(
                                sql + " AND checkpoint_id = ?", [thread_id, *head]
                            ).fetchall()
                            if head
                            else []
                        )
                    else:
                        writes = cur.execute(sql, [thread_id]).fetchall()
            except BaseException as exc:
                if keep:
                    self._cache.drop({thread_id})
                if isinstance(exc, Exception) and not isinstance(exc, StoreError):
                    raise self._damaged(exc) from exc
                raise
            if keep:  # the rest when asked for: older checkpoints, their writes
                entry.loader = self
                entry.partial_checkpoints = bool(checkpoints)
                entry.partial_writes = True  # (write rows need no checkpoint row)
                if head:
                    entry.writes_known[head[0]] = None
            self._cache.fill(entry, checkpoints, values, writes)
            self._cache.fill(entry, *as_stored(buffered[0], buffered[1], buffered[2], thread_id))
            self._cache.filled(entry)
            return entry

    def fetch_rest(self, entry: ThreadRows, *, checkpoints: bool, writes: Any) -> None:
        """Fetch the checkpoints (``checkpoints``) and the writes of checkpoint
        ``writes`` (an id, ``ALL``, or None) of a thread read cold."""
        thread_id = entry.thread_id
        with self._flushing:
            with self._lock:  # the buffers and the writes held, at one moment
                buffered = merge([self._jbuf, self._buf])
                marks = {c: len(rows) for c, rows in list(entry.writes.items())}
            b_checkpoints, _, b_writes = as_stored(buffered[0], (), buffered[2], thread_id)
            try:
                with self._reading() as cur:
                    found = []
                    if checkpoints:
                        found = cur.execute(
                            f"SELECT {_read_list(CHECKPOINT_COLUMNS)} FROM wf_checkpoints "
                            "WHERE thread_id = ?",
                            [thread_id],
                        ).fetchall()
                    rows: list[WriteRow] = []
                    if writes is not None:
                        sql = (
                            f"SELECT {_read_list(WRITE_COLUMNS)} FROM wf_writes WHERE thread_id = ?"
                        )
                        if writes is ALL:
                            rows = cur.execute(sql, [thread_id]).fetchall()
                        else:
                            rows = cur.execute(
                                sql + " AND checkpoint_id = ?", [thread_id, writes]
                            ).fetchall()
                            b_writes = [r for r in b_writes if r[1] == writes]
            except StoreError:
                raise
            except Exception as exc:
                raise self._damaged(exc) from exc
            self._cache.take(entry, found + b_checkpoints, rows + b_writes, marks, writes)
            if checkpoints:
                entry.partial_checkpoints = False

    def _query(
        self, sql: str, params: Sequence[Any], thread_id: str | None = None
    ) -> list[tuple[Any, ...]]:
        if thread_id is None:
            self.flush()
        else:
            self.flush_thread(thread_id)
        with self._reading() as cur:
            try:
                rows: list[tuple[Any, ...]] = cur.execute(sql, list(params)).fetchall()
                return rows
            except Exception as exc:
                raise self._damaged(exc) from exc

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
        return self.thread_rows(thread_id).get_checkpoint(thread_id, checkpoint_id)

    def list_checkpoints(
        self, thread_id: str, *, limit: int | None = None, before: str | None = None
    ) -> list[CheckpointRow]:
        thread_id = check_id(thread_id, "thread id")
        if before is not None:
            before = check_id(before, "checkpoint id")
        rows = self.thread_rows(thread_id)
        return rows.list_checkpoints(thread_id, limit=limit, before=before)

    def has_children(self, thread_id: str, checkpoint_id: str) -> bool:
        thread_id = check_id(thread_id, "thread id")
        checkpoint_id = check_id(checkpoint_id, "checkpoint id")
        return self.thread_rows(thread_id).has_children(thread_id, checkpoint_id)

    def get_values(self, thread_id: str, keys: Sequence[str]) -> list[ValueRow]:
        thread_id = check_id(thread_id, "thread id")
        if not keys:
            return []
        return self.thread_rows(thread_id).get_values(thread_id, keys)

    def get_writes(self, thread_id: str, checkpoint_id: str | None = None) -> list[WriteRow]:
        thread_id = check_id(thread_id, "thread id")
        if checkpoint_id is not None:
            checkpoint_id = check_id(checkpoint_id, "checkpoint id")
        return self.thread_rows(thread_id).get_writes(thread_id, checkpoint_id)

    def max_version(self, thread_id: str) -> int:
        thread_id = check_id(thread_id, "thread id")
        return self.thread_rows(thread_id).max_version(thread_id)

    def reserve_version(self, thread_id: str, at_least: int) -> int:
        """A version number for a new value row of the thread, never handed
        out before (two runs of one thread at once get different ones)."""
        entry = self.thread_rows(thread_id)
        handed = self._handed_out
        with self._cache.lock:
            top = max(entry.top_version, entry.reserved, handed.get(thread_id, 0))
            version = max(top + 1, at_least)
            entry.reserved = handed[thread_id] = version
            handed.move_to_end(thread_id)
            if len(handed) > _HANDED_OUT_THREADS:  # bounded: the threads written lately
                handed.popitem(last=False)
        return version

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
        with self._reading() as cur:
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

    def graphs(self) -> dict[str, dict[str, Any]]:
        with self._reading() as cur:
            try:
                return {
                    w: json.loads(g)
                    for w, g in cur.execute("SELECT workflow, graph FROM wf_graphs").fetchall()
                }
            except Exception as exc:
                raise self._damaged(exc) from exc

    def threads(self) -> list[str]:
        """The root threads (a subgraph's checkpoints are its thread's)."""
        return [
            r[0]
            for r in self._query("SELECT DISTINCT thread_id FROM wf_checkpoints ORDER BY 1", [])
            if KEY_SEP not in r[0]
        ]

    def delete_thread(self, thread_id: str) -> None:
        """Delete a thread's rows, its subgraphs' checkpoints with them."""
        thread_id = check_id(thread_id, "thread id")
        inside = thread_id + KEY_SEP  # its namespaces' stored thread ids start so
        self.flush()  # also spans, which do not mark their thread for flush_thread
        with self._reading() as cur:
            try:
                cur.execute("BEGIN")
                for table in ("wf_checkpoints", "wf_values", "wf_writes", "wf_spans"):
                    cur.execute(
                        f"DELETE FROM {table} WHERE thread_id = ? OR starts_with(thread_id, ?)",
                        [thread_id, inside],
                    )
                cur.execute("COMMIT")
            except Exception as exc:
                with contextlib.suppress(Exception):
                    cur.execute("ROLLBACK")
                raise self._damaged(exc) from exc
            finally:
                self._cache.drop({thread_id})
                self._cache.drop_prefix(inside)

    def sql(self, query: str, params: Sequence[Any] = ()) -> Any:
        """Run a read query on the store and return a Polars DataFrame."""
        self.flush()
        with self._reading() as cur:
            return cur.sql(query, params=list(params)).pl()

    def close(self) -> None:
        """Flush everything and close the file (idempotent). Raises
        ``StoreError`` if the file was deleted or replaced while it was open
        (what was written since went to the old file), or if rows of some
        threads could not be written and no run was told (an ``"async"``
        run on a full disk)."""
        was_open = not self._closed
        self._stop()
        with self._open_lock:
            held = self._con is not None
            if self._wcon is not None:
                self._wcon.close()
            if self._con is not None:
                self._con.close()
            self._con = self._wcon = None
        self._cache.clear()
        _open_stores.discard(self)
        if (
            was_open
            and held
            and self._identity is not None
            and _identity(self.path) != self._identity
        ):
            raise StoreError(
                f"checkpoint file {self.path} was deleted or replaced while this store had it "
                f"open; the checkpoints written to it are not at that path any more. Keep the "
                f"file in place while a store uses it"
            )
        lost = self._lost_rows() if was_open else None
        if lost is not None:
            raise StoreError(f"checkpoint file {self.path}: {lost[0]}") from lost[1]
