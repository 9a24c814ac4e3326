"""Hostile input at the store: ids and filter keys that are not ids, values
the file cannot hold, rows the file refuses. Each is refused where it
enters, with an error naming it, or fails only the run (thread) it belongs
to; nothing committed is lost and no bystander fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from crashlib import FIGURES, ROOT
from shapes import S

from wfkit import START, InvalidInputError, StateGraph, StoreError
from wfkit.checkpoint import MemoryCheckpointer
from wfkit.checkpoint.duckdb import DuckDBCheckpointer
from wfkit.checkpoint.testing import checkpoint_row, value_row

SURROGATE = "x\ud800y"
BAD_IDS: list[Any] = [
    "",
    "a\x00b",
    SURROGATE,
    "\udfff",
    "k" * 10_000,
    1.5,
    b"t",
    True,
    ["t"],
    {"t": 1},
    object(),
]
GOOD_IDS: list[Any] = ["it's", 'a"b', "x'); DROP TABLE wf_checkpoints; --", "ünï ☃", "%_*", 7]


def _app(store: Any) -> Any:
    g = StateGraph(S)
    g.add_node("n", lambda s: {"log": ["n"]}).add_edge(START, "n")
    return g.compile(checkpointer=store)


def _cfg(thread: Any, checkpoint: Any = None) -> dict[str, Any]:
    conf: dict[str, Any] = {"thread_id": thread}
    if checkpoint is not None:
        conf["checkpoint_id"] = checkpoint
    return {"configurable": conf}


def _bad_value_row(thread: str) -> tuple[Any, ...]:
    # what the issue's invoke once wrote: JSON text with a lone surrogate escape,
    # which DuckDB's JSON type refuses
    return (*value_row(thread, "c1", "log", 1, SURROGATE)[:-1], json.dumps(SURROGATE))


@pytest.fixture(params=["duckdb", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    s = (
        DuckDBCheckpointer(tmp_path / "runs.duckdb")
        if request.param == "duckdb"
        else MemoryCheckpointer()
    )
    yield s
    s.close()


# ------------------------------------------------------------------ ids
@pytest.mark.parametrize("bad", BAD_IDS, ids=lambda v: repr(v)[:20])
def test_bad_thread_id_is_refused_before_anything_is_stored(store: Any, bad: Any) -> None:
    app = _app(store)
    app.invoke({}, thread="ok")
    for call in (
        lambda: app.invoke({}, _cfg(bad)),
        lambda: app.get_state(_cfg(bad)),
        lambda: list(app.get_state_history(_cfg(bad))),
        lambda: app.update_state(_cfg(bad), {"log": ["x"]}),
    ):
        with pytest.raises(InvalidInputError, match="thread id") as info:
            call()
        assert "thread id" in str(info.value) and "use" in str(info.value)
        FIGURES["inputs tried: ids and filter keys"] += 1
    assert store.threads() == ["ok"]
    assert app.invoke({}, thread="ok")["log"] == ["n", "n"]  # no bystander failed


@pytest.mark.parametrize("bad", BAD_IDS, ids=lambda v: repr(v)[:20])
def test_bad_checkpoint_id_is_refused(store: Any, bad: Any) -> None:
    app = _app(store)
    app.invoke({}, thread="ok")
    for call in (
        lambda: app.invoke(None, _cfg("ok", bad)),
        lambda: app.get_state(_cfg("ok", bad)),
        lambda: app.update_state(_cfg("ok", bad), {"log": ["x"]}),
    ):
        with pytest.raises(InvalidInputError, match="checkpoint id"):
            call()
        FIGURES["inputs tried: ids and filter keys"] += 1
    # the input checkpoint, the first loop one, the end
    assert len(list(app.get_state_history(_cfg("ok")))) == 3


@pytest.mark.parametrize("bad", [SURROGATE, "a\x00b", b"t", ""], ids=repr)
def test_store_methods_refuse_bad_ids_with_the_stores_error(store: Any, bad: Any) -> None:
    for call in (
        lambda: store.get_checkpoint(bad),
        lambda: store.get_checkpoint("t", bad),
        lambda: store.list_checkpoints(bad),
        lambda: store.list_checkpoints("t", before=bad),
        lambda: store.get_values(bad, ["k"]),
        lambda: store.get_writes(bad),
        lambda: store.max_version(bad),
        lambda: store.has_children(bad, "c"),
        lambda: store.delete_thread(bad),
    ):
        with pytest.raises(InvalidInputError, match="id"):
            call()
        FIGURES["inputs tried: ids and filter keys"] += 1


@pytest.mark.parametrize("good", GOOD_IDS, ids=repr)
def test_odd_but_valid_ids_work(store: Any, good: Any) -> None:
    app = _app(store)
    assert app.invoke({}, _cfg(good))["log"] == ["n"]
    snap = app.get_state(_cfg(good))
    assert snap.values == {"log": ["n"]}
    assert app.get_state(snap.config).values == {"log": ["n"]}
    FIGURES["inputs tried: ids and filter keys"] += 1


@pytest.mark.parametrize("bad", [1, None, ("a",), SURROGATE, ""], ids=repr)
def test_bad_filter_keys_are_refused(store: Any, bad: Any) -> None:
    app = _app(store)
    app.invoke({}, thread="f")
    with pytest.raises(InvalidInputError, match="filter"):
        list(app.get_state_history(_cfg("f"), filter={bad: "loop"}))
    FIGURES["inputs tried: ids and filter keys"] += 1


# ------------------------------------------------------------------ values
@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_lone_surrogate_value_round_trips_and_the_file_opens(
    tmp_path: Path, durability: Any
) -> None:
    # the issue's case: once written raw, the file could never be opened again
    store = DuckDBCheckpointer(tmp_path / "runs.duckdb", durability=durability)
    g = StateGraph(S)
    g.add_node("first", lambda s: {"log": ["ok"]}).add_node("odd", lambda s: {"log": [SURROGATE]})
    g.add_edge(START, "first").add_edge("first", "odd")
    app = g.compile(checkpointer=store)
    _app(store).invoke({}, thread="bystander")
    assert app.invoke({}, thread="t") == {"log": ["ok", SURROGATE]}
    store.close()
    again = DuckDBCheckpointer(tmp_path / "runs.duckdb")  # the file opens, with everything
    try:
        assert _app(again).get_state(_cfg("bystander")).values == {"log": ["n"]}
        assert _app(again).get_state(_cfg("t")).values == {"log": ["ok", SURROGATE]}
    finally:
        again.close()


def test_surrogate_pairs_and_escaped_backslashes_are_fine(tmp_path: Path) -> None:
    with DuckDBCheckpointer(tmp_path / "runs.duckdb") as store:
        values = ["\U0001f600", "\\ud800", "a\\\\ud800", '"\\udc00"', "\ud83d\ude00"[:0]]
        g = StateGraph(S)
        g.add_node("n", lambda s: {"log": values}).add_edge(START, "n")
        app = g.compile(checkpointer=store)
        app.invoke({}, thread="t")
        assert app.get_state(_cfg("t")).values["log"] == values


# ------------------------------------------------------------------ refused rows
def test_background_failure_reaches_its_run_and_no_bystander(tmp_path: Path) -> None:
    store = DuckDBCheckpointer(tmp_path / "runs.duckdb", durability="async")
    app = _app(store)
    app.invoke({}, thread="before")
    # rows the tables refuse, put with the engine's rows of another thread (one flush)
    ticket = store.put([checkpoint_row("A", "c1", None, 1)], [_bad_value_row("A")], [])
    assert app.invoke({}, thread="B") == {"log": ["n"]}  # a bystander: fine
    store.flush()  # a flush of everything does not fail either: the failure is A's
    # A's failure is pending now: bystanders writing and reading do not get it
    assert app.invoke({}, thread="B")["log"] == ["n", "n"]
    assert app.invoke({}, thread="C") == {"log": ["n"]}
    assert app.get_state(_cfg("before")).values == {"log": ["n"]}
    store.flush()
    with pytest.raises(StoreError, match=r"thread 'A' failed .*surrogate"):
        store.put([checkpoint_row("A", "c2", None, 2)], [], [])  # A's next write gets it, once
    store.wait(store.put([checkpoint_row("A", "c2", None, 2)], [], []))
    assert app.get_state(_cfg("B")).values == {"log": ["n", "n"]}
    assert app.invoke({}, thread="B")["log"] == ["n", "n", "n"]
    assert sorted(store.threads()) == ["A", "B", "C", "before"]  # A's later good row went in
    assert store.get_checkpoint("A") == checkpoint_row("A", "c2", None, 2)
    del ticket
    store.close()


@pytest.mark.parametrize("durability", ["sync", "exit"])
def test_refused_journaled_rows_fail_their_thread_only(tmp_path: Path, durability: Any) -> None:
    """Under sync the rows are durable in the journal first; when the tables
    refuse them later, the next read of that thread says so."""
    store = DuckDBCheckpointer(tmp_path / "runs.duckdb", durability=durability)
    app = _app(store)
    store.wait(store.put([checkpoint_row("A", "c1", None, 1)], [_bad_value_row("A")], []))
    store.wait(store.put([checkpoint_row("G", "c1", None, 1)], [], []))
    assert app.invoke({}, thread="B") == {"log": ["n"]}
    with pytest.raises(StoreError, match=r"thread 'A' failed .*surrogate"):
        store.get_checkpoint("A")
    assert store.get_checkpoint("G") == checkpoint_row("G", "c1", None, 1)
    assert app.get_state(_cfg("B")).values == {"log": ["n"]}
    store.close()
    # the refused rows stay in the journal; the file opens, and says so
    with pytest.warns(RuntimeWarning, match="thread 'A' cannot be written"):
        again = DuckDBCheckpointer(tmp_path / "runs.duckdb")
    assert again.get_checkpoint("G") == checkpoint_row("G", "c1", None, 1)
    again.close()


CHILD = """
import os, sys
from wfkit.checkpoint.duckdb import DuckDBCheckpointer
from wfkit.checkpoint.testing import checkpoint_row
from test_store_inputs import _bad_value_row
store = DuckDBCheckpointer(sys.argv[1], durability="sync")
for t in ("good1", "bad", "good2"):
    rows = [_bad_value_row(t)] if t == "bad" else []
    store.wait(store.put([checkpoint_row(t, "c1", None, 1)], rows, []))
print("journaled", flush=True)
os._exit(0)  # a crash: the rows are in the journal only
"""


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), str(ROOT)])}


def test_one_bad_journaled_row_does_not_poison_recovery(tmp_path: Path) -> None:
    db = tmp_path / "runs.duckdb"
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(db)],
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.stdout == "journaled\n", child.stderr
    for i in range(2):  # every open works, and keeps the refused rows for inspection
        with pytest.warns(RuntimeWarning, match="thread 'bad' cannot be written"):
            store = DuckDBCheckpointer(db)
        try:
            assert store.get_checkpoint("good1") == checkpoint_row("good1", "c1", None, 1)
            assert store.get_checkpoint("good2") == checkpoint_row("good2", "c1", None, 1)
            assert any("'bad'" in p for p in store.recovery_problems)
            with pytest.raises(StoreError, match="thread 'bad'"):
                store.get_checkpoint("bad")
            assert _app(store).invoke({}, thread=f"new{i}") == {"log": ["n"]}
            kept = store._con.execute("SELECT count(*) FROM wf_journal").fetchone()
            assert kept == (1,)
        finally:
            store.close()


def test_uuid_thread_ids_work(store: Any) -> None:
    tid = uuid.uuid4()
    assert _app(store).invoke({}, _cfg(tid)) == {"log": ["n"]}
    assert store.threads() == [str(tid)]
