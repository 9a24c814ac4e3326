"""wfkit.managed: RemainingSteps and IsLastStep, computed per node, never state."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

import pytest

from wfkit import START, GraphRecursionError, StateGraph
from wfkit.checkpoint.memory import InMemorySaver
from wfkit.managed import IsLastStep, RemainingSteps


class State(TypedDict, total=False):
    n: int
    left: RemainingSteps
    last: IsLastStep


def looping(seen: list[Any]) -> Any:
    def node(state: Any) -> dict[str, Any]:
        seen.append((state["left"], state["last"]))
        return {"n": state.get("n", 0) + 1}

    g = StateGraph(State).add_node("loop", node).add_edge(START, "loop")
    g.add_conditional_edges("loop", lambda s: "loop", ["loop"])
    return g


def test_counts_down_to_the_limit_then_the_limit_stops_the_run() -> None:
    seen: list[Any] = []
    with pytest.raises(GraphRecursionError):
        looping(seen).compile().invoke({}, recursion_limit=4)
    assert seen == [(3, False), (2, False), (1, True), (0, False)]


def test_never_in_the_output_or_a_checkpoint() -> None:
    seen: list[Any] = []
    g = StateGraph(State)
    g.add_node("one", lambda s: seen.append(s["left"]) or {"n": 1}).add_edge(START, "one")
    app = g.compile(checkpointer=InMemorySaver())
    out = app.invoke({"left": 99}, thread="t", recursion_limit=5)
    assert out == {"n": 1}
    assert app.get_state({"configurable": {"thread_id": "t"}}).values == {"n": 1}
    assert seen == [4]


def test_a_continued_thread_counts_from_its_own_limit() -> None:
    seen: list[Any] = []
    g = StateGraph(State)
    g.add_node("one", lambda s: seen.append(s["left"]) or {"n": 1}).add_edge(START, "one")
    app = g.compile(checkpointer=InMemorySaver())
    app.invoke({}, thread="t", recursion_limit=5)
    app.invoke({}, thread="t", recursion_limit=5)
    assert seen == [4, 4]


def test_a_managed_key_marked_not_required_is_still_managed() -> None:
    class Agent(TypedDict):
        n: int
        remaining_steps: NotRequired[RemainingSteps]  # how LangGraph's AgentState declares it

    seen: list[Any] = []
    g = StateGraph(Agent).add_node("one", lambda s: seen.append(s["remaining_steps"]) or {"n": 1})
    out = g.add_edge(START, "one").compile().invoke({"n": 0}, recursion_limit=10)
    assert seen == [9] and out == {"n": 1}
