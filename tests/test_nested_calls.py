"""A graph called from inside a node (``inner.invoke(...)``, a nested call,
not a subgraph added as a node): it inherits its caller's config, and an
``interrupt()`` inside it pauses the caller."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import LogState, appender
from wfkit import START, Command, StateGraph, interrupt
from wfkit.checkpoint import MemoryCheckpointer
from wfkit.types import RunOptions


def inner_graph(**compile_kw: Any) -> Any:
    def ask(state: Any) -> dict[str, Any]:
        return {"log": [f"ask={interrupt('approve?')}"]}

    g = StateGraph(LogState, name="inner")
    g.add_node(appender("pre")).add_node("ask", ask)
    g.add_edge(START, "pre").add_edge("pre", "ask")
    return g.compile(**compile_kw)


def outer_graph(
    inner: Any, *, calls: int = 1, config: dict[str, Any] | None = None, **compile_kw: Any
) -> Any:
    def call(state: Any) -> dict[str, Any]:
        log: list[str] = []
        for _ in range(calls):
            log += inner.invoke({}, config)["log"]
        return {"log": log}

    g = StateGraph(LogState, name="outer")
    g.add_node("call", call).add_node(appender("after"))
    g.add_edge(START, "call").add_edge("call", "after")
    return g.compile(**compile_kw)


def test_an_interrupt_in_a_nested_call_pauses_the_caller_and_resumes() -> None:
    app = outer_graph(inner_graph(), checkpointer=MemoryCheckpointer())
    cfg = {"configurable": {"thread_id": "t"}}
    out = app.invoke({}, cfg)
    assert [i.value for i in out["__interrupt__"]] == ["approve?"]
    assert app.get_state(cfg).next == ("call",)
    assert app.invoke(Command(resume="yes"), cfg) == {"log": ["pre", "ask=yes", "after"]}


def test_without_a_checkpointer_the_caller_still_pauses() -> None:
    out = outer_graph(inner_graph()).invoke({})
    assert out["log"] == [] and [i.value for i in out["__interrupt__"]] == ["approve?"]


def test_each_nested_call_asks_in_turn() -> None:
    app = outer_graph(inner_graph(), calls=2, checkpointer=MemoryCheckpointer())
    cfg = {"configurable": {"thread_id": "t"}}
    app.invoke({}, cfg)
    assert "__interrupt__" in app.invoke(Command(resume="a"), cfg)
    out = app.invoke(Command(resume="b"), cfg)
    assert out == {"log": ["pre", "ask=a", "pre", "ask=b", "after"]}


def test_the_nested_call_sees_the_callers_config() -> None:
    seen: list[Any] = []

    def look(state: Any, config: Any) -> dict[str, Any]:
        seen.append(config["configurable"])
        return {}

    g = StateGraph(LogState)
    g.add_node("look", look).add_edge(START, "look")
    inner = g.compile()
    outer_graph(inner, checkpointer=MemoryCheckpointer()).invoke(
        {}, {"configurable": {"thread_id": "t", "user": "ada"}}
    )
    assert seen[0]["thread_id"] == "t" and seen[0]["user"] == "ada"


def test_a_call_naming_its_own_thread_is_a_run_of_its_own() -> None:
    inner = inner_graph(checkpointer=MemoryCheckpointer())
    own = {"configurable": {"thread_id": "own"}}
    app = outer_graph(inner, config=own, checkpointer=MemoryCheckpointer())
    out = app.invoke({}, {"configurable": {"thread_id": "t"}})
    assert "__interrupt__" not in out and out["log"] == ["pre", "after"]
    assert inner.get_state(own).next == ("ask",)  # paused on its own thread


def test_a_nested_call_with_a_checkpointer_does_not_write_the_callers_thread() -> None:
    store = MemoryCheckpointer()
    inner = inner_graph(checkpointer=store)
    app = outer_graph(inner, checkpointer=store)
    cfg = {"configurable": {"thread_id": "t"}}
    app.invoke({}, cfg)
    assert app.invoke(Command(resume="ok"), cfg)["log"] == ["pre", "ask=ok", "after"]
    assert all(
        s.next in ((), ("__start__",), ("call",), ("after",)) for s in app.get_state_history(cfg)
    )


@pytest.mark.parametrize("how", ["ainvoke", "async-node", "thread-option"])
def test_nested_calls_under_the_async_driver(how: str) -> None:
    inner = inner_graph()

    async def acall(state: Any) -> dict[str, Any]:
        if how == "async-node":
            return {"log": inner.invoke({})["log"]}  # sync call from a coroutine
        return {"log": (await inner.ainvoke({}))["log"]}

    g = StateGraph(LogState)
    g.add_node("call", acall).add_edge(START, "call")
    app = g.compile(checkpointer=MemoryCheckpointer())
    opts: RunOptions = {"thread": "t"}
    if how == "thread-option":
        out = asyncio.run(app.ainvoke({}, **opts))
    else:
        out = asyncio.run(app.ainvoke({}, {"configurable": {"thread_id": "t"}}))
    assert [i.value for i in out["__interrupt__"]] == ["approve?"]
    out = asyncio.run(app.ainvoke(Command(resume="y"), {"configurable": {"thread_id": "t"}}))
    assert out == {"log": ["pre", "ask=y"]}


def test_outside_a_run_nothing_is_inherited() -> None:
    out = inner_graph().invoke({})
    assert [i.value for i in out["__interrupt__"]] == ["approve?"]  # returned, not raised
