"""Superstep semantics: barriers, write order, joins, branches, Send,
Command, recursion limit, subgraphs."""

from __future__ import annotations

import asyncio
import itertools
import operator
import random
import threading
import time
from typing import Annotated, Any, Literal, TypedDict

import pytest

from tests.conftest import LogState, appender
from wfkit import (
    END,
    START,
    Command,
    GraphRecursionError,
    InvalidUpdateError,
    RouterError,
    Send,
    StateGraph,
)


def test_parallel_nodes_see_the_same_pre_step_state() -> None:
    seen: dict[str, int] = {}

    def make(name: str) -> Any:
        def node(state: dict[str, Any]) -> dict[str, Any]:
            seen[name] = len(state["log"])
            return {"log": [name]}

        return node

    g = StateGraph(LogState)
    for n in ("a", "b", "c"):
        g.add_node(n, make(n))
    g.add_edge(START, "a").add_edge("a", "b").add_edge("a", "c")
    assert g.compile().invoke({}) == {"log": ["a", "b", "c"]}
    assert seen == {"a": 0, "b": 1, "c": 1}


@pytest.mark.parametrize("use_async", [False, True])
def test_writes_apply_in_task_order_not_completion_order(use_async: bool) -> None:
    delays = {"slow": 0.05, "mid": 0.02, "fast": 0.0}

    def make(name: str) -> Any:
        if use_async:

            async def anode(state: Any) -> dict[str, Any]:
                await asyncio.sleep(delays[name])
                return {"log": [name]}

            return anode

        def node(state: Any) -> dict[str, Any]:
            time.sleep(delays[name])
            return {"log": [name]}

        return node

    g = StateGraph(LogState)
    for name in delays:
        g.add_node(name, make(name))
        g.add_edge(START, name)
    assert g.compile().invoke({}) == {"log": ["slow", "mid", "fast"]}


def test_node_triggered_twice_in_a_step_runs_once() -> None:
    g = StateGraph(LogState)
    for n in "abc":
        g.add_node(appender(n))
    g.add_edge(START, "a").add_edge(START, "b").add_edge("a", "c").add_edge("b", "c")
    assert g.compile().invoke({}) == {"log": ["a", "b", "c"]}


def test_join_waits_for_all_sources_across_supersteps() -> None:
    g = StateGraph(LogState)
    for n in ("a", "b1", "b2", "join"):
        g.add_node(appender(n))
    g.add_edge(START, "a").add_edge(START, "b1").add_edge("b1", "b2").add_edge(["a", "b2"], "join")
    assert g.compile().invoke({}) == {"log": ["a", "b1", "b2", "join"]}


def test_plain_edges_from_different_steps_run_target_each_time() -> None:
    g = StateGraph(LogState)
    for n in ("a", "b1", "b2", "c"):
        g.add_node(appender(n))
    g.add_edge(START, "a").add_edge(START, "b1").add_edge("b1", "b2")
    g.add_edge("a", "c").add_edge("b2", "c")
    assert g.compile().invoke({}) == {"log": ["a", "b1", "c", "b2", "c"]}


def test_concurrent_writes_to_plain_key_are_an_error() -> None:
    g = StateGraph(LogState)
    g.add_node("x", lambda s: {"n": 1}).add_node("y", lambda s: {"n": 2})
    g.add_edge(START, "x").add_edge(START, "y")
    with pytest.raises(
        InvalidUpdateError, match=r"'n' received values from nodes 'x' and 'y'.*reducer"
    ):
        g.compile().invoke({})


def test_router_runs_on_state_after_the_barrier() -> None:
    def route(state: Any) -> Literal["big", "small"]:
        return "big" if state["n"] >= 10 else "small"

    g = StateGraph(LogState)
    g.add_node("grow", lambda s: {"n": s["n"] * 10})
    g.add_node(appender("big")).add_node(appender("small"))
    g.add_edge(START, "grow").add_conditional_edges("grow", route)
    app = g.compile()
    assert app.invoke({"n": 1})["log"] == ["big"]
    assert app.invoke({"n": 0})["log"] == ["small"]


def test_router_with_path_map_list_and_end() -> None:
    g = StateGraph(LogState)
    g.add_node(appender("a")).add_node(appender("b")).add_node(appender("c"))
    g.add_edge(START, "a").add_conditional_edges("a", lambda s: ["b", "c", END], ["b", "c", END])
    assert g.compile().invoke({}) == {"log": ["a", "b", "c"]}


@pytest.mark.parametrize(
    ("router", "path_map", "message"),
    [
        (
            lambda s: "nope",
            None,
            r"router '<lambda>' after 'a' returned 'nope', which is not a node",
        ),
        (
            lambda s: "k2",
            {"k1": "b"},
            r"returned 'k2', which is not a key of its path_map \('k1'\)",
        ),
        (lambda s: "c", ["b"], r"returned 'c', which is not among its declared targets \('b'\)"),
        (lambda s: None, None, r"returned None, which is not a node"),
        (lambda s: [Send("ghost", {})], None, r"sent to unknown node 'ghost'"),
    ],
)
def test_router_bad_targets(router: Any, path_map: Any, message: str) -> None:
    g = StateGraph(LogState)
    g.add_node(appender("a")).add_node(appender("b")).add_node(appender("c"))
    g.add_edge(START, "a").add_conditional_edges("a", router, path_map)
    if path_map is not None:
        g.add_edge(START, "c")
    with pytest.raises(RouterError, match=message):
        g.compile().invoke({})


def test_router_exception_gets_a_note() -> None:
    def route(state: Any) -> str:
        raise LookupError("no route")

    g = StateGraph(LogState)
    g.add_node(appender("a")).add_edge(START, "a").add_conditional_edges("a", route)
    with pytest.raises(LookupError) as info:
        g.compile().invoke({})
    assert "router 'route' after 'a'" in info.value.__notes__[0]


class MapState(TypedDict, total=False):
    items: list[int]
    results: Annotated[list[int], operator.add]


def test_send_fan_out_keeps_send_order() -> None:
    def fan_out(state: Any) -> list[Send]:
        return [Send("work", {"x": x}) for x in state["items"]]

    def work(arg: dict[str, int]) -> dict[str, Any]:
        time.sleep(random.random() / 200)
        return {"results": [arg["x"] * 10]}

    g = StateGraph(MapState)
    g.add_node("work", work).add_conditional_edges(START, fan_out)
    items = list(range(40))
    assert g.compile().invoke({"items": items})["results"] == [x * 10 for x in items]


def test_sync_tasks_of_a_step_run_in_parallel_threads() -> None:
    barrier = threading.Barrier(4, timeout=5)

    def work(arg: Any) -> dict[str, Any]:
        barrier.wait()  # deadlocks unless four run at once
        return {"results": [arg]}

    g = StateGraph(MapState)
    g.add_node("work", work).add_conditional_edges(
        START, lambda s: [Send("work", i) for i in range(4)]
    )
    assert g.compile().invoke({})["results"] == [0, 1, 2, 3]


def test_max_concurrency_bounds_parallel_tasks() -> None:
    running = [0]
    peak = [0]
    lock = threading.Lock()

    def work(arg: Any) -> dict[str, Any]:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return {"results": [arg]}

    g = StateGraph(MapState)
    g.add_node("work", work).add_conditional_edges(
        START, lambda s: [Send("work", i) for i in range(12)]
    )
    assert g.compile().invoke({}, max_concurrency=2)["results"] == list(range(12))
    assert peak[0] <= 2


def test_command_updates_and_goes_to() -> None:
    def decide(state: Any) -> Command[Literal["b", "c"]]:
        return Command(update={"log": ["decide"]}, goto=["c", Send("b", {"log": []})])

    g = StateGraph(LogState)
    g.add_node("decide", decide).add_node(appender("b")).add_node(appender("c"))
    g.add_edge(START, "decide")
    assert g.compile().invoke({}) == {"log": ["decide", "c", "b"]}


def test_command_goto_unknown_node() -> None:
    def decide(state: Any) -> Command[Any]:
        return Command(goto="nowhere")

    g = StateGraph(LogState)
    g.add_node("decide", decide).add_edge(START, "decide")
    with pytest.raises(
        RouterError, match=r"Command\(goto=...\) of node 'decide' returned 'nowhere'"
    ):
        g.compile().invoke({})


def test_recursion_limit_names_limit_and_fix() -> None:
    g = StateGraph(LogState)
    g.add_node("loop", lambda s: {"n": s.get("n", 0) + 1}).add_edge(START, "loop").add_edge(
        "loop", "loop"
    )
    app = g.compile()
    with pytest.raises(
        GraphRecursionError, match=r"recursion limit of 5 supersteps.*recursion_limit=N"
    ):
        app.invoke({}, recursion_limit=5)
    with pytest.raises(GraphRecursionError, match="limit of 3 "):
        app.invoke({}, {"recursion_limit": 3})


def test_recursion_limit_allows_exactly_the_limit() -> None:
    g = StateGraph(LogState)
    for n in "abc":
        g.add_node(appender(n))
    g.add_edge(START, "a").add_edge("a", "b").add_edge("b", "c")
    assert g.compile().invoke({}, recursion_limit=3) == {"log": ["a", "b", "c"]}
    with pytest.raises(GraphRecursionError):
        g.compile().invoke({}, recursion_limit=2)


def test_bad_config_values() -> None:
    g = StateGraph(LogState)
    g.add_node(appender("a")).add_edge(START, "a")
    with pytest.raises(ValueError, match="recursion_limit must be a positive int"):
        g.compile().invoke({}, recursion_limit=0)
    with pytest.raises(ValueError, match="max_concurrency must be a positive int"):
        g.compile().invoke({}, {"max_concurrency": "4"})


def test_config_reaches_nodes_that_ask_for_it() -> None:
    seen: list[Any] = []

    def node(state: Any, config: dict[str, Any]) -> None:
        seen.append(config["configurable"]["thread_id"])

    g = StateGraph(LogState)
    g.add_node("node", node).add_edge(START, "node")
    g.compile().invoke({}, thread="t-1")
    g.compile().invoke({}, {"configurable": {"thread_id": "t-2"}})
    assert seen == ["t-1", "t-2"]


def test_subgraph_writes_go_through_parent_reducers_once() -> None:
    inner = StateGraph(LogState)
    inner.add_node(appender("i1")).add_node(appender("i2"))
    inner.add_edge(START, "i1").add_edge("i1", "i2")
    outer = StateGraph(LogState)
    outer.add_node(appender("before")).add_node("inner", inner.compile()).add_node(
        appender("after")
    )
    outer.add_edge(START, "before").add_edge("before", "inner").add_edge("inner", "after")
    assert outer.compile().invoke({"log": ["in"]}) == {"log": ["in", "before", "i1", "i2", "after"]}


def test_async_subgraph_in_sync_parent() -> None:
    async def inner_node(state: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"log": ["inner"], "n": 7}

    inner = StateGraph(LogState)
    inner.add_node("x", inner_node).add_edge(START, "x")
    outer = StateGraph(LogState)
    outer.add_node("sub", inner.compile()).add_edge(START, "sub")
    assert outer.compile().invoke({}) == {"log": ["inner"], "n": 7}


def test_deep_chain_keeps_cost_flat() -> None:
    # behaviour only: a 2000-node chain runs and sees every node once
    g = StateGraph(LogState)
    names = [f"n{i}" for i in range(2000)]
    for name in names:
        g.add_node(name, lambda s: {"n": s["n"] + 1})
    g.add_edge(START, names[0])
    for a, b in itertools.pairwise(names):
        g.add_edge(a, b)
    assert g.compile().invoke({"n": 0}, recursion_limit=2000) == {"n": 2000, "log": []}


def test_two_sends_writing_a_plain_key_conflict() -> None:
    class S(TypedDict, total=False):
        last: str

    g = StateGraph(S)
    g.add_node("worker", lambda arg: {"last": arg})
    g.add_conditional_edges(START, lambda s: [Send("worker", "a"), Send("worker", "b")])
    with pytest.raises(
        InvalidUpdateError, match="'last' received values from two tasks of node 'worker'"
    ):
        g.compile().invoke({})


def test_open_router_is_drawn_to_every_node() -> None:
    g = StateGraph(LogState)
    g.add_node(appender("a")).add_node(appender("b")).add_edge(START, "a")
    g.add_conditional_edges("a", lambda s: "b")
    view = g.compile().get_graph()
    targets = {e.target for e in view.edges if e.source == "a"}
    assert targets == {"a", "b", END}
    assert view.open_routers == ("a",)


def test_subgraph_interrupt_is_answered_through_the_parent_task() -> None:
    from wfkit import interrupt

    def ask(state: Any) -> dict[str, Any]:
        return {"log": [f"answer={interrupt('ok?')}"]}

    inner = StateGraph(LogState)
    inner.add_node("ask", ask).add_edge(START, "ask")
    outer = StateGraph(LogState)
    outer.add_node(appender("first")).add_node("team", inner.compile())
    outer.add_edge(START, "first").add_edge("first", "team")
    run = outer.compile().iter({})
    run.step()
    run.step()
    assert run.paused and [i.id for i in run.interrupts] == ["1:0:team"]
    run.resume({"1:0:team": "yes"})
    run.run_to_end()
    assert run.output() == {"log": ["first", "answer=yes"]}
