"""The debugger controller on sync and async graphs."""

from __future__ import annotations

import asyncio
import itertools
import operator
import time
from typing import Annotated, Any, TypedDict

import pytest

from wfkit import START, Debugger, InvalidInputError, Send, StateGraph, interrupt
from wfkit.checkpoint import MemoryCheckpointer


class S(TypedDict, total=False):
    topic: str
    log: Annotated[list[str], operator.add]
    ok: str


def build(use_async: bool) -> Any:
    async def adraft(state: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"log": ["draft"]}

    def draft(state: Any) -> dict[str, Any]:
        return {"log": ["draft"]}

    def ask(state: Any) -> dict[str, Any]:
        return {"ok": interrupt(f"publish {state['topic']}?")}

    def publish(state: Any) -> dict[str, Any]:
        if state["ok"] != "yes":
            raise ValueError("not approved")
        return {"log": ["published"]}

    g = StateGraph(S)
    g.add_node("draft", adraft if use_async else draft).add_node("ask", ask).add_node(
        "publish", publish
    )
    g.add_edge(START, "draft").add_edge("draft", "ask").add_edge("ask", "publish")
    return g.compile()


@pytest.mark.parametrize("use_async", [False, True])
def test_step_interrupt_resume_error_and_hot_swap(use_async: bool) -> None:
    d = Debugger(build(use_async), {"topic": "x"})
    assert d.next == ("draft",) and d.step_number == 0
    assert d.step().kind == "step" and d.state["log"] == ["draft"]
    event = d.continue_()
    assert event.kind == "interrupt" and d.interrupts[0].value == "publish x?"
    d.resume("no")
    event = d.step()
    assert event.kind == "error" and d.failed_node == "publish"
    assert "ValueError: not approved" in (d.traceback or "")
    assert "debugger.reload('publish'" in event.message

    def fixed(state: Any) -> dict[str, Any]:
        return {"log": [f"published ({state['ok']})"]}

    assert d.reload("publish", fixed).kind == "reload"
    assert d.next == ("publish",)
    assert d.step().kind == "done"
    assert d.state["log"] == ["draft", "published (no)"]


def test_breakpoints_before_and_after() -> None:
    d = Debugger(build(False), {"topic": "x"})
    d.add_breakpoint("ask")
    event = d.continue_()
    assert (event.kind, event.nodes) == ("breakpoint", ("ask",)) and d.next == ("ask",)
    d.remove_breakpoint("ask")
    d.add_breakpoint("draft", "after")
    d.restart()
    event = d.continue_()
    assert event.kind == "breakpoint" and event.message == "after draft"
    assert d.toggle_breakpoint("publish") is True and d.toggle_breakpoint("publish") is False
    with pytest.raises(InvalidInputError, match="no node 'nope'"):
        d.add_breakpoint("nope")


def test_rewind_and_edit_state_fork_without_touching_history() -> None:
    d = Debugger(build(False), {"topic": "x"})
    d.continue_()
    d.resume("yes")
    assert d.step().kind == "done" and d.state["log"] == ["draft", "published"]
    original = [(s.config, s.values) for s in d.history()]
    at_ask = next(s for s in d.history() if s.next == ("ask",))
    d.rewind(at_ask.config["configurable"]["checkpoint_id"])
    assert d.next == ("ask",)
    d.edit_state({"topic": "y"})
    assert d.state["topic"] == "y"
    assert d.step().kind == "interrupt" and d.interrupts[0].value == "publish y?"
    for config, values in original:
        assert d.workflow.get_state(config).values == values
    assert d.diff()  # something changed at the newest checkpoint


def test_step_node_runs_one_task_at_a_time() -> None:
    g = StateGraph(S)
    g.add_node("fan", lambda s: None).add_node("work", lambda arg: {"log": [arg]})
    g.add_edge(START, "fan").add_conditional_edges(
        "fan", lambda s: [Send("work", "a"), Send("work", "b")], ["work"]
    )
    d = Debugger(g.compile(), {})
    d.step()
    assert d.next == ("work", "work")
    assert d.step_node().kind == "task" and d.state["log"] == []
    assert d.step_node().kind in ("step", "done") and d.state["log"] == ["a", "b"]


def test_views_and_misuse() -> None:
    app = build(False)
    app_with_store = (
        StateGraph(S)
        .add_node("n", lambda s: {"log": ["n"]})
        .add_edge(START, "n")
        .compile(checkpointer=MemoryCheckpointer())
    )
    d = Debugger(app, {"topic": "x"})
    d.step()
    assert d.node_writes().select("node", "status").rows() == [("draft", "done")]
    assert d.timings()["node"].to_list() == ["draft"]
    with pytest.raises(InvalidInputError, match="no interrupt is waiting"):
        d.resume("x")
    existing = Debugger(app_with_store, {}, thread="kept")
    existing.continue_()
    again = Debugger(app_with_store, thread="kept")  # attach to a thread that already ran
    assert again.done or again.state == {"log": ["n"]}


async def test_async_api_does_not_block_the_loop() -> None:
    """While ``astep`` runs a sync node that sleeps 0.3 s (on a worker
    thread), a coroutine ticking every 10 ms keeps ticking."""

    def slow(state: Any) -> dict[str, Any]:
        time.sleep(0.3)
        return {"log": ["slow"]}

    g = StateGraph(S)
    g.add_node("slow", slow).add_edge(START, "slow")
    d = Debugger(g.compile(), {"topic": "x"})
    ticks: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # the ticker's first tick comes before the step starts
    started = time.perf_counter()
    event = await d.astep()
    ended = time.perf_counter()
    stop.set()
    await ticking
    assert event.kind == "done" and d.state["log"] == ["slow"]
    assert ended - started >= 0.3  # the node did run inside astep
    times = [t for t in ticks if t < ended] + [ended]  # a stall up to the end counts too
    stall = max(b - a for a, b in itertools.pairwise(times))
    assert stall < 0.15, f"the event loop stalled for {stall:.3f} s"
    assert len(times) >= 10


def test_breakpoint_fires_unless_stopped_at_it_and_node_errors_stay_inside() -> None:
    d = Debugger(build(False), {"topic": "x"})
    d.continue_()  # to the interrupt in ask
    d.add_breakpoint("publish")
    d.resume("yes")
    event = d.continue_()
    assert (event.kind, event.nodes) == ("breakpoint", ("publish",))
    assert d.continue_().kind == "done"  # steps past the breakpoint it stopped at

    def strict(state: Any) -> None:
        raise InvalidInputError("a node may raise this too")

    g = StateGraph(S)
    g.add_node("strict", strict).add_edge(START, "strict")
    d2 = Debugger(g.compile(), {})
    assert d2.step().kind == "error" and isinstance(d2.error, InvalidInputError)


def test_restart_of_a_debugger_attached_to_a_thread() -> None:
    app = (
        StateGraph(S)
        .add_node("n", lambda s: {"log": ["n"]})
        .add_edge(START, "n")
        .compile(checkpointer=MemoryCheckpointer())
    )
    app.invoke({"topic": "t"}, thread="kept")
    d = Debugger(app, thread="kept")
    assert d.restart().kind == "restart" and d.thread != "kept"
    assert d.continue_().kind == "done" and d.state == {"topic": "t", "log": ["n"]}


@pytest.mark.parametrize("move", ["step", "step_node", "continue_"])
def test_the_graphs_own_breakpoints_stop_the_debugger_and_moving_on_approves_them(
    move: str,
) -> None:
    g = StateGraph(S)
    g.add_node("draft", lambda s: {"log": ["draft"]}).add_node(
        "publish", lambda s: {"log": ["published"]}
    )
    g.add_node("archive", lambda s: {"log": ["archived"]})
    g.add_edge(START, "draft").add_edge("draft", "publish").add_edge("publish", "archive")
    d = Debugger(
        g.compile(interrupt_before=["publish"], interrupt_after=["publish"]), {"topic": "x"}
    )
    event = d.continue_()
    assert (event.kind, event.nodes) == ("breakpoint", ("publish",)) and d.paused
    assert (
        event.message == "before publish (the graph's interrupt_before); Step or Continue goes on"
    )
    assert d.state["log"] == ["draft"]
    getattr(d, move)()
    assert d.state["log"] == ["draft", "published"]
    event = d.events[-1]
    assert event.kind == "breakpoint" and event.message.startswith(
        "after publish (the graph's interrupt_after)"
    )
    getattr(d, move)()
    assert d.state["log"] == ["draft", "published", "archived"]
