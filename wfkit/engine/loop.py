"""The superstep loop, written once, as a generator of effects.

A *flow* is a generator that drives a :class:`~wfkit.engine.machine.Machine`
and yields what it needs done, receiving the answer:

- a ``list`` of :class:`~wfkit.engine.machine.Task` — run the pending ones
  (each records its outcome on itself); answer ``None``;
- :class:`Route` — call these routers on the new state and hand their
  answers to ``machine.route``; answer ``None``;
- :class:`Wait` — block until the hook's store has made ``ticket``
  durable; answer ``None``;
- :class:`Emit` — hand a stream chunk to the caller (``stream()`` only).

The interpreters in :mod:`wfkit.engine.interpret` answer them inline or on
threads (sync) or with asyncio tasks (async); the debugger steps the same
flows, and a remote executor is one more interpreter. Nothing here does
I/O or knows about asyncio.

Persistence and tracing plug in as :class:`RunHooks`, called with keyword
arguments only, so a new field never breaks a hook.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, NamedTuple, Protocol, TypeVar

from wfkit.engine.machine import DONE, FAILED, INTERRUPTED, Machine, Routes, Task

__all__ = [
    "Effect",
    "Emit",
    "Flow",
    "Route",
    "RunHooks",
    "RunState",
    "SpanHook",
    "Wait",
    "close_run",
    "run_steps",
    "settle",
]

T = TypeVar("T")


class Route(NamedTuple):
    """Call ``routes`` (branch, task it follows) on ``machine``'s new state."""

    machine: Machine
    routes: Routes


class Wait(NamedTuple):
    """Wait until ``hook`` reports ``ticket`` durable (``hook.wait``/``await_``)."""

    hook: Any
    ticket: int


class Emit(NamedTuple):
    """A chunk for the caller of ``stream()``."""

    chunk: Any


Effect = list[Task] | Route | Wait | Emit
Flow = Generator[Effect, None, T]


class RunHooks(Protocol):
    """What persistence and tracing are told about a run (keyword-only).

    Checkpointing hooks (``RunState.checkpointing``) hear all three; the
    others hear ``after_run`` only (a tracer is no hook: see
    :class:`SpanHook`). A hook that returns a ticket (a non-zero int) from ``after_step`` or
    ``after_run`` is waited on through ``wait(ticket)`` / ``await_(ticket)``
    before the run goes on (``durability="sync"``).
    """

    def after_tasks(self, *, machine: Machine, tasks: list[Task], **_: Any) -> None:
        """A step's tasks ran (all, or up to a failure or interrupt)."""

    def after_step(self, *, machine: Machine, source: str, **_: Any) -> int:
        """A checkpoint boundary: after the input (``source="input"``, with the
        ``input`` updates and the ``base`` state they were applied to) or a
        superstep (``"loop"``)."""
        return 0

    def after_run(self, *, machine: Machine, error: BaseException | None, **_: Any) -> int:
        """The run ended, paused or failed (``error``)."""
        return 0


class SpanHook(Protocol):
    """What a tracer is told of a run: that it ended, paused or failed
    (positional, once per run: the cheapest call there is)."""

    ran: list[Task]

    def end(self, machine: Machine, error: BaseException | None) -> None: ...

    def flush(self) -> None:
        """Hand over what the run's tasks recorded so far (a stepping run that goes on)."""


class RunState:
    """What a flow moves: one run's machine, the hooks told of it, the input
    not yet applied, and whether the hooks have heard the run end.

    :class:`wfkit.engine.runs.Stepping` is one, with the stepping API on top.
    """

    __slots__ = (
        "base",
        "checkpointing",
        "closed",
        "hooks",
        "machine",
        "pending_start",
        "ran",
        "recorder",
    )

    def __init__(
        self,
        machine: Machine,
        hooks: tuple[RunHooks, ...],
        checkpointing: tuple[RunHooks, ...],
        start: dict[str, Any] | None,
        base: dict[str, Any] | None,
        recorder: Any = None,
    ) -> None:
        self.machine = machine
        self.hooks = hooks  # told of the run's end
        self.checkpointing = checkpointing  # told of each step's tasks and checkpoint boundary
        # the tracer (a SpanRecorder, or None): told of the run's end after the
        # hooks; every task run, in order, goes to its ``ran`` list (a list the
        # loop extends each step costs less than a hook call per step)
        self.recorder: SpanHook | None = recorder
        self.ran: list[Task] | None = recorder.ran if recorder is not None else None
        self.pending_start = start  # the input, until the first flow applies it
        self.base = base  # the thread's state the input applies to (None: a fresh state)
        self.closed = False  # the hooks heard the end (after_run without an error)


def settle(machine: Machine, tasks: list[Task]) -> bool:
    """After a step's tasks ran: raise the first failure (task order), or
    pause on interrupts. True when the barrier may run."""
    interrupted = False
    for task in tasks:
        status = task.status
        if status is FAILED:
            assert task.error is not None
            raise task.error
        if status is INTERRUPTED:
            interrupted = True
    if interrupted:
        machine.pause(machine.collect_interrupts())
        return False
    return True


def _checkpoint(
    machine: Machine, hooks: tuple[RunHooks, ...], source: str, **extra: Any
) -> Flow[None]:
    """A checkpoint boundary: tell the hooks, and wait for any that asks (``durability="sync"``)."""
    for hook in hooks:
        ticket = hook.after_step(machine=machine, source=source, **extra)
        if ticket:
            yield Wait(hook, ticket)


def run_steps(run: RunState, max_steps: int = -1) -> Flow[list[Task] | None]:
    """The superstep loop: apply the input if not yet done, then run
    ``max_steps`` supersteps (-1: all; 0: only the input) until the run
    ends or pauses, telling the hooks; when it ends, pauses or fails, the
    hooks store what it wrote (``after_run``).

    Returns the tasks of the last superstep run, or ``None`` if none ran.
    One generator, not one per phase: it is the whole cost of a short run.
    """
    machine = run.machine
    hooks = run.hooks
    checkpointing = run.checkpointing
    ran = run.ran
    start = run.pending_start
    last: list[Task] | None = None
    try:
        if start is not None:
            run.pending_start = None
            routes = machine.start(start, run.base)
            if routes:
                yield Route(machine, routes)
            machine.plan()
            if checkpointing:
                yield from _checkpoint(machine, checkpointing, "input", input=start, base=run.base)
        while max_steps and machine.status == "running" and machine.tasks:
            max_steps -= 1
            tasks = machine.tasks
            yield tasks
            if ran is not None:
                ran += tasks
            for hook in checkpointing:
                hook.after_tasks(machine=machine, tasks=tasks)
            if len(tasks) != 1 or tasks[0].status is not DONE or not machine.chain_step():
                if not settle(machine, tasks):
                    last = tasks
                    break
                routes = machine.barrier()
                if routes:
                    yield Route(machine, routes)
                machine.advance()
            if checkpointing:  # a generator only when there is something to store
                yield from _checkpoint(machine, checkpointing, "loop")
            last = tasks
    except BaseException as exc:
        yield from close_run(run, exc)
        raise
    if (
        (last is not None or start is not None)
        and not run.closed
        and (machine.status != "running" or not machine.tasks)
    ):
        if hooks:
            yield from close_run(run, None)
        else:  # the hot path: no generator for what has no hook to wait for
            run.closed = True
            if run.recorder is not None:
                run.recorder.end(machine, None)
    return last


def close_run(run: RunState, error: BaseException | None) -> Flow[None]:
    """The run ended, paused (``error`` None) or failed: tell its hooks,
    waiting for any that asks, then its recorder. Every loop over a
    :class:`RunState` ends through this."""
    run.closed = error is None
    machine = run.machine
    for hook in run.hooks:
        ticket = hook.after_run(machine=machine, error=error)
        if ticket:
            yield Wait(hook, ticket)
    if run.recorder is not None:
        run.recorder.end(machine, error)


def ended(machine: Machine) -> bool:
    return machine.status != "running" or not machine.tasks
