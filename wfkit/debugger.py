"""The step debugger's controller: plain Python, no widgets.

``Debugger(workflow, input)`` owns a run and moves it on your command:
``step()`` one superstep, ``step_node()`` one task, ``continue_()`` to a
breakpoint, an interrupt or the end; ``resume(value)`` answers an interrupt;
``rewind(checkpoint_id)`` and ``edit_state(patch)`` fork the thread;
``restart()`` starts over; ``reload(node, fn)`` swaps a node's code and
replays from the checkpoint before that node.

Every operation has an ``a``-prefixed coroutine (``astep()``, ...) that the
widget schedules on the kernel's event loop, so the kernel is never blocked;
the plain methods run the coroutine to completion (also inside a running
loop, on wfkit's private loop thread). A node that raises does not raise out
of the debugger: the step ends with ``error`` set and a hint on the event.

The run is checkpointed (a workflow without a checkpointer is debugged with
a :class:`~wfkit.checkpoint.MemoryCheckpointer`), which is what makes rewind,
edit and replay possible.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from wfkit._ids import new_checkpoint_id as new_id
from wfkit._loop import run_sync
from wfkit._tracebacks import format_user_exception
from wfkit.checkpoint.memory import MemoryCheckpointer
from wfkit.engine.machine import PENDING
from wfkit.engine.runs import AsyncRun
from wfkit.errors import InvalidInputError
from wfkit.types import START
from wfkit.workflow import Workflow

if TYPE_CHECKING:
    import polars as pl

    from wfkit.threads.snapshot import StateSnapshot

__all__ = ["Debugger", "DebugEvent"]

When = Literal["before", "after"]


@dataclass(frozen=True, kw_only=True, slots=True)
class DebugEvent:
    """What the last operation did: ``kind`` is one of step, task, breakpoint,
    interrupt, done, paused, idle, busy, error, rewind, edit, reload,
    restart, resume."""

    kind: str
    step: int
    nodes: tuple[str, ...] = ()
    message: str = ""


class Debugger:
    """Step through a workflow run (see the module docstring)."""

    #: makes the view of a debugger; set by the Jupyter layer (``wfkit.jupyter.widget``)
    view_factory: ClassVar[Callable[[Debugger], Any] | None] = None
    #: the module that registers the default view when first asked for one
    view_module: ClassVar[str] = "wfkit.jupyter.widget"

    def __init__(
        self,
        workflow: Workflow,
        input: Any = None,
        config: Mapping[str, Any] | None = None,
        *,
        thread: str | None = None,
    ) -> None:
        if workflow.checkpointer is None:
            workflow = workflow.with_checkpointer(MemoryCheckpointer())
        self.workflow = workflow
        self.input = input
        base = dict(config or {})
        given = (base.get("configurable") or {}).get("thread_id")
        self.thread: str = str(thread or given or f"debug-{new_id()}")
        self._base_config = base
        self.breakpoints: dict[str, set[str]] = {"before": set(), "after": set()}
        self.error: BaseException | None = None
        self.traceback: str | None = None
        self.events: list[DebugEvent] = []
        self.last_tasks: tuple[str, ...] = ()  # nodes of the last superstep run
        self.failed_node: str | None = None
        self.listeners: list[Callable[[Debugger], None]] = []
        self.busy = False
        resume_existing = input is None and (given or thread)
        self._run = self._new_run(None if resume_existing else input, None)

    # ---------------------------------------------------------------- setup
    @property
    def config(self) -> dict[str, Any]:
        """The config naming the debugged thread."""
        return {
            **self._base_config,
            "configurable": {
                **(self._base_config.get("configurable") or {}),
                "thread_id": self.thread,
            },
        }

    def _new_run(self, input: Any, checkpoint_id: str | None) -> AsyncRun:
        cfg = self.config
        if checkpoint_id is not None:
            cfg["configurable"]["checkpoint_id"] = checkpoint_id
        run = self.workflow.aiter(input, cfg)
        run_sync(run.start())  # apply the input now, so `next` shows the first step
        return run

    def _emit(self, event: DebugEvent) -> DebugEvent:
        recorder = self._run.recorder
        if recorder is not None:
            recorder.flush()  # timings of the steps so far, for the view
        self.events.append(event)
        for listener in list(self.listeners):
            listener(self)
        return event

    # ---------------------------------------------------------------- what is there
    @property
    def state(self) -> dict[str, Any]:
        return self._run.state

    @property
    def next(self) -> tuple[str, ...]:
        return self._run.next

    @property
    def step_number(self) -> int:
        return self._run.step_number

    @property
    def done(self) -> bool:
        return self._run.done

    @property
    def paused(self) -> bool:
        return self._run.paused

    @property
    def interrupts(self) -> tuple[Any, ...]:
        return self._run.interrupts

    @property
    def checkpoint_id(self) -> str | None:
        return self._run.saver.checkpoint_id if self._run.saver is not None else None

    def history(self, limit: int | None = None) -> list[StateSnapshot]:
        """The thread's checkpoints, newest first."""
        return list(self.workflow.get_state_history(self.config, limit=limit))

    def snapshot(self, checkpoint_id: str | None = None) -> StateSnapshot:
        cfg = self.config
        if checkpoint_id is not None:
            cfg["configurable"]["checkpoint_id"] = checkpoint_id
        return self.workflow.get_state(cfg)

    def diff(self, checkpoint_id: str | None = None) -> dict[str, tuple[Any, Any]]:
        """Keys that changed at a checkpoint (default: the latest), as
        ``{key: (before, after)}``; a key that did not exist before has
        ``before`` None. An entrypoint's value that is not a dict is one
        key, ``"value"``."""
        snap = self.snapshot(checkpoint_id)
        before: Any = {}
        if snap.parent_config is not None:
            before = self.workflow.get_state(snap.parent_config).values
        if not isinstance(snap.values, dict) or not isinstance(before, dict):
            old = None if before == {} else before
            return {} if old == snap.values else {"value": (old, snap.values)}
        return {
            k: (before.get(k), v)
            for k, v in snap.values.items()
            if k not in before or before[k] != v
        }

    def node_writes(self) -> pl.DataFrame:
        """What each node received and returned on this thread (Polars)."""
        return self.workflow.node_writes(self.config)

    def timings(self) -> pl.DataFrame:
        """Per-node latency summary of this thread's spans (Polars)."""
        from wfkit.trace import summary

        return summary(self.workflow.traces(thread=self.thread))

    # ---------------------------------------------------------------- breakpoints
    def add_breakpoint(self, node: str, when: When = "before") -> None:
        """Stop ``continue_()`` before (or after) ``node`` runs."""
        names = self.workflow.node_names()
        if node not in names:
            raise InvalidInputError(f"no node {node!r} to break on; nodes: {', '.join(names)}")
        if when not in ("before", "after"):
            raise InvalidInputError(f"when must be 'before' or 'after', got {when!r}")
        self.breakpoints[when].add(node)

    def remove_breakpoint(self, node: str, when: When | None = None) -> None:
        for w in ("before", "after") if when is None else (when,):
            self.breakpoints[w].discard(node)

    def toggle_breakpoint(self, node: str, when: When = "before") -> bool:
        """Add or remove a breakpoint; True when it is now set."""
        if node in self.breakpoints[when]:
            self.breakpoints[when].discard(node)
            return False
        self.add_breakpoint(node, when)
        return True

    # ---------------------------------------------------------------- moving (async)
    async def _guard(self, op: Callable[[], Any]) -> DebugEvent:
        if self.busy:
            return DebugEvent(
                kind="busy", step=self.step_number, message="a step is already running"
            )
        self.busy = True
        try:
            return await op()  # type: ignore[no-any-return]
        except Exception as exc:  # a node's error: shown, not raised
            self.error = exc
            self.traceback = format_user_exception(exc)  # the node's frames, not wfkit's
            failed = self._run.machine.failed_task()
            self.failed_node = failed.node.name if failed is not None else None
            where = f"node {self.failed_node!r}" if self.failed_node else "the run"
            hint = (
                f"{type(exc).__name__} in {where}. Fix the code (re-run its %%workflow cell, or "
                f"debugger.reload({self.failed_node or 'node'!r}, fixed_fn)) and replay from the last checkpoint."
            )
            return self._emit(DebugEvent(kind="error", step=self.step_number, message=hint))
        finally:
            self.busy = False

    def _after_step(self, tasks: list[Any] | None, kind: str = "step") -> DebugEvent:
        if tasks is None:
            state = "done" if self.done else "paused" if self.paused else "idle"
            return self._emit(
                DebugEvent(kind="done" if self.done else state, step=self.step_number)
            )
        self.last_tasks = tuple(t.node.name for t in tasks)
        self.error = self.traceback = None
        self.failed_node = None
        if self.paused and self.interrupts:
            values = ", ".join(repr(i.value) for i in self.interrupts)
            return self._emit(
                DebugEvent(
                    kind="interrupt",
                    step=self.step_number,
                    nodes=self.last_tasks,
                    message=f"waiting for an answer to {values}",
                )
            )
        if self.paused:  # the graph's own breakpoint: compile(interrupt_before/after=...)
            return self._emit(
                DebugEvent(
                    kind="breakpoint",
                    step=self.step_number,
                    nodes=self.next,
                    message=f"{self._graph_breakpoint()}; Step or Continue goes on",
                )
            )
        if self.done:
            return self._emit(
                DebugEvent(
                    kind="done",
                    step=self.step_number,
                    nodes=self.last_tasks,
                    message="the run reached its end",
                )
            )
        return self._emit(DebugEvent(kind=kind, step=self.step_number, nodes=self.last_tasks))

    def _graph_breakpoint(self) -> str:
        topology = self.workflow.topology
        before = [n for n in dict.fromkeys(self.next) if n in topology.interrupt_before]
        if before:
            return f"before {', '.join(before)} (the graph's interrupt_before)"
        after = [n for n in dict.fromkeys(self.last_tasks) if n in topology.interrupt_after]
        return f"after {', '.join(after) or 'the last step'} (the graph's interrupt_after)"

    def _past_graph_breakpoint(self) -> None:
        """A pause the graph itself asked for (``interrupt_before`` /
        ``interrupt_after`` of ``compile``) has no question to answer: moving
        on approves it, as ``invoke(None, config)`` does."""
        if self._run.paused and not self._run.interrupts:
            self._run.resume()

    async def astep(self) -> DebugEvent:
        """Run one superstep (past the graph's own breakpoint, if stopped at one)."""

        async def op() -> DebugEvent:
            self._past_graph_breakpoint()
            return self._after_step(await self._run.astep())

        return await self._guard(op)

    async def astep_node(self, index: int | None = None) -> DebugEvent:
        """Run one task of the next superstep (the first pending one by default)."""

        async def op() -> DebugEvent:
            run = self._run
            if not run.started:
                await run.start()
            self._past_graph_breakpoint()
            pending = [i for i, t in enumerate(run.tasks) if t.status == PENDING]
            if not pending:
                return self._after_step(await run.astep())
            i = pending[0] if index is None else index
            step_before = run.step_number
            task = await run.arun_task(i)
            if run.step_number > step_before or run.paused or run.done:
                # the task completed its step: show what the step came to
                return self._after_step([task], kind="step")
            return self._emit(
                DebugEvent(kind="task", step=self.step_number, nodes=(task.node.name,))
            )

        return await self._guard(op)

    async def acontinue(self) -> DebugEvent:
        """Run until a breakpoint, an interrupt, an error or the end."""

        async def op() -> DebugEvent:
            last = self.events[-1] if self.events else None
            # step past the breakpoint we are stopped at; any other one fires at once
            skip = (
                last is not None and last.kind == "breakpoint" and last.message.startswith("before")
            )
            self._past_graph_breakpoint()
            first = True
            while True:
                run = self._run
                if not run.started:
                    await run.start()
                hit = [n for n in run.next if n in self.breakpoints["before"]]
                if hit and not (first and skip):
                    return self._emit(
                        DebugEvent(
                            kind="breakpoint",
                            step=self.step_number,
                            nodes=tuple(hit),
                            message=f"before {', '.join(hit)}",
                        )
                    )
                first = False
                tasks = await run.astep()
                if tasks is None or self.paused or self.done:
                    return self._after_step(tasks)
                self.last_tasks = tuple(t.node.name for t in tasks)
                after = [t.node.name for t in tasks if t.node.name in self.breakpoints["after"]]
                if after:
                    return self._emit(
                        DebugEvent(
                            kind="breakpoint",
                            step=self.step_number,
                            nodes=tuple(after),
                            message=f"after {', '.join(after)}",
                        )
                    )

        return await self._guard(op)

    async def aresume(self, value: Any) -> DebugEvent:
        """Answer the pending interrupt(s) and run the interrupted step again."""

        if not (self.paused and self.interrupts):  # a misuse: raised, not shown
            raise InvalidInputError("resume(): no interrupt is waiting for an answer")

        async def op() -> DebugEvent:
            self._run.resume(value)
            return self._after_step(await self._run.astep(), kind="resume")

        return await self._guard(op)

    # ---------------------------------------------------------------- rewinding
    def _moved(self) -> None:
        """The debugger is at another checkpoint and nothing has run there yet:
        no last superstep, no error."""
        self.error = self.traceback = None
        self.failed_node = None
        self.last_tasks = ()

    def rewind(self, checkpoint_id: str) -> DebugEvent:
        """Go back to a checkpoint: the next step re-runs what followed it, on
        a new branch (the original history stays)."""
        self._run = self._new_run(None, checkpoint_id)
        self._moved()
        return self._emit(
            DebugEvent(
                kind="rewind",
                step=self.step_number,
                nodes=self.next,
                message=f"at checkpoint {checkpoint_id}",
            )
        )

    def edit_state(self, patch: Mapping[str, Any], as_node: str | None = None) -> DebugEvent:
        """Change the state at the current checkpoint (a fork) and continue from there."""
        cfg = self.config
        if self.checkpoint_id is not None:
            cfg["configurable"]["checkpoint_id"] = self.checkpoint_id
        new = self.workflow.update_state(cfg, patch, as_node=as_node)
        self._run = self._new_run(None, new["configurable"]["checkpoint_id"])
        self._moved()
        return self._emit(
            DebugEvent(
                kind="edit",
                step=self.step_number,
                nodes=self.next,
                message=f"edited {', '.join(patch)}",
            )
        )

    def restart(self) -> DebugEvent:
        """Start the run again from the original input, on a fresh thread."""
        if self.input is None:  # attached to an existing thread: start from its input
            history = self.history()
            first = history[-1] if history else None
            if first is not None and first.next == (START,) and first.tasks:
                self.input = dict(first.tasks[0].result or {})  # the input checkpoint's input
            else:
                self.input = dict(first.values) if first is not None else {}
        self.thread = f"debug-{new_id()}"
        self._run = self._new_run(self.input, None)
        self._moved()
        return self._emit(DebugEvent(kind="restart", step=self.step_number, nodes=self.next))

    def reload(self, node: str, fn: Callable[..., Any]) -> DebugEvent:
        """Swap ``node``'s code (hot swap) and go back to the checkpoint before
        it last ran, so the next step runs the new code."""
        self.workflow = self.workflow.replace_node(node, fn)
        target = None
        for snap in self.history():
            if self.workflow.runs_again(snap, node):
                target = snap.config["configurable"]["checkpoint_id"]
                break
        if target is None:  # not reached yet: keep going where we are
            target = self.checkpoint_id
        self._run = self._new_run(None, target)
        self._moved()
        return self._emit(
            DebugEvent(
                kind="reload",
                step=self.step_number,
                nodes=self.next,
                message=f"node {node!r} reloaded; replaying from checkpoint {target}",
            )
        )

    # ---------------------------------------------------------------- sync API
    def step(self) -> DebugEvent:
        return run_sync(self.astep())

    def step_node(self, index: int | None = None) -> DebugEvent:
        return run_sync(self.astep_node(index))

    def continue_(self) -> DebugEvent:
        return run_sync(self.acontinue())

    def resume(self, value: Any) -> DebugEvent:
        return run_sync(self.aresume(value))

    def widget(self) -> Any:
        """The ipywidgets view of this debugger (the view the Jupyter layer
        registered; ``%load_ext wfkit`` also shows it for a bare ``debugger``)."""
        if Debugger.view_factory is None:
            importlib.import_module(Debugger.view_module)  # registers itself
        factory = Debugger.view_factory
        if factory is None:
            raise InvalidInputError(
                f"no debugger view is registered; {Debugger.view_module} did not set "
                f"Debugger.view_factory (is ipywidgets installed?)"
            )
        return factory(self)

    def __repr__(self) -> str:
        return f"<Debugger {self.workflow.name!r} thread={self.thread!r} step={self.step_number} next={list(self.next)}>"
