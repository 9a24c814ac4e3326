"""Hostile values: each one round-trips exactly through invoke and get_state
on both stores, or fails at its step with an error naming node and key path.

The examples are the failures a probe of the store found (issue 9, item 6);
the property at the end generates values of every type the serde claims.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import operator
import os
import subprocess
import sys
import zoneinfo
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from exact import exact

from wfkit import END, START, StateGraph
from wfkit.checkpoint import Checkpointer, DuckDBCheckpointer, MemoryCheckpointer
from wfkit.checkpoint.cache import DEFAULT_CACHE_BYTES
from wfkit.errors import SerializationError
from wfkit.workflow import Workflow

CONFIG = {"configurable": {"thread_id": "t"}}


class FoldingZone(dt.tzinfo):
    """A tzinfo of the user's own: only its offset would survive."""

    def utcoffset(self, d: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(hours=2)


@dataclasses.dataclass
class WithDerived:
    a: int
    b: int = dataclasses.field(init=False, default=0)


class State(TypedDict, total=False):
    x: Any
    n: int


class Log(TypedDict, total=False):
    log: Annotated[list[Any], operator.add]
    n: int


def extend(old: list[Any], new: list[Any]) -> list[Any]:
    """A reducer that extends its first argument in place and returns it."""
    old.extend(new)
    return old


class Extended(TypedDict, total=False):
    log: Annotated[list[Any], extend]
    n: int


@pytest.fixture(params=["memory", "duckdb", "duckdb-file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Checkpointer]:
    """Both stores; ``duckdb-file`` keeps no thread in memory, so every read
    comes from the file's tables (DuckDB's JSON type), not the store's copy."""
    s: Checkpointer
    if request.param == "memory":
        s = MemoryCheckpointer()
    else:
        cache = 0 if request.param == "duckdb-file" else DEFAULT_CACHE_BYTES
        s = DuckDBCheckpointer(tmp_path / "r.duckdb", cache_bytes=cache)
    yield s
    s.close()


def one_node(store: Checkpointer, node: Callable[[Any], Any], schema: type = State) -> Workflow:
    graph = StateGraph(schema)
    graph.add_node("put", node)
    graph.add_edge(START, "put").add_edge("put", END)
    return graph.compile(checkpointer=store)


def round_trip(store: Checkpointer, value: Any) -> Any:
    app = one_node(store, lambda s: {"x": value})
    out = app.invoke({}, CONFIG)["x"]
    back = app.get_state(CONFIG).values["x"]
    assert exact(out, back), (out, back)
    return back


# --------------------------------------------------------------- the probe's failures
def test_a_list_that_contains_itself_fails_at_its_step_naming_node_and_path(
    store: Checkpointer,
) -> None:
    loop: list[Any] = [1, {"inner": []}]
    loop[1]["inner"].append(loop)
    app = one_node(store, lambda s: {"x": loop})
    with pytest.raises(SerializationError) as err:
        app.invoke({}, CONFIG)
    msg = str(err.value)
    assert "node 'put'" in msg and "x[1].inner[0]" in msg and "contains itself" in msg
    assert app.get_state(CONFIG).next == ("put",)  # the step's writes were not applied


def test_a_dict_that_contains_itself_fails_naming_the_path(store: Checkpointer) -> None:
    loop: dict[str, Any] = {}
    loop["me"] = loop
    app = one_node(store, lambda s: {"x": loop})
    with pytest.raises(SerializationError, match=r"node 'put'.*x\.me.*contains itself"):
        app.invoke({}, CONFIG)


@pytest.mark.parametrize("depth", [101, 400, 5000])
def test_nesting_too_deep_fails_at_its_step_naming_node_and_key(
    store: Checkpointer, depth: int
) -> None:
    value: Any = []
    for _ in range(depth):
        value = {"a": [value]} if depth < 1000 else [value]
    app = one_node(store, lambda s: {"x": value})
    with pytest.raises(SerializationError, match=r"node 'put'.*\.x.*deeper than 100 levels"):
        app.invoke({}, CONFIG)


def test_nesting_at_the_limit_round_trips(store: Checkpointer) -> None:
    value: Any = 1
    for _ in range(100):
        value = [value]
    round_trip(store, value)


@pytest.mark.parametrize(
    "number", [10**5000, -(10**5000), 2**70, 10**4299], ids=["1e5000", "-1e5000", "2e70", "1e4299"]
)
def test_huge_ints_round_trip(store: Checkpointer, number: int) -> None:
    assert round_trip(store, {"k": [number]}) == {"k": [number]}


def test_timedelta_keeps_its_microseconds(store: Checkpointer) -> None:
    for value in (dt.timedelta(days=999999, microseconds=1), dt.timedelta(days=-999999)):
        assert round_trip(store, value) == value


def test_a_list_replaced_by_an_equal_list_of_other_types_is_stored_as_it_is(
    store: Checkpointer,
) -> None:
    replies = iter([[1, 2], [1.0, 2.0, 3.0], [True, 2.0, 3.0, 4]])
    graph = StateGraph(State)
    graph.add_node("put", lambda s: {"x": next(replies)})
    graph.add_edge(START, "put").add_edge("put", END)
    app = graph.compile(checkpointer=store)
    for _ in range(3):
        out = app.invoke({}, CONFIG)["x"]
        assert exact(app.get_state(CONFIG).values["x"], out), out


def test_an_appended_list_with_other_types_in_its_prefix_is_stored_whole(
    store: Checkpointer,
) -> None:
    def node(s: Any) -> dict[str, Any]:
        return {"x": [float(v) for v in s["x"]] + [9]}

    app = one_node(store, node)
    app.invoke({"x": [1, 2]}, CONFIG)
    assert exact(app.get_state(CONFIG).values["x"], [1.0, 2.0, 9])


def test_a_list_mutated_in_place_and_returned_is_stored(store: Checkpointer) -> None:
    def node(s: Any) -> dict[str, Any]:
        s["log"].append("in place")
        return {"n": 1, "log": []}  # writes the key: its reducer returns the same list

    app = one_node(store, node, Extended)
    out = app.invoke({"log": ["a"]}, CONFIG)
    assert out["log"] == ["a", "in place"]
    assert app.get_state(CONFIG).values == out
    out = app.invoke({"log": ["b"]}, CONFIG)  # a second run continues the thread
    assert out["log"] == ["a", "in place", "b", "in place"]
    assert app.get_state(CONFIG).values == out


def test_a_list_mutated_in_place_but_not_returned_is_not_stored(store: Checkpointer) -> None:
    def node(s: Any) -> dict[str, Any]:
        s["log"].append("in place")
        return {"n": 1}

    app = one_node(store, node, Log)
    app.invoke({"log": ["a"]}, CONFIG)
    assert app.get_state(CONFIG).values == {"log": ["a"], "n": 1}  # as in LangGraph


@pytest.mark.parametrize(
    "mutate",
    [
        lambda v: v.__setitem__(0, "replaced"),
        lambda v: v.pop(),
        lambda v: v.sort(reverse=True),
        lambda v: v.clear(),
    ],
    ids=["setitem", "pop", "sort", "clear"],
)
def test_other_changes_in_place_to_a_list_are_stored(
    store: Checkpointer, mutate: Callable[[list[Any]], Any]
) -> None:
    def node(s: Any) -> dict[str, Any]:
        mutate(s["x"])
        return {"n": 1, "x": s["x"]}  # the same object, changed, returned

    app = one_node(store, node)
    out = app.invoke({"x": ["a", "b", "c"]}, CONFIG)
    assert app.get_state(CONFIG).values == out


def test_a_dict_or_set_changed_in_place_is_stored(store: Checkpointer) -> None:
    def node(s: Any) -> dict[str, Any]:
        s["x"]["d"]["new"] = 1
        s["x"]["s"].add(2)
        return {"n": 1, "x": s["x"]}

    class Two(TypedDict, total=False):
        x: dict[str, Any]
        n: int

    graph = StateGraph(Two)
    graph.add_node("put", node)
    graph.add_edge(START, "put").add_edge("put", END)
    app = graph.compile(checkpointer=store)
    # the top-level dict holds a dict and a set: changes inside them are one level down
    out = app.invoke({"x": {"d": {}, "s": set()}}, CONFIG)
    assert out["x"] == {"d": {"new": 1}, "s": {2}}
    assert app.get_state(CONFIG).values == out


def test_a_lone_surrogate_round_trips_in_values_and_keys(store: Checkpointer) -> None:
    # DuckDB's JSON type refuses a lone surrogate; it used to fail in the background
    value = {"x\ud800y": ["\udfff", "a\ud83d\ude00b"], "ok": "😀"}
    assert round_trip(store, value) == value
    assert round_trip(store, "x\ud800y") == "x\ud800y"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (collections.OrderedDict(a=1), "collections.OrderedDict is a subclass of dict"),
        (collections.defaultdict(list), "subclass of dict"),
        (type("Label", (str,), {})("x"), "subclass of str"),
        (collections.namedtuple("P", "a")(1), "subclass of tuple"),
        (dt.datetime(2026, 1, 1, tzinfo=FoldingZone()), "use datetime.timezone or zoneinfo"),
        (1j, "builtins.complex is not JSON-able"),
        (WithDerived(1), "field 'b' with init=False"),
    ],
    ids=["OrderedDict", "defaultdict", "str-subclass", "namedtuple", "tzinfo", "complex", "init"],
)
def test_values_that_would_come_back_different_are_refused_at_their_step(
    store: Checkpointer, value: Any, fragment: str
) -> None:
    app = one_node(store, lambda s: {"x": {"inner": [value]}})
    with pytest.raises(SerializationError) as err:
        app.invoke({}, CONFIG)
    assert "cannot store the update of node 'put'.x.inner[0]: " in str(err.value)
    assert fragment in str(err.value)
    assert app.get_state(CONFIG).next == ("put",)


def test_times_keep_zone_offset_name_and_fold(store: Checkpointer) -> None:
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    values = [
        dt.datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=paris),  # the second 02:30 that night
        dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1), "CET")),
        dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(microseconds=-1))),
        dt.time(12, 0, tzinfo=paris),
        dt.time(1, fold=1),
    ]
    back = round_trip(store, values)
    assert [v.utcoffset() for v in back] == [v.utcoffset() for v in values]


KILLED = """
import os, sys
from typing import Any, TypedDict
from wfkit import START, END, StateGraph
from wfkit.checkpoint import DuckDBCheckpointer
class S(TypedDict, total=False):
    x: Any
V = {"e": "a\\U0001f600b\\x00", "s": "x\\ud800y", "k\\udfff": 3, "big": 10**5000}
g = StateGraph(S)
g.add_node("a", lambda s: {"x": V})
g.add_edge(START, "a").add_edge("a", END)
if sys.argv[2] == "write":  # killed right after the run: its rows are in the journal only
    store = DuckDBCheckpointer(sys.argv[1], durability="sync")
    g.compile(checkpointer=store).invoke({}, thread="t")
    os._exit(0)
with DuckDBCheckpointer(sys.argv[1]) as store:
    back = g.compile(checkpointer=store).get_state({"configurable": {"thread_id": "t"}})
    assert back.values["x"] == V, back.values
"""


def test_hostile_text_survives_a_killed_process_and_the_journal(tmp_path: Path) -> None:
    # a lone surrogate used to make the journal, and so the file, unreadable forever
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    root = Path(__file__).resolve().parents[2]
    for mode in ("write", "read"):
        out = subprocess.run(
            [sys.executable, str(script), str(tmp_path / "k.duckdb"), mode],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
        assert out.returncode == 0, out.stderr[-2000:]
