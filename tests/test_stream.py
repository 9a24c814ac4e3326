"""stream/astream: every mode, several at once, subgraphs, and chunks made
inside nodes (custom writes, chat model tokens) relayed while the node runs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import LogState, appender
from wfkit import START, Command, InvalidInputError, StateGraph


def two_step() -> Any:
    g = StateGraph(LogState)
    g.add_node(appender("a")).add_node(appender("b")).add_node(appender("c"))
    g.add_edge(START, "a").add_edge("a", "b").add_edge("a", "c")
    return g.compile()


def test_default_mode_is_updates() -> None:
    assert list(two_step().stream({"n": 1})) == list(
        two_step().stream({"n": 1}, stream_mode="updates")
    )


def test_values_mode_yields_input_then_state_after_each_step() -> None:
    chunks = list(two_step().stream({"n": 1}, stream_mode="values"))
    assert chunks == [
        {"n": 1, "log": []},
        {"n": 1, "log": ["a"]},
        {"n": 1, "log": ["a", "b", "c"]},
    ]


def test_values_chunks_are_snapshots() -> None:
    chunks = list(two_step().stream({}, stream_mode="values"))
    assert [len(c["log"]) for c in chunks] == [0, 1, 3]


def test_updates_mode_yields_one_chunk_per_task() -> None:
    assert list(two_step().stream({}, stream_mode="updates")) == [
        {"a": {"log": ["a"]}},
        {"b": {"log": ["b"]}},
        {"c": {"log": ["c"]}},
    ]


def test_updates_of_command_and_none() -> None:
    g = StateGraph(LogState)
    g.add_node("cmd", lambda s: Command(update={"n": 2})).add_node("none", lambda s: None)
    g.add_edge(START, "cmd").add_edge("cmd", "none")
    assert list(g.compile().stream({}, stream_mode="updates")) == [
        {"cmd": {"n": 2}},
        {"none": None},
    ]


def test_debug_mode_events_without_a_checkpointer_are_tasks_only() -> None:
    events = list(two_step().stream({}, stream_mode="debug"))
    kinds = [(e["type"], e["step"]) for e in events]
    assert kinds == [
        ("task", 0),
        ("task_result", 0),
        ("task", 1),
        ("task", 1),
        ("task_result", 1),
        ("task_result", 1),
    ]
    assert events[0]["payload"] == {
        "id": "0:0:a",
        "name": "a",
        "input": {"log": []},
        "triggers": ("branch:to:a",),
    }
    assert events[-1]["payload"]["result"] == {"log": ["c"]}
    assert events[-1]["payload"]["error"] is None


def test_debug_mode_with_a_checkpointer_has_checkpoint_events() -> None:
    from wfkit.checkpoint.memory import MemoryCheckpointer

    app = two_step().topology
    from wfkit.workflow import Workflow

    wf = Workflow(app, checkpointer=MemoryCheckpointer())
    events = list(wf.stream({}, {"configurable": {"thread_id": "t"}}, stream_mode="debug"))
    checkpoints = [e["payload"] for e in events if e["type"] == "checkpoint"]
    assert [c["next"] for c in checkpoints] == [["a"], ["b", "c"], []]
    assert checkpoints[-1]["values"] == {"log": ["a", "b", "c"]}
    assert checkpoints[-1]["config"]["configurable"]["thread_id"] == "t"


def test_several_modes_yield_pairs() -> None:
    chunks = list(two_step().stream({}, stream_mode=["updates", "values"]))
    assert chunks[0] == ("values", {"log": []})
    assert chunks[1] == ("updates", {"a": {"log": ["a"]}})
    assert [mode for mode, _ in chunks].count("values") == 3


def test_unknown_stream_mode() -> None:
    with pytest.raises(
        InvalidInputError,
        match="unknown stream_mode 'message'; use one of values, updates, custom, messages",
    ):
        list(two_step().stream({}, stream_mode="message"))


def test_astream_matches_stream() -> None:
    app = two_step()

    async def collect() -> list[Any]:
        return [c async for c in app.astream({}, stream_mode=["values", "updates"])]

    assert asyncio.run(collect()) == list(app.stream({}, stream_mode=["values", "updates"]))


def test_stream_of_async_graph_from_sync_code() -> None:
    async def fetch(state: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"log": ["fetch"]}

    g = StateGraph(LogState)
    g.add_node("fetch", fetch).add_node(appender("after")).add_edge(START, "fetch").add_edge(
        "fetch", "after"
    )
    assert list(g.compile().stream({}, stream_mode="updates")) == [
        {"fetch": {"log": ["fetch"]}},
        {"after": {"log": ["after"]}},
    ]


# ---------------------------------------------------------------- chunks from inside nodes
def _waits_for_consumer(seen: Any) -> Any:
    """A node that writes a custom chunk, then waits until the consumer got it:
    only a stream that relays chunks while nodes run lets it finish in time."""
    from wfkit.config import get_stream_writer

    def node(state: Any) -> dict[str, Any]:
        get_stream_writer()("ping")
        return {"log": ["relayed" if seen.wait(5) else "late"]}

    return node


def test_custom_chunks_reach_the_caller_while_the_node_runs() -> None:
    import threading

    seen = threading.Event()
    g = StateGraph(LogState).add_node("w", _waits_for_consumer(seen)).add_edge(START, "w")
    out = []
    for mode, chunk in g.compile().stream({}, stream_mode=["custom", "updates"]):
        if chunk == "ping":
            seen.set()
        out.append((mode, chunk))
    assert out == [("custom", "ping"), ("updates", {"w": {"log": ["relayed"]}})]


def test_custom_chunks_reach_the_async_caller_while_the_node_runs() -> None:
    import threading

    seen = threading.Event()
    g = StateGraph(LogState).add_node("w", _waits_for_consumer(seen)).add_edge(START, "w")

    async def collect() -> list[Any]:
        out = []
        async for chunk in g.compile().astream({}, stream_mode=["custom", "updates"]):
            if chunk == ("custom", "ping"):
                seen.set()
            out.append(chunk)
        return out

    assert asyncio.run(collect())[-1] == ("updates", {"w": {"log": ["relayed"]}})


def test_stopping_a_live_stream_mid_step_lets_the_step_finish() -> None:
    from wfkit.config import get_stream_writer

    finished = []

    def node(state: Any) -> dict[str, Any]:
        get_stream_writer()("first")
        finished.append(True)
        return {}

    g = StateGraph(LogState).add_node("w", node).add_edge(START, "w")
    stream = g.compile().stream({}, stream_mode="custom")
    assert next(stream) == "first"
    stream.close()
    assert finished == [True]


def test_subgraph_chunks_carry_the_task_namespace() -> None:
    inner = StateGraph(LogState).add_node(appender("in")).add_edge(START, "in").compile()
    g = StateGraph(LogState).add_node("sub", inner).add_edge(START, "sub")
    chunks = list(g.compile().stream({}, subgraphs=True))
    assert chunks == [
        (("sub:0:0:sub",), {"in": {"log": ["in"]}}),
        ((), {"sub": {"log": ["in"]}}),
    ]


def test_values_chunk_of_a_dynamic_interrupt_has_the_state() -> None:
    from wfkit import interrupt
    from wfkit.checkpoint.memory import InMemorySaver

    def ask(state: Any) -> dict[str, Any]:
        return {"log": [interrupt("q")]}

    g = StateGraph(LogState).add_node("ask", ask).add_edge(START, "ask")
    app = g.compile(checkpointer=InMemorySaver())
    chunks = list(app.stream({"n": 1}, thread="t", stream_mode="values"))
    assert chunks[-1]["n"] == 1
    assert [i.value for i in chunks[-1]["__interrupt__"]] == ["q"]
