"""A DuckDB store's memory stays bounded: a writer faster than the file is
held back, and bulk inserts do not load PyArrow."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from wfkit.checkpoint import DuckDBCheckpointer, StoreError
from wfkit.checkpoint.base import WRITE_COLUMNS
from wfkit.checkpoint.testing import checkpoint_row, write_row


def rows(thread: str, n: int, start: int = 0) -> list[Any]:
    return [write_row(thread, "c0", i, 1_700_000_000.0 + i) for i in range(start, start + n)]


def slowed(store: DuckDBCheckpointer) -> tuple[threading.Event, threading.Event]:
    """Make the store's flusher stop inside its next table write until
    ``release`` is set; ``writing`` is set when it gets there."""
    writing, release = threading.Event(), threading.Event()
    real = store._write_tables

    def write_tables(*args: Any, **kwargs: Any) -> None:
        writing.set()
        release.wait(10)  # bounds the wait: never a timed assertion
        real(*args, **kwargs)

    store._write_tables = write_tables  # type: ignore[method-assign]
    return writing, release


def test_a_put_waits_while_the_flusher_has_not_taken_the_buffered_rows(tmp_path: Path) -> None:
    with DuckDBCheckpointer(tmp_path / "runs.duckdb") as store:
        store.max_pending_rows = 10
        writing, release = slowed(store)
        store.put([], [], rows("t", 10))
        assert writing.wait(5)  # the flusher took those 10 and is stuck writing them
        store.put([], [], rows("t", 10, 10))  # buffered: 10 rows wait now
        done = threading.Event()

        def third() -> None:
            store.put([], [], rows("t", 5, 20))
            done.set()

        putter = threading.Thread(target=third)
        putter.start()
        assert not done.wait(0.3)  # held back, not buffered
        assert store._rows == 10
        release.set()  # the flusher finishes, takes the 10 waiting rows: the put goes in
        assert done.wait(5)
        putter.join()
        assert len(store.get_writes("t")) == 25


def test_a_put_larger_than_the_limit_goes_into_an_empty_buffer(tmp_path: Path) -> None:
    with DuckDBCheckpointer(tmp_path / "runs.duckdb") as store:
        store.max_pending_rows = 10
        store.put([], [], rows("t", 30))
        store.put([], [], rows("t", 1, 30))  # waits for the flusher, which takes the 30
        store.flush()
        assert len(store.get_writes("t")) == 31


def test_a_held_back_put_fails_when_the_store_closes(tmp_path: Path) -> None:
    store = DuckDBCheckpointer(tmp_path / "runs.duckdb")
    store.max_pending_rows = 10
    writing, release = slowed(store)
    store.put([checkpoint_row("t", "c0", None, 0)], [], rows("t", 10))
    assert writing.wait(5)
    store.put([], [], rows("t", 10, 10))
    failed: list[BaseException] = []

    def third() -> None:
        try:
            store.put([], [], rows("t", 5, 20))
        except StoreError as exc:
            failed.append(exc)

    putter = threading.Thread(target=third)
    putter.start()
    time.sleep(0.1)  # (the put may or may not be waiting yet: both end in the error)
    closer = threading.Thread(target=store.close)
    closer.start()
    release.set()
    closer.join(10)
    putter.join(10)
    assert [str(e) for e in failed] == [
        "the checkpoint store is closed; open a new one to keep writing"
    ]
    with DuckDBCheckpointer(tmp_path / "runs.duckdb") as again:
        assert len(again.get_writes("t")) == 20  # what was put before the close is there


def setting(store: DuckDBCheckpointer, name: str) -> str:
    with store.cursor() as cur:
        row = cur.execute("SELECT current_setting(?)", [name]).fetchone()
    assert row is not None
    return str(row[0])


def test_a_flush_larger_than_64_mb_goes_in_and_reads_back(tmp_path: Path) -> None:
    # A 64 MB DuckDB memory limit (tried for ckpt_write's peak RSS) made DuckDB
    # refuse this flush ("Out of Memory Error: could not allocate block"), and a
    # refused flush fails its threads: the store leaves DuckDB its own limit
    big = json.dumps("x" * (5 * 2**20))
    at = WRITE_COLUMNS.index("result")
    wide = [(*r[:at], big, *r[at + 1 :]) for r in rows("t", 16)]  # 80 MB of results
    with DuckDBCheckpointer(tmp_path / "runs.duckdb") as store:
        store.put([checkpoint_row("t", "c0", None, 0)], [], wide)
        store.flush()
    with DuckDBCheckpointer(tmp_path / "runs.duckdb", cache_bytes=0) as again:
        got = again.get_writes("t")
        assert len(got) == 16 and all(row[at] == big for row in got)


def test_the_write_ahead_log_moves_into_the_file_at_32_mb(tmp_path: Path) -> None:
    # (DuckDB's 16 MB left a 500,000-row bulk write in a file twice its size:
    # benchmarks/RESULTS.md, ckpt_write)
    with DuckDBCheckpointer(tmp_path / "runs.duckdb") as store:
        assert setting(store, "checkpoint_threshold") == "30.5 MiB"


def test_arrow_rows_go_into_duckdb_as_they_are() -> None:
    import duckdb

    from wfkit.checkpoint.arrow import ArrowRows

    rows = [("a", 1, 1.5, "{}"), (None, None, None, None), ("é ✓", -(2**62), 1e-9, '"x"')]
    batch = ArrowRows(rows, ("s", "i", "f", "j"), floats=frozenset({"f"}), ints=frozenset({"i"}))
    assert len(batch) == 3
    con = duckdb.connect(":memory:")
    got = con.execute("SELECT s, i, f, j FROM batch").fetchall()
    assert got == rows
    assert con.execute("SELECT s, i, f, j FROM batch").fetchall() == rows  # read again


@pytest.mark.parametrize(
    ("row", "why"),
    [
        (("a", "not a number", 1.0), "cannot be interpreted as an integer"),
        (("a", 1, 1.0, "extra"), "a row of 4 values where the table has 3 columns"),
        ((7, 1, 1.0), "bad argument type"),
    ],
)
def test_arrow_rows_refuse_a_value_of_the_wrong_type(row: Any, why: str) -> None:
    from wfkit.checkpoint.arrow import ArrowRows

    with pytest.raises(ValueError, match=why):
        ArrowRows(
            [("b", 2, 2.0), row], ("s", "i", "f"), floats=frozenset({"f"}), ints=frozenset({"i"})
        )


def test_a_bulk_flush_does_not_load_pyarrow(tmp_path: Path) -> None:
    # PyArrow's libraries are about 40 MB resident: more than all the rest of a
    # checkpointed run (benchmarks/RESULTS.md, issue 11's memory section)
    code = f"""
import sys
from wfkit.checkpoint import DuckDBCheckpointer
from wfkit.checkpoint.testing import checkpoint_row, write_row
with DuckDBCheckpointer({str(tmp_path / "runs.duckdb")!r}) as store:
    store.put([checkpoint_row("t", "c0", None, 0)], [], [write_row("t", "c0", i, 1.0 + i) for i in range(500)])
    store.flush()
    assert len(store.get_writes("t")) == 500
print("pyarrow" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
