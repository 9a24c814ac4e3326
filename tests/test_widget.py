"""The debugger widget driven headlessly through the ipywidgets API."""

from __future__ import annotations

from typing import Any

from tests.test_debugger import build
from wfkit import Debugger


def test_buttons_and_views() -> None:
    w: Any = Debugger(build(False), {"topic": "x"}).widget()
    assert "step 0" in w.status.value and "draft" in w.status.value
    assert "<svg" in w.graph.svg or "digraph" in w.graph.svg
    w.step_button.click()
    assert "step 1" in w.status.value and "next: <code>ask</code>" in w.status.value
    assert "&quot;draft&quot;" in w.state_view.value
    w.continue_button.click()
    assert w.interrupt_box.layout.display is None
    assert "publish x?" in w.interrupt_box.children[0].value
    w.answer.value = '"no"'
    w.resume_button.click()
    assert w.interrupt_box.layout.display == "none"
    w.step_button.click()
    assert "ValueError: not approved" in w.error_view.value
    assert "reload(&#x27;publish&#x27;" in w.error_view.value
    assert "#ffc9c9" in w.graph.svg  # the failed node is drawn red


def test_history_rewind_breakpoints_and_timings() -> None:
    w: Any = Debugger(build(False), {"topic": "x"}).widget()
    w.breakpoint_picker.value = ("ask",)
    assert w.debugger.breakpoints["before"] == {"ask"}
    w.continue_button.click()
    assert "ask" in w.status.value
    options = w.history.options
    assert len(options) == 3 and options[0][0].startswith("▶ step 1")
    assert options[-1][0].startswith("│ step -1 · input · next: __start__")
    w.history.value = options[-2][1]  # the first loop checkpoint: the input applied
    assert "&quot;topic&quot;: &quot;x&quot;" in w.state_view.value
    w.rewind_button.click()
    assert w.debugger.next == ("draft",)
    assert "draft" in w.timing_view.value
    w.node_picker.value = "draft"
    assert "received" in w.node_view.value and "returned" in w.node_view.value
    w.restart_button.click()
    assert "step 0" in w.status.value


def current_entry(w: Any) -> str:
    return next(label for label, cid in w.history.options if cid == w.debugger.checkpoint_id)


def test_the_view_shows_the_checkpoint_the_debugger_is_at() -> None:
    w: Any = Debugger(build(False), {"topic": "x"}).widget()
    w.step_button.click()
    assert "#d3f9d8" in w.graph.svg  # the last superstep's node is green
    w.continue_button.click()  # the interrupt in ask
    first = w.history.options[-2][1]  # the input applied, draft planned
    w.history.value = first
    w.rewind_button.click()
    # a rewind replays: its branch starts with a fork copy of the checkpoint
    here = w.debugger.snapshot()
    assert here.metadata["source"] == "fork"
    assert here.parent_config["configurable"]["checkpoint_id"] == first
    assert w.history.value == w.debugger.checkpoint_id  # the State tab shows where it is
    assert "&quot;log&quot;: []" in w.state_view.value
    assert "draft" not in w.state_view.value.split("topic")[0]
    assert current_entry(w).startswith("▶")
    assert "#d3f9d8" not in w.graph.svg  # nothing is green: nothing ran since the rewind
    w.step_button.click()
    assert "#d3f9d8" in w.graph.svg  # draft ran
    w.debugger.edit_state({"topic": "y"})
    assert w.history.value == w.debugger.checkpoint_id
    assert "&quot;y&quot;" in w.state_view.value
    assert "#d3f9d8" not in w.graph.svg
    w.step_button.click()
    w.restart_button.click()
    assert "#d3f9d8" not in w.graph.svg and w.history.value == w.debugger.checkpoint_id


def test_status_after_a_node_error_says_failed() -> None:
    w: Any = Debugger(build(False), {"topic": "x"}).widget()
    w.continue_button.click()
    w.answer.value = "no"
    w.resume_button.click()
    w.step_button.click()
    assert "ready" not in w.status.value
    assert "failed in <code>publish</code>" in w.status.value
    assert w.node_picker.value == "publish"  # the Node tab shows the failed node
    assert "not approved" in w.node_view.value


def test_node_tab_shows_a_node_at_once_and_what_it_received() -> None:
    w: Any = Debugger(build(False), {"topic": "x"}).widget()
    assert w.node_picker.value == "draft"  # the next node, before any step
    assert "has not run" in w.node_view.value
    w.step_button.click()
    assert w.node_picker.value == "draft"
    assert "state at that checkpoint" not in w.node_view.value  # no placeholder
    received = w.node_view.value.split("<b>received</b>")[1].split("<b>returned</b>")[0]
    assert "&quot;topic&quot;: &quot;x&quot;" in received
    assert "ran in step 0" in w.node_view.value and "step 1" in w.status.value
    # the node's step and the status line's step, side by side
    assert "(the status line's step 0 → 1)" in w.node_view.value


def test_history_shows_branches_and_marks_the_current_checkpoint() -> None:
    w: Any = Debugger(build(False), {"topic": "x"}).widget()
    w.step_button.click()
    w.continue_button.click()
    first = w.history.options[-2][1]
    w.history.value = first
    w.rewind_button.click()
    w.step_button.click()  # a second branch from step 0, which starts with a fork copy of it
    labels = [label for label, _ in w.history.options]
    assert labels[0].startswith("▶ step 2") and labels[1].startswith("│ step 1 · fork")
    assert labels[2].startswith("│ step 0")
    forks = [label for label in labels if label.startswith("⑂")]
    assert forks == ["⑂ step 1 · loop · next: ask · branch from step 0"]
    assert len(labels) == 5


def test_enter_in_the_answer_box_resumes_and_clears_the_answer() -> None:
    w: Any = Debugger(build(False), {"topic": "x"}).widget()
    w.continue_button.click()
    assert w.debugger.interrupts
    w.answer.value = "yes"
    # what the browser sends when Enter is pressed in the text box
    w.answer._handle_string_msg(None, {"event": "submit"}, None)
    assert not w.debugger.interrupts and w.debugger.next == ("publish",)
    assert w.answer.value == ""  # the old answer does not stay for the next interrupt
    assert w.breakpoint_picker.style.description_width == "initial"  # "Break before", not cut


def click(w: Any, node: str) -> None:
    """What the browser sends when a node of the drawn graph is clicked."""
    w.graph._handle_custom_msg({"event": "click", "node": node}, [])


def test_clicking_a_node_toggles_its_breakpoint_and_selects_it() -> None:
    w: Any = Debugger(build(False), {"topic": "x"}).widget()
    assert set(w.graph.nodes) == {"draft", "ask", "publish"}
    click(w, "publish")
    assert w.debugger.breakpoints["before"] == {"publish"}
    assert w.breakpoint_picker.value == ("publish",)
    assert w.node_picker.value == "publish"
    assert "● publish" in w.graph.svg and "#fff3bf" in w.graph.svg  # draft stays marked next
    w.step_button.click()
    assert "#d3f9d8" in w.graph.svg and "● publish" in w.graph.svg  # finished and breakpoint
    click(w, "publish")
    assert w.debugger.breakpoints["before"] == set() and "● publish" not in w.graph.svg
    click(w, "__start__")  # not a node: nothing happens
    assert w.debugger.breakpoints["before"] == set()


def test_status_says_waiting_for_an_answer_once() -> None:
    w: Any = Debugger(build(False), {"topic": "x"}).widget()
    w.continue_button.click()
    assert w.status.value.count("waiting for an answer") == 1
    assert "publish x?" in w.interrupt_box.children[0].value  # the question is in its box


def test_the_drawing_reports_clicks_on_its_nodes_only() -> None:
    from wfkit.jupyter.graphview import GraphView

    view = GraphView()
    view.nodes = ["a", "b"]
    got: list[str] = []
    view.on_click(got.append)
    for message in (
        {"event": "click", "node": "b"},
        {"event": "click", "node": "__start__"},  # Graphviz's START circle
        {"event": "click", "node": 3},
        {"event": "hover", "node": "a"},
        "click",
    ):
        view._handle_custom_msg(message, [])
    assert got == ["b"]
