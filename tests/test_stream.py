"""stream/astream: values, updates and debug modes, several at once."""

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


def test_values_mode_yields_input_then_state_after_each_step() -> None:
    chunks = list(two_step().stream({"n": 1}))
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


def test_debug_mode_events() -> None:
    events = list(two_step().stream({}, stream_mode="debug"))
    kinds = [(e["type"], e["step"]) for e in events]
    assert kinds == [
        ("task", 0),
        ("task_result", 0),
        ("checkpoint", 1),
        ("task", 1),
        ("task", 1),
        ("task_result", 1),
        ("task_result", 1),
        ("checkpoint", 2),
    ]
    assert events[0]["payload"]["name"] == "a"
    assert events[2]["payload"]["next"] == ["b", "c"]
    assert events[-1]["payload"]["values"] == {"log": ["a", "b", "c"]}


def test_several_modes_yield_pairs() -> None:
    chunks = list(two_step().stream({}, stream_mode=["updates", "values"]))
    assert chunks[0] == ("values", {"log": []})
    assert chunks[1] == ("updates", {"a": {"log": ["a"]}})
    assert [mode for mode, _ in chunks].count("values") == 3


def test_unknown_stream_mode() -> None:
    with pytest.raises(InvalidInputError, match="unknown stream_mode 'messages'"):
        list(two_step().stream({}, stream_mode="messages"))


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
