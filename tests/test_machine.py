"""Engine rules at their home, the Machine: restore, forks, which task failed."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest

from tests.conftest import LogState, appender
from wfkit import END, START, Command, InvalidInputError, InvalidUpdateError, Send, StateGraph
from wfkit.engine.machine import Machine, PlannedTask, TaskResult
from wfkit.types import Interrupt, TaskStatus


def _topology() -> Any:
    g = StateGraph(LogState)
    g.add_node("a", appender("a")).add_node("b", appender("b")).add_node("c", appender("c"))
    g.add_edge(START, "a").add_edge(START, "b").add_edge("a", "c").add_edge("c", END)
    return g.compile().topology


def test_restore_keeps_finished_results_and_reruns_the_rest() -> None:
    m = Machine.restore(
        _topology(),
        state={"log": ["x"]},
        step=1,
        planned=[PlannedTask("a"), PlannedTask("b")],
        results={
            0: TaskResult(status=TaskStatus.DONE, update={"log": ["a!"]}),
            1: TaskResult(status=TaskStatus.FAILED, attempt=2),
        },
    )
    a, b = m.tasks
    assert a.status is TaskStatus.DONE and a.update == {"log": ["a!"]} and a.saved
    assert b.status is TaskStatus.PENDING and not b.saved and b.attempt == 2
    assert a.arg is m.state and a.step == 1
    assert m.status == "running"


def test_restore_pauses_on_an_interrupted_task_with_its_answers() -> None:
    m = Machine.restore(
        _topology(),
        state={},
        step=0,
        planned=[PlannedTask("a")],
        results={
            0: TaskResult(
                status=TaskStatus.INTERRUPTED, interrupts=(Interrupt("why?"),), resume=("first",)
            )
        },
    )
    assert m.status == "interrupted"
    assert m.tasks[0].resume == ["first"]
    assert [i.id for i in m.interrupts] == ["0:0:a#1"]  # one answer given already


def test_restore_sends_keep_their_argument_and_unknown_nodes_are_named() -> None:
    m = Machine.restore(_topology(), state={}, step=2, planned=[PlannedTask("b", True, {"n": 7})])
    assert m.tasks[0].arg == {"n": 7} and m.tasks[0].send
    with pytest.raises(InvalidInputError, match=r"'gone'.*no longer has"):
        Machine.restore(_topology(), state={}, step=0, planned=[PlannedTask("gone")], where="cp 1")
    assert Machine.restore(_topology(), state={}, step=3, planned=[]).status == "done"


def test_patch_is_a_superstep_that_keeps_the_planned_tasks() -> None:
    m = Machine.restore(_topology(), state={"log": ["x"]}, step=4, planned=[PlannedTask("c")])
    m.patch({"log": ["edit"]})
    assert m.state == {"log": ["x", "edit"]}  # through the reducer
    assert m.step == 5
    assert [t.name for t in m.tasks] == ["c"] and m.tasks[0].arg is m.state
    assert m.tasks[0].step == 5


def test_write_as_follows_the_nodes_edges() -> None:
    m = Machine.restore(_topology(), state={"log": []}, step=0, planned=[PlannedTask("b")])
    assert m.write_as("a", {"log": ["as a"]}) == []
    m.plan()
    assert m.state == {"log": ["as a"]}
    assert [t.name for t in m.tasks] == ["c"]  # a's successor, not the planned b


def test_failed_task_is_the_first_failure_in_task_order() -> None:
    m = Machine.restore(_topology(), state={}, step=0, planned=[PlannedTask("a"), PlannedTask("b")])
    assert m.failed_task() is None
    m.tasks[1].status = TaskStatus.FAILED
    assert m.failed_task() is m.tasks[1]
    m.tasks[0].status = TaskStatus.FAILED
    assert m.failed_task() is m.tasks[0]


# ---------------------------------------------------------------- defer, Command lists, PARENT


def _deferred() -> Any:
    g = StateGraph(LogState)
    for name in ("a", "b", "b2"):
        g.add_node(appender(name))
    g.add_node(appender("c"), defer=True)
    g.add_edge(START, "a").add_edge(START, "b").add_edge("b", "b2")
    g.add_edge("a", "c").add_edge("b2", "c").add_edge("c", END)
    return g


def test_a_deferred_node_runs_once_when_nothing_else_is_left() -> None:
    app = _deferred().compile()
    assert app.invoke({}) == {"log": ["a", "b", "b2", "c"]}
    run = app.iter({})
    steps = []
    while not run.done:
        run.step()
        steps.append(sorted(t.name for t in run.machine.tasks))
    assert steps[:3] == [["b2"], ["c"], []]  # c waited a step for b2, then ran alone


def test_a_waiting_deferred_node_is_kept_in_the_checkpoint() -> None:
    from wfkit.checkpoint import MemoryCheckpointer

    app = _deferred().compile(MemoryCheckpointer(), interrupt_before=["b2"])
    cfg = {"configurable": {"thread_id": "t"}}
    app.invoke({}, cfg)  # paused before b2, with c waiting
    assert app.get_state(cfg).next == ("b2",)
    assert app.invoke(None, cfg) == {"log": ["a", "b", "b2", "c"]}


def test_a_list_of_commands_goes_to_each_target() -> None:
    g = StateGraph(LogState)
    g.add_node("x", lambda s: [Command(goto="y"), {"log": ["x"]}, Command(goto=["z", END])])
    g.add_node(appender("y")).add_node(appender("z")).add_edge(START, "x")
    assert g.compile().invoke({}) == {"log": ["x", "y", "z"]}


def test_a_list_without_commands_is_not_an_update() -> None:
    g = StateGraph(LogState).add_node("x", lambda s: [{"log": ["x"]}]).add_edge(START, "x")
    with pytest.raises(InvalidUpdateError, match="node 'x' returned list"):
        g.compile().invoke({})


def test_command_parent_outside_a_subgraph_is_named() -> None:
    g = StateGraph(LogState)
    g.add_node("x", lambda s: Command(graph=Command.PARENT, goto="x")).add_edge(START, "x")
    with pytest.raises(InvalidUpdateError, match="graph 'LogState' is not running as a subgraph"):
        g.compile().invoke({})
    g = StateGraph(LogState)
    g.add_node("x", lambda s: Command(graph="other")).add_edge(START, "x")
    with pytest.raises(InvalidUpdateError, match="the only graph a Command can name"):
        g.compile().invoke({})


def test_command_parent_ends_the_subgraph_and_acts_in_the_parent() -> None:
    inner = StateGraph(LogState)
    inner.add_node(appender("i1"))
    inner.add_node("i2", lambda s: Command(graph=Command.PARENT, goto="after", update={"n": 7}))
    inner.add_node(appender("never"))
    inner.add_edge(START, "i1").add_edge("i1", "i2").add_edge("i2", "never")
    outer = StateGraph(LogState)
    outer.add_node("sub", inner.compile()).add_node(appender("after")).add_edge(START, "sub")
    # i1's write is dropped with the rest of the subgraph's run, as in LangGraph
    assert outer.compile().invoke({}) == {"n": 7, "log": ["after"]}


class _Wide(TypedDict, total=False):
    q: str
    note: str
    got: Annotated[list[Any], operator.add]


class _Narrow(TypedDict):
    q: str


def test_node_input_schema_filters_the_state_but_not_a_send() -> None:
    def fan(state: _Wide) -> Any:
        return Command(goto=[Send("reader", {"q": "sent", "note": "kept"})])

    def reader(state: _Narrow) -> dict[str, Any]:
        return {"got": [dict(state)]}

    g = StateGraph(_Wide).add_node("fan", fan).add_node("reader", reader)
    g.add_edge(START, "fan").add_edge(START, "reader")
    out = g.compile().invoke({"q": "state", "note": "hidden"})
    assert out["got"] == [{"q": "state"}, {"q": "sent", "note": "kept"}]


def test_restore_gives_each_node_its_own_input() -> None:
    def reader(state: _Narrow) -> None:
        return None

    g = StateGraph(_Wide).add_node("reader", reader).add_edge(START, "reader")
    topology = g.compile().topology
    m = Machine.restore(
        topology, state={"q": "x", "note": "n"}, step=0, planned=[PlannedTask("reader")]
    )
    assert m.tasks[0].arg == {"q": "x"}
    m.patch({"q": "y"})
    assert m.tasks[0].arg == {"q": "y"}
