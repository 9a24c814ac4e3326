"""Engine rules at their home, the Machine: restore, forks, which task failed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import LogState, appender
from wfkit import END, START, InvalidInputError, StateGraph
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


def test_run_breakpoints_replace_the_compiled_ones_and_turn_off_the_chain_shortcut() -> None:
    m = Machine(_topology())
    m.breakpoints(["c"], None)
    assert m.before == {"c"} and m.after == frozenset() and m.run_breaks
    m.breakpoints(None, "*")
    assert m.after == {"a", "b", "c"}
    with pytest.raises(InvalidInputError, match="'zz', which is not a node"):
        m.breakpoints(["zz"], None)
    m.start({"log": []})
    m.plan()
    assert [t.name for t in m.tasks] == ["a", "b"]  # START's nodes: not in "before"
    for t in m.tasks:
        t.status, t.update = TaskStatus.DONE, {"log": [t.name]}
    m.barrier()
    m.advance()  # "a" and "b" are in "after": paused, with "c" planned
    assert m.status == "interrupted" and [t.name for t in m.tasks] == ["c"]


def test_command_input_updates_the_state_and_adds_goto_targets() -> None:
    m = Machine.restore(_topology(), state={"log": ["x"]}, step=3, planned=[PlannedTask("a")])
    m.command_input({"log": ["u"]}, ["c", "a"])
    assert m.state == {"log": ["x", "u"]}
    assert [(t.name, t.index, t.step) for t in m.tasks] == [("a", 0, 3), ("c", 1, 3)]
    assert all(t.arg is m.state for t in m.tasks)  # pending tasks read the new state
    done = Machine.restore(_topology(), state={}, step=5, planned=[])
    assert done.status == "done"
    done.command_input(None, "b")
    assert done.status == "running" and [t.name for t in done.tasks] == ["b"]


def test_restep_moves_the_planned_tasks_to_a_new_superstep() -> None:
    m = Machine.restore(_topology(), state={}, step=1, planned=[PlannedTask("a"), PlannedTask("b")])
    m.restep(2)
    assert m.step == 2 and [t.id for t in m.tasks] == ["2:0:a", "2:1:b"]
