"""Subgraphs' and nested calls' own checkpoints (``wfkit.threads.lineage``):
what the compatibility cases (``tests/compat/test_subgraphs.py``) do not
compare with LangGraph: the writes a resumed subgraph hands its parent
(wfkit passes them through the parent's reducers), the stored form, the
store's thread listing and deletion, the stepping API, answers by id, and
the graphs a node's code calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import LogState, appender
from wfkit import END, START, Command, RetryPolicy, StateGraph, interrupt
from wfkit.checkpoint import DuckDBCheckpointer, MemoryCheckpointer
from wfkit.errors import InvalidInputError

CFG = {"configurable": {"thread_id": "t1"}}


@pytest.fixture(params=["memory", "duckdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "memory":
        yield MemoryCheckpointer()
        return
    s = DuckDBCheckpointer(tmp_path / "runs.duckdb")
    yield s
    s.close()


class Counter:
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def node(self, name: str) -> Any:
        def fn(state: Any) -> dict[str, Any]:
            self.calls[name] = self.calls.get(name, 0) + 1
            return {"log": [name]}

        return fn

    def asks(self, name: str) -> Any:
        def fn(state: Any) -> dict[str, Any]:
            self.calls[name] = self.calls.get(name, 0) + 1
            return {"log": [f"{name}={interrupt(name + '?')}"]}

        return fn


def team(c: Counter, **compile_kw: Any) -> Any:
    """research -> approve (asks) -> send, each appending to ``log``."""
    g = StateGraph(LogState, name="team")
    g.add_node("research", c.node("research"))
    g.add_node("approve", c.asks("approve"))
    g.add_node("send", c.node("send"))
    g.add_edge(START, "research").add_edge("research", "approve").add_edge("approve", "send")
    return g.compile(**compile_kw)


def parent(sub: Any, store: Any) -> Any:
    g = StateGraph(LogState)
    g.add_node(appender("plan")).add_node(sub).add_node(appender("review"))
    g.add_edge(START, "plan").add_edge("plan", "team").add_edge("team", "review")
    g.add_edge("review", END)
    return g.compile(checkpointer=store)


# ---------------------------------------------------------------- the parent's writes


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_resumed_subgraph_hands_the_parent_each_write_once(store: Any, durability: str) -> None:
    c = Counter()
    app = parent(team(c), store)
    first = app.invoke({"log": []}, CFG, durability=durability)
    assert first["log"] == ["plan"] and "__interrupt__" in first
    done = app.invoke(Command(resume="yes"), CFG, durability=durability)
    # research's write, made before the pause, reaches the parent once, in order
    assert done["log"] == ["plan", "research", "approve=yes", "send", "review"]
    assert c.calls == {"research": 1, "approve": 2, "send": 1}


def test_subgraph_paused_twice_hands_the_parent_each_write_once(store: Any) -> None:
    c = Counter()
    g = StateGraph(LogState, name="team")
    g.add_node("first", c.asks("first")).add_node("mid", c.node("mid"))
    g.add_node("second", c.asks("second"))
    g.add_edge(START, "first").add_edge("first", "mid").add_edge("mid", "second")
    app = parent(g.compile(), store)
    app.invoke({"log": []}, CFG)
    app.invoke(Command(resume="a"), CFG)
    done = app.invoke(Command(resume="b"), CFG)
    assert done["log"] == ["plan", "first=a", "mid", "second=b", "review"]
    assert c.calls == {"first": 2, "mid": 1, "second": 2}


def test_stored_namespace_rows(tmp_path: Path) -> None:
    path = tmp_path / "runs.duckdb"
    with DuckDBCheckpointer(path) as store:
        app = parent(team(Counter()), store)
        app.invoke({"log": []}, CFG)
        assert store.threads() == ["t1"]
    con = duckdb.connect(str(path), read_only=True)
    rows = con.execute(
        "SELECT DISTINCT split_part(thread_id, chr(31), 1), split_part(thread_id, chr(31), 2) "
        "FROM wf_checkpoints ORDER BY 2"
    ).fetchall()
    assert rows == [("t1", ""), ("t1", "team:1:0:team")]
    view = con.execute("SELECT thread_id, checkpoints, namespaces FROM wf_threads").fetchall()
    assert view == [("t1", 3, 1)]  # input, after plan, before team; one namespace
    con.close()


def test_delete_thread_deletes_its_namespaces(store: Any) -> None:
    app = parent(team(Counter()), store)
    app.invoke({"log": []}, CFG)
    app.invoke({"log": []}, {"configurable": {"thread_id": "t2"}})
    sub = app.get_state(CFG).tasks[0].state
    assert app.get_state(sub).values
    store.delete_thread("t1")
    assert store.threads() == ["t2"]
    assert app.get_state(sub).values == {}  # its subgraph's checkpoints went with it
    t2 = app.get_state({"configurable": {"thread_id": "t2"}}).tasks[0].state
    assert app.get_state(t2).next == ("approve",)


def test_a_thread_id_with_the_unit_separator_is_refused() -> None:
    app = parent(team(Counter()), MemoryCheckpointer())
    with pytest.raises(InvalidInputError, match="unit separator"):
        app.invoke({"log": []}, thread="t1\x1fteam:1:0:team")


def test_schema_2_file_gets_the_threads_view_of_schema_3(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    DuckDBCheckpointer(path).close()
    con = duckdb.connect(str(path))  # make it a schema 2 file, with schema 2's view
    con.execute("UPDATE wf_meta SET value = '2' WHERE key = 'schema_version'")
    con.execute(
        "CREATE OR REPLACE VIEW wf_threads AS SELECT thread_id, count(*) AS checkpoints, "
        "min(created_at) AS created_at, max(created_at) AS updated_at, "
        "max(checkpoint_id) AS latest_checkpoint_id FROM wf_checkpoints GROUP BY thread_id"
    )
    con.close()
    with DuckDBCheckpointer(path) as store:
        parent(team(Counter()), store).invoke({"log": []}, CFG)
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT value FROM wf_meta WHERE key = 'schema_version'").fetchone() == (
        "3",
    )
    assert con.execute("SELECT thread_id, namespaces FROM wf_threads").fetchall() == [("t1", 1)]
    con.close()


# ---------------------------------------------------------------- reading namespaces


def test_update_state_of_a_namespace_is_refused() -> None:
    app = parent(team(Counter()), MemoryCheckpointer())
    app.invoke({"log": []}, CFG)
    sub = app.get_state(CFG).tasks[0].state
    with pytest.raises(InvalidInputError, match="checkpoint_ns"):
        app.update_state(sub, {"log": ["x"]})
    with pytest.raises(InvalidInputError, match="checkpoint_ns"):
        app.get_state({"configurable": {"thread_id": "t1", "checkpoint_ns": 7}})


def test_history_snapshots_name_their_subgraph_tasks_namespaces() -> None:
    app = parent(team(Counter()), MemoryCheckpointer())
    app.invoke({"log": []}, CFG)
    states = [t.state for s in app.get_state_history(CFG) for t in s.tasks if t.name == "team"]
    assert states == [{"configurable": {"thread_id": "t1", "checkpoint_ns": "team:1:0:team"}}]


# ---------------------------------------------------------------- resuming


def test_stepping_api_resumes_the_subgraph_where_it_paused() -> None:
    c = Counter()
    run = parent(team(c), MemoryCheckpointer()).iter({"log": []}, CFG)
    for _ in run:
        pass
    assert run.paused
    run.resume("ok")
    for _ in run:
        pass
    assert run.done and run.output()["log"] == ["plan", "research", "approve=ok", "send", "review"]
    assert c.calls == {"research": 1, "approve": 2, "send": 1}


def test_without_a_checkpointer_a_resumed_subgraph_runs_again_from_its_start() -> None:
    c = Counter()
    g = StateGraph(LogState)
    g.add_node(team(c)).add_edge(START, "team")
    run = g.compile().iter({"log": []})
    for _ in run:
        pass
    run.resume("ok")
    for _ in run:
        pass
    assert run.done and c.calls == {"research": 2, "approve": 2, "send": 1}


def test_parallel_subgraphs_answered_by_id_each_resume_where_they_paused(store: Any) -> None:
    c1, c2 = Counter(), Counter()
    g = StateGraph(LogState)
    g.add_node("legal", team(c1)).add_node("finance", team(c2))
    g.add_edge(START, "legal").add_edge(START, "finance")
    app = g.compile(checkpointer=store)
    ids = {i.id: i for i in app.invoke({"log": []}, CFG)["__interrupt__"]}
    assert sorted(ids) == ["0:0:legal", "0:1:finance"]
    out = app.invoke(Command(resume={"0:1:finance": "f"}), CFG)
    assert [i.id for i in out["__interrupt__"]] == ["0:0:legal"]
    assert out["log"] == ["research", "approve=f", "send"]  # finance's writes, pending
    done = app.invoke(Command(resume={"0:0:legal": "l"}), CFG)
    assert done["log"] == ["research", "approve=l", "send", "research", "approve=f", "send"]
    assert c1.calls == c2.calls == {"research": 1, "approve": 2, "send": 1}


def test_a_graph_a_node_reaches_through_an_attribute_runs_again_from_its_start() -> None:
    c = Counter()
    tools = type("Tools", (), {})()
    tools.team = team(c)  # found at run time only: not in the node's code

    def delegate(state: Any) -> dict[str, Any]:
        return {"log": tools.team.invoke({"log": []})["log"]}

    g = StateGraph(LogState)
    g.add_node("delegate", delegate).add_edge(START, "delegate")
    app = g.compile(checkpointer=MemoryCheckpointer())
    assert app.topology.by_name["delegate"].calls == ()  # `tools` is a global: not a graph
    app.invoke({"log": []}, CFG)
    assert app.invoke(Command(resume="y"), CFG)["log"] == ["research", "approve=y", "send"]
    assert c.calls == {"research": 2, "approve": 2, "send": 1}  # documented: no checkpoints


async def test_async_nested_call_resumes_where_it_paused() -> None:
    c = Counter()
    inner = team(c)

    async def delegate(state: Any) -> dict[str, Any]:
        return {"log": (await inner.ainvoke({"log": []}))["log"]}

    g = StateGraph(LogState)
    g.add_node("delegate", delegate).add_edge(START, "delegate")
    app = g.compile(checkpointer=MemoryCheckpointer())
    await app.ainvoke({"log": []}, CFG)
    snap = await app.aget_state(CFG, subgraphs=True)
    assert snap.tasks[0].state.next == ("approve",)
    done = await app.ainvoke(Command(resume="y"), CFG)
    assert done["log"] == ["research", "approve=y", "send"]
    assert c.calls == {"research": 1, "approve": 2, "send": 1}


def test_nested_stream_resumes_where_it_paused() -> None:
    c = Counter()
    inner = team(c)

    def delegate(state: Any) -> dict[str, Any]:
        chunks = list(inner.stream({"log": []}, stream_mode="values"))
        return {"log": chunks[-1]["log"]}

    g = StateGraph(LogState)
    g.add_node("delegate", delegate).add_edge(START, "delegate")
    app = g.compile(checkpointer=MemoryCheckpointer())
    app.invoke({"log": []}, CFG)
    assert app.invoke(Command(resume="y"), CFG)["log"] == ["research", "approve=y", "send"]
    assert c.calls == {"research": 1, "approve": 2, "send": 1}


# ---------------------------------------------------------------- the graphs a node calls


class _Anything:
    """Answers every attribute: not a graph for all that."""

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None


_GLOBAL_GRAPH: Any = None
_PROXY = _Anything()


def _uses_global(state: Any) -> Any:
    return _GLOBAL_GRAPH.invoke(state)


def _uses_proxy(state: Any) -> Any:
    return _PROXY.invoke(state)


def test_the_graphs_a_node_calls_are_found_in_its_code(monkeypatch: pytest.MonkeyPatch) -> None:
    inner = team(Counter())
    monkeypatch.setattr(__import__(__name__, fromlist=["_"]), "_GLOBAL_GRAPH", inner)

    def closure(state: Any) -> Any:
        return inner.invoke(state)

    def default(state: Any, graph: Any = inner) -> Any:
        return graph.invoke(state)

    class Tool:
        def __call__(self, state: Any) -> Any:
            return inner.invoke(state)

    g = StateGraph(LogState)
    nodes = {
        "closure": closure,
        "default": default,
        "global": _uses_global,
        "method": inner.invoke,
        "tool": Tool(),
        "proxy": _uses_proxy,
        "plain": appender("plain"),
    }
    for name, fn in nodes.items():
        g.add_node(name, fn).add_edge(START, name)
    topology = g.compile().topology
    found = {n.name: n.calls for n in topology.nodes}
    assert {k: [w is inner for w in v] for k, v in found.items()} == {
        "closure": [True],
        "default": [True],
        "global": [True],
        "method": [True],
        "tool": [True],
        "proxy": [],
        "plain": [],
    }
    # plain all the same: without a checkpointer they stay on the hot path
    plain = [n.name for n in topology.nodes if n.plain]
    assert plain == ["closure", "default", "global", "tool", "proxy", "plain"]  # not "method":
    assert topology.calls_graphs  # Workflow.invoke takes `config`
    assert (
        not StateGraph(LogState)
        .add_node(appender("a"))
        .add_edge(START, "a")
        .compile()
        .topology.nests
    )


def test_a_nested_graph_run_again_does_not_take_the_nodes_own_answers() -> None:
    """The inner graph's nodes never read the calling task's answers: here
    the inner graph runs again from its start (a retry after its failure,
    under ``exit``, where its finished run was not stored), and its question
    is asked again rather than answered with the node's own answer."""
    calls: dict[str, int] = {}

    def ask(state: Any) -> dict[str, Any]:
        calls["ask"] = calls.get("ask", 0) + 1
        return {"log": [f"ask={interrupt('inner?')}"]}

    def flaky(state: Any) -> dict[str, Any]:
        calls["flaky"] = calls.get("flaky", 0) + 1
        if calls["flaky"] == 2:
            raise ConnectionError("once")
        return {"log": ["flaky"]}

    g = StateGraph(LogState)
    g.add_node("ask", ask).add_node("flaky", flaky)
    g.add_edge(START, "ask").add_edge("ask", "flaky")
    inner = g.compile()

    def node(state: Any) -> dict[str, Any]:
        log = inner.invoke({"log": []})["log"]
        return {"log": [*log, f"own={interrupt('own?')}"]}

    outer = StateGraph(LogState)
    retry = RetryPolicy(initial_interval=0.01, retry_on=ConnectionError)
    outer.add_node("node", node, retry_policy=retry).add_edge(START, "node")
    app = outer.compile(checkpointer=MemoryCheckpointer())
    out = app.invoke({"log": []}, CFG, durability="exit")
    asked = []
    for answer in ["B", "C", "D"]:
        asked.append([i.value for i in out["__interrupt__"]])
        out = app.invoke(Command(resume=answer), CFG, durability="exit")
    assert asked == [["inner?"], ["own?"], ["inner?"]]
    assert out["log"] == ["ask=D", "flaky", "own=C"]
