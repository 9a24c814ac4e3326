"""The long-term stores (wfkit.store): the shared contract run over each,
and what is particular to one."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

import pytest

pytest.register_assert_rewrite("wfkit.store.testing")

from wfkit import START, GraphValidationError, StateGraph, StoreError  # noqa: E402
from wfkit.store import InMemoryStore  # noqa: E402
from wfkit.store.memory import _Rows  # noqa: E402
from wfkit.store.testing import StoreContract  # noqa: E402


class TestInMemoryStore(StoreContract):
    def make_store(self, path: Path, **options: Any) -> InMemoryStore:
        return InMemoryStore(**options)


class TestInMemoryStoreWithoutNumPy(StoreContract):
    """The same store with its vectors in plain Python lists."""

    def make_store(self, path: Path, **options: Any) -> InMemoryStore:
        store = InMemoryStore(**options)
        if store.index is not None:
            store._rows = _Rows(store.index.dims, None)
        return store


# ---------------------------------------------------------------- compile(store=...)
class State(TypedDict, total=False):
    seen: list[str]


def _reader(name: str) -> Any:
    def read(state: State, store: Any) -> dict[str, Any]:
        found = store.search(("who",)) if store is not None else []
        return {"seen": [*state.get("seen", []), f"{name}:{[i.key for i in found]}"]}

    return read


def _one_node(fn: Any, **compile_options: Any) -> Any:
    return StateGraph(State).add_node("n", fn).add_edge(START, "n").compile(**compile_options)


def test_a_subgraph_with_its_own_store_under_a_parent_without_one() -> None:
    own = InMemoryStore()
    own.put(("who",), "inner", {})
    inner = _one_node(_reader("inner"), store=own)
    outer = _one_node(inner)
    assert outer.store is None and inner.store is own
    assert outer.invoke({})["seen"] == ["inner:['inner']"]
    parents = InMemoryStore()
    parents.put(("who",), "parent", {})
    assert _one_node(inner, store=parents).invoke({})["seen"] == ["inner:['parent']"]


def test_a_graph_invoked_in_a_node_uses_the_callers_store() -> None:
    own = InMemoryStore()
    own.put(("who",), "own", {})
    inner = _one_node(_reader("inner"), store=own)
    bare = _one_node(_reader("bare"))

    def call(state: State) -> dict[str, Any]:
        return {"seen": inner.invoke({})["seen"] + bare.invoke({})["seen"]}

    callers = InMemoryStore()
    callers.put(("who",), "caller", {})
    assert _one_node(call, store=callers).invoke({})["seen"] == [
        "inner:['caller']",
        "bare:['caller']",
    ]
    assert _one_node(call).invoke({})["seen"] == ["inner:['own']", "bare:[]"]
    assert inner.invoke({})["seen"] == ["inner:['own']"]


def test_get_store_and_runtime_store_without_a_store_are_none() -> None:
    from wfkit.config import get_store
    from wfkit.runtime import Runtime

    def node(state: State, runtime: Runtime[Any]) -> dict[str, Any]:
        return {"seen": [repr(get_store()), repr(runtime.store)]}

    assert _one_node(node).invoke({})["seen"] == ["None", "None"]


def test_compile_refuses_what_is_not_a_store() -> None:
    with pytest.raises(GraphValidationError, match=r"store= of graph 'State'.*InMemoryStore"):
        _one_node(_reader("x"), store={"not": "a store"})


def test_a_bad_index_or_ttl_config_is_refused() -> None:
    with pytest.raises(StoreError, match="unknown key"):
        InMemoryStore(index={"dims": 3, "embed": lambda t: [], "field": ["x"]})  # type: ignore[typeddict-unknown-key]
    with pytest.raises(StoreError, match="neither a function"):
        InMemoryStore(index={"dims": 3, "embed": 42})
    with pytest.raises(StoreError, match="list of paths"):
        InMemoryStore(index={"dims": 3, "embed": lambda t: [], "fields": "text"})  # type: ignore[typeddict-item]
