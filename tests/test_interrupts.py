"""interrupt() and interrupt_before/after, in memory (no checkpointer)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import LogState, appender
from wfkit import (
    START,
    CheckpointerRequiredError,
    Command,
    EmptyInputError,
    Interrupt,
    InvalidInputError,
    StateGraph,
    interrupt,
)


def ask_graph(**compile_kw: Any) -> Any:
    def ask(state: Any) -> dict[str, Any]:
        answer = interrupt({"question": "approve?"})
        return {"log": [f"answer={answer}"]}

    g = StateGraph(LogState)
    g.add_node(appender("draft")).add_node("ask", ask).add_node(appender("send"))
    g.add_edge(START, "draft").add_edge("draft", "ask").add_edge("ask", "send")
    return g.compile(**compile_kw)


def test_interrupt_pauses_and_invoke_returns_the_question() -> None:
    out = ask_graph().invoke({})
    assert out["log"] == ["draft"]
    assert out["__interrupt__"] == [Interrupt({"question": "approve?"}, "1:0:ask")]


def test_stepping_run_resumes_in_memory() -> None:
    run = ask_graph().iter({})
    while run.step() is not None:
        pass
    assert run.paused and run.interrupts[0].value == {"question": "approve?"}
    run.resume("yes")
    while run.step() is not None:
        pass
    assert run.done
    assert run.output() == {"log": ["draft", "answer=yes", "send"]}


def test_parallel_interrupts_resume_by_id() -> None:
    def asker(name: str) -> Any:
        def node(state: Any) -> dict[str, Any]:
            return {"log": [f"{name}={interrupt(name)}"]}

        return node

    g = StateGraph(LogState)
    g.add_node("x", asker("x")).add_node("y", asker("y")).add_node(appender("done"))
    g.add_edge(START, "x").add_edge(START, "y").add_edge(["x", "y"], "done")
    run = g.compile().iter({})
    run.step()
    ids = {i.value: i.id for i in run.interrupts}
    assert set(ids) == {"x", "y"}
    run.resume({ids["y"]: "Y"})
    run.step()
    assert run.paused and [i.value for i in run.interrupts] == ["x"]
    run.resume({run.interrupts[0].id: "X"})
    while run.step() is not None:
        pass
    assert run.output() == {"log": ["x=X", "y=Y", "done"]}


def test_interrupt_before_and_after() -> None:
    run = ask_graph(interrupt_before=["send"]).iter({})
    with pytest.raises(InvalidInputError, match="not paused"):
        run.resume()
    for _ in range(5):
        run.step()
        if run.paused and run.interrupts:
            run.resume("ok")
    assert run.paused and run.next == ("send",) and run.state["log"] == ["draft", "answer=ok"]
    run.resume()
    run.step()
    assert run.done

    run = ask_graph(interrupt_after=["draft"]).iter({})
    run.step()
    assert run.paused and run.next == ("ask",) and run.state == {"log": ["draft"]}


def test_resume_and_continue_need_a_checkpointer() -> None:
    app = ask_graph()
    with pytest.raises(CheckpointerRequiredError, match=r"Command\(resume=...\).*checkpointer"):
        app.invoke(Command(resume="yes"))
    with pytest.raises(EmptyInputError, match=r"invoke\(None\)"):
        app.invoke(None)


def test_interrupt_chunks_in_stream() -> None:
    chunks = list(ask_graph().stream({}, stream_mode="updates"))
    assert chunks[-1] == {"__interrupt__": (Interrupt({"question": "approve?"}, "1:0:ask"),)}


def test_static_pause_is_visible_in_stream() -> None:
    chunks = list(ask_graph(interrupt_before=["ask"]).stream({}, stream_mode="updates"))
    assert chunks == [{"draft": {"log": ["draft"]}}, {"__interrupt__": ()}]
