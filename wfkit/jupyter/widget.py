"""The step debugger's view: a thin ipywidgets layer over
:class:`wfkit.Debugger`.

Buttons schedule the controller's coroutines on the kernel's event loop
(never blocking the kernel); the view redraws when an operation completes.
Without a running loop (a script, a test) operations run to completion
before the click returns.
"""

from __future__ import annotations

import asyncio
import html
import json
import shutil
import warnings
from typing import Any

import ipywidgets as w

from wfkit._loop import run_sync
from wfkit.debugger import Debugger
from wfkit.jupyter.graphview import GraphView
from wfkit.jupyter.tables import to_html

__all__ = ["DebuggerWidget"]


def _history_options(history: list[Any], current: str | None) -> list[tuple[str, str]]:
    """The History list: the current branch first (the checkpoint the debugger
    is at marked ▶, then its ancestors), then each other branch, marked ⑂
    with the step it forked from."""

    def cid(snap: Any) -> str:
        return str(snap.config["configurable"]["checkpoint_id"])

    def parent(snap: Any) -> str | None:
        found = (snap.parent_config or {}).get("configurable", {}).get("checkpoint_id")
        return None if found is None else str(found)

    by_id = {cid(h): h for h in history}
    line: list[str] = []
    at = current if current in by_id else None
    while at is not None and at in by_id:
        line.append(at)
        at = parent(by_id[at])
    on_line = set(line)

    def label(snap: Any) -> str:
        return (
            f"step {snap.metadata.get('step')} · {snap.metadata.get('source')} · "
            f"next: {', '.join(snap.next) or '—'}"
        )

    options = [("▶ " if i == 0 else "│ ") + label(by_id[c]) for i, c in enumerate(line)]
    out = list(zip(options, line, strict=True))
    for snap in history:  # newest first
        if cid(snap) in on_line:
            continue
        root = parent(snap)
        while root is not None and root in by_id and root not in on_line:
            root = parent(by_id[root])
        fork = by_id[root].metadata.get("step") if root in by_id else "?"
        out.append((f"⑂ {label(snap)} · branch from step {fork}", cid(snap)))
    return out


def _pre(value: Any) -> str:
    text = json.dumps(value, indent=2, default=repr, ensure_ascii=False)
    return f"<pre style='margin:0;max-height:260px;overflow:auto'>{html.escape(text)}</pre>"


class DebuggerWidget(w.VBox):  # type: ignore[misc]
    """Step / Continue / Restart, breakpoints, state and its diff, the
    selected node's input and update, the checkpoint history (select one and
    rewind), per-node timings, an answer box for interrupts, and errors with
    their traceback."""

    def __init__(self, debugger: Debugger) -> None:
        self.debugger = debugger
        nodes = list(debugger.workflow.topology.by_name)
        self.title = w.HTML()
        self.graph = GraphView(layout=w.Layout(min_width="260px"))
        self.graph.nodes = nodes
        self.graph.on_click(self._node_clicked)
        self.step_button = w.Button(description="Step", tooltip="run one superstep")
        self.step_node_button = w.Button(
            description="Step node", tooltip="run one task of the next superstep"
        )
        self.continue_button = w.Button(
            description="Continue",
            tooltip="run to a breakpoint, an interrupt or the end",
        )
        self.restart_button = w.Button(description="Restart", tooltip="start again from the input")
        self.breakpoint_picker = w.SelectMultiple(
            options=nodes,
            description="Break before",
            rows=min(6, max(2, len(nodes))),
            style={"description_width": "initial"},  # the whole label, not "Break bef…"
        )
        self.status = w.HTML()
        self.error_view = w.HTML()
        self.answer = w.Text(placeholder="your answer (JSON or text)", description="Answer")
        self.resume_button = w.Button(description="Resume", button_style="warning")
        self.interrupt_box = w.VBox([w.HTML(), w.HBox([self.answer, self.resume_button])])
        self.history = w.Select(
            options=[], description="History", rows=7, layout=w.Layout(width="100%")
        )
        self.rewind_button = w.Button(
            description="Rewind here", tooltip="continue from the selected checkpoint (a fork)"
        )
        self.state_view = w.HTML()
        self.diff_view = w.HTML()
        self.node_picker = w.Dropdown(options=[], description="Node")
        self.node_view = w.HTML()
        self.timing_view = w.HTML()

        self.step_button.on_click(lambda _: self._schedule(self.debugger.astep()))
        self.step_node_button.on_click(lambda _: self._schedule(self.debugger.astep_node()))
        self.continue_button.on_click(lambda _: self._schedule(self.debugger.acontinue()))
        self.restart_button.on_click(lambda _: self._sync(self.debugger.restart))
        self.resume_button.on_click(lambda _: self._resume())
        with warnings.catch_warnings():
            # ipywidgets 8 deprecates on_submit for observing value with
            # continuous_update=False, which also fires when the box loses
            # focus (a click on Resume would answer twice); Enter is the event
            warnings.simplefilter("ignore", DeprecationWarning)
            self.answer.on_submit(lambda _: self._resume())
        self.rewind_button.on_click(lambda _: self._rewind())
        self.breakpoint_picker.observe(self._breakpoints_changed, names="value")
        self.history.observe(lambda _: self._show_checkpoint(), names="value")
        self.node_picker.observe(lambda _: self._show_node(), names="value")

        tabs = w.Tab(
            children=[
                w.VBox(
                    [
                        w.HTML("<b>State</b>"),
                        self.state_view,
                        w.HTML("<b>Changed at this checkpoint</b>"),
                        self.diff_view,
                    ]
                ),
                w.VBox([self.node_picker, self.node_view]),
                w.VBox([self.history, self.rewind_button]),
                self.timing_view,
            ]
        )
        for i, label in enumerate(("State", "Node", "History", "Timings")):
            tabs.set_title(i, label)
        controls = w.HBox(
            [self.step_button, self.step_node_button, self.continue_button, self.restart_button]
        )
        right = w.VBox(
            [controls, self.status, self.interrupt_box, self.error_view, tabs],
            layout=w.Layout(flex="1"),
        )
        super().__init__([self.title, w.HBox([self.graph, right]), self.breakpoint_picker])
        self.breakpoint_picker.value = tuple(
            n for n in nodes if n in debugger.breakpoints["before"]
        )
        debugger.listeners.append(lambda _: self._listen())  # operations made from code redraw too
        self.refresh()

    # ---------------------------------------------------------------- actions
    def _resume(self) -> None:
        if not (self.debugger.paused and self.debugger.interrupts) or self.debugger.busy:
            return  # Enter twice, or Enter and then Resume: one answer
        value = self._answer_value()
        self.answer.value = ""  # the next interrupt starts with an empty box
        self._schedule(self.debugger.aresume(value))

    def _answer_value(self) -> Any:
        text = self.answer.value
        try:
            return json.loads(text)
        except ValueError:
            return text

    def _set_busy(self, busy: bool) -> None:
        for b in (
            self.step_button,
            self.step_node_button,
            self.continue_button,
            self.restart_button,
            self.resume_button,
        ):
            b.disabled = busy
        if busy:
            self.status.value = "<i>running…</i>"

    def _schedule(self, coro: Any) -> None:
        """Run an operation without blocking the kernel: as a task on the
        running loop when there is one, else to completion now."""
        self._set_busy(True)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            try:
                run_sync(coro)
            finally:
                self._set_busy(False)
                self.refresh()
            return
        task = loop.create_task(coro)

        def done(_: Any) -> None:
            self._set_busy(False)
            self.refresh()

        task.add_done_callback(done)

    def _listen(self) -> None:
        if not self.debugger.busy:  # the widget's own operations redraw when they finish
            self.refresh()

    def _sync(self, op: Any) -> None:
        try:
            op()
        except Exception as exc:  # shown in the view, never lost in a click handler
            self.error_view.value = f"<b style='color:#c00000'>{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</b>"
            return
        self.refresh()

    def _rewind(self) -> None:
        if self.history.value:
            value = self.history.value
            self._sync(lambda: self.debugger.rewind(value))

    def _node_clicked(self, node: str) -> None:
        """A click on a node of the graph: toggle its "before" breakpoint and
        show the node in the Node tab."""
        chosen = set(self.breakpoint_picker.value) ^ {node}
        self.breakpoint_picker.value = tuple(
            n for n in self.breakpoint_picker.options if n in chosen
        )  # sets the debugger's breakpoints and redraws
        self.node_picker.value = node

    def _breakpoints_changed(self, change: Any) -> None:
        self.debugger.breakpoints["before"] = set(change["new"])
        self._draw()

    # ---------------------------------------------------------------- views
    def refresh(self) -> None:
        d = self.debugger
        self.title.value = (
            f"<h3 style='margin:4px 0'>Debugging <code>{html.escape(d.workflow.name)}</code> "
            f"<small>thread {html.escape(d.thread)}</small></h3>"
        )
        self._draw()
        last = d.events[-1] if d.events else None
        if d.error is not None:
            where = f" in <code>{html.escape(d.failed_node)}</code>" if d.failed_node else ""
            state = f"<b style='color:#c00000'>failed{where}</b>"
        elif d.done:
            state = "<b style='color:#2b8a3e'>finished</b>"
        elif d.paused and d.interrupts:
            state = "<b style='color:#d98c00'>waiting for an answer</b>"
        elif d.paused:
            state = "<b style='color:#d98c00'>paused</b>"
        else:
            state = "ready"
        nxt = ", ".join(d.next) or "—"
        # the interrupt's question is in the box below, the error in its box
        msg = (
            f" · {html.escape(last.message)}"
            if last and last.message and last.kind not in ("error", "interrupt")
            else ""
        )
        self.status.value = (
            f"step {d.step_number} · {state} · next: <code>{html.escape(nxt)}</code>{msg}"
        )
        if d.paused and d.interrupts:
            questions = "<br>".join(
                html.escape(json.dumps(i.value, default=repr)) for i in d.interrupts
            )
            self.interrupt_box.children[0].value = f"<b>Interrupt:</b> {questions}"
            self.interrupt_box.layout.display = None
        else:
            self.interrupt_box.layout.display = "none"
        if d.error is not None and d.traceback:
            hint = html.escape(last.message) if last else ""
            self.error_view.value = (
                f"<div style='border-left:4px solid #c00000;padding:4px 8px'>"
                f"<b style='color:#c00000'>{html.escape(type(d.error).__name__)}: {html.escape(str(d.error))}</b><br>{hint}"
                f"<details><summary>traceback</summary><pre>{html.escape(d.traceback)}</pre></details></div>"
            )
        else:
            self.error_view.value = ""
        self.history.options = _history_options(d.history(), d.checkpoint_id)
        ids = [cid for _, cid in self.history.options]
        # always the checkpoint the debugger is at (after a rewind, an edit, a reload)
        self.history.value = d.checkpoint_id if d.checkpoint_id in ids else None
        self._show_checkpoint()
        nodes = list(d.workflow.topology.by_name)
        if list(self.node_picker.options) != nodes:
            self.node_picker.options = nodes
        focus = d.failed_node or next(iter(d.last_tasks), None) or next(iter(d.next), None)
        self.node_picker.value = focus if focus in nodes else (nodes[0] if nodes else None)
        self._show_node()
        try:
            timings = d.timings()
            self.timing_view.value = to_html(
                timings.select("node", "count", "errors", "p50_ms", "p95_ms", "mean_cpu_ms")
            )
        except Exception as exc:  # no spans yet
            self.timing_view.value = f"<i>no timings yet ({html.escape(str(exc))})</i>"

    def _draw(self) -> None:
        from wfkit.trace.draw import draw_debug

        d = self.debugger
        drawing = draw_debug(
            d.workflow.get_graph(),
            next_nodes=set(d.next),
            finished=set(d.last_tasks),
            failed={d.failed_node} if d.failed_node else set(),
            breakpoints=d.breakpoints["before"],
        )
        nodes = list(d.workflow.topology.by_name)
        if list(self.graph.nodes) != nodes:
            self.graph.nodes = nodes
        if shutil.which("dot") is None:
            self.graph.svg = f"<pre>{html.escape(drawing.source)}</pre>"
        else:
            self.graph.svg = drawing.svg()

    def _show_checkpoint(self) -> None:
        d = self.debugger
        cid = self.history.value
        if not cid:
            self.state_view.value = _pre(d.state)
            self.diff_view.value = ""
            return
        snap = d.snapshot(cid)
        self.state_view.value = _pre(snap.values)
        diff = d.diff(cid)
        self.diff_view.value = (
            _pre({k: {"before": a, "after": b} for k, (a, b) in diff.items()})
            if diff
            else "<i>no change</i>"
        )

    def _show_node(self) -> None:
        import polars as pl

        node = self.node_picker.value
        if not node:
            self.node_view.value = ""
            return
        writes = self.debugger.node_writes().filter(pl.col("node") == node)
        if writes.height == 0:
            self.node_view.value = f"<i>{html.escape(node)} has not run on this thread</i>"
            return
        row = writes.row(writes.height - 1, named=True)
        if row["input"]:  # a Send's own argument
            received = json.loads(row["input"])
        else:  # the state at the checkpoint the node ran from
            received = self.debugger.snapshot(row["checkpoint_id"]).values
        returned = json.loads(row["result"]) if row["result"] else None
        self.node_view.value = (
            f"<b>{html.escape(node)}</b> · ran in step {row['step']} (the status line's step "
            f"{row['step']} → {row['step'] + 1}) · attempt {row['attempt']} · {row['status']}"
            f"<br><b>received</b>{_pre(received)}<b>returned</b>{_pre(returned)}"
            + (
                f"<b>error</b> {html.escape(str(row['error_type']))}: {html.escape(str(row['error']))}"
                if row["error_type"]
                else ""
            )
        )


Debugger.view_factory = DebuggerWidget  # the core asks for its view through this


def show_debugger(debugger: Debugger) -> Any:
    """The rich display of a bare ``debugger`` in a cell (registered with
    IPython's display formatter by ``%load_ext wfkit``)."""
    return DebuggerWidget(debugger)._repr_mimebundle_()
