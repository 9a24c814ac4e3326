"""The disk misbehaves under a store: full, read-only, the file deleted or
replaced, a torn write-ahead log. Clear errors, to the run whose writes
failed; nothing committed lost; no bystander failed."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from crashlib import FIGURES, check, read_log, spawn
from shapes import S, build, run_thread

from wfkit import START, StateGraph, StoreError
from wfkit.checkpoint.duckdb import DuckDBCheckpointer

BIG = "x" * 200_000


def _mount(point: Path, *options: str) -> bool:
    out = subprocess.run(["mount", *options, point], capture_output=True)
    return out.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs (needs root: skipped without)."""
    point = tmp_path / "disk"
    point.mkdir()
    if not _mount(point, "-t", "tmpfs", "-o", "size=3m", "tmpfs"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", point], check=False)


def _big_app(store: Any) -> Any:
    g = StateGraph(S)
    g.add_node("n", lambda s: {"log": [BIG]}).add_edge(START, "n")
    return g.compile(checkpointer=store)


def _cfg(t: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": t}}


@pytest.mark.parametrize("durability", ["sync", "exit"])
def test_full_disk(small_disk: Path, durability: Any) -> None:
    store = DuckDBCheckpointer(small_disk / "runs.duckdb", durability=durability)
    app = _big_app(store)
    app.invoke({}, thread="bystander")
    store.flush()  # in the tables: no later flush carries its rows
    done = []
    with pytest.raises(StoreError, match="No space left on device"):  # the run whose write failed
        for i in range(100):
            app.invoke({}, thread=f"t{i}")
            done.append(i)
    assert done, "the disk was full before anything was written"
    assert app.get_state(_cfg("bystander")).values == {"log": [BIG]}  # reads fine
    assert _mount(small_disk, "-o", "remount,size=64m")  # space again: the store goes on
    app.invoke({}, thread="after")
    try:
        store.close()
    except StoreError as exc:  # the failed run was told; the spans of the run before it,
        # put after that run's wait, may have failed unseen with it: close names them
        assert "trace spans of thread(s)" in str(exc) and "checkpoints of" not in str(exc)
    with DuckDBCheckpointer(small_disk / "runs.duckdb") as again:
        app = _big_app(again)
        for t in ["bystander", *(f"t{i}" for i in done), "after"]:  # nothing committed lost
            assert app.get_state(_cfg(t)).values == {"log": [BIG]}
    FIGURES["storage faults survived"] += 1


def test_full_disk_under_async(small_disk: Path) -> None:
    """No run waits under async: a thread whose rows the full disk refused
    learns it at its next read or write, once; close() names the threads no
    run was told about. Other threads read fine, and once there is space the
    store goes on."""
    path = small_disk / "runs.duckdb"
    store = DuckDBCheckpointer(path, durability="async")
    g = StateGraph(S)  # random text: DuckDB cannot compress it into the small disk
    g.add_node("n", lambda s: {"log": [os.urandom(100_000).hex()]}).add_edge(START, "n")
    app = g.compile(checkpointer=store)
    app.invoke({}, thread="bystander")
    store.flush()
    kept = app.get_state(_cfg("bystander")).values
    threads = [f"t{i:02}" for i in range(30)]
    for t in threads:  # 6 MB for a 3 MB disk; no run fails: nobody waits
        app.invoke({}, thread=t)
        store.flush()  # a flush of its own, so each run's rows fail or not alone
    assert app.get_state(_cfg("bystander")).values == kept  # reads fine
    written, told = [], None
    for t in threads:  # read them until one says its rows were refused
        try:
            values = app.get_state(_cfg(t)).values
        except StoreError as exc:
            assert f"thread {t!r} failed" in str(exc) and "No space left on device" in str(exc)
            told = t
            break
        written.append((t, values))
    assert written and told, "the disk was full before anything, or never"
    assert app.get_state(_cfg(told)).values == {}  # told once; its rows are not there
    assert _mount(small_disk, "-o", "remount,size=64m")  # space again: the store goes on
    app.invoke({}, thread="after")
    with pytest.raises(
        StoreError, match=r"the checkpoints of thread\(s\) 't\d+'.*No space left on dev"
    ):
        store.close()  # the failed threads no run read again
    with DuckDBCheckpointer(path) as again:  # nothing committed lost
        app = g.compile(checkpointer=again)
        assert app.get_state(_cfg("bystander")).values == kept
        for t, values in written:
            assert app.get_state(_cfg(t)).values == values
        assert len(app.get_state(_cfg("after")).values["log"]) == 1
    FIGURES["storage faults survived"] += 1


def test_read_only_file(small_disk: Path) -> None:
    path = small_disk / "runs.duckdb"
    with DuckDBCheckpointer(path) as store:
        _big_app(store).invoke({}, thread="t")
    assert _mount(small_disk, "-o", "remount,ro")
    with pytest.raises(StoreError, match=r"for writing \(.*Read-only file system.*wfkit check"):
        DuckDBCheckpointer(path)
    from wfkit.checkpoint.check import check_file

    assert check_file(path).ok  # reading it works
    FIGURES["storage faults survived"] += 1


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_file_deleted_or_replaced_under_a_running_store(tmp_path: Path, how: str) -> None:
    path = tmp_path / "runs.duckdb"
    store = DuckDBCheckpointer(path, durability="sync")
    app = _big_app(store)
    app.invoke({}, thread="t")
    if how == "deleted":
        path.unlink()
    else:
        other = tmp_path / "other.duckdb"
        DuckDBCheckpointer(other).close()
        os.replace(other, path)
    app.invoke({}, thread="u")  # the open file still takes writes
    assert app.get_state(_cfg("t")).values == {"log": [BIG]}
    with pytest.raises(StoreError, match="deleted or replaced while this store had it open"):
        store.close()
    FIGURES["storage faults survived"] += 1


@pytest.mark.parametrize("seed", range(4))
def test_torn_last_commit_loses_nothing_acknowledged(tmp_path: Path, seed: int) -> None:
    """A process killed while its last commit was being written leaves that
    commit torn in the write-ahead log. No run was told it was durable, so
    the file opens with every earlier commit: nothing acknowledged is lost,
    no finished node runs again, every thread finishes right."""
    db, log = tmp_path / "runs.duckdb", tmp_path / "child.log"
    proc = spawn(db, log, "send", "sync", 3, f"journal-written:{3 + seed}")
    proc.communicate(timeout=120)
    ends = [int(line.split()[2]) for line in log.read_text().splitlines() if "journal-" in line]
    before, last = ends[-2], ends[-1]
    assert before < last == Path(f"{db}.wal").stat().st_size, ends
    with Path(f"{db}.wal").open("r+b") as fh:  # cut inside the last commit
        fh.truncate(random.Random(seed).randrange(before + 1, last))
    check(tmp_path, "send", "sync", read_log(log))
    FIGURES["storage faults survived"] += 1


@pytest.mark.parametrize("seed", range(4))
def test_torn_write_ahead_log(tmp_path: Path, seed: int) -> None:
    """A write-ahead log cut anywhere in its second half (more than a torn
    last commit: acknowledged commits go too): the file opens with what the
    intact part holds, consistent, or is refused with the store's error."""
    db = tmp_path / "runs.duckdb"
    proc = spawn(db, tmp_path / "child.log", "send", "sync", 3, "journal-written:4")
    proc.communicate(timeout=120)
    wal = Path(f"{db}.wal")
    assert wal.exists()
    size = wal.stat().st_size
    cut = random.Random(seed).randrange(size // 2, size)
    with wal.open("r+b") as fh:
        fh.truncate(cut)
    shutil.copy(db, tmp_path / "before.duckdb")
    try:
        store = DuckDBCheckpointer(db)
    except StoreError:
        FIGURES["files refused"] += 1
        return
    try:
        app = build("send", str(tmp_path / "parent.log")).compile(checkpointer=store)
        for t in store.threads():  # every thread it has is readable, and finishes right
            assert len(run_thread(app, t)["log"]) == 82
    finally:
        store.close()
    FIGURES["storage faults survived"] += 1
