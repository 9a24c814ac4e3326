"""``wfkit check FILE``: verify a checkpoint file without changing it.

The file is opened read-only (DuckDB writes nothing), and every table is
read: schema, value chains (missing links, cycles), references between
rows (parents, writes and values of checkpoints that exist), the journal
(rows a crash left there, and whether the tables would take them), and
every block (DuckDB checks each block's checksum as it reads it). Each
problem comes with how to recover.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfkit.checkpoint.base import CHECKPOINT_COLUMNS, VALUE_COLUMNS, WRITE_COLUMNS
from wfkit.errors import StoreError

__all__ = ["Report", "check_file"]


@dataclass
class Report:
    """What ``check_file`` found: ``problems`` (each with its fix) and notes."""

    path: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        lines = [f"{self.path}: " + ("ok" if self.ok else f"{len(self.problems)} problem(s)")]
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  problem: {p}" for p in self.problems]
        return "\n".join(lines)


def check_file(path: str | Path) -> Report:
    """Check the checkpoint file at ``path``; the file is not changed."""
    import duckdb

    report = Report(str(path))
    file = Path(path)
    if not file.is_file():
        report.problems.append("no such file; give the path of a checkpoint file")
        return report
    with file.open("rb") as fh:
        if fh.read(12)[8:12] != b"DUCK":
            report.problems.append(
                "not a DuckDB file, so not a checkpoint store; wfkit will not open it"
            )
            return report
    try:
        con = duckdb.connect(str(file), read_only=True)
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        fix = (
            "close the store in the process that holds it, then check again"
            if "lock" in first.lower()
            else "the file is damaged: restore it from a backup"
        )
        report.problems.append(f"cannot be opened ({first}); {fix}")
        return report
    try:
        if _schema(con, report):
            _tables(con, report)
    except duckdb.Error as exc:
        report.problems.append(
            f"reading it failed ({str(exc).splitlines()[0]}): the file is damaged. Copy out what "
            f"still reads (duckdb {path} -c \"COPY wf_checkpoints TO 'c.parquet'\") and restore "
            f"it from a backup"
        )
    finally:
        con.close()
    return report


def _schema(con: Any, report: Report) -> bool:
    """Whether the schema is this wfkit's, as the store checks it on opening."""
    from wfkit.checkpoint.duckdb import DuckDBCheckpointer

    probe = DuckDBCheckpointer.__new__(DuckDBCheckpointer)  # only its checks, no connection
    probe.path = report.path
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    if "wf_meta" not in tables:
        from wfkit.checkpoint.duckdb import foreign_objects

        others = [] if tables else foreign_objects(con)
        what = f"tables {', '.join(sorted(tables)[:5])}" if tables else ", ".join(others[:5])
        report.problems.append(
            f"not a wfkit checkpoint store (it has {what}); give wfkit its own file"
            if tables or others
            else "an empty DuckDB file: wfkit makes its tables when it first opens it"
        )
        return False
    import duckdb

    try:
        version = probe._schema_version(con, duckdb)
        from wfkit.checkpoint.duckdb import SCHEMA_VERSION

        if version > SCHEMA_VERSION:
            raise StoreError(
                f"written by a newer wfkit (schema version {version}); upgrade wfkit to check it"
            )
        probe._check_tables(con)
    except StoreError as exc:
        report.problems.append(str(exc))
        return False
    report.notes.append(f"schema version {version}")
    return True


def _tables(con: Any, report: Report) -> None:
    checkpoints = con.execute(
        f"SELECT {', '.join(CHECKPOINT_COLUMNS)} FROM wf_checkpoints"
    ).fetchall()
    values = con.execute(f"SELECT {', '.join(VALUE_COLUMNS)} FROM wf_values").fetchall()
    writes = con.execute(f"SELECT {', '.join(WRITE_COLUMNS)} FROM wf_writes").fetchall()
    spans = con.execute("SELECT count(*) FROM wf_spans").fetchone()[0]
    con.execute("SELECT * FROM wf_graphs").fetchall()  # every block is read (checksums)
    threads = {r[0] for r in checkpoints}
    report.notes.append(
        f"{len(threads)} threads, {len(checkpoints)} checkpoints, {len(values)} values, "
        f"{len(writes)} writes, {spans} spans"
    )
    ids = {(r[0], r[1]) for r in checkpoints}
    by_version = {(r[0], r[2], r[3]): r for r in values}
    broken: dict[str, list[str]] = {}
    for r in checkpoints:
        thread, cid, parent = r[0], r[1], r[2]
        if parent is not None and (thread, parent) not in ids:
            broken.setdefault(thread, []).append(
                f"checkpoint {cid!r}: parent {parent!r} is missing"
            )
        problem = _chain_problem(r, by_version)
        if problem:
            broken.setdefault(thread, []).append(f"checkpoint {cid!r}: {problem}")
    _parent_cycles({(r[0], r[1]): r[2] for r in checkpoints}, broken)
    for kind, rows in (("value", values), ("write", writes)):
        for r in rows:
            if r[1] is not None and (r[0], r[1]) not in ids:
                broken.setdefault(r[0], []).append(
                    f"a {kind} row of checkpoint {r[1]!r}, which is missing"
                )
    for thread, found in sorted(broken.items()):
        more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
        report.problems.append(
            f"thread {thread!r}: {'; '.join(found[:3])}{more}. The thread cannot be read whole: "
            f"read the checkpoints that still work with get_state_history(), or remove it with "
            f"store.delete_thread({thread!r})"
        )
    _journal(con, report)


def _parent_cycles(
    parents: dict[tuple[str, str], str | None], broken: dict[str, list[str]]
) -> None:
    """Checkpoints whose parents come back to them (each cycle named once)."""
    fine: set[tuple[str, str]] = set()
    for start in parents:
        path: list[tuple[str, str]] = []
        at: tuple[str, str] | None = start
        while at is not None and at in parents and at not in fine:
            if at in path:
                loop = [cid for _, cid in path[path.index(at) :]]
                broken.setdefault(at[0], []).append(
                    f"checkpoint {at[1]!r}: its parents come back to it (a cycle: "
                    f"{' -> '.join(loop)} -> {at[1]})"
                )
                break
            path.append(at)
            parent = parents[at]
            at = None if parent is None else (at[0], parent)
        fine.update(path)


def _chain_problem(row: tuple[Any, ...], by_version: dict[Any, Any]) -> str | None:
    from wfkit.threads.fold import chain

    thread = row[0]
    try:
        versions = json.loads(row[9])
    except (TypeError, ValueError):
        return "its versions are not JSON"
    if not isinstance(versions, dict):
        return "its versions are not an object"
    rows = {(k, v): r for (t, k, v), r in by_version.items() if t == thread and k in versions}
    for key, version in versions.items():
        try:
            found = chain(rows, key, version, "")
        except StoreError as exc:
            return str(exc).lstrip(": ").split("; ")[0]
        kinds = {r[5] for r in found}
        if not kinds <= {"set", "append"}:
            return f"state key {key!r} has a value row of kind {sorted(kinds - {'set', 'append'})}"
    return None


def _journal(con: Any, report: Report) -> None:
    """Journal entries a crash left: readable, and would the tables take them?"""
    import duckdb

    from wfkit.checkpoint.base import by_thread
    from wfkit.checkpoint.duckdb import _MIGRATIONS, KEPT_SEQ, parse_journal_payload

    entries = con.execute("SELECT seq, payload FROM wf_journal ORDER BY seq").fetchall()
    if not entries:
        return
    scratch = duckdb.connect(":memory:")  # the same tables, to try the rows in
    try:
        for v in sorted(_MIGRATIONS):
            for statement in _MIGRATIONS[v]:
                scratch.execute(statement)
        store = _Scratch(scratch)
        pending = 0
        for seq, payload in entries:
            try:
                rows = parse_journal_payload(payload)
            except ValueError as exc:
                report.problems.append(
                    f"journal entry {seq} cannot be read ({exc}); wfkit leaves it in wf_journal. "
                    f"If you do not need it: DELETE FROM wf_journal WHERE seq = {seq}"
                )
                continue
            for thread, part in by_thread(rows).items():
                try:
                    store.insert(part)
                except duckdb.Error as exc:
                    kept = " (kept after an earlier recovery)" if seq == KEPT_SEQ else ""
                    report.problems.append(
                        f"journal entry {seq}{kept} holds rows of thread {thread!r} the tables "
                        f"refuse ({str(exc).splitlines()[0]}); the rest of the file is fine. "
                        f"Those rows cannot be recovered; copy them out of wf_journal if you "
                        f"need them"
                    )
                else:
                    pending += sum(map(len, part))
        if pending:
            report.notes.append(
                f"{pending} rows in the journal (left by a crash) are not in the tables yet; "
                f"opening the file with wfkit moves them in"
            )
    finally:
        scratch.close()


class _Scratch:
    """Inserts rows the way the store does, into a scratch database."""

    def __init__(self, con: Any) -> None:
        from wfkit.checkpoint.duckdb import DuckDBCheckpointer

        self.con = con
        self.store = DuckDBCheckpointer.__new__(DuckDBCheckpointer)  # for its INSERT statements
        self.store._values_cache = {}

    def insert(self, rows: Any) -> None:
        self.con.execute("BEGIN")
        try:
            for table, part in zip(
                ("wf_checkpoints", "wf_values", "wf_writes", "wf_spans"), rows, strict=True
            ):
                for row in part:  # one at a time: a scratch insert, no Arrow needed
                    sql = self.store._values_sql(table, _columns(table), 1)
                    self.con.execute(sql, list(row))
        finally:
            self.con.execute("ROLLBACK")


def _columns(table: str) -> tuple[str, ...]:
    from wfkit.trace.record import SPAN_COLUMNS

    return {
        "wf_checkpoints": CHECKPOINT_COLUMNS,
        "wf_values": VALUE_COLUMNS,
        "wf_writes": WRITE_COLUMNS,
        "wf_spans": SPAN_COLUMNS,
    }[table]
