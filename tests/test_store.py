"""The long-term stores (wfkit.store): the shared contract run over each,
and what is particular to one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, TypedDict

import pytest

from wfkit import START, GraphValidationError, InvalidInputError, StateGraph, StoreError
from wfkit.store import InMemoryStore
from wfkit.store.memory import _Rows
from wfkit.store.testing import StoreContract  # assertions rewritten: tests/conftest.py


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


class TestDuckDBStore(StoreContract):
    persistent = True

    def make_store(self, path: Path, **options: Any) -> Any:
        from wfkit.store.duckdb import DuckDBStore

        return DuckDBStore(path / "store.duckdb", **options)


# ---------------------------------------------------------------- DuckDBStore and its file
def test_the_store_shares_the_checkpoint_file(tmp_path: Path) -> None:
    from wfkit.checkpoint.duckdb import DuckDBCheckpointer
    from wfkit.store.duckdb import DuckDBStore

    path = tmp_path / "runs.duckdb"

    def node(state: State, store: Any) -> dict[str, Any]:
        store.put(("memories",), "m", {"text": "kept"})
        return {"seen": [i.value["text"] for i in store.search(("memories",))]}

    app = _one_node(node, checkpointer=str(path), store=str(path))
    assert isinstance(app.store, DuckDBStore)
    assert app.store.file is app.checkpointer  # one connection for both
    assert app.invoke({}, thread="t")["seen"] == ["kept"]
    again = DuckDBStore(path)  # a second store on the file: the same owner
    assert again.file is app.checkpointer
    assert again.get(("memories",), "m").value == {"text": "kept"}  # type: ignore[union-attr]
    tables = app.checkpointer.sql(  # type: ignore[union-attr]
        "SELECT prefix, key, value FROM wf_store_items"
    ).rows()
    assert tables == [("memories", "m", '{"text": "kept"}')]
    app.checkpointer.close()  # type: ignore[union-attr]
    with DuckDBCheckpointer(path) as reopened:
        store = DuckDBStore(reopened)
        assert store.get(("memories",), "m") is not None
        store.close()  # not its file: the checkpointer stays open
        assert reopened.get_checkpoint("t") is not None


def test_the_store_reopens_a_file_let_go(tmp_path: Path) -> None:
    from wfkit.checkpoint.duckdb import DuckDBCheckpointer
    from wfkit.store.duckdb import DuckDBStore

    file = DuckDBCheckpointer(tmp_path / "idle.duckdb", idle_release=0.05)
    store = DuckDBStore(file)
    store.put(("n",), "k", {"v": 1})
    deadline = time.monotonic() + 5
    while file.file_open and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not file.file_open  # the store holds no cursor: the file was let go
    assert store.get(("n",), "k").value == {"v": 1}  # type: ignore[union-attr]
    file.close()


def test_duckdb_store_refuses_other_dims_and_non_json(tmp_path: Path) -> None:
    from wfkit.store.duckdb import DuckDBStore
    from wfkit.store.testing import letter_embed

    path = tmp_path / "v.duckdb"
    with DuckDBStore(path, index={"dims": 6, "embed": letter_embed}) as store:
        store.put(("d",), "k", {"text": "aa"})
        with pytest.raises(
            InvalidInputError, match=r"put\(\('d',\), 'j', ...\): the value is not JSON"
        ):
            store.put(("d",), "j", {"when": object()})
    with pytest.raises(StoreError, match=r'keeps vectors of 6 numbers.*"dims": 3'):
        DuckDBStore(path, index={"dims": 3, "embed": letter_embed})
    with DuckDBStore(path) as plain:  # without an index: its items are still there
        assert plain.get(("d",), "k") is not None
        plain.delete(("d",), "k")  # and its vectors go with it
        with plain._cursor() as cur:
            assert cur.execute("SELECT count(*) FROM wf_store_vectors").fetchone() == (0,)
    with pytest.raises(StoreError, match="a path to a DuckDB file or a DuckDBCheckpointer"):
        DuckDBStore(42)  # type: ignore[arg-type]


def test_a_newer_store_schema_is_refused(tmp_path: Path) -> None:
    from wfkit.store.duckdb import DuckDBStore

    path = tmp_path / "new.duckdb"
    with DuckDBStore(path) as store, store._cursor() as cur:
        cur.execute("UPDATE wf_meta SET value = '9' WHERE key = 'store_schema_version'")
    with pytest.raises(StoreError, match=r"store schema 9.*upgrade wfkit"):
        DuckDBStore(path)


def test_an_entrypoint_reaches_its_store(tmp_path: Path) -> None:
    from wfkit.config import get_store
    from wfkit.func import entrypoint, task
    from wfkit.store.duckdb import DuckDBStore

    @task
    def count(user: str) -> int:
        return len(get_store().search(("visits", user), limit=100))

    def make(store: Any) -> Any:
        @entrypoint(store=store)
        def visit(user: str, *, store: Any) -> int:
            store.put(("visits", user), str(count(user).result()), {"at": "now"})
            return count(user).result()

        return visit

    for store in (InMemoryStore(), DuckDBStore(tmp_path / "f.duckdb")):
        visit = make(store)
        assert [visit.invoke("ada"), visit.invoke("ada"), visit.invoke("bob")] == [1, 2, 1]
        assert store.list_namespaces() == [("visits", "ada"), ("visits", "bob")]
        getattr(store, "close", lambda: None)()
