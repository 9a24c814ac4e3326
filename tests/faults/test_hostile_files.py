"""Damaged, tampered and foreign files: read back exactly, or refused with
the store's error, untouched, with nothing in them run (``hostile.judge``)."""

from __future__ import annotations

import base64
import json
import os
import pickle
import random
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import duckdb
import pytest
from crashlib import FIGURES, ROOT
from hostile import digest, judge, make_store_file, read_all

from wfkit.checkpoint.duckdb import SCHEMA_VERSION, DuckDBCheckpointer
from wfkit.errors import StoreError

REGION = 4096  # DuckDB's file header, its two database headers, then 16 KB blocks


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("hostile") / "runs.duckdb"
    make_store_file(path)
    return path, read_all(path)


@pytest.fixture
def victim(original: tuple[Path, dict[str, Any]], tmp_path: Path) -> Path:
    path = tmp_path / "victim.duckdb"
    shutil.copy(original[0], path)
    return path


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "EXECUTED"


def _copy_with(original: Path, tmp: Path, name: str, change: Any) -> Path:
    data = bytearray(original.read_bytes())
    path = tmp / name
    path.write_bytes(bytes(change(data)))
    return path


# ------------------------------------------------------------------ damage
def _flip_every_region(
    original: tuple[Path, dict[str, Any]], tmp: Path, marker: Path, flips: int, seed: int
) -> dict[str, int]:
    path, expected = original
    size = path.stat().st_size
    rng = random.Random(seed)
    outcomes: dict[str, int] = {}
    for region in range(0, size, REGION):
        for n in range(flips):
            at = region + rng.randrange(min(REGION, size - region))
            bit = 1 << rng.randrange(8)

            def flip(data: bytearray, at: int = at, bit: int = bit) -> bytearray:
                data[at] ^= bit
                return data

            victim = _copy_with(path, tmp, f"flip-{at}-{n}.duckdb", flip)
            how = judge(victim, expected, marker)
            outcomes[how] = outcomes.get(how, 0) + 1
            victim.unlink()
    return outcomes


def test_a_bit_flip_in_every_region_is_read_right_or_refused(
    original: tuple[Path, dict[str, Any]], tmp_path: Path, marker: Path
) -> None:
    outcomes = _flip_every_region(original, tmp_path, marker, flips=1, seed=1)
    assert outcomes.get("refused", 0) > 0, outcomes  # the headers at least are checked


@pytest.mark.slow
def test_many_bit_flips_in_every_region_long(
    original: tuple[Path, dict[str, Any]], tmp_path: Path, marker: Path
) -> None:
    _flip_every_region(original, tmp_path, marker, flips=6, seed=2)


@pytest.mark.parametrize(
    "step", [pytest.param(16 * REGION), pytest.param(REGION, marks=pytest.mark.slow)]
)
def test_truncated_anywhere_is_refused(
    original: tuple[Path, dict[str, Any]], tmp_path: Path, marker: Path, step: int
) -> None:
    path, expected = original
    size = path.stat().st_size
    for cut in [1, 11, 12, 100, *range(step, size, step), size - 1]:
        victim = _copy_with(path, tmp_path, f"cut-{cut}.duckdb", lambda d, cut=cut: d[:cut])
        assert judge(victim, expected, marker) == "refused", cut
        victim.unlink()


@pytest.mark.parametrize("seed", range(6))
def test_random_bytes_are_refused(tmp_path: Path, marker: Path, seed: int) -> None:
    rng = random.Random(seed)
    data = bytearray(rng.randbytes(rng.choice([12, 4096, 3 * 4096, 70_000])))
    if seed % 2:  # with DuckDB's magic bytes, so DuckDB itself reads the headers
        data[8:12] = b"DUCK"
    path = tmp_path / "random.duckdb"
    path.write_bytes(bytes(data))
    assert judge(path, None, marker) == "refused"


def test_sqlite_file_is_refused(tmp_path: Path, marker: Path) -> None:
    path = tmp_path / "other.duckdb"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE wf_meta (key TEXT, value TEXT)")
    con.execute("INSERT INTO wf_meta VALUES ('schema_version', '1')")
    con.commit()
    con.close()
    assert judge(path, None, marker) == "refused"


# ------------------------------------------------------------------ foreign and schema rows
def _duckdb(path: Path, *statements: str) -> Path:
    con = duckdb.connect(str(path))
    for s in statements:
        con.execute(s)
    con.close()
    return path


@pytest.mark.parametrize(
    "statements",
    [
        ["CREATE TABLE sales (id INT)"],
        ["CREATE VIEW v AS SELECT 1 AS x"],
        ["CREATE SCHEMA s", "CREATE TABLE s.t (a INT)"],
        ["CREATE TABLE wf_checkpoints (a INT)"],
        ["CREATE MACRO add1(a) AS a + 1"],  # no tables: wfkit wrote its own into these
        ["CREATE SEQUENCE ids"],
        ["CREATE TYPE mood AS ENUM ('ok', 'sad')"],
        ["CREATE SCHEMA staging"],
    ],
    ids=["table", "view", "schema-table", "wf-table", "macro", "sequence", "type", "schema"],
)
def test_foreign_duckdb_file_is_refused_untouched(
    tmp_path: Path, marker: Path, statements: list[str]
) -> None:
    path = _duckdb(tmp_path / "theirs.duckdb", *statements)
    assert judge(path, None, marker) == "refused"


def test_foreign_wf_meta_table_is_refused_untouched(tmp_path: Path, marker: Path) -> None:
    # issue 9, 5: was a raw CatalogException
    path = _duckdb(tmp_path / "f.duckdb", "CREATE TABLE wf_meta (id INT, note VARCHAR)")
    before = digest(path)
    with pytest.raises(StoreError, match=r"wf_meta table that is not wfkit's.*untouched"):
        DuckDBCheckpointer(path)
    assert digest(path) == before
    assert judge(path, None, marker) == "refused"


@pytest.mark.parametrize(
    "value", ["'abc'", "''", "NULL", "'1.5'", "'-1'", "'0'", "' 1'", "'1e9'", "'٣'", "'1; DROP'"]
)
def test_schema_version_of_a_wrong_type_is_refused_untouched(
    victim: Path, marker: Path, value: str
) -> None:
    # issue 9, 5: 'abc' was a raw ValueError
    _duckdb(victim, f"UPDATE wf_meta SET value = {value} WHERE key = 'schema_version'")
    before = digest(victim)
    with pytest.raises(StoreError, match=r"schema version|no schema version"):
        DuckDBCheckpointer(victim)
    assert digest(victim) == before
    FIGURES["hostile files tried"] += 1
    FIGURES["files refused"] += 1


@pytest.mark.parametrize(
    "change",
    [
        "DELETE FROM wf_meta WHERE key = 'schema_version'",
        "DROP TABLE wf_values",
        "DROP VIEW wf_threads",
        "ALTER TABLE wf_checkpoints DROP COLUMN versions",
        "ALTER TABLE wf_values ALTER value TYPE VARCHAR",
        "ALTER TABLE wf_writes RENAME COLUMN status TO state",
        "DROP TABLE wf_journal",
        "CREATE TABLE wf_meta2 AS SELECT 1; DROP TABLE wf_spans",
    ],
)
def test_schema_of_a_wrong_shape_is_refused_untouched(
    victim: Path, marker: Path, change: str
) -> None:
    _duckdb(victim, *change.split("; "))
    assert judge(victim, None, marker) == "refused"


def test_newer_schema_is_refused(victim: Path, marker: Path) -> None:
    newer = SCHEMA_VERSION + 1
    _duckdb(victim, f"UPDATE wf_meta SET value = '{newer}' WHERE key = 'schema_version'")
    assert judge(victim, None, marker) == "refused"


# ------------------------------------------------------------------ tampered values
class _Boom:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def _hostile_values(marker: Path) -> dict[str, Any]:
    m = str(marker)
    boom = base64.b64encode(pickle.dumps(_Boom(marker))).decode()
    return {
        "pickle": {"__wf__": "pickle", "v": boom},
        "dataclass-open": {
            "__wf__": "dataclass",
            "type": "builtins.open",
            "v": {"file": m, "mode": "w"},
        },
        "dataclass-system": {
            "__wf__": "dataclass",
            "type": "os.system",
            "v": {"command": f"touch {m}"},
        },
        "pydantic-popen": {"__wf__": "pydantic", "type": "subprocess.Popen", "v": ["touch", m]},
        "enum-open": {"__wf__": "enum", "type": "builtins.open", "v": m},
        "type-not-a-string": {"__wf__": "dataclass", "type": ["builtins", "open"], "v": {}},
        "unknown-tag": {"__wf__": "exec", "v": f"open({m!r}, 'w')"},
        "bytes": {"__wf__": "bytes", "v": "!!! not base64 !!!"},
        "bytearray": {"__wf__": "bytearray", "v": ["not", "text"]},
        "int": {"__wf__": "int", "v": "0xzz"},
        "int-type": {"__wf__": "int", "v": 5},
        "str": {"__wf__": "str", "v": "\\U99999999"},
        "str-type": {"__wf__": "str", "v": 5},
        "bytes-type": {"__wf__": "bytes", "v": 5},
        "datetime": {"__wf__": "datetime", "v": "yesterday"},
        "datetime-zone-path": {"__wf__": "datetime", "v": "2026-01-01T00:00", "tz": "/etc/passwd"},
        "datetime-zone-up": {"__wf__": "datetime", "v": "2026-01-01T00:00", "tz": "../../x"},
        "datetime-offset": {"__wf__": "datetime", "v": "2026-01-01T00:00", "off": "east"},
        "date": {"__wf__": "date", "v": 5},
        "time": {"__wf__": "time", "v": [1]},
        "timedelta": {"__wf__": "timedelta", "v": "x"},
        "decimal": {"__wf__": "decimal", "v": "ten"},
        "uuid": {"__wf__": "uuid", "v": "xyz"},
        "float": {"__wf__": "float", "v": "lots"},
        "tuple": {"__wf__": "tuple", "v": 5},
        "set": {"__wf__": "set", "v": [{"a": 1}]},
        "frozenset": {"__wf__": "frozenset", "v": 7},
        "dict": {"__wf__": "dict", "v": [[1]]},
        "command": {"__wf__": "command", "goto": 5},
        "send": {"__wf__": "send", "v": 1},
        "writes": {"__wf__": "writes", "v": 5},
        "point-bad-fields": {"__wf__": "dataclass", "type": "hostile.Point", "v": {"z": 1}},
        "enum-bad-value": {"__wf__": "enum", "type": "hostile.Color", "v": "blue"},
    }


def _tamper(victim: Path, sql: str, params: list[Any]) -> None:
    con = duckdb.connect(str(victim))
    con.execute(sql, params)
    con.close()


@pytest.mark.parametrize("name", list(_hostile_values(Path("m"))))
def test_tampered_value_of_every_tag_is_refused_and_never_run(
    victim: Path, marker: Path, name: str
) -> None:
    payload = json.dumps(_hostile_values(marker)[name])
    key = {"send": "log", "command": "log", "writes": "log"}.get(name, "point")
    _tamper(
        victim,
        "UPDATE wf_values SET value = ? WHERE thread_id = 't1' AND key = ? AND kind = 'set'",
        [payload, key],
    )
    assert judge(victim, None, marker) == "refused"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("versions", "[1, 2]"),
        ("versions", '{"log": "one"}'),
        ("versions", '{"log": 99999}'),
        ("tasks", '{"a": 1}'),
        ("tasks", '[["fan", true, "{not json"]]'),
        ("joins", '{"x": 1}'),
        ("metadata", "[1]"),
        ("step", None),
        ("created_at", None),
    ],
)
def test_tampered_checkpoint_rows_are_refused(
    victim: Path, marker: Path, column: str, value: Any
) -> None:
    _tamper(victim, f"UPDATE wf_checkpoints SET {column} = ? WHERE thread_id = 't1'", [value])
    assert judge(victim, None, marker) == "refused"


@pytest.mark.parametrize(
    ("column", "value"),
    [("status", "exploded"), ("task_index", None), ("result", '{"__wf__": "pickle", "v": "AA=="}')],
)
def test_tampered_write_rows_are_refused(
    victim: Path, marker: Path, column: str, value: Any
) -> None:
    _tamper(victim, f"UPDATE wf_writes SET {column} = ? WHERE thread_id = 't1'", [value])
    assert judge(victim, None, marker) == "refused"


@pytest.mark.parametrize(
    "sql",
    [
        # a missing link: the base of an append is gone
        "DELETE FROM wf_values WHERE thread_id = 't1' AND key = 'log' AND kind = 'set'",
        "UPDATE wf_values SET base_version = 123456 WHERE thread_id = 't1' AND kind = 'append'",
        # an append of the wrong type
        "UPDATE wf_values SET value = '{\"a\": 1}' WHERE thread_id = 't1' AND kind = 'append'",
        # a two-step cycle
        "UPDATE wf_values SET kind = 'append', base_version = (SELECT max(version) FROM wf_values "
        "WHERE thread_id = 't1' AND key = 'log') WHERE thread_id = 't1' AND key = 'log' AND kind = 'set'",
    ],
)
def test_broken_append_chains_are_refused(victim: Path, marker: Path, sql: str) -> None:
    _tamper(victim, sql, [])
    assert judge(victim, None, marker) == "refused"


CYCLE = """
import sys
sys.path[:0] = [{here!r}, {root!r}]
from hostile import read_all
from pathlib import Path
try:
    read_all(Path({path!r}))
except Exception as exc:
    print(type(exc).__name__, exc)
"""


def test_an_append_row_based_on_itself_raises_instead_of_hanging(victim: Path) -> None:
    # issue 9, 4: get_state looped for ever, with growing memory; a child process
    # with a timeout keeps this test from hanging if it comes back
    _tamper(
        victim,
        "UPDATE wf_values SET base_version = version WHERE thread_id = 't1' AND kind = 'append'",
        [],
    )
    before = digest(victim)
    script = CYCLE.format(here=str(Path(__file__).parent), root=str(ROOT), path=str(victim))
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout.startswith("StoreError"), child.stdout + child.stderr
    assert "thread 't1'" in child.stdout and "state key 'log'" in child.stdout
    assert "version" in child.stdout and "cycle" in child.stdout
    assert digest(victim) == before


def test_tampered_journal_entries_do_not_stop_the_file_opening(
    victim: Path, original: tuple[Path, dict[str, Any]]
) -> None:
    _tamper(victim, "INSERT INTO wf_journal VALUES (5, '[1, 2]'), (6, '{\"a\": []}')", [])
    with pytest.warns(RuntimeWarning, match="journal entry 5 cannot be read"):
        store = DuckDBCheckpointer(victim)
    assert len(store.recovery_problems) == 2
    store.close()
    con = duckdb.connect(str(victim))
    assert con.execute("SELECT seq FROM wf_journal ORDER BY seq").fetchall() == [(5,), (6,)]
    con.close()


FORK = """
import sys
sys.path[:0] = [{here!r}, {root!r}]
from shapes import S
from wfkit import START, StateGraph
from wfkit.checkpoint.duckdb import DuckDBCheckpointer
g = StateGraph(S)
g.add_node("a", lambda s: {{"log": ["a"]}}).add_node("b", lambda s: {{"log": ["b"]}})
g.add_edge(START, "a").add_edge("a", "b")
with DuckDBCheckpointer({path!r}) as store:
    app = g.compile(checkpointer=store)
    if sys.argv[1] == "make":  # a thread, and a replay from before b: its fork copy
        app.invoke({{}}, thread="t")
        history = app.get_state_history({{"configurable": {{"thread_id": "t"}}}})
        app.invoke(None, next(h for h in history if h.next == ("b",)).config)
    else:
        fork = sys.argv[2]
        try:
            app.update_state({{"configurable": {{"thread_id": "t", "checkpoint_id": fork}}}}, {{}})
            print("updated")
        except Exception as exc:
            print(type(exc).__name__, exc)
"""


@pytest.mark.parametrize(
    ("sql", "expect"),
    [
        ("UPDATE wf_checkpoints SET parent_id = checkpoint_id WHERE source = 'fork'", "a cycle"),
        (  # the fork's original made a fork copy of the fork: a two-step cycle
            "UPDATE wf_checkpoints SET source = 'fork', parent_id = (SELECT checkpoint_id FROM "
            "wf_checkpoints WHERE source = 'fork') WHERE checkpoint_id = (SELECT parent_id FROM "
            "wf_checkpoints WHERE source = 'fork')",
            "a cycle",
        ),
        ("UPDATE wf_checkpoints SET parent_id = 'gone' WHERE source = 'fork'", "'gone', which is"),
    ],
    ids=["itself", "two-step", "missing"],
)
def test_a_fork_copy_whose_original_loops_or_is_gone_raises_instead_of_hanging(
    tmp_path: Path, sql: str, expect: str
) -> None:
    # update_state without as_node walks from a fork copy to its original's writer;
    # it looped for ever on a fork copy that is its own original
    path = tmp_path / "fork.duckdb"
    script = FORK.format(here=str(Path(__file__).parent), root=str(ROOT), path=str(path))

    def child(*args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout

    child("make")
    con = duckdb.connect(str(path))
    (fork,) = con.execute(
        "SELECT checkpoint_id FROM wf_checkpoints WHERE source = 'fork'"
    ).fetchone()
    con.execute(sql)
    con.close()
    before = digest(path)
    said = child("update", fork)
    assert said.startswith("StoreError") and "thread 't'" in said and expect in said, said
    assert "as_node=" in said
    assert digest(path) == before
    FIGURES["hostile files tried"] += 1
    FIGURES["files refused"] += 1
