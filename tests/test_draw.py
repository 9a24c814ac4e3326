"""Pictures: assert on the DOT text, render with dot when it exists, and
the message when it does not."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

import wfkit.trace as tr
from tests.conftest import LogState, appender
from wfkit import START, Send, StateGraph, interrupt
from wfkit.trace.draw import GraphvizMissingError


def graph(**kw: Any) -> Any:
    def ask(state: Any) -> dict[str, Any]:
        return {"log": [str(interrupt("ok?"))]}

    inner = StateGraph(LogState)
    inner.add_node(appender("step_in")).add_edge(START, "step_in")
    g = StateGraph(LogState)
    g.add_node(appender("plan")).add_node("work", lambda a: {"log": [f"w{a}"]}).add_node(
        appender("merge")
    )
    g.add_node("team", inner.compile()).add_node("ask", ask)
    g.add_edge(START, "plan")
    g.add_conditional_edges("plan", lambda s: [Send("work", i) for i in range(3)], {"fan": "work"})
    g.add_edge(["work", "plan"], "merge").add_edge("merge", "team").add_edge("team", "ask")
    return g.compile(**kw)


def test_structure_dot() -> None:
    dot = graph(interrupt_before=["ask"]).draw().source
    assert "__start__ [label=START" in dot and "__end__ [label=END" in dot
    assert "plan -> work [label=fan style=dashed]" in dot
    assert "work -> merge [arrowhead=diamond]" in dot
    assert "subgraph cluster_team" in dot and '"team/step_in"' in dot
    assert 'xlabel="⏸ before"' in dot


def test_run_path_and_failure() -> None:
    app = graph()
    app.invoke({})  # pauses at ask
    spans = app.traces()
    run = spans["run_id"][0]
    dot = app.draw(run=run).source
    assert 'work [label="work\\n×3"' in dot
    assert 'plan -> work [label="fan ×3"' in dot
    assert "⏸ interrupted" in dot and "ask [label=" in dot

    def boom(state: Any) -> None:
        raise ValueError("no")

    g = StateGraph(LogState)
    g.add_node(appender("a")).add_node("boom", boom).add_node(appender("never"))
    g.add_edge(START, "a").add_edge("a", "boom").add_edge("boom", "never")
    failing = g.compile()
    with pytest.raises(ValueError):
        failing.invoke({})
    dot = failing.draw(run=failing.traces()["run_id"][0]).source
    assert 'boom [label=boom color="#c00000"' in dot
    assert 'never [label=never color="#bbbbbb"' in dot


def test_heat_map_labels_p95() -> None:
    app = graph()
    app.invoke({})
    summary = tr.summary(app.traces())
    dot = app.draw(heat=summary).source
    assert 'plan [label="plan\\np95 ' in dot and "fillcolor=" in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_renders_svg_and_png(tmp_path: Path) -> None:
    app = graph()
    svg = app.draw().svg()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "plan" in svg
    assert app.draw().save(tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    bundle = app._repr_mimebundle_()
    assert "image/svg+xml" in bundle


def test_missing_dot_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    drawing = graph().draw()
    with pytest.raises(GraphvizMissingError, match="apt-get install graphviz"):
        drawing.svg()
    with pytest.raises(GraphvizMissingError):
        drawing.save(tmp_path / "g.svg")
    assert drawing.save(tmp_path / "g.dot").read_text() == drawing.source
    bundle = drawing._repr_mimebundle_()
    assert "image/svg+xml" not in bundle and "digraph" in bundle["text/plain"]


def test_timeline_is_an_altair_gantt() -> None:
    app = graph()
    app.invoke({})
    chart = tr.timeline(app.traces())
    spec = chart.to_dict()
    assert spec["mark"]["type"] == "bar"
    assert (
        spec["encoding"]["x"]["field"] == "start_ms" and spec["encoding"]["x2"]["field"] == "end_ms"
    )
