"""The stepping API: a run you advance one superstep at a time.

``workflow.iter(...)`` gives a :class:`Run` (``step()``), ``workflow.aiter(...)``
an :class:`AsyncRun` (``await astep()``). Both are the same flows of
:mod:`wfkit.engine.loop` (:class:`Stepping`), driven by the sync or the
async interpreter; ``invoke``, ``stream`` and the debugger use them too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from wfkit._clock import close_stale_window
from wfkit._loop import run_sync
from wfkit.engine.interpret import adrive, drive
from wfkit.engine.loop import Flow, RunHooks, RunState, run_steps
from wfkit.engine.machine import FAILED, PENDING, Machine, Task
from wfkit.types import Interrupt

__all__ = ["AsyncRun", "Run", "Stepping"]


class Stepping(RunState):
    """What the sync and async stepping runs are: a machine, its config, the
    hooks that persist and trace it, and the flows that move it."""

    __slots__ = ("config", "needs_async", "saver")

    def __init__(
        self,
        machine: Machine,
        config: dict[str, Any],
        *,
        start: dict[str, Any] | None,
        base: dict[str, Any] | None = None,
        saver: Any = None,
        recorder: Any = None,
        needs_async: bool = False,
    ) -> None:
        hooks: tuple[RunHooks, ...] = () if saver is None else (saver,)
        RunState.__init__(self, machine, hooks, hooks, start, base, recorder)
        self.config = config
        self.saver = saver
        self.needs_async = needs_async

    # ---------------------------------------------------------------- flows
    def start_flow(self) -> Flow[list[Task] | None]:
        """Apply the input and plan the first superstep (once)."""
        return run_steps(self, 0)

    def step_flow(self, max_steps: int = 1) -> Flow[list[Task] | None]:
        """Run ``max_steps`` supersteps (-1: all) or until the run ends or pauses."""
        return run_steps(self, max_steps)

    def task_flow(self, index: int) -> Flow[Task]:
        """Run one task of the next superstep (the debugger's "step node");
        the superstep completes once every task has run."""
        if self.pending_start is not None:
            yield from run_steps(self, 0)
        m = self.machine
        task = m.tasks[index]
        if task.status is PENDING:
            yield [task]
        if task.status is FAILED:
            if self.ran is not None:
                self.ran.append(task)
            for hook in self.checkpointing:
                hook.after_tasks(machine=m, tasks=[task])
            assert task.error is not None
            raise task.error
        if all(t.status is not PENDING for t in m.tasks):
            yield from run_steps(self, 1)
        return task

    # ---------------------------------------------------------------- what is there
    @property
    def state(self) -> dict[str, Any]:
        """The state after the last superstep (never mutated afterwards)."""
        return self.machine.state

    @property
    def step_number(self) -> int:
        """How many supersteps have completed."""
        return self.machine.step

    @property
    def tasks(self) -> list[Task]:
        """The tasks of the next superstep (empty when the run is over)."""
        return self.machine.tasks

    @property
    def next(self) -> tuple[str, ...]:
        """Names of the nodes the next superstep runs."""
        return tuple(t.node.name for t in self.machine.tasks)

    @property
    def done(self) -> bool:
        """The run reached its end."""
        return self.machine.status == "done"

    @property
    def paused(self) -> bool:
        """The run stopped at an interrupt (see :attr:`interrupts`)."""
        return self.machine.status == "interrupted"

    @property
    def interrupts(self) -> tuple[Interrupt, ...]:
        """The pending ``interrupt()`` questions while paused."""
        return self.machine.interrupts

    @property
    def started(self) -> bool:
        """The input has been applied (the first step or ``start()`` did it)."""
        return self.pending_start is None

    @property
    def config_for_resume(self) -> dict[str, Any]:
        """The config naming this run's thread (and its latest checkpoint)."""
        configurable = dict(self.config.get("configurable") or {})
        if self.saver is not None and self.saver.checkpoint_id:
            configurable["checkpoint_id"] = self.saver.checkpoint_id
        return {**self.config, "configurable": configurable}

    def output(self) -> dict[str, Any]:
        """The final state (with ``__interrupt__`` when paused)."""
        return self.machine.output()

    def resume(self, answer: Any = None) -> None:
        """Continue a paused run: answer the pending interrupts (one answer
        for all, or a dict of interrupt id to answer); the next step re-runs
        the interrupted tasks. Tasks of the step that had finished keep
        their results and do not run again."""
        self.machine.answer(answer)
        self.closed = False


class Run(Stepping):
    """A run you advance one superstep at a time (sync)::

    run = workflow.iter({"n": 0})
    while run.step():
        print(run.step_number, run.state, run.next)
    result = run.output()
    """

    def __init__(self, machine: Machine, config: dict[str, Any], **kw: Any) -> None:
        super().__init__(machine, config, **kw)
        self._drive(self.start_flow())

    def _drive(self, flow: Flow[Any]) -> Any:
        if self.recorder is not None:  # the caller had control since the last step
            close_stale_window()
        if self.needs_async:
            return run_sync(adrive(flow, self.config))
        return drive(flow, self.config)

    def step(self) -> list[Task] | None:
        """Run one superstep; returns its tasks, or ``None`` if the run is over
        or paused (see :attr:`done`, :attr:`paused`)."""
        return self._drive(self.step_flow(1))  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[list[Task]]:
        while (tasks := self.step()) is not None:
            yield tasks

    def run_to_end(self) -> dict[str, Any]:
        """Step until the run ends or pauses; returns :meth:`output`."""
        self._drive(self.step_flow(-1))
        return self.output()

    def run_task(self, index: int) -> Task:
        """Run one task of the next superstep (see :meth:`Stepping.task_flow`)."""
        return self._drive(self.task_flow(index))  # type: ignore[no-any-return]


class AsyncRun(Stepping):
    """A run you advance one superstep at a time (async)::

    run = workflow.aiter({"n": 0})
    async for tasks in run:
        print(run.state)
    """

    async def _adrive(self, flow: Flow[Any]) -> Any:
        if self.recorder is not None:  # the caller had control since the last step
            close_stale_window()
        return await adrive(flow, self.config)

    async def start(self) -> None:
        """Apply the input and plan the first superstep (the first astep() does
        this if you don't)."""
        await self._adrive(self.start_flow())

    async def astep(self) -> list[Task] | None:
        """Run one superstep; ``None`` when the run is over or paused."""
        return await self._adrive(self.step_flow(1))  # type: ignore[no-any-return]

    async def run_to_end(self) -> dict[str, Any]:
        await self._adrive(self.step_flow(-1))
        return self.output()

    async def arun_task(self, index: int) -> Task:
        """Run one task of the next superstep (see :meth:`Stepping.task_flow`)."""
        return await self._adrive(self.task_flow(index))  # type: ignore[no-any-return]

    async def __aiter__(self) -> AsyncIterator[list[Task]]:
        while (tasks := await self.astep()) is not None:
            yield tasks
