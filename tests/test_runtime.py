"""wfkit.runtime and wfkit.config: the Runtime, get_runtime/get_config/
get_stream_writer, and the parameters injected into nodes (wfkit.engine.inject)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, TypedDict

import pytest

from wfkit import START, InvalidInputError, StateGraph
from wfkit.config import get_config, get_store, get_stream_writer
from wfkit.runtime import Runtime, get_runtime


class S(TypedDict, total=False):
    out: Any


@dataclass
class Ctx:
    user: str


def one(fn: Any, **kw: Any) -> Any:
    return StateGraph(S, **kw).add_node("n", fn).add_edge(START, "n").compile()


def test_outside_a_graph_the_getters_raise_and_say_where() -> None:
    with pytest.raises(RuntimeError, match="inside a node"):
        get_config()
    with pytest.raises(RuntimeError, match="get_runtime"):
        get_runtime()
    with pytest.raises(RuntimeError):
        get_stream_writer()


def test_plain_node_sees_the_run_config_and_runtime() -> None:
    def node(state: S) -> S:
        return {"out": (get_config()["configurable"]["k"], get_runtime().context, get_store())}

    app = one(node, context_schema=Ctx)
    assert app.invoke({}, {"configurable": {"k": 1}}, context={"user": "ada"}) == {
        "out": (1, Ctx("ada"), None)
    }


def test_default_call_has_a_runtime_too() -> None:
    assert one(lambda s: {"out": get_runtime().context}).invoke({}) == {"out": None}


def test_context_that_does_not_fit_the_schema() -> None:
    with pytest.raises(InvalidInputError, match="does not fit context_schema Ctx"):
        one(lambda s: {}, context_schema=Ctx).invoke({}, context={"nope": 1})


def test_injected_parameters() -> None:
    def node(state: S, config: Any, runtime: Runtime[Ctx], writer: Any, store: Any) -> S:
        writer("w")
        return {"out": (config["metadata"]["langgraph_node"], runtime.context.user, store is None)}

    app = one(node)
    chunks = list(app.stream({}, stream_mode=["custom", "values"], context=Ctx("bo")))
    assert chunks == [("values", {}), ("custom", "w"), ("values", {"out": ("n", "bo", True)})]


def test_async_node_gets_its_task_config() -> None:
    async def node(state: S) -> S:
        await asyncio.sleep(0)
        return {"out": get_config()["metadata"]["langgraph_node"]}

    app = StateGraph(S).add_node("a", node).add_edge(START, "a")
    # a retry policy takes the node off the hot path: it then runs in its own context
    app2 = StateGraph(S).add_node("a", node, retry=__import__("wfkit").RetryPolicy())
    app2.add_edge(START, "a")
    assert asyncio.run(app2.compile().ainvoke({})) == {"out": "a"}
    with pytest.raises(KeyError):  # a plain node sees the run's config: no task metadata
        asyncio.run(app.compile().ainvoke({}))


def test_nested_invoke_inherits_context() -> None:
    inner = one(lambda s: {"out": get_runtime().context})
    outer = one(lambda s: inner.invoke({}))
    assert outer.invoke({}, context="ctx") == {"out": "ctx"}
