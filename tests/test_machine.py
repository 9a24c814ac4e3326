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
