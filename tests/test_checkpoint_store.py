"""One conformance suite for every checkpoint store (memory and DuckDB)."""

from __future__ import annotations

import asyncio
import json
import operator
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from wfkit import START, StateGraph
from wfkit.checkpoint import Checkpointer, DuckDBCheckpointer, MemoryCheckpointer
from wfkit.checkpoint.base import WRITE_COLUMNS, new_id


@pytest.fixture(params=["memory", "duckdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Checkpointer]:
    if request.param == "memory":
        s: Any = MemoryCheckpointer()
    else:
        s = DuckDBCheckpointer(tmp_path / "sub" / "runs.duckdb")
    yield s
    s.close()


def cp_row(thread: str, cid: str, parent: str | None, step: int) -> tuple[Any, ...]:
    return (
        thread,
        cid,
        parent,
        "run",
        step,
        "loop",
        "[]",
        "[]",
        "[]",
        json.dumps({"k": step}),
        "{}",
        "{}",
        1.5,
    )


def test_protocol_is_implemented(store: Checkpointer) -> None:
    assert isinstance(store, Checkpointer)


def test_rows_round_trip(store: Checkpointer) -> None:
    ids = [new_id() for _ in range(3)]
    store.put([cp_row("t", ids[0], None, 0)], [("t", ids[0], "k", 1, None, "set", '"a"')], [])
    store.put([cp_row("t", ids[1], ids[0], 1)], [("t", ids[1], "k", 2, 1, "append", '"b"')], [])
    store.put([cp_row("t", ids[2], ids[1], 2), cp_row("other", new_id(), None, 0)], [], [])
    write = (
        "t",
        ids[1],
        "run",
        1,
        "1:0:n",
        0,
        "n",
        1,
        None,
        '{"k": "b"}',
        "done",
        None,
        None,
        None,
        None,
        1.0,
        2.0,
        3.0,
    )
    store.wait(store.put([], [], [write]))
    assert store.get_checkpoint("t")[1] == ids[2]
    assert store.get_checkpoint("t", ids[0])[4] == 0
    assert store.get_checkpoint("t", "missing") is None
    assert store.get_checkpoint("nobody") is None
    assert [r[1] for r in store.list_checkpoints("t")] == ids[::-1]
    assert [r[1] for r in store.list_checkpoints("t", limit=1)] == [ids[2]]
    assert [r[1] for r in store.list_checkpoints("t", before=ids[2])] == [ids[1], ids[0]]
    assert store.has_children("t", ids[0]) and not store.has_children("t", ids[2])
    assert sorted(r[3] for r in store.get_values("t", ["k"])) == [1, 2]
    assert store.max_version("t") == 2 and store.max_version("nobody") == 0
    (row,) = store.get_writes("t", ids[1])
    assert dict(zip(WRITE_COLUMNS, row, strict=True))["result"] == '{"k": "b"}'
    assert store.threads() == ["other", "t"]
    store.delete_thread("t")
    assert store.get_checkpoint("t") is None and store.threads() == ["other"]


class Chat(TypedDict, total=False):
    messages: Annotated[list[str], operator.add]
    turns: int


def chat_graph() -> StateGraph:
    def reply(state: Any) -> dict[str, Any]:
        return {"messages": [f"echo {state['messages'][-1]}"], "turns": state.get("turns", 0) + 1}

    g = StateGraph(Chat)
    g.add_node("reply", reply).add_edge(START, "reply")
    return g


def test_thread_continues_across_invokes(store: Checkpointer) -> None:
    app = chat_graph().compile(checkpointer=store)
    app.invoke({"messages": ["hi"]}, thread="c1")
    out = app.invoke({"messages": ["again"]}, thread="c1")
    assert out == {"messages": ["hi", "echo hi", "again", "echo again"], "turns": 2}
    assert app.get_state({"configurable": {"thread_id": "c1"}}).values == out
    assert app.invoke({"messages": ["x"]}, thread="c2")["turns"] == 1


@pytest.mark.parametrize(
    "thread", ["it's", 'a"b', "x'); DROP TABLE wf_checkpoints; --", "ünï ☃", "%_*"]
)
def test_thread_ids_with_sql_metacharacters(store: Checkpointer, thread: str) -> None:
    app = chat_graph().compile(checkpointer=store)
    app.invoke({"messages": ["hi"]}, thread=thread)
    app.invoke({"messages": ["hi"]}, thread="plain")
    config = {"configurable": {"thread_id": thread}}
    assert app.get_state(config).values["messages"] == ["hi", "echo hi"]
    assert len(list(app.get_state_history(config))) == 2
    assert sorted(store.threads()) == sorted([thread, "plain"])


def test_metadata_filter_keys_with_metacharacters(store: Checkpointer) -> None:
    app = chat_graph().compile(checkpointer=store)
    app.invoke({"messages": ["hi"]}, thread="f")
    config = {"configurable": {"thread_id": "f"}}
    assert [
        s.metadata["source"] for s in app.get_state_history(config, filter={"source": "loop"})
    ] == ["loop"]
    assert list(app.get_state_history(config, filter={"source'; --": "x"})) == []


def test_history_is_newest_first_with_limit_and_before(store: Checkpointer) -> None:
    app = chat_graph().compile(checkpointer=store)
    for text in ("a", "b"):
        app.invoke({"messages": [text]}, thread="h")
    config = {"configurable": {"thread_id": "h"}}
    history = list(app.get_state_history(config))
    assert [s.metadata["source"] for s in history] == ["loop", "input", "loop", "input"]
    assert [len(s.values["messages"]) for s in history] == [4, 3, 2, 1]
    assert history[0].parent_config == history[1].config
    assert len(list(app.get_state_history(config, limit=2))) == 2
    older = list(app.get_state_history(config, before=history[1].config))
    assert [s.config for s in older] == [s.config for s in history[2:]]


def test_frames(store: Checkpointer) -> None:
    app = chat_graph().compile(checkpointer=store)
    app.invoke({"messages": ["a"]}, thread="p")
    config = {"configurable": {"thread_id": "p"}}
    writes = app.node_writes(config)
    assert writes.columns == list(WRITE_COLUMNS)
    assert writes.select("node", "status").rows() == [("reply", "done")]
    assert json.loads(writes["result"][0]) == {"messages": ["echo a"], "turns": 1}
    history = app.history_frame(config)
    assert history["source"].to_list() == ["loop", "input"]
    assert json.loads(history["values"][0]) == {"messages": ["a", "echo a"], "turns": 1}


def test_concurrent_async_runs_on_distinct_threads(store: Checkpointer) -> None:
    async def slow(state: Any) -> dict[str, Any]:
        await asyncio.sleep(0.001)
        return {"messages": [state["messages"][0].upper()]}

    g = StateGraph(Chat)
    g.add_node("slow", slow).add_edge(START, "slow")
    app = g.compile(checkpointer=store)

    async def main() -> list[dict[str, Any]]:
        return await asyncio.gather(
            *(app.ainvoke({"messages": [f"m{i}"]}, thread=f"t{i}") for i in range(1000))
        )

    results = asyncio.run(main())
    assert all(r["messages"] == [f"m{i}", f"M{i}"] for i, r in enumerate(results))
    for i in range(0, 1000, 37):
        history = list(app.get_state_history({"configurable": {"thread_id": f"t{i}"}}))
        assert [s.values["messages"] for s in history] == [[f"m{i}", f"M{i}"], [f"m{i}"]]
    assert len(store.threads()) == 1000
