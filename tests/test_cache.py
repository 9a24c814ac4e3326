"""Node result caches: ``InMemoryCache`` (expiry, copies, namespaces) and
the engine's use of it for nodes with a ``cache_policy``."""

from __future__ import annotations

import asyncio
from typing import Any, TypedDict

import pytest

from wfkit import START, GraphValidationError, RetryPolicy, StateGraph
from wfkit.cache.memory import InMemoryCache
from wfkit.types import CachePolicy, default_cache_key


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_their_ttl() -> None:
    clock = Clock()
    cache = InMemoryCache(clock=clock)
    key = (("node",), "k")
    cache.set({key: ("v", 10), (("node",), "forever"): ("w", None)})
    clock.now += 9.9
    assert cache.get([key]) == {key: "v"}
    clock.now += 0.1
    assert cache.get([key]) == {}
    assert len(cache) == 1  # the expired entry is gone; the one without ttl stays
    clock.now += 1e9
    assert cache.get([(("node",), "forever")]) == {(("node",), "forever"): "w"}


def test_values_are_copied_in_and_out() -> None:
    cache = InMemoryCache()
    value = {"items": [1]}
    key = (("n",), "k")
    cache.set({key: (value, None)})
    value["items"].append(2)
    got = cache.get([key])[key]
    got["items"].append(3)
    assert cache.get([key])[key] == {"items": [1]}


def test_clear_by_namespace_or_all() -> None:
    cache = InMemoryCache()
    cache.set({(("a",), "1"): (1, None), (("b",), "1"): (2, None)})
    cache.clear([("a",)])
    assert cache.get([(("a",), "1"), (("b",), "1")]) == {(("b",), "1"): 2}
    cache.clear()
    assert len(cache) == 0


def test_async_methods_answer_like_the_sync_ones() -> None:
    cache = InMemoryCache()

    async def go() -> Any:
        await cache.aset({(("n",), "k"): (5, None)})
        found = await cache.aget([(("n",), "k")])
        await cache.aclear()
        return found, len(cache)

    assert asyncio.run(go()) == ({(("n",), "k"): 5}, 0)


def test_default_key_ignores_dict_order_and_tells_values_apart() -> None:
    assert default_cache_key({"a": 1, "b": [1, 2]}) == default_cache_key({"b": [1, 2], "a": 1})
    assert default_cache_key({"a": 1}) != default_cache_key({"a": 2})
    assert default_cache_key({"s": {1, 2}}) == default_cache_key({"s": {2, 1}})


class S(TypedDict, total=False):
    x: int
    y: int


def _graph(calls: list[int], policy: CachePolicy, **node: Any) -> StateGraph:
    def double(state: S) -> dict[str, int]:
        calls.append(state["x"])
        return {"y": state["x"] * 2}

    g = StateGraph(S)
    g.add_node("double", double, cache_policy=policy, **node)
    return g.add_edge(START, "double")


def test_a_cached_node_runs_once_per_input() -> None:
    calls: list[int] = []
    cache = InMemoryCache()
    app = _graph(calls, CachePolicy()).compile(cache=cache)
    assert [app.invoke({"x": 1}), app.invoke({"x": 1}), app.invoke({"x": 2})] == [
        {"x": 1, "y": 2},
        {"x": 1, "y": 2},
        {"x": 2, "y": 4},
    ]
    assert calls == [1, 2]
    assert len(cache) == 2


def test_cache_entries_expire_with_the_policy_ttl() -> None:
    calls: list[int] = []
    clock = Clock()
    app = _graph(calls, CachePolicy(ttl=5)).compile(cache=InMemoryCache(clock=clock))
    app.invoke({"x": 1})
    clock.now += 4
    app.invoke({"x": 1})
    clock.now += 1
    app.invoke({"x": 1})
    assert calls == [1, 1]


def test_no_cache_at_compile_means_no_caching() -> None:
    calls: list[int] = []
    app = _graph(calls, CachePolicy()).compile()
    app.invoke({"x": 1})
    app.invoke({"x": 1})
    assert calls == [1, 1]


def test_the_key_is_per_node() -> None:
    calls: list[str] = []

    def node(name: str) -> Any:
        def fn(state: S) -> dict[str, int]:
            calls.append(name)
            return {"y": state.get("y", 0) + 1}

        return fn

    g = StateGraph(S)
    g.add_node("a", node("a"), cache_policy=CachePolicy(key_func=lambda s: "same"))
    g.add_node("b", node("b"), cache_policy=CachePolicy(key_func=lambda s: "same"))
    g.add_edge(START, "a").add_edge("a", "b")
    app = g.compile(cache=InMemoryCache())
    assert app.invoke({"x": 0}) == {"x": 0, "y": 2}
    assert app.invoke({"x": 0}) == {"x": 0, "y": 2}
    assert calls == ["a", "b"]


def test_a_failed_node_is_not_cached_and_retries_still_apply() -> None:
    calls: list[int] = []

    def flaky(state: S) -> dict[str, int]:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("once")
        return {"y": 1}

    g = StateGraph(S)
    g.add_node(
        "flaky",
        flaky,
        cache_policy=CachePolicy(),
        retry_policy=RetryPolicy(initial_interval=0, jitter=False),
    )
    app = g.add_edge(START, "flaky").compile(cache=InMemoryCache())
    assert app.invoke({"x": 1}) == {"x": 1, "y": 1}
    assert app.invoke({"x": 1}) == {"x": 1, "y": 1}
    assert len(calls) == 2  # one failure, one success; the second run is a hit


def test_async_nodes_are_cached_too() -> None:
    calls: list[int] = []

    async def double(state: S) -> dict[str, int]:
        calls.append(state["x"])
        return {"y": state["x"] * 2}

    g = StateGraph(S).add_node("double", double, cache_policy=CachePolicy())
    app = g.add_edge(START, "double").compile(cache=InMemoryCache())

    async def go() -> Any:
        return [await app.ainvoke({"x": 3}), await app.ainvoke({"x": 3})]

    assert asyncio.run(go()) == [{"x": 3, "y": 6}] * 2
    assert calls == [3]


def test_bad_cache_arguments_are_named() -> None:
    g = StateGraph(S)
    with pytest.raises(GraphValidationError, match="node 'n': cache_policy must be a CachePolicy"):
        g.add_node("n", lambda s: None, cache_policy={"ttl": 5})  # type: ignore[arg-type]
    g.add_node("n", lambda s: None).add_edge(START, "n")
    with pytest.raises(GraphValidationError, match=r"compile\(cache=...\) takes a cache"):
        g.compile(cache="memory")  # type: ignore[arg-type]
