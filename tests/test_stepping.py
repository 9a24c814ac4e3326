"""The stepping API (iter/aiter) that the debugger sits on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import LogState, appender
from wfkit import START, Send, StateGraph
from wfkit.types import TaskStatus


def fan_graph() -> Any:
    g = StateGraph(LogState)
    g.add_node(appender("a")).add_node("w", lambda arg: {"log": [f"w{arg}"]}).add_node(
        appender("z")
    )
    g.add_edge(START, "a")
    g.add_conditional_edges("a", lambda s: [Send("w", 1), Send("w", 2)])
    g.add_edge("w", "z")
    return g.compile()


def test_iter_steps_one_superstep_at_a_time() -> None:
    run = fan_graph().iter({})
    assert run.next == ("a",) and run.step_number == 0 and not run.done
    assert [t.name for t in run.step() or ()] == ["a"]
    assert run.state == {"log": ["a"]} and run.next == ("w", "w")
    run.step()
    assert run.state == {"log": ["a", "w1", "w2"]} and run.next == ("z",)
    run.step()
    assert run.done and run.step() is None
    assert run.output() == {"log": ["a", "w1", "w2", "z"]}


def test_iter_is_an_iterator_of_steps() -> None:
    run = fan_graph().iter({})
    assert [[t.name for t in tasks] for tasks in run] == [["a"], ["w", "w"], ["z"]]


def test_run_task_steps_one_node_of_a_step() -> None:
    run = fan_graph().iter({})
    run.step()
    task = run.run_task(1)
    assert task.update == {"log": ["w2"]}
    assert run.state == {"log": ["a"]}  # the step is not complete yet
    run.run_task(0)
    assert run.state == {"log": ["a", "w1", "w2"]}  # task order, not run order
    assert run.next == ("z",)


def test_stepping_and_invoke_agree() -> None:
    app = fan_graph()
    run = app.iter({})
    for _ in run:
        pass
    assert run.output() == app.invoke({})


def test_aiter_steps() -> None:
    async def slow(state: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"log": ["slow"]}

    g = StateGraph(LogState)
    g.add_node("slow", slow).add_node(appender("b")).add_edge(START, "slow").add_edge("slow", "b")

    async def main() -> list[Any]:
        run = g.compile().aiter({})
        states = []
        async for _ in run:
            states.append(run.state)
        assert run.done
        return states

    assert asyncio.run(main()) == [{"log": ["slow"]}, {"log": ["slow", "b"]}]


def test_sync_iter_over_async_graph() -> None:
    async def slow(state: Any) -> dict[str, Any]:
        return {"log": ["slow"]}

    g = StateGraph(LogState)
    g.add_node("slow", slow).add_edge(START, "slow")
    run = g.compile().iter({})
    run.step()
    assert run.done and run.state == {"log": ["slow"]}


def test_failed_step_keeps_finished_siblings_and_can_be_retried() -> None:
    attempts: list[int] = []

    def flaky(state: Any) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("down")
        return {"log": ["flaky"]}

    ok_calls: list[int] = []

    def ok(state: Any) -> dict[str, Any]:
        ok_calls.append(1)
        return {"log": ["ok"]}

    g = StateGraph(LogState)
    g.add_node("ok", ok).add_node("flaky", flaky).add_edge(START, "ok").add_edge(START, "flaky")
    run = g.compile().iter({})
    with pytest.raises(ConnectionError):
        run.step()
    failed = run.tasks[1]
    failed.status = TaskStatus.PENDING  # the debugger's "retry this task"
    run.step()
    assert run.state == {"log": ["ok", "flaky"]}
    assert len(ok_calls) == 1
