"""What survives a crash, what the file looks like, and bad files."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import hashlib
import json
import operator
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Annotated, Any, TypedDict

import duckdb
import pydantic
import pytest

from wfkit import END, START, StateGraph
from wfkit.checkpoint import (
    DuckDBCheckpointer,
    MemoryCheckpointer,
    SerializationError,
    StoreError,
    UnsafeValueError,
)

ROOT = Path(__file__).resolve().parent.parent

CHAIN = """
import os, sys, time, operator
from typing import Annotated, TypedDict
from wfkit import StateGraph, START
from wfkit.checkpoint import DuckDBCheckpointer

class S(TypedDict, total=False):
    log: Annotated[list[str], operator.add]

def make(name, side, hang_at):
    def node(state):
        with open(side, "a") as f:
            f.write(name + "\\n")
        if name == hang_at and os.environ.get("HANG") == "1":
            open(side + ".ready", "w").close()
            time.sleep(600)
        return {"log": [name]}
    return node

def build(path, side, hang_at, durability):
    g = StateGraph(S)
    names = [f"n{i}" for i in range(6)]
    for n in names:
        g.add_node(n, make(n, side, hang_at))
    g.add_edge(START, names[0])
    for a, b in zip(names, names[1:]):
        g.add_edge(a, b)
    return g.compile(checkpointer=DuckDBCheckpointer(path, durability=durability))
"""


def spawn(tmp: Path, body: str, **env: str) -> subprocess.Popen[str]:
    (tmp / "chain.py").write_text(CHAIN)
    script = tmp / "child.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp,
        env={**os.environ, "PYTHONPATH": f"{tmp}:{ROOT}", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"child exited early: {proc.communicate()[1]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {path}")
        time.sleep(0.02)


@pytest.mark.slow
def test_sigkill_under_sync_durability_resumes_from_last_committed_step(tmp_path: Path) -> None:
    db, side = tmp_path / "runs.duckdb", tmp_path / "side.log"
    proc = spawn(
        tmp_path,
        f"""
        from chain import build
        app = build({str(db)!r}, {str(side)!r}, "n3", "sync")
        app.invoke({{}}, thread="job")
        """,
        HANG="1",
    )
    wait_for(Path(str(side) + ".ready"), proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()

    sys.path.insert(0, str(tmp_path))
    try:
        from chain import build  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))
    app = build(str(db), str(side), "n3", "sync")
    config = {"configurable": {"thread_id": "job"}}
    snap = app.get_state(config)
    assert snap.values == {"log": ["n0", "n1", "n2"]}
    assert snap.next == ("n3",)
    assert app.invoke(None, config) == {"log": [f"n{i}" for i in range(6)]}
    ran = side.read_text().split()
    assert ran == [
        "n0",
        "n1",
        "n2",
        "n3",
        "n3",
        "n4",
        "n5",
    ]  # n3 was cut off, nothing else ran twice
    app.checkpointer.close()  # type: ignore[union-attr]


@pytest.mark.slow
def test_sigkill_under_async_durability_loses_at_most_the_flush_interval(tmp_path: Path) -> None:
    db, side = tmp_path / "runs.duckdb", tmp_path / "side.log"
    proc = spawn(
        tmp_path,
        f"""
        import time
        from chain import build
        app = build({str(db)!r}, {str(side)!r}, None, "async")
        for i in range(50):
            app.invoke({{}}, thread=f"t{{i}}")
        time.sleep(0.5)  # ten flush intervals
        open({str(side)!r} + ".ready", "w").close()
        time.sleep(600)
        """,
    )
    wait_for(Path(str(side) + ".ready"), proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    with DuckDBCheckpointer(db) as store:
        assert len(store.threads()) == 50
        assert all(store.get_checkpoint(f"t{i}")[4] == 6 for i in range(50))  # type: ignore[index]


def test_second_process_gets_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "runs.duckdb"
    proc = spawn(
        tmp_path,
        f"""
        import time
        from wfkit.checkpoint import DuckDBCheckpointer
        store = DuckDBCheckpointer({str(db)!r}, idle_release=None)  # keeps the file
        open({str(db)!r} + ".held", "w").close()
        time.sleep(600)
        """,
    )
    try:
        wait_for(Path(str(db) + ".held"), proc)
        t0 = time.monotonic()
        with pytest.raises(
            StoreError,
            match=rf"{db.name} is open for writing in process {proc.pid} \(waited 0.3 s",
        ):
            DuckDBCheckpointer(db, lock_wait=0.3)
        assert time.monotonic() - t0 >= 0.3  # it did wait before giving up
    finally:
        proc.kill()
        proc.communicate()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_not_a_duckdb_file_is_refused_and_untouched(tmp_path: Path) -> None:
    bad = tmp_path / "notes.duckdb"
    bad.write_text("just some notes, not a database\n" * 10)
    before = digest(bad)
    with pytest.raises(StoreError, match=r"is not a DuckDB file.*left untouched"):
        DuckDBCheckpointer(bad)
    assert digest(bad) == before


def test_corrupt_duckdb_file_is_refused_and_untouched(tmp_path: Path) -> None:
    bad = tmp_path / "broken.duckdb"
    with DuckDBCheckpointer(bad):
        pass
    data = bytearray(bad.read_bytes())
    data[4096:8192] = b"\xff" * 4096  # smash the database headers
    bad.write_bytes(bytes(data))
    before = digest(bad)
    with pytest.raises(StoreError, match="left untouched"):
        DuckDBCheckpointer(bad)
    assert digest(bad) == before


def test_other_duckdb_database_is_refused_and_untouched(tmp_path: Path) -> None:
    other = tmp_path / "sales.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE sales(id INT)")
    con.close()
    before = digest(other)
    with pytest.raises(StoreError, match=r"not a wfkit checkpoint store \(it has tables sales\)"):
        DuckDBCheckpointer(other)
    assert digest(other) == before


def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.duckdb"
    with DuckDBCheckpointer(path):
        pass
    con = duckdb.connect(str(path))
    con.execute("UPDATE wf_meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    before = digest(path)
    with pytest.raises(StoreError, match=r"schema version 99.*upgrade wfkit"):
        DuckDBCheckpointer(path)
    assert digest(path) == before


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Doc(pydantic.BaseModel):
    title: str
    tags: list[str]


class Rich(TypedDict, total=False):
    blob: bytes
    when: dt.datetime
    day: dt.date
    wait: dt.timedelta
    pair: tuple[int, str]
    seen: set[str]
    money: decimal.Decimal
    uid: uuid.UUID
    point: Point
    doc: Doc
    color: Color
    ratio: float
    by_id: dict[int, str]
    other: Any


RICH = {
    "blob": b"\x00\xffbytes",
    "when": dt.datetime(2026, 11, 27, 4, 5, 6, tzinfo=dt.UTC),
    "day": dt.date(2026, 1, 2),
    "wait": dt.timedelta(seconds=90),
    "pair": (1, "a"),
    "seen": {"b", "a"},
    "money": decimal.Decimal("10.25"),
    "uid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "point": Point(1, 2),
    "doc": Doc(title="t", tags=["x"]),
    "color": Color.RED,
    "ratio": float("nan"),
    "by_id": {1: "one"},
}


def one_node(schema: Any, fn: Any, store: Any) -> Any:
    g = StateGraph(schema)
    g.add_node("node", fn).add_edge(START, "node").add_edge("node", END)
    return g.compile(checkpointer=store)


@pytest.mark.parametrize("kind", ["memory", "duckdb"])
def test_tagged_values_round_trip(tmp_path: Path, kind: str) -> None:
    store: Any = (
        MemoryCheckpointer() if kind == "memory" else DuckDBCheckpointer(tmp_path / "r.duckdb")
    )
    app = one_node(Rich, lambda s: dict(RICH), store)
    app.invoke({}, thread="t")
    store.close()
    if kind == "duckdb":
        store = DuckDBCheckpointer(tmp_path / "r.duckdb")
        app = one_node(Rich, lambda s: None, store)
    values = app.get_state({"configurable": {"thread_id": "t"}}).values
    nan = values.pop("ratio")
    assert nan != nan
    assert values == {k: v for k, v in RICH.items() if k != "ratio"}
    store.close()


def test_json_values_are_queryable_in_sql(tmp_path: Path) -> None:
    class T(TypedDict, total=False):
        ticket: dict[str, Any]

    path = tmp_path / "r.duckdb"
    with DuckDBCheckpointer(path) as store:
        one_node(T, lambda s: {"ticket": {"intent": "refund", "id": 7}}, store).invoke(
            {}, thread="q"
        )
    con = duckdb.connect(str(path), read_only=True)
    found = con.execute(
        "SELECT value->>'$.intent' FROM wf_values WHERE key = 'ticket' AND value IS NOT NULL"
    ).fetchall()
    con.close()
    assert ("refund",) in found


def test_unserialisable_value_fails_the_step_naming_node_and_key(tmp_path: Path) -> None:
    class Handle:
        pass

    class T(TypedDict, total=False):
        ok: int
        conn: Any

    g = StateGraph(T)
    g.add_node("first", lambda s: {"ok": 1}).add_node(
        "connect", lambda s: {"conn": {"socket": [Handle()]}}
    )
    g.add_edge(START, "first").add_edge("first", "connect")
    with DuckDBCheckpointer(tmp_path / "r.duckdb") as store:
        app = g.compile(checkpointer=store)
        with pytest.raises(
            SerializationError, match=r"the update of node 'connect'\.conn\.socket\[0\]: a .*Handle"
        ):
            app.invoke({}, thread="t")
        snap = app.get_state({"configurable": {"thread_id": "t"}})
        assert snap.values == {"ok": 1} and snap.next == ("connect",)


def test_pickle_only_when_allowed(tmp_path: Path) -> None:
    class T(TypedDict, total=False):
        obj: Any

    path = tmp_path / "p.duckdb"
    with DuckDBCheckpointer(path, allow_pickle=True) as store:
        one_node(T, lambda s: {"obj": Color}, store).invoke({}, thread="t")
    with DuckDBCheckpointer(path) as store:
        app = one_node(T, lambda s: None, store)
        with pytest.raises(UnsafeValueError, match=r"pickled.*allow_pickle=True"):
            app.get_state({"configurable": {"thread_id": "t"}})
    with DuckDBCheckpointer(path, allow_pickle=True) as store:
        assert one_node(T, lambda s: None, store).get_state(
            {"configurable": {"thread_id": "t"}}
        ).values == {"obj": Color}


def test_stored_value_naming_an_arbitrary_type_is_refused(tmp_path: Path) -> None:
    class T(TypedDict, total=False):
        data: Any

    path = tmp_path / "t.duckdb"
    with DuckDBCheckpointer(path) as store:
        one_node(T, lambda s: {"data": 1}, store).invoke({}, thread="t")
    con = duckdb.connect(str(path))
    evil = {"__wf__": "dataclass", "type": "wfkit_evil_payload.Boom", "v": {"cmd": "rm -rf /"}}
    con.execute("UPDATE wf_values SET value = ? WHERE key = 'data'", [json.dumps(evil)])
    con.close()
    with DuckDBCheckpointer(path) as store:
        app = one_node(T, lambda s: None, store)
        with pytest.raises(
            UnsafeValueError, match=r"wfkit_evil_payload.Boom.*not on the allowlist"
        ):
            app.get_state({"configurable": {"thread_id": "t"}})
    assert "wfkit_evil_payload" not in sys.modules


class Talk(TypedDict, total=False):
    messages: Annotated[list[dict[str, str]], operator.add]
    turn: int


def test_growing_message_list_is_stored_as_deltas(tmp_path: Path) -> None:
    words = [
        "agent",
        "graph",
        "state",
        "node",
        "tool",
        "call",
        "answer",
        "refund",
        "order",
        "model",
        "token",
        "step",
    ]

    def talk(state: Any) -> dict[str, Any]:
        turn = state.get("turn", 0)
        text = " ".join(words[(turn * 7 + i) % len(words)] for i in range(200))[:1000]
        return {"messages": [{"role": "user", "content": f"{turn} {text}"}], "turn": turn + 1}

    g = StateGraph(Talk)
    g.add_node("talk", talk).add_edge(START, "talk")
    g.add_conditional_edges("talk", lambda s: "talk" if s["turn"] < 500 else END, ["talk", END])
    path = tmp_path / "chat.duckdb"
    with DuckDBCheckpointer(path) as store:
        out = g.compile(checkpointer=store).invoke({}, thread="chat", recursion_limit=1000)
        rebuilt = (
            g.compile(checkpointer=store).get_state({"configurable": {"thread_id": "chat"}}).values
        )
    assert rebuilt == out and len(out["messages"]) == 500
    final_size = len(json.dumps(out))
    assert path.stat().st_size < 2 * final_size, (path.stat().st_size, final_size)


def test_unchanged_keys_are_not_written_again(tmp_path: Path) -> None:
    class Big(TypedDict, total=False):
        corpus: str
        counter: int

    g = StateGraph(Big)
    g.add_node("tick", lambda s: {"counter": s.get("counter", 0) + 1}).add_edge(START, "tick")
    g.add_conditional_edges("tick", lambda s: "tick" if s["counter"] < 100 else END, ["tick", END])
    path = tmp_path / "big.duckdb"
    corpus = os.urandom(512 * 1024).hex()  # 1 MB that does not compress
    with DuckDBCheckpointer(path) as store:
        g.compile(checkpointer=store).invoke({"corpus": corpus}, thread="t")
        start_size = path.stat().st_size
    assert path.stat().st_size - start_size < 5 * 1024 * 1024
    assert path.stat().st_size < 5 * 1024 * 1024


def test_one_store_per_file_in_a_process(tmp_path: Path) -> None:
    path = tmp_path / "shared.duckdb"
    g = StateGraph(Talk)
    g.add_node("n", lambda s: {"turn": 1}).add_edge(START, "n")
    first = g.compile(checkpointer=str(path))
    second = g.compile(checkpointer=str(path))
    assert first.checkpointer is second.checkpointer  # a path opens the store once
    with pytest.raises(StoreError, match="already open in this process"):
        DuckDBCheckpointer(path)
    first.invoke({}, thread="t")
    assert second.get_state({"configurable": {"thread_id": "t"}}).values == {
        "messages": [],
        "turn": 1,
    }
    store = first.checkpointer
    store.close()  # type: ignore[union-attr]
    with pytest.raises(StoreError, match="is closed"):
        first.get_state({"configurable": {"thread_id": "t"}})


def test_bad_durability_is_refused_before_creating_anything(tmp_path: Path) -> None:
    from wfkit import InvalidInputError

    with pytest.raises(InvalidInputError, match="durability must be"):
        DuckDBCheckpointer(tmp_path / "x.duckdb", durability="never")  # type: ignore[arg-type]
    assert not (tmp_path / "x.duckdb").exists()
    with pytest.raises(InvalidInputError, match="durability must be"):
        MemoryCheckpointer(durability="later")  # type: ignore[arg-type]
