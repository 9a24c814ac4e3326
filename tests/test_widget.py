"""The debugger widget driven headlessly through the ipywidgets API."""

from __future__ import annotations

from typing import Any

from tests.test_debugger import build
from wfkit import Debugger


def test_buttons_and_views() -> None:
    w: Any = Debugger(build(False), {"topic": "x"}).widget()
    assert "step 0" in w.status.value and "draft" in w.status.value
    assert "<svg" in w.graph.value or "digraph" in w.graph.value
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
    assert "#ffc9c9" in w.graph.value  # the failed node is drawn red


def test_history_rewind_breakpoints_and_timings() -> None:
    w: Any = Debugger(build(False), {"topic": "x"}).widget()
    w.breakpoint_picker.value = ("ask",)
    assert w.debugger.breakpoints["before"] == {"ask"}
    w.continue_button.click()
    assert "ask" in w.status.value
    options = w.history.options
    assert len(options) == 2 and options[0][0].startswith("step 1")
    w.history.value = options[-1][1]  # the input checkpoint
    assert "&quot;topic&quot;: &quot;x&quot;" in w.state_view.value
    w.rewind_button.click()
    assert w.debugger.next == ("draft",)
    assert "draft" in w.timing_view.value
    w.node_picker.value = "draft"
    assert "received" in w.node_view.value and "returned" in w.node_view.value
    w.restart_button.click()
    assert "step 0" in w.status.value
