"""A node that changes its input in place instead of returning an update.

As in LangGraph: only what a node returns is stored (a change made in place
to a value nobody wrote never reaches a checkpoint), and a pydantic state is
built per task with its lists, dicts and sets copied, so such a change stays
in the node's own copy. A ``TypedDict`` state is the engine's dict itself,
shared in memory (LangGraph shares it too; nothing is copied on the hot path).
"""

from __future__ import annotations

import copy
import itertools
import operator
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfkit import END, START, StateGraph
from wfkit.checkpoint import DuckDBCheckpointer, MemoryCheckpointer

CFG = {"configurable": {"thread_id": "t"}}


class S(TypedDict, total=False):
    items: list[Any]
    tree: dict[str, Any]
    n: int


@pytest.fixture(params=["memory", "duckdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    s: Any = (
        MemoryCheckpointer()
        if request.param == "memory"
        else DuckDBCheckpointer(tmp_path / "r.duckdb")
    )
    yield s
    s.close()


def chain(schema: Any, *nodes: Any, **compile_kw: Any) -> Any:
    g = StateGraph(schema)
    names = []
    for i, fn in enumerate(nodes):
        names.append(f"n{i}")
        g.add_node(names[-1], fn)
    g.add_edge(START, names[0])
    for a, b in itertools.pairwise(names):
        g.add_edge(a, b)
    g.add_edge(names[-1], END)
    return g.compile(**compile_kw)


def test_a_change_in_place_is_not_stored_and_later_writes_are(store: Any) -> None:
    def sloppy(s: Any) -> dict[str, Any]:
        s["items"].append("sneaky")
        s["tree"]["a"]["b"] = "sneaky"
        return {"n": 1}

    def writes(s: Any) -> dict[str, Any]:
        return {"items": [*s["items"], "written"]}

    app = chain(S, sloppy, lambda s: {"n": 2}, writes, checkpointer=store)
    app.invoke({"items": ["x"], "tree": {"a": {}}}, CFG)
    # the input checkpoint (step -1) holds the state before the input
    history = [s for s in app.get_state_history(CFG) if s.metadata["source"] != "input"]
    assert [s.values["tree"] for s in history] == [{"a": {}}] * len(history)
    # the key written later is stored as it was written (the change in place included)
    assert [s.values["items"] for s in history] == [
        ["x", "sneaky", "written"],
        ["x"],
        ["x"],
        ["x"],
    ]


def test_pydantic_nodes_change_only_their_own_copy() -> None:
    class P(pydantic.BaseModel):
        items: list[str] = []
        tree: dict[str, list[str]] = {}
        seen: Annotated[list[Any], operator.add] = []

    def sloppy(s: P) -> dict[str, Any]:
        s.items.append("sneaky")
        s.tree["k"].append("sneaky")
        s.items = ["replaced"]
        return {"seen": ["sloppy"]}

    def after(s: P) -> dict[str, Any]:
        return {"seen": [(list(s.items), dict(s.tree))]}

    given_ = P(items=["a"], tree={"k": []})
    out = chain(P, sloppy, after).invoke(given_)
    assert out["seen"] == ["sloppy", (["a"], {"k": []})]
    assert out["items"] == ["a"] and given_.items == ["a"] and given_.tree == {"k": []}


class Inner(pydantic.BaseModel):
    tags: list[str] = []


class Typed(pydantic.BaseModel):
    flat: list[int] = []
    maybe: list[str] | None = None
    rows: list[dict[str, Any]] = []
    anything: Any = None
    model: Inner = Inner()
    n: int = 0


def test_pydantic_copies_follow_the_field_types() -> None:
    def sloppy(s: Typed) -> dict[str, Any]:
        s.flat.append(9)
        assert s.maybe is not None
        s.maybe.append("x")
        s.rows[0]["k"] = "changed"
        s.anything["k"].append("x")
        s.model.tags.append("x")  # a model instance is shared, as validation shares it
        return {"n": 1}

    shared = Inner()
    given_ = {"flat": [1], "maybe": [], "rows": [{"k": "v"}], "anything": {"k": []}}
    given_["model"] = shared
    out = chain(Typed, sloppy).invoke(given_)
    assert (out["flat"], out["maybe"], out["rows"], out["anything"]) == (
        [1],
        [],
        [{"k": "v"}],
        {"k": []},
    )
    assert out["model"] is shared and shared.tags == ["x"]


def test_pydantic_siblings_get_their_own_copies() -> None:
    class P(pydantic.BaseModel):
        items: list[str] = []
        seen: Annotated[list[str], operator.add] = []

    changed = threading.Event()

    def sloppy(s: P) -> dict[str, Any]:
        s.items.append("sneaky")
        changed.set()
        return {"seen": ["sloppy"]}

    def sibling(s: P) -> dict[str, Any]:
        assert changed.wait(10), "the siblings did not run side by side"
        return {"seen": [f"sibling saw {s.items}"]}

    g = StateGraph(P)
    g.add_node("sloppy", sloppy).add_node("sibling", sibling)
    g.add_edge(START, "sloppy").add_edge(START, "sibling")
    out = g.compile().invoke({"items": ["a"]})
    assert out["seen"] == ["sloppy", "sibling saw ['a']"]


def test_typeddict_nodes_get_the_state_itself() -> None:
    seen: list[Any] = []

    def first(s: Any) -> dict[str, Any]:
        seen.append(s)
        return {"n": 1}

    chain(S, first, lambda s: seen.append(s) or {}).invoke({"n": 0})
    assert seen[0] is not seen[1]  # each superstep's state is a new dict ...
    assert seen[0]["n"] == 0  # ... and an earlier one never changes


# --------------------------------------------------------------- property

leaves = st.one_of(st.integers(), st.text(max_size=3), st.none())
trees = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=2), inner, max_size=3)
    ),
    max_leaves=12,
)
# a change in place: a path of indexes into the value's nested containers,
# and what to do to the container it leads to
changes = st.lists(
    st.tuples(
        st.lists(st.integers(0, 5), max_size=3),
        st.sampled_from(["add", "clear", "replace", "remove"]),
        leaves,
    ),
    min_size=1,
    max_size=4,
)


def _change(value: Any, path: list[int], op: str, leaf: Any) -> None:
    for i in path:
        children = value.values() if type(value) is dict else value
        nested = [c for c in children if type(c) in (list, dict)]
        if not nested:
            break
        value = nested[i % len(nested)]
    if type(value) is list:
        if op == "add":
            value.append(leaf)
        elif op == "clear":
            value.clear()
        elif op == "replace" and value:
            value[0] = [leaf]
        elif value:
            value.pop()
    elif op == "add" or op == "replace":
        value["new" if op == "add" else next(iter(value), "k")] = [leaf]
    elif op == "clear":
        value.clear()
    elif value:
        value.popitem()


class V(TypedDict, total=False):
    value: Any
    n: int


containers = st.one_of(
    st.lists(trees, max_size=4), st.dictionaries(st.text(max_size=2), trees, max_size=4)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=containers, edits=changes)
def test_no_change_in_place_reaches_the_stored_state(value: Any, edits: Any) -> None:
    def sloppy(s: Any) -> dict[str, Any]:
        for path, op, leaf in edits:
            _change(s["value"], path, op, leaf)
        return {"n": 1}

    original = copy.deepcopy(value)
    app = chain(V, sloppy, lambda s: {"n": 2}, checkpointer=MemoryCheckpointer())
    app.invoke({"value": value}, CFG)
    for snap in app.get_state_history(CFG):
        if snap.metadata["source"] != "input":  # before the input: no value yet
            assert snap.values["value"] == original
