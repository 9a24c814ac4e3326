"""The machine of a functional run: one superstep, the entrypoint's, whose
tasks are the entrypoint itself and every task call it makes.

The state has three keys, LangGraph's channel names: ``__start__`` (the
input), ``__end__`` (what the entrypoint returned: what ``get_state()``
shows) and ``__previous__`` (what it saved: the next run's ``previous``).
An input checkpoint holds the input and plans the entrypoint; the
checkpoint after it holds the return value and plans nothing.

Between those two checkpoints, :attr:`EntryMachine.tasks` is the
superstep's current *step of tasks*: ``[entry]`` while the entrypoint's
body runs (until it waits for calls or returns), then the calls it is
waiting for, then ``[entry]`` again, and so on (see
:mod:`wfkit.func.flow`). Each call is a task of the superstep at its call
position (index 1, 2, ...: the entrypoint is index 0), so its id, its
write row and the result a resumed run finds are keyed by that position,
as LangGraph keys them by call order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from wfkit._ids import interrupt_belongs_to
from wfkit.engine.machine import DONE, FAILED, INTERRUPTED, PENDING, Machine, Task
from wfkit.errors import InvalidInputError
from wfkit.func.body import Body
from wfkit.types import Interrupt

if TYPE_CHECKING:
    from wfkit.checkpoint.rows import WriteRecord
    from wfkit.func.tasks import TaskFunction
    from wfkit.graph.topology import NodeSpec, Topology

__all__ = ["END_KEY", "INPUT_KEY", "PREVIOUS_KEY", "EntryMachine", "Program", "Stored"]

INPUT_KEY: Final = "__start__"
END_KEY: Final = "__end__"
PREVIOUS_KEY: Final = "__previous__"


@dataclass(frozen=True, slots=True)
class Stored:
    """A call's result as its write row holds it, decoded when the call is made
    again (then its task's types are known to the decoder)."""

    text: str


class Program:
    """What the machine needs of the functional workflow (the workflow is one)."""

    def body_start(self, machine: EntryMachine) -> Callable[[], Any]:  # pragma: no cover
        """A function that calls the entrypoint (its input and injected
        arguments) and returns the entrypoint task's update."""
        raise NotImplementedError

    def spec_of(self, fn: TaskFunction[Any, Any]) -> NodeSpec:  # pragma: no cover
        """The node a call of ``fn`` runs (a hot-swapped one, if any)."""
        raise NotImplementedError

    def decode(self, fn: TaskFunction[Any, Any], text: str) -> Any:  # pragma: no cover
        """A stored result of ``fn``."""
        raise NotImplementedError

    def placeholder(self, name: str) -> NodeSpec:  # pragma: no cover
        """A node standing for task ``name`` until the body calls it."""
        raise NotImplementedError


class EntryMachine(Machine):
    """One functional run's superstep (see the module docstring)."""

    __slots__ = ("body", "calls", "ending", "entry", "program")

    def __init__(
        self, topology: Topology, program: Program, *, recursion_limit: int, step: int = -1
    ) -> None:
        super().__init__(topology, recursion_limit=recursion_limit)
        self.program = program
        self.step = step
        self.body = Body(self, program.body_start(self), is_async=topology.needs_async)
        self.entry = Task(topology.nodes[0], self.body, False, step, 0)
        self.calls: dict[int, Task] = {}  # the superstep's calls by index: made, or stored
        self.ending = False  # the body has ended; the calls it never waited for run last

    # ---------------------------------------------------------------- start, restore
    def begin(self, updates: dict[str, Any], base: dict[str, Any] | None) -> None:
        """A new input: the state with it, the entrypoint planned."""
        state = dict(base) if base else {}
        state.update(updates)
        self.state = state
        self.tasks = [self.entry]
        self.status = "running"

    @classmethod
    def at_checkpoint(
        cls,
        topology: Topology,
        program: Program,
        *,
        state: dict[str, Any],
        step: int,
        planned: bool,
        writes: Mapping[int, WriteRecord] | None,
        result: Callable[[WriteRecord], Any],
        recursion_limit: int,
    ) -> EntryMachine:
        """A machine at a checkpoint: the entrypoint planned (an input
        checkpoint) or nothing; with ``writes`` (the checkpoint's write
        rows by task index), the entrypoint's last outcome and every
        call's, so that finished calls are not run again."""
        machine = cls(topology, program, recursion_limit=recursion_limit, step=step)
        machine.state = state
        if not planned:
            machine.status = "done"
            return machine
        machine.tasks = [machine.entry]
        for index, row in (writes or {}).items():
            r = result(row)
            if index == 0:
                task = machine.entry
            else:
                task = Task(program.placeholder(str(row.node)), None, True, step, index)
                machine.calls[index] = task
            task.attempt = r.attempt
            task.saved = r.status is not FAILED
            if r.status is DONE:
                task.status = DONE
                task.update = Stored(row.result) if index else r.update
            elif r.status is INTERRUPTED:
                task.status = INTERRUPTED
                task.interrupts = r.interrupts
                task.resume = list(r.resume) or None
        entry = machine.entry
        if entry.status is DONE:  # it ended, but the checkpoint after it was not stored
            machine.ending = True
        elif entry.status is INTERRUPTED:
            machine.pause(machine.collect_interrupts())
        return machine

    # ---------------------------------------------------------------- calls
    def call(self, fn: TaskFunction[Any, Any], index: int, arg: Any) -> Task:
        """The task of the body's call number ``index`` (of ``fn`` with
        ``arg``): its stored or earlier result when it has one (``DONE``),
        else a task to run."""
        spec = self.program.spec_of(fn)
        task = self.calls.get(index)
        if task is not None and task.node.name == fn.name:
            task.node = spec
            task.arg = arg
            if task.status is DONE:
                if type(task.update) is Stored:
                    task.update = self.program.decode(fn, task.update.text)
                return task
            task.status = PENDING  # to run (again): interrupted, failed, or not run yet
            task.error = None
            task.interrupts = ()
            task.saved = False
            return task
        task = Task(spec, arg, True, self.step, index)
        self.calls[index] = task
        return task

    def blocked(self) -> None:
        """The body waits for calls: they are the next step's tasks."""
        entry = self.entry
        entry.status = PENDING
        entry.update = None
        self.ending = False
        self.tasks = self.body.take_calls()

    def leftovers(self) -> bool:
        """The body ended: the calls it made and never waited for run as
        one last step (True), as LangGraph runs them."""
        self.ending = True
        left = self.body.take_calls()
        if left and self.entry.status is not FAILED:
            self.tasks = left
            return True
        self.tasks = [self.entry]
        return False

    def finish(self) -> None:
        """The barrier: the entrypoint's update applied, the superstep over."""
        entry = self.entry
        state = self.state.copy()
        if type(entry.update) is dict:
            state.update(entry.update)
        self.state = state
        self.step += 1
        self.tasks = []
        self.status = "done"
        self.ending = False

    def failed_task(self) -> Task | None:
        """The task whose error failed the run: the call whose exception the
        entrypoint did not catch, else the entrypoint."""
        entry = self.entry
        if entry.status is not FAILED:
            return None
        for task in self.calls.values():
            if task.status is FAILED and task.error is entry.error:
                return task
        return entry

    def restep(self, step: int) -> None:
        super().restep(step)
        self.entry.step = step

    # ---------------------------------------------------------------- interrupts
    def collect_interrupts(self) -> tuple[Interrupt, ...]:
        """The entrypoint's questions (a question of a call it waited for
        is the entrypoint's too), then those of calls it did not wait for."""
        found: dict[str | None, Interrupt] = {}
        entry = self.entry
        if entry.status is INTERRUPTED:
            for i in entry.pending_interrupts():
                found.setdefault(i.id, i)
        for task in self.calls.values():
            if task.status is INTERRUPTED:
                for i in task.pending_interrupts():
                    found.setdefault(i.id, i)
        return tuple(found.values())

    def answer(self, answer: Any) -> None:
        """Answer the pending interrupts (one answer for all, or a dict of
        interrupt id to answer): each answer goes to the task that asked,
        the entrypoint or a call, and the entrypoint runs again."""
        if self.status != "interrupted":
            raise InvalidInputError(
                "the run is not paused at an interrupt, so there is nothing to resume"
            )
        pending = [i.id for i in self.interrupts if i.id is not None]
        by_id = isinstance(answer, dict) and bool(answer) and set(answer) <= set(pending)
        owners = [self.entry, *self.calls.values()]
        for iid in pending:
            if by_id and iid not in answer:
                continue
            value = answer[iid] if by_id else answer
            for task in owners:
                if task.status is INTERRUPTED and interrupt_belongs_to(iid, task.id):
                    task.resume = [*(task.resume or ()), value]
                    task.status = PENDING
                    task.interrupts = ()
                    task.saved = False
                    break
        entry = self.entry
        entry.status = PENDING
        entry.interrupts = ()
        entry.saved = False
        self.ending = False
        self.tasks = [entry]
        self.resume()

    def breakpoints(self, before: Any, after: Any) -> None:
        if before or after:
            raise InvalidInputError(
                f"entrypoint {self.topology.name!r} runs as one superstep, so "
                f"interrupt_before/interrupt_after have no step to stop at; call interrupt() "
                f"in the entrypoint (or a task) where it should stop"
            )

    def command_input(self, update: Any, goto: Any) -> None:
        if update is not None or goto:
            raise InvalidInputError(
                f"entrypoint {self.topology.name!r} has no graph to update or go to: "
                f"Command(update=..., goto=...) is for graphs; answer an interrupt with "
                f"Command(resume=...)"
            )

    # ---------------------------------------------------------------- output
    def value(self) -> Any:
        """What the entrypoint returned last (None before it ever returned)."""
        return self.state.get(END_KEY)

    def output(self) -> Any:
        """``invoke()``'s result: the return value; while paused, LangGraph's
        ``{**value, "__interrupt__": [...]}`` (``{"__interrupt__": [...]}``
        when the value is not a dict)."""
        value = self.value()
        if self.status == "interrupted" and self.interrupts:
            found = list(self.interrupts)
            return (
                {**value, "__interrupt__": found}
                if isinstance(value, dict)
                else {"__interrupt__": found}
            )
        return value
