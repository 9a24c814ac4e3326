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
    with pytest.raises(InvalidInputError, match="unknown stream_mode 'message'; use one of values, updates, custom, messages"):
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
