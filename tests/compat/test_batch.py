"""LangGraph's ``batch`` / ``abatch`` signatures: a list of inputs, one config
for all or one per input, ``return_exceptions``; results in input order."""

from __future__ import annotations

from typing import Any, TypedDict

from tests.compat.harness import case


class S(TypedDict, total=False):
    n: int
    tag: str


def double(state: S, config) -> dict[str, Any]:  # LangGraph warns on any type but its own
    if state["n"] < 0:
        raise ValueError(f"negative: {state['n']}")
    return {"n": state["n"] * 2, "tag": str((config.get("configurable") or {}).get("tag"))}


def build(StateGraph: Any, START: str, END: str) -> Any:
    """The graph, with the library's classes the case imported."""
    g = StateGraph(S)
    g.add_node("double", double)
    g.add_edge(START, "double")
    g.add_edge("double", END)
    return g.compile()


@case
def test_batch_one_config_for_all():
    from langgraph.graph import END, START, StateGraph

    app = build(StateGraph, START, END)
    return app.batch([{"n": 1}, {"n": 2}, {"n": 3}], {"configurable": {"tag": "x"}})


@case
def test_batch_a_config_per_input_and_max_concurrency():
    from langgraph.graph import END, START, StateGraph

    app = build(StateGraph, START, END)
    configs = [{"configurable": {"tag": f"t{i}"}, "max_concurrency": 2} for i in range(4)]
    return app.batch([{"n": i} for i in range(4)], configs)


@case
def test_batch_return_exceptions():
    from langgraph.graph import END, START, StateGraph

    app = build(StateGraph, START, END)
    out = app.batch([{"n": 1}, {"n": -1}, {"n": 2}], return_exceptions=True)
    return [r if isinstance(r, dict) else (type(r).__name__, str(r)) for r in out]


@case
def test_batch_raises_the_failure_without_return_exceptions():
    import pytest
    from langgraph.graph import END, START, StateGraph

    app = build(StateGraph, START, END)
    with pytest.raises(ValueError, match="negative: -1"):
        app.batch([{"n": 1}, {"n": -1}])
    return "raised"


@case
async def test_abatch():
    from langgraph.graph import END, START, StateGraph

    app = build(StateGraph, START, END)
    return await app.abatch([{"n": 5}, {"n": 6}], {"configurable": {"tag": "a"}})
