"""Stream chunks of a functional run, in LangGraph's shapes for the
functional API (:class:`wfkit.engine.events.Events` does a graph's):

- ``"updates"``: ``{task: return value}`` for each call as its step ends
  (in the order the calls finished), then ``{entrypoint: return value}``;
  a pause ends with ``{"__interrupt__": interrupts}``;
- ``"values"``: the return value when the entrypoint returns; a run that
  continues a checkpoint (``None`` or ``Command`` as input) starts with
  the thread's value; a pause ends with ``{**value, "__interrupt__": ...}``
  (``{"__interrupt__": ...}`` when the value is not a dict);
- ``"tasks"`` / ``"debug"``: a task's start (a call's input is its
  ``(args, kwargs)``) and its result (``{"__return__": value}`` for a call,
  ``{"__end__": value}`` for the entrypoint);
- ``"custom"``, ``"messages"``, ``"checkpoints"``: as for graphs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from wfkit.engine.events import Events, Stepping
from wfkit.engine.machine import DONE, FAILED, INTERRUPTED, PENDING, Task
from wfkit.func.machine import INPUT_KEY

if TYPE_CHECKING:
    from wfkit.func.machine import EntryMachine

__all__ = ["EntryEvents"]


class EntryEvents(Events):
    """One functional run's stream chunks (see the module docstring)."""

    __slots__ = ()

    def start(self, run: Stepping, was_started: bool) -> list[Any]:
        chunks: list[Any] = []
        m = cast("EntryMachine", run.machine)
        if self.values and was_started:
            self._out(chunks, "values", m.value())
        self._checkpoint(chunks, run, run.step_number)
        return chunks

    def _task(self, chunks: list[Any], mode_step: int, payload: dict[str, Any]) -> None:
        self._with_debug(chunks, "tasks", self.tasks, mode_step, "task", payload)

    def before(self, run: Stepping) -> list[Any]:
        if not (self.tasks or self.debug):
            return []
        chunks: list[Any] = []
        m = cast("EntryMachine", run.machine)
        for t in run.tasks:
            if t.status is not PENDING:
                continue
            if t is m.entry:
                if m.body.started:  # announced when its body first ran
                    continue
                payload = {
                    "id": t.id,
                    "name": t.node.name,
                    "input": m.state.get(INPUT_KEY),
                    "triggers": ("__start__",),
                }
            else:
                payload = {
                    "id": t.id,
                    "name": t.node.name,
                    "input": t.arg,
                    "triggers": ("__pregel_push",),
                }
            self._task(chunks, t.step + 1, payload)
        return chunks

    def _done(self, chunks: list[Any], t: Task, result: Any) -> None:
        if not (self.tasks or self.debug):
            return
        error = None
        if t.status is FAILED and t.error is not None:
            error = f"{type(t.error).__name__}({t.error})"
        self._result(chunks, t, result, error)

    def after(self, run: Stepping, tasks: list[Task]) -> list[Any]:
        chunks: list[Any] = []
        m = cast("EntryMachine", run.machine)
        entry = m.entry
        if tasks and tasks[0] is not entry:  # a step of calls, in the order they finished
            for t in sorted(tasks, key=lambda t: t.ended):
                if t.status is DONE:
                    if self.updates:
                        self._out(chunks, "updates", {t.node.name: t.update})
                    self._done(chunks, t, {"__return__": t.update})
                elif t.status in (FAILED, INTERRUPTED):
                    self._done(chunks, t, {})
        if tasks and tasks[0].step < run.step_number:  # the entrypoint returned: the barrier
            value = m.value()
            if self.updates:
                self._out(chunks, "updates", {entry.node.name: value})
            self._done(chunks, entry, {"__end__": value})
            if self.values:
                self._out(chunks, "values", value)
            self._checkpoint(chunks, run, run.step_number)
        if run.paused:
            interrupts = tuple(m.interrupts)
            if entry.status is INTERRUPTED:
                self._done(chunks, entry, {})
            if self.updates:
                self._out(chunks, "updates", {"__interrupt__": interrupts})
            if self.values and interrupts:
                value = m.value()
                self._out(
                    chunks,
                    "values",
                    {**value, "__interrupt__": interrupts}
                    if isinstance(value, dict)
                    else {"__interrupt__": interrupts},
                )
        return chunks
