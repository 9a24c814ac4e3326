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

__all__ = ["Effect", "Emit", "Flow", "Route", "RunHooks", "Wait", "begin", "finish", "supersteps"]

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

    A hook that returns a ticket (a non-zero int) from ``after_step`` or
    ``after_run`` is waited on through ``wait(ticket)`` / ``await_(ticket)``
    before the run goes on (``durability="sync"``).
    """

    def after_tasks(self, *, machine: Machine, tasks: list[Task], **_: Any) -> None:
        """A step's tasks ran (all, or up to a failure or interrupt)."""

    def after_step(self, *, machine: Machine, source: str, **_: Any) -> int:
        """A checkpoint boundary: after the input (``source="input"``) or a superstep (``"loop"``)."""
        return 0

    def after_run(self, *, machine: Machine, error: BaseException | None, **_: Any) -> int:
        """The run ended, paused or failed (``error``)."""
        return 0


def _checkpoint(machine: Machine, hooks: tuple[RunHooks, ...], source: str) -> Flow[None]:
    for hook in hooks:
        ticket = hook.after_step(machine=machine, source=source)
        if ticket:
            yield Wait(hook, ticket)


def begin(
    machine: Machine,
    updates: dict[str, Any],
    base: dict[str, Any] | None,
    hooks: tuple[RunHooks, ...],
) -> Flow[None]:
    """Apply the input (to ``base``, a thread's state, if given), call START's
    routers, plan the first superstep, and checkpoint it."""
    routes = machine.start(updates, base)
    if routes:
        yield Route(machine, routes)
    machine.plan()
    if hooks:
        yield from _checkpoint(machine, hooks, "input")


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


def supersteps(
    machine: Machine,
    hooks: tuple[RunHooks, ...],
    max_steps: int = -1,
    checkpointing: tuple[RunHooks, ...] | None = None,
) -> Flow[list[Task] | None]:
    """Run supersteps (all, or ``max_steps``) until the run ends or pauses.

    ``checkpointing`` are the hooks told of each checkpoint boundary
    (default: all); a tracer that stores nothing there is left out.
    Returns the tasks of the last superstep run, or ``None`` if none ran.
    """
    if checkpointing is None:
        checkpointing = hooks
    last: list[Task] | None = None
    while max_steps and machine.status == "running" and machine.tasks:
        max_steps -= 1
        tasks = machine.tasks
        yield tasks
        for hook in hooks:
            hook.after_tasks(machine=machine, tasks=tasks)
        if (len(tasks) != 1 or tasks[0].status is not DONE) and not settle(machine, tasks):
            return tasks
        routes = machine.barrier()
        if routes:
            yield Route(machine, routes)
        machine.advance()
        for hook in checkpointing:  # inline, not _checkpoint(): no generator per superstep
            ticket = hook.after_step(machine=machine, source="loop")
            if ticket:
                yield Wait(hook, ticket)
        last = tasks
    return last


def finish(
    machine: Machine, hooks: tuple[RunHooks, ...], error: BaseException | None
) -> Flow[None]:
    """Tell the hooks the run ended, paused or failed, and wait for what they store."""
    for hook in hooks:
        ticket = hook.after_run(machine=machine, error=error)
        if ticket:
            yield Wait(hook, ticket)


def ended(machine: Machine) -> bool:
    return machine.status != "running" or not machine.tasks
