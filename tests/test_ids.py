"""Every id has one formatter (wfkit._ids); the engine and stores use it."""

from __future__ import annotations

from tests.conftest import LogState
from wfkit import START, StateGraph, interrupt
from wfkit._ids import (
    interrupt_belongs_to,
    interrupt_id,
    new_checkpoint_id,
    new_run_id,
    task_id,
)
from wfkit.checkpoint import MemoryCheckpointer


def test_task_id_names_step_position_and_node() -> None:
    assert task_id(3, 1, "fetch") == "3:1:fetch"


def test_interrupt_ids_count_the_answers_before_them() -> None:
    tid = task_id(0, 0, "ask")
    assert interrupt_id(tid, 0) == tid
    assert interrupt_id(tid, 2) == f"{tid}#2"
    assert interrupt_belongs_to(f"{tid}#2", tid)
    assert interrupt_belongs_to(tid, tid)
    assert not interrupt_belongs_to("0:0:asker", tid)
    assert not interrupt_belongs_to("10:0:ask", tid)


def test_checkpoint_ids_sort_by_creation_and_run_ids_are_unique() -> None:
    ids = [new_checkpoint_id() for _ in range(200)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 200
    assert len({new_run_id() for _ in range(200)}) == 200


def test_engine_and_store_use_the_same_ids() -> None:
    def ask(state: dict[str, list[str]]) -> dict[str, list[str]]:
        return {"log": [interrupt("ok?")]}

    app = StateGraph(LogState).add_node("ask", ask).add_edge(START, "ask")
    wf = app.compile(checkpointer=MemoryCheckpointer())
    out = wf.invoke({}, thread="t")
    (intr,) = out["__interrupt__"]
    assert intr.id == task_id(0, 0, "ask")
    snap = wf.get_state({"configurable": {"thread_id": "t"}})
    assert snap.tasks[0].id == task_id(0, 0, "ask")
    assert snap.interrupts[0].id == intr.id
