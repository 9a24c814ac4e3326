"""A functional run's flow: the effect loop of :mod:`wfkit.engine.loop`,
for a superstep whose tasks are the entrypoint and the calls it makes.

Each *step* of the flow yields one list of tasks to the interpreter,
like a superstep of a graph, and the same interpreters answer it (inline,
on threads, with asyncio, on Dask):

- ``[entry]``: advance the entrypoint's body until it waits for calls
  that have not run, or returns (:mod:`wfkit.func.body`);
- the calls it waits for (all it made since the last step), in
  parallel; their rows are stored at once, so a resumed run gets their
  results back;
- then ``[entry]`` again, with their results.

When the body returns, the calls it made and never waited for run as one
last step; then the entrypoint's update is applied (the barrier) and the
checkpoint after the superstep is stored. An input checkpoint is stored
before the first step. The debugger steps this flow one step (or one
task) at a time, as it steps a graph's supersteps.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, cast

from wfkit.engine.loop import Flow, RunState, Wait, close_run, settle
from wfkit.engine.machine import DONE, PENDING, Task
from wfkit.engine.runs import AsyncRun, Run, Stepping
from wfkit.func.body import BLOCKED

if TYPE_CHECKING:
    from wfkit.func.machine import EntryMachine

__all__ = ["AsyncEntryRun", "EntryRun", "EntryStepping", "entry_steps"]


def _checkpoint(run: RunState, source: str, **extra: Any) -> Flow[None]:
    for hook in run.checkpointing:
        ticket = hook.after_step(machine=run.machine, source=source, **extra)
        if ticket:
            yield Wait(hook, ticket)


def _ended(run: RunState) -> Flow[bool]:
    """The body has ended and its last calls ran: store the entrypoint's
    row, then fail, pause, or apply its update and checkpoint. True when
    the superstep is over."""
    m = cast("EntryMachine", run.machine)
    entry = m.entry
    if m.body.started:  # the span covers the whole body, not its last advance
        entry.started = m.body.started
        entry.span = None  # made from its fields again (wfkit.trace.record)
    m.tasks = [entry]
    if run.ran is not None:
        run.ran.append(entry)
    for hook in run.checkpointing:
        hook.after_tasks(machine=m, tasks=[entry])
    if not settle(m, [entry]):  # raises the entrypoint's error; pauses on its interrupts
        return False
    m.finish()
    if run.checkpointing:
        yield from _checkpoint(run, "loop")
    return True


def entry_steps(run: RunState, max_steps: int = -1) -> Flow[list[Task] | None]:
    """Apply the input if not yet done, then run ``max_steps`` steps of
    tasks (-1: all; 0: only the input) until the superstep is over or
    paused; the hooks hear the run end as in
    :func:`wfkit.engine.loop.run_steps`. Returns the last step's tasks."""
    m = cast("EntryMachine", run.machine)
    ran = run.ran
    start = run.pending_start
    last: list[Task] | None = None
    try:
        if start is not None:
            run.pending_start = None
            m.begin(start, run.base)
            if run.checkpointing:
                yield from _checkpoint(run, "input", entry=True)
        entry = m.entry
        while max_steps and m.status == "running" and m.tasks:
            tasks = m.tasks
            if tasks[0] is entry and entry.status is not PENDING:
                # ended before the checkpoint after it was stored (a restored run)
                yield from _ended(run)
                continue
            max_steps -= 1
            yield tasks
            last = tasks
            if tasks[0] is entry:
                if entry.status is DONE and entry.update is BLOCKED:
                    m.blocked()
                    continue
                if m.leftovers():
                    continue
            else:
                if ran is not None:
                    ran += tasks
                for hook in run.checkpointing:
                    hook.after_tasks(machine=m, tasks=tasks)
                m.tasks = [entry]
                if not m.ending:
                    continue
            if not (yield from _ended(run)):
                break
    except BaseException as exc:
        m.body.cancel()  # a body left waiting by the error ends now
        yield from close_run(run, exc)
        raise
    if (
        (last is not None or start is not None)
        and not run.closed
        and (m.status != "running" or not m.tasks)
    ):
        yield from close_run(run, None)
    return last


class EntryStepping(Stepping):
    """A functional run: the stepping API of a graph's run, over the steps
    of :func:`entry_steps` (``next`` names the entrypoint while its body is
    to run, then the tasks it waits for)."""

    machine: EntryMachine

    def __init__(self, machine: EntryMachine, config: dict[str, Any], **kw: Any) -> None:
        super().__init__(machine, config, **kw)
        # a run dropped while its body waits (a stepping run left behind): end the body
        weakref.finalize(self, machine.body.cancel)

    def start_flow(self) -> Flow[list[Task] | None]:
        return entry_steps(self, 0)

    def step_flow(self, max_steps: int = 1) -> Flow[list[Task] | None]:
        return entry_steps(self, max_steps)

    def task_flow(self, index: int) -> Flow[Task]:
        """Run one task of the next step (the debugger's "step node"): one
        call; the step completes once every call of it has run (the
        entrypoint's step is one task)."""
        if self.pending_start is not None:
            yield from entry_steps(self, 0)
        m = self.machine
        task = m.tasks[index]
        if task is not m.entry and task.status is PENDING:
            yield [task]
        if all(t.status is not PENDING for t in m.tasks) or task is m.entry:
            yield from entry_steps(self, 1)
        return task

    @property
    def value(self) -> Any:
        """What the entrypoint returned last (None before it returned)."""
        return self.machine.value()

    def output(self) -> Any:
        """The return value (with ``__interrupt__`` when paused, as LangGraph's)."""
        return self.machine.output()


class EntryRun(EntryStepping, Run):
    """A functional run advanced one step at a time (sync): ``run.step()``."""


class AsyncEntryRun(EntryStepping, AsyncRun):
    """A functional run advanced one step at a time (async): ``await run.astep()``."""
