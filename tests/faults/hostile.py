"""A real store file to attack, and the one way each attack is judged.

``make_store_file`` writes threads with values of every tag the serde has,
appends (chains), a ``Send``, an interrupt and spans. ``judge`` opens a
(damaged, tampered or foreign) file and reads every thread: it must either
read back exactly what was written, or be refused with the store's error
(``StoreError``, or ``UnsafeValueError`` for a value off the allowlist) and
leave the file as it was. Anything else fails the test: another exception,
different data, a changed file, or the marker file that hostile payloads
create if anything in them is ever run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import hashlib
import operator
import uuid
import warnings
from pathlib import Path
from typing import Annotated, Any, TypedDict

from crashlib import FIGURES

from wfkit import START, Command, Send, StateGraph, interrupt
from wfkit.checkpoint.duckdb import DuckDBCheckpointer
from wfkit.errors import StoreError, UnsafeValueError


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Rich(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    blob: bytes
    when: dt.datetime
    day: dt.date
    clock: dt.time
    wait: dt.timedelta
    pair: tuple[int, str]
    seen: set[str]
    frozen: frozenset[int]
    money: decimal.Decimal
    uid: uuid.UUID
    point: Point
    color: Color
    ratio: float
    by_id: dict[int, str]
    answer: str


RICH: dict[str, Any] = {
    "blob": b"\x00\xffbytes",
    "when": dt.datetime(2026, 11, 27, 4, 5, 6, tzinfo=dt.UTC),
    "day": dt.date(2026, 1, 2),
    "clock": dt.time(4, 5, 6),
    "wait": dt.timedelta(seconds=90),
    "pair": (1, "a"),
    "seen": {"b", "a"},
    "frozen": frozenset({1, 2}),
    "money": decimal.Decimal("10.25"),
    "uid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "point": Point(1, 2),
    "color": Color.RED,
    "ratio": float("inf"),
    "by_id": {1: "one"},
}


def graph() -> StateGraph:
    g = StateGraph(Rich)
    g.add_node("rich", lambda s: {**RICH, "log": ["rich"]})
    g.add_node("fan", lambda i: {"log": [f"fan{i}"]})
    g.add_node("ask", lambda s: {"answer": interrupt("ok?"), "log": ["ask"]})
    g.add_edge(START, "rich")
    g.add_conditional_edges("rich", lambda s: [Send("fan", i) for i in range(3)])
    g.add_edge("fan", "ask")
    return g


def make_store_file(path: Path) -> None:
    with DuckDBCheckpointer(path, durability="sync") as store:
        app = graph().compile(checkpointer=store)
        for t in ("t1", "t2"):
            app.invoke({"log": ["start"]}, thread=t)
            app.invoke(Command(resume="yes"), thread=t)
            app.invoke({"log": ["more"]}, thread=t)
            app.invoke(Command(resume="again"), thread=t)
        app.invoke({"log": ["paused"]}, thread="t3")


def read_all(path: Path) -> dict[str, Any]:
    """Every thread's state and history, read through the public API."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store = DuckDBCheckpointer(path)
    try:
        app = graph().compile(checkpointer=store)
        out: dict[str, Any] = {}
        for t in store.threads():
            config = {"configurable": {"thread_id": t}}
            snap = app.get_state(config)
            history = [(s.values, s.next, s.metadata) for s in app.get_state_history(config)]
            out[t] = (snap.values, snap.next, [i.value for i in snap.interrupts], history)
        out["#spans"] = len(store.get_spans())
        return out
    finally:
        store.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "(gone)"


def _same(a: Any, b: Any) -> bool:
    return repr(a) == repr(b)  # nan-safe, type-exact enough for tuples, sets, enums


def judge(path: Path, expected: dict[str, Any] | None, marker: Path) -> str:
    """``"read"`` (everything came back as written) or ``"refused"``."""
    before = digest(path)
    FIGURES["hostile files tried"] += 1
    try:
        got = read_all(path)
    except (StoreError, UnsafeValueError) as exc:
        assert digest(path) == before, f"a refused file was changed: {exc}"
        assert not marker.exists(), "a hostile payload was executed"
        assert str(path) in str(exc) or "thread" in str(exc), f"the error names nothing: {exc}"
        FIGURES["files refused"] += 1
        return "refused"
    assert not marker.exists(), "a hostile payload was executed"
    assert expected is not None and _same(got, expected), "the file read back different data"
    return "read"
