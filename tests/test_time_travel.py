"""Durable runs: failure and resume, interrupts, forks and replay — on
every store."""

from __future__ import annotations

import operator
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from wfkit import END, START, Command, InvalidInputError, StateGraph, interrupt
from wfkit.checkpoint import DuckDBCheckpointer, MemoryCheckpointer
from wfkit.errors import CheckpointerRequiredError, InvalidUpdateError, RouterError


class S(TypedDict, total=False):
    topic: str
    log: Annotated[list[str], operator.add]
    approved: str


@pytest.fixture(params=["memory", "duckdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    s: Any = (
        MemoryCheckpointer()
        if request.param == "memory"
        else DuckDBCheckpointer(tmp_path / "r.duckdb")
    )
    yield s
    s.close()


class Counter:
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def node(self, name: str, fail_first: int = 0) -> Any:
        def fn(state: Any) -> dict[str, Any]:
            self.calls[name] = self.calls.get(name, 0) + 1
            if self.calls[name] <= fail_first:
                raise ConnectionError(f"{name} is down")
            return {"log": [name]}

        return fn


CFG = {"configurable": {"thread_id": "t1"}}


def test_failed_sibling_resumes_without_rerunning_finished_nodes(store: Any) -> None:
    c = Counter()
    g = StateGraph(S)
    g.add_node("plan", c.node("plan")).add_node("ok", c.node("ok")).add_node(
        "flaky", c.node("flaky", fail_first=1)
    )
    g.add_node("join", c.node("join"))
    g.add_edge(START, "plan").add_edge("plan", "ok").add_edge("plan", "flaky").add_edge(
        ["ok", "flaky"], "join"
    )
    app = g.compile(checkpointer=store)
    with pytest.raises(ConnectionError):
        app.invoke({"topic": "x"}, CFG)
    snap = app.get_state(CFG)  # the head, as LangGraph shows it: ok's write applied
    assert snap.next == ("flaky",) and snap.values["log"] == ["plan", "ok"]
    assert [(t.name, t.status) for t in snap.tasks] == [("ok", "done"), ("flaky", "failed")]
    recorded = app.get_state(snap.config)  # the checkpoint itself: the state before the step
    assert recorded.next == ("ok", "flaky") and recorded.values["log"] == ["plan"]
    assert snap.tasks[1].error == "ConnectionError: flaky is down"
    out = app.invoke(None, CFG)
    assert out["log"] == ["plan", "ok", "flaky", "join"]
    assert c.calls == {"plan": 1, "ok": 1, "flaky": 2, "join": 1}
    statuses = app.node_writes(CFG).select("node", "status").rows()
    assert statuses.count(("flaky", "failed")) == 1 and statuses.count(("ok", "done")) == 1


def ask_graph(store: Any, **kw: Any) -> Any:
    def ask(state: Any) -> dict[str, Any]:
        return {"approved": interrupt({"question": f"publish {state['topic']}?"})}

    c = Counter()
    g = StateGraph(S)
    g.add_node("draft", c.node("draft")).add_node("ask", ask).add_node("publish", c.node("publish"))
    g.add_edge(START, "draft").add_edge("draft", "ask").add_edge("ask", "publish").add_edge(
        "publish", END
    )
    return g.compile(checkpointer=store, **kw)


def test_interrupt_pauses_and_command_resume_continues(store: Any) -> None:
    app = ask_graph(store)
    out = app.invoke({"topic": "wfkit"}, CFG)
    assert out["__interrupt__"][0].value == {"question": "publish wfkit?"}
    snap = app.get_state(CFG)
    assert snap.next == ("ask",) and snap.interrupts[0].value == {"question": "publish wfkit?"}
    assert app.invoke(None, CFG)["__interrupt__"]  # still waiting for an answer
    out = app.invoke(Command(resume="yes"), CFG)
    assert out == {"topic": "wfkit", "log": ["draft", "publish"], "approved": "yes"}
    with pytest.raises(InvalidInputError, match="no pending interrupt"):
        app.invoke(Command(resume="again"), CFG)


def test_parallel_interrupts_resume_together_or_by_id(store: Any) -> None:
    def asker(name: str) -> Any:
        return lambda state: {"log": [f"{name}={interrupt(name)}"]}

    g = StateGraph(S)
    g.add_node("x", asker("x")).add_node("y", asker("y")).add_edge(START, "x").add_edge(START, "y")
    app = g.compile(checkpointer=store)
    out = app.invoke({}, CFG)
    ids = {i.value: i.id for i in out["__interrupt__"]}
    out = app.invoke(Command(resume={ids["y"]: "Y"}), CFG)
    assert [i.value for i in out["__interrupt__"]] == ["x"]
    assert app.invoke(Command(resume="X"), CFG)["log"] == ["x=X", "y=Y"]

    other = {"configurable": {"thread_id": "t2"}}
    app.invoke({}, other)
    assert app.invoke(Command(resume="both"), other)["log"] == ["x=both", "y=both"]


def test_interrupt_before_and_after_with_checkpointer(store: Any) -> None:
    app = ask_graph(store, interrupt_before=["publish"])
    app.invoke({"topic": "t"}, CFG)
    app.invoke(Command(resume="ok"), CFG)
    assert app.get_state(CFG).next == ("publish",)
    assert app.invoke(None, CFG)["log"] == ["draft", "publish"]

    app = ask_graph(store, interrupt_after=["draft"])
    cfg = {"configurable": {"thread_id": "t3"}}
    assert app.invoke({"topic": "t"}, cfg) == {"topic": "t", "log": ["draft"]}
    assert app.get_state(cfg).next == ("ask",)


def test_fork_leaves_the_original_branch_untouched(store: Any) -> None:
    app = ask_graph(store)
    app.invoke({"topic": "first"}, CFG)
    app.invoke(Command(resume="yes"), CFG)
    history = list(app.get_state_history(CFG))
    before = [(s.config, s.values, s.next) for s in history]
    at_ask = next(s for s in history if s.next == ("ask",))
    fork_cfg = app.update_state(at_ask.config, {"topic": "second"})
    assert app.get_state(fork_cfg).values["topic"] == "second"
    assert app.get_state(fork_cfg).metadata["source"] == "update"  # LangGraph's source
    assert app.get_state(fork_cfg).parent_config == at_ask.config
    app.invoke(None, fork_cfg)
    out = app.invoke(Command(resume="no"), CFG)
    assert out["topic"] == "second" and out["approved"] == "no"
    for config, values, nxt in before:
        again = app.get_state(config)
        assert (again.values, again.next) == (values, nxt)


def test_replay_from_a_checkpoint_reruns_later_nodes(store: Any) -> None:
    c = Counter()
    g = StateGraph(S)
    for n in ("a", "b", "c"):
        g.add_node(n, c.node(n))
    g.add_edge(START, "a").add_edge("a", "b").add_edge("b", "c")
    app = g.compile(checkpointer=store)
    app.invoke({}, CFG)
    at_b = next(s for s in app.get_state_history(CFG) if s.next == ("b",))
    out = app.invoke(None, at_b.config)
    assert out["log"] == ["a", "b", "c"]
    assert c.calls == {"a": 1, "b": 2, "c": 2}


def _branch(app: Any) -> list[tuple[Any, ...]]:
    """Every checkpoint of the thread with its tasks' status and result."""
    return [
        (s.config, s.values, s.next, [(t.name, t.status, t.result) for t in s.tasks])
        for s in app.get_state_history(CFG)
    ]


def test_a_replay_that_reaches_an_interrupt_forks_and_can_be_resumed(store: Any) -> None:
    app = ask_graph(store)
    app.invoke({"topic": "wfkit"}, CFG)
    app.invoke(Command(resume="yes"), CFG)
    before = _branch(app)
    at_ask = next(s for s in app.get_state_history(CFG) if s.next == ("ask",))
    assert [(t.status, t.result) for t in at_ask.tasks] == [("done", {"approved": "yes"})]
    out = app.invoke(None, at_ask.config)  # replay: interrupt() asks again
    assert out["__interrupt__"][0].value == {"question": "publish wfkit?"}
    head = app.get_state(CFG)
    assert head.metadata["source"] == "fork" and head.next == ("ask",)
    assert head.parent_config == at_ask.config
    assert [t.status for t in head.tasks] == ["interrupted"]
    for config, values, nxt, tasks in before:  # the old branch never changes
        again = app.get_state(config)
        assert (again.values, again.next) == (values, nxt)
        assert [(t.name, t.status, t.result) for t in again.tasks] == tasks
    out = app.invoke(Command(resume="no"), CFG)
    assert out["approved"] == "no" and out["log"] == ["draft", "publish"]
    assert app.get_state(at_ask.config).tasks[0].result == {"approved": "yes"}


def test_a_replay_writes_its_task_rows_on_a_fork(store: Any) -> None:
    c = Counter()
    g = StateGraph(S)
    for n in ("a", "b"):
        g.add_node(n, c.node(n))
    g.add_edge(START, "a").add_edge("a", "b")
    app = g.compile(checkpointer=store)
    app.invoke({}, CFG)
    at_b = next(s for s in app.get_state_history(CFG) if s.next == ("b",))
    swapped = app.replace_node("b", lambda state: {"log": ["b2"]})
    assert swapped.invoke(None, at_b.config)["log"] == ["a", "b2"]
    assert app.get_state(at_b.config).tasks[0].result == {"log": ["b"]}  # as it was
    fork = next(s for s in app.get_state_history(CFG) if s.metadata["source"] == "fork")
    assert fork.parent_config == at_b.config and fork.next == ("b",)
    assert fork.tasks[0].result == {"log": ["b2"]}


def test_update_state_as_node_moves_on(store: Any) -> None:
    app = ask_graph(store)
    app.invoke({"topic": "t"}, CFG)
    cfg = app.update_state(CFG, {"approved": "by hand"}, as_node="ask")
    snap = app.get_state(cfg)
    assert snap.next == ("publish",) and snap.metadata["source"] == "update"
    assert app.invoke(None, cfg) == {
        "topic": "t",
        "log": ["draft", "publish"],
        "approved": "by hand",
    }


def test_errors_name_the_thread_and_fix(store: Any) -> None:
    app = ask_graph(store)
    with pytest.raises(InvalidInputError, match="needs a thread id"):
        app.invoke({"topic": "t"})
    with pytest.raises(
        InvalidInputError, match="thread 'nobody' has no checkpoint to continue from"
    ):
        app.invoke(None, {"configurable": {"thread_id": "nobody"}})
    with pytest.raises(InvalidInputError, match="has no checkpoint 'nope'"):
        app.get_state({"configurable": {"thread_id": "t1", "checkpoint_id": "nope"}})
    assert app.get_state({"configurable": {"thread_id": "fresh"}}).values == {}
    plain = StateGraph(S).add_node("n", lambda s: None).add_edge(START, "n").compile()
    with pytest.raises(CheckpointerRequiredError, match=r"get_state\(\) needs a checkpointer"):
        plain.get_state(CFG)


def test_command_input_resumes_then_applies_update_and_goto(store: Any) -> None:
    app = ask_graph(store)
    app.invoke({"topic": "t"}, CFG)
    out = app.invoke(Command(resume="yes", update={"topic": "u"}), CFG)
    # the update is applied before the answered task runs again; ask's answer, then publish
    assert out == {"topic": "u", "log": ["draft", "publish"], "approved": "yes"}
    out = app.invoke(Command(goto="publish", update={"log": ["again"]}), CFG)
    assert out["log"] == ["draft", "publish", "again", "publish"]
    with pytest.raises(InvalidUpdateError, match=r"as_node='nope'\): no such node"):
        app.update_state(CFG, {}, as_node="nope")
    with pytest.raises(InvalidInputError, match=r"Command\(graph=...\)"):
        app.invoke(Command(graph=Command.PARENT, goto="publish"), CFG)
    with pytest.raises(RouterError, match="not a node of this graph"):
        app.invoke(Command(goto="nope"), CFG)


def test_command_resume_at_a_static_breakpoint_goes_on(store: Any) -> None:
    app = ask_graph(store, interrupt_before=["ask"])
    app.invoke({"topic": "t"}, CFG)
    assert app.get_state(CFG).next == ("ask",)
    out = app.invoke(Command(resume="ignored"), CFG)  # nothing asked yet: the run goes on
    assert out["__interrupt__"][0].value == {"question": "publish t?"}
    app.invoke(Command(resume="yes"), CFG)
    with pytest.raises(InvalidInputError, match="no pending interrupt"):
        app.invoke(Command(resume="again"), CFG)  # a finished thread has nothing waiting


def test_input_checkpoint_and_step_numbers(store: Any) -> None:
    app = ask_graph(store)
    app.invoke({"topic": "t"}, CFG)
    app.invoke(Command(resume="yes"), CFG)
    app.invoke({"topic": "u"}, CFG)
    rows = [(s.metadata["step"], s.metadata["source"], s.next) for s in app.get_state_history(CFG)]
    assert rows == [
        (6, "loop", ("ask",)),
        (5, "loop", ("draft",)),
        (4, "input", ("__start__",)),
        (3, "loop", ()),
        (2, "loop", ("publish",)),
        (1, "loop", ("ask",)),
        (0, "loop", ("draft",)),
        (-1, "input", ("__start__",)),
    ]
    second_input = app.get_state_history(CFG, filter={"step": 4})
    (task,) = next(iter(second_input)).tasks
    assert (task.name, task.status, task.result) == ("__start__", "done", {"topic": "u"})
    # node_writes lists node executions, not the input's row
    assert "__start__" not in app.node_writes(CFG)["node"].to_list()


def test_replaying_an_input_checkpoint_applies_its_input_again(store: Any) -> None:
    app = ask_graph(store, interrupt_before=["ask"])
    app.invoke({"topic": "t", "log": ["in"]}, CFG)
    first = list(app.get_state_history(CFG))[-1]
    out = app.invoke(None, first.config)
    assert out == {"topic": "t", "log": ["in", "draft"]}
    fork = next(iter(app.get_state_history(CFG, filter={"source": "fork"})))
    assert (fork.metadata["step"], fork.next, fork.parent_config) == (
        0,
        ("__start__",),
        first.config,
    )
    assert fork.tasks[0].result == {"topic": "t", "log": ["in"]}


def test_update_state_infers_the_node_that_wrote_the_checkpoint(store: Any) -> None:
    app = ask_graph(store, interrupt_before=["ask"])
    app.invoke({"topic": "t"}, CFG)
    cfg = app.update_state(CFG, {"log": ["edited"]})  # as "draft", which wrote it: ask next
    assert app.get_state(cfg).next == ("ask",)
    again = app.update_state(CFG, {"log": ["twice"]})  # an update's writer is its as_node
    assert app.get_state(again).next == ("ask",)
    assert app.get_state(again).values["log"] == ["draft", "edited", "twice"]
    app.update_state(CFG, None, as_node=END)
    assert app.get_state(CFG).next == ()
    with pytest.raises(InvalidUpdateError, match="END takes no values"):
        app.update_state(CFG, {"topic": "x"}, as_node=END)
    # a new thread: the update is its first checkpoint, acting as START
    new = {"configurable": {"thread_id": "new"}}
    app.update_state(new, {"topic": "fresh"})
    snap = app.get_state(new)
    assert (snap.next, snap.metadata["step"], snap.parent_config) == (("draft",), 0, None)


def test_update_state_is_ambiguous_after_a_fan_out(store: Any) -> None:
    g = StateGraph(S)
    g.add_node("p", lambda s: {"log": ["p"]}).add_node("q", lambda s: {"log": ["q"]})
    g.add_node("r", lambda s: {"log": ["r"]})
    g.add_edge(START, "p").add_edge(START, "q").add_edge("p", "r").add_edge("q", "r")
    app = g.compile(checkpointer=store, interrupt_before=["r"])
    app.invoke({}, CFG)
    with pytest.raises(InvalidUpdateError, match="nodes p, q all wrote this checkpoint"):
        app.update_state(CFG, {"log": ["x"]})
    app.update_state(CFG, {"log": ["x"]}, as_node="q")
    assert app.invoke(None, CFG)["log"] == ["p", "q", "x", "r"]


def test_update_state_shows_as_the_task_result_of_the_checkpoint_it_follows(store: Any) -> None:
    app = ask_graph(store, interrupt_before=["ask"])
    app.invoke({"topic": "t"}, CFG)
    paused = app.get_state(CFG)
    app.update_state(CFG, {"approved": "by hand"}, as_node="ask")
    (task,) = app.get_state(paused.config).tasks
    assert (task.name, task.status, task.result) == ("ask", "done", {"approved": "by hand"})
    assert app.get_state(CFG).next == ("publish",)


def test_run_time_breakpoints(store: Any) -> None:
    app = ask_graph(store)
    out = app.invoke({"topic": "t"}, CFG, interrupt_before=["draft"])
    assert out == {"topic": "t", "log": []} and app.get_state(CFG).next == ("draft",)
    out = app.invoke(None, CFG, interrupt_after="*")
    assert out["log"] == ["draft"] and app.get_state(CFG).next == ("ask",)
    with pytest.raises(InvalidInputError, match="'nope', which is not a node"):
        app.invoke(None, CFG, interrupt_before=["nope"])


def test_durability_exit_stores_one_checkpoint_per_run(tmp_path: Path) -> None:
    with DuckDBCheckpointer(tmp_path / "x.duckdb", durability="exit") as store:
        app = ask_graph(store)
        app.invoke({"topic": "t"}, CFG)  # pauses at ask: that checkpoint is the run's one
        (paused,) = app.get_state_history(CFG)
        assert (paused.metadata["step"], paused.next, paused.parent_config) == (1, ("ask",), None)
        assert paused.tasks[0].status == "interrupted"
        app.invoke(Command(resume="yes"), CFG)
        done, first = app.get_state_history(CFG)
        assert (done.metadata["step"], done.next, done.parent_config) == (3, (), first.config)
        assert done.values == {"topic": "t", "log": ["draft", "publish"], "approved": "yes"}


def test_update_state_moves_a_thread_past_a_node_the_graph_no_longer_has(store: Any) -> None:
    app = ask_graph(store, interrupt_before=["ask"])
    app.invoke({"topic": "t"}, CFG)  # paused with "ask" planned
    g = StateGraph(S)
    g.add_node("draft", lambda s: {"log": ["draft"]}).add_node("publish", lambda s: {"log": ["p"]})
    g.add_edge(START, "draft").add_edge("draft", "publish")
    smaller = g.compile(checkpointer=store)  # "ask" is gone
    with pytest.raises(InvalidInputError, match="no longer has"):
        smaller.invoke(None, CFG)
    smaller.update_state(CFG, {"approved": "by hand"}, as_node="draft")
    assert smaller.get_state(CFG).next == ("publish",)
    assert smaller.invoke(None, CFG)["log"] == ["draft", "p"]


def test_command_goto_inside_a_paused_superstep_is_refused(store: Any) -> None:
    app = ask_graph(store)
    app.invoke({"topic": "t"}, CFG)  # ask waits at interrupt()
    with pytest.raises(InvalidInputError, match=r"paused inside a superstep.*Command\(resume"):
        app.invoke(Command(goto="publish"), CFG)
    out = app.invoke(Command(resume="yes", goto="publish"), CFG)  # an answer, then the goto
    assert out["log"] == ["draft", "publish", "publish"]
