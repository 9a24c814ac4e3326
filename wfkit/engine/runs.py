"""The stepping API: a run you advance one superstep at a time.

``workflow.iter(...)`` gives a :class:`Run` (``step()``), ``workflow.aiter(...)``
an :class:`AsyncRun` (``await astep()``). Both are the same flows of
:mod:`wfkit.engine.loop` (:class:`Stepping`), driven by the sync or the
async interpreter; ``invoke``, ``stream`` and the debugger use them too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from wfkit._loop import run_sync
from wfkit.engine.interpret import adrive, drive
from wfkit.engine.loop import Flow, RunHooks, begin, ended, finish, supersteps
from wfkit.engine.machine import FAILED, PENDING, Machine, Task
from wfkit.types import Interrupt

__all__ = ["AsyncRun", "Run", "Stepping"]


class Stepping:
    """What the sync and async stepping runs are: a machine, its config, the
    hooks that persist and trace it, and the flows that move it."""

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
        self.machine = machine
        self.config = config
        self.saver = saver
        self.recorder = recorder
        self.hooks: tuple[RunHooks, ...] = (
            ()
            if saver is None and recorder is None
            else (saver,)
            if recorder is None
            else (recorder,)
            if saver is None
            else (saver, recorder)
        )
        self.checkpointing: tuple[RunHooks, ...] = (saver,) if saver is not None else ()
        self.needs_async = needs_async
        self._pending_start = start
        self._base = base
        self._closed = False

    # ---------------------------------------------------------------- flows
    def _end(self, error: BaseException | None) -> Flow[None]:
        """The run ended, failed or paused: the hooks store what it wrote."""
        if not self._closed or error is not None:
            self._closed = error is None
            yield from finish(self.machine, self.hooks, error)

    def start_flow(self) -> Flow[None]:
        """Apply the input and plan the first superstep (once)."""
        start, self._pending_start = self._pending_start, None
        if start is None:
            return
        try:
            yield from begin(self.machine, start, self._base, self.hooks)
        except BaseException as exc:
            yield from self._end(exc)
            raise
        if ended(self.machine):
            yield from self._end(None)

    def step_flow(self, max_steps: int = 1) -> Flow[list[Task] | None]:
        """Run ``max_steps`` supersteps (-1: all) or until the run ends or pauses."""
        if self._pending_start is not None:
            yield from self.start_flow()
        machine = self.machine
        try:
            tasks = yield from supersteps(machine, self.hooks, max_steps, self.checkpointing)
        except BaseException as exc:
            yield from self._end(exc)
            raise
        if tasks is not None and self.hooks and (machine.status != "running" or not machine.tasks):
            yield from self._end(None)
        return tasks

    def task_flow(self, index: int) -> Flow[Task]:
        """Run one task of the next superstep (the debugger's "step node");
        the superstep completes once every task has run."""
        if self._pending_start is not None:
            yield from self.start_flow()
        m = self.machine
        task = m.tasks[index]
        if task.status is PENDING:
            yield [task]
        if task.status is FAILED:
            for hook in self.hooks:
                hook.after_tasks(machine=m, tasks=[task])
            assert task.error is not None
            raise task.error
        if all(t.status is not PENDING for t in m.tasks):
            yield from self.step_flow(1)
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
        return self._pending_start is None

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
        self._closed = False


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

    async def start(self) -> None:
        """Apply the input and plan the first superstep (the first astep() does
        this if you don't)."""
        await adrive(self.start_flow(), self.config)

    async def astep(self) -> list[Task] | None:
        """Run one superstep; ``None`` when the run is over or paused."""
        return await adrive(self.step_flow(1), self.config)

    async def run_to_end(self) -> dict[str, Any]:
        await adrive(self.step_flow(-1), self.config)
        return self.output()

    async def arun_task(self, index: int) -> Task:
        """Run one task of the next superstep (see :meth:`Stepping.task_flow`)."""
        return await adrive(self.task_flow(index), self.config)

    async def __aiter__(self) -> AsyncIterator[list[Task]]:
        while (tasks := await self.astep()) is not None:
            yield tasks
