"""LangGraph compatibility: the long-term store.

Written as LangGraph's memory docs use ``langgraph.store``: ``InMemoryStore``
and its verbs (``put``, ``get``, ``search`` with filters and a query,
``delete``, ``list_namespaces``, ``batch`` and the async twins), the
namespace errors, and graph nodes reaching the store through a ``store``
parameter, ``runtime.store`` and ``get_store()`` (subgraphs included).

Where LangGraph's ``InMemoryStore`` and wfkit's differ (see docs/store.md:
the order across namespaces, a missing field under ``$gt``, TTLs), the
cases keep to what both promise.
"""

import asyncio
import functools
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from tests.compat.harness import case, ported


def stores(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A compat case, plus a wfkit-side run with ``InMemoryStore`` made a
    ``DuckDBStore`` (the case's assertions must hold there too, and it must
    return what the in-memory store returns)."""
    test = case(fn)

    @functools.wraps(fn)
    def on_duckdb(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        import wfkit.store.memory as memory
        from wfkit.store.duckdb import DuckDBStore

        opened: list[DuckDBStore] = []

        def store(**kwargs: Any) -> DuckDBStore:
            opened.append(DuckDBStore(tmp_path / f"s{len(opened)}.duckdb", **kwargs))
            return opened[-1]

        want = ported(fn)()
        if inspect.iscoroutine(want):
            want = asyncio.run(want)
        monkeypatch.setattr(memory, "InMemoryStore", store)
        try:
            got = ported(fn)()
            if inspect.iscoroutine(got):
                got = asyncio.run(got)
        finally:
            for s in opened:
                s.close()
        assert opened, "the case made no InMemoryStore"
        assert got == want

    del on_duckdb.__wrapped__
    on_duckdb.__name__ = fn.__name__ + "_duckdb"
    globals()[on_duckdb.__name__] = on_duckdb
    return test


# ----------------------------------------------------------------- the verbs


@stores
def test_put_get_delete():
    from langgraph.store.memory import InMemoryStore

    store = InMemoryStore()
    store.put(("users", "ada"), "prefs", {"theme": "dark"})
    item = store.get(("users", "ada"), "prefs")
    first = (item.namespace, item.key, item.value, type(item).__name__)
    store.put(("users", "ada"), "prefs", {"theme": "light", "size": 2})
    second = store.get(("users", "ada"), "prefs").value
    store.delete(("users", "ada"), "prefs")
    store.delete(("users", "ada"), "never-there")
    return first, second, store.get(("users", "ada"), "prefs"), store.get(("nobody",), "x")


@stores
def test_search_in_one_namespace():
    from langgraph.store.memory import InMemoryStore

    store = InMemoryStore()
    for i in range(15):
        store.put(("docs",), f"k{i}", {"i": i, "kind": "even" if i % 2 == 0 else "odd"})
    store.put(("docs",), "k3", {"i": 3, "kind": "odd", "updated": True})

    def keys(items):
        return [(i.key, i.score, type(i).__name__) for i in items]

    return (
        keys(store.search(("docs",))),
        keys(store.search(("docs",), limit=4, offset=2)),
        keys(store.search(("docs",), filter={"kind": "even"}, limit=20)),
        [i.value for i in store.search(("docs",), filter={"updated": True})],
        keys(store.search(("elsewhere",))),
    )


@stores
def test_search_filter_operators():
    from langgraph.store.memory import InMemoryStore

    store = InMemoryStore()
    for i, (score, color) in enumerate([(1, "red"), (4.5, "blue"), (7, "red"), (10, "green")]):
        store.put(("items",), f"k{i}", {"score": score, "color": color, "meta": {"n": i}})

    def keys(filter):
        return [i.key for i in store.search(("items",), filter=filter)]

    return [
        keys({"score": {"$gt": 4.5}}),
        keys({"score": {"$gte": 4.5}}),
        keys({"score": {"$lt": 7}}),
        keys({"score": {"$lte": 7, "$gt": 1}}),
        keys({"color": {"$eq": "red"}}),
        keys({"color": {"$ne": "red"}}),
        keys({"color": "red", "score": {"$gte": 5}}),
        keys({"meta": {"n": 2}}),
        keys({"score": 4.5}),
    ]


@stores
def test_list_namespaces():
    from langgraph.store.memory import InMemoryStore

    store = InMemoryStore()
    for ns in [
        ("a", "b", "c"),
        ("a", "b", "d", "e"),
        ("a", "b", "d", "i"),
        ("a", "b", "f"),
        ("a", "c", "f"),
    ]:
        store.put(ns, "k", {"v": 1})
    return [
        store.list_namespaces(),
        store.list_namespaces(prefix=("a", "b"), max_depth=3),
        store.list_namespaces(suffix=("f",)),
        store.list_namespaces(prefix=("a", "*", "f")),
        store.list_namespaces(max_depth=2, limit=1, offset=1),
    ]


@stores
def test_batch_of_operations():
    from langgraph.store.base import GetOp, ListNamespacesOp, PutOp, SearchOp
    from langgraph.store.memory import InMemoryStore

    store = InMemoryStore()
    store.put(("b",), "old", {"v": 0})
    results = store.batch(
        [
            PutOp(("b",), "new", {"v": 1}),
            GetOp(("b",), "old"),
            SearchOp(("b",), filter={"v": 0}),
            ListNamespacesOp(),
            PutOp(("b",), "old", None),
        ]
    )
    shown = [
        results[0],
        results[1].value,
        [i.key for i in results[2]],
        results[3],
        results[4],
    ]
    return shown, store.get(("b",), "new").value, store.get(("b",), "old")


@stores
def test_async_verbs():
    import asyncio

    from langgraph.store.memory import InMemoryStore

    async def main():
        store = InMemoryStore()
        await store.aput(("a",), "k", {"v": 1})
        await store.aput(("a", "b"), "j", {"v": 2})
        got = (await store.aget(("a",), "k")).value
        found = [i.key for i in await store.asearch(("a", "b"))]
        spaces = await store.alist_namespaces(prefix=("a",))
        await store.adelete(("a",), "k")
        return got, found, spaces, await store.aget(("a",), "k")

    return asyncio.run(main())


@stores
def test_bad_namespaces_raise_invalid_namespace_error():
    from langgraph.store.base import InvalidNamespaceError
    from langgraph.store.memory import InMemoryStore

    store = InMemoryStore()
    caught = []
    for namespace in [(), ("users", "a.b"), ("users", ""), ("users", 3), ("langgraph", "x")]:
        try:
            store.put(namespace, "k", {"v": 1})
        except InvalidNamespaceError as exc:
            caught.append((namespace, isinstance(exc, ValueError)))
    for call in (
        lambda: store.get(("a.b",), "k"),
        lambda: store.search(("x", "")),
        lambda: store.list_namespaces(prefix=("a.b",)),
    ):
        try:
            call()
        except InvalidNamespaceError:
            caught.append("refused")
    return caught, store.list_namespaces()


@stores
def test_semantic_search_with_an_embedding_function():
    from langgraph.store.memory import InMemoryStore

    def embed(texts):
        return [[float(t.count(c)) for c in "aeiou"] + [1.0] for t in texts]

    store = InMemoryStore(index={"dims": 6, "embed": embed, "fields": ["text"]})
    store.put(("docs",), "a", {"text": "aaaa", "kind": "x"})
    store.put(("docs",), "e", {"text": "eeee", "kind": "y"})
    store.put(("docs",), "ae", {"text": "aaee", "kind": "x"})
    store.put(("docs",), "o", {"text": "oooo", "kind": "x"})

    def ranked(**kwargs):
        return [(i.key, round(i.score, 4)) for i in store.search(("docs",), **kwargs)]

    return [
        ranked(query="aaa"),
        ranked(query="eee", limit=2),
        ranked(query="aaa", filter={"kind": "x"}),
        ranked(query="ooo", limit=1, offset=1),
    ]


@stores
def test_semantic_search_paths_per_put():
    from langgraph.store.memory import InMemoryStore

    def embed(texts):
        return [[float(t.count(c)) for c in "aeiou"] + [1.0] for t in texts]

    store = InMemoryStore(index={"dims": 6, "embed": embed})  # default: the whole value
    store.put(("d",), "parts", {"parts": [{"t": "ooooo"}, {"t": "uuuuu"}]}, index=["parts[*].t"])
    store.put(("d",), "title", {"title": "iiii", "body": "uuu"}, index=["title"])
    store.put(("d",), "whole", {"x": "aaa"})
    return [
        [(i.key, round(i.score, 4)) for i in store.search(("d",), query=q, limit=3)]
        for q in ("uuuu", "iii", "aa")
    ]


# ----------------------------------------------------------------- in a graph


@stores
def test_nodes_use_the_store():
    from dataclasses import dataclass
    from typing import TypedDict

    from langgraph.config import get_store
    from langgraph.graph import START, StateGraph
    from langgraph.runtime import Runtime
    from langgraph.store.base import BaseStore
    from langgraph.store.memory import InMemoryStore

    @dataclass
    class Context:
        user_id: str

    class State(TypedDict, total=False):
        text: str
        memories: list[str]

    def remember(state: State, runtime: Runtime[Context]):
        namespace = ("memories", runtime.context.user_id)
        runtime.store.put(namespace, f"m{len(state['text'])}", {"text": state["text"]})
        return {}

    def also(state: State, *, store: BaseStore):
        store.put(("log",), state["text"], {"seen": True})
        return {}

    def recall(state: State):
        found = get_store().search(("memories",), limit=20)
        return {"memories": sorted(i.value["text"] for i in found)}

    store = InMemoryStore()
    graph = (
        StateGraph(State, context_schema=Context)
        .add_node(remember)
        .add_node(also)
        .add_node(recall)
        .add_edge(START, "remember")
        .add_edge("remember", "also")
        .add_edge("also", "recall")
        .compile(store=store)
    )
    first = graph.invoke({"text": "likes tea"}, context=Context(user_id="ada"))
    second = graph.invoke({"text": "has a cat"}, context=Context(user_id="bob"))
    return first, second, store.list_namespaces(), [i.key for i in store.search(("log",))]


@stores
def test_a_subgraph_uses_its_parents_store():
    from typing import TypedDict

    from langgraph.graph import START, StateGraph
    from langgraph.store.memory import InMemoryStore

    class State(TypedDict, total=False):
        found: list[str]

    def write(state: State, store):
        store.put(("shared",), "from-sub", {"v": 1})
        return {}

    def read(state: State, store):
        return {"found": [i.key for i in store.search(("shared",))]}

    inner = (
        StateGraph(State)
        .add_node(write)
        .add_node(read)
        .add_edge(START, "write")
        .add_edge("write", "read")
        .compile()
    )
    store = InMemoryStore()
    outer = StateGraph(State).add_node("inner", inner).add_edge(START, "inner").compile(store=store)
    return outer.invoke({}), [i.key for i in store.search(("shared",))]


@stores
def test_an_async_node_uses_the_async_verbs():
    import asyncio
    from typing import TypedDict

    from langgraph.graph import START, StateGraph
    from langgraph.store.memory import InMemoryStore

    class State(TypedDict, total=False):
        n: int
        values: list[int]

    async def node(state: State, store):
        await store.aput(("counts",), str(state["n"]), {"n": state["n"]})
        found = await store.asearch(("counts",), filter={"n": {"$lte": state["n"]}})
        return {"values": [i.value["n"] for i in found]}

    graph = StateGraph(State).add_node(node).add_edge(START, "node").compile(store=InMemoryStore())

    async def main():
        return [await graph.ainvoke({"n": n}) for n in (1, 2, 3)]

    return asyncio.run(main())
