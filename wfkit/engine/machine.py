"""The superstep machine: the engine's semantics, with no I/O and no asyncio.

A run is a sequence of supersteps. The machine holds the state and the
tasks of the next superstep; the effect loop (``wfkit.engine.loop``) and
its interpreters execute the tasks
however it likes (inline, threads, asyncio, a debugger, a cluster) and
records each result on its :class:`Task`. Then ``barrier()`` applies all
writes of the step through the reducers in task order (never completion
order), collects what the finished nodes trigger, and returns the routers
that must be called on the new state; the driver calls them (sync or
async), hands the answers to ``route()``, and ``plan()`` builds the next
superstep's tasks.

Ordering rule for the next superstep: for each finished task in task
order, its static edges, completed joins and ``Command(goto=...)``
targets; then the targets of each router, in the same task order. A node
triggered twice in one superstep runs once; each ``Send`` is its own task.
A ``defer=True`` node waits while anything else is planned, and runs in the
first superstep that would otherwise be empty. Each task gets its node's
input: the state as the node's input schema reads it, or a ``Send``'s
argument as it is.

A task that fails or interrupts leaves the step open: the writes of its
finished siblings stay on their tasks (pending writes) and only the tasks
that did not finish run again when the step is resumed.

The engine's rules live here and nowhere else: task and interrupt ids
(through :mod:`wfkit._ids`), restoring a machine from a checkpoint
(:meth:`Machine.restore`), forking and replaying (:meth:`Machine.write_as`,
:meth:`Machine.restep`), ``Command`` input (:meth:`Machine.command_input`), and which task failed (:meth:`Machine.failed_task`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from wfkit._context import NestedAnswer
from wfkit._ids import TaskId, interrupt_belongs_to, interrupt_id, task_id
from wfkit.errors import (
    GraphRecursionError,
    InvalidInputError,
    InvalidUpdateError,
    ParentCommand,
    RouterError,
)
from wfkit.state import is_schema, update_pairs, warn_unknown
from wfkit.types import END, Command, Interrupt, RunStatus, Send, TaskStatus, Writes

if TYPE_CHECKING:
    from wfkit.graph.topology import Branch, NodeSpec, Topology

__all__ = [
    "DONE",
    "FAILED",
    "INTERRUPTED",
    "PENDING",
    "Machine",
    "NestedInterrupt",
    "PlannedTask",
    "Routes",
    "Task",
    "TaskResult",
    "Writes",
]

PENDING: Final = TaskStatus.PENDING
DONE: Final = TaskStatus.DONE
FAILED: Final = TaskStatus.FAILED
INTERRUPTED: Final = TaskStatus.INTERRUPTED

Routes = list[tuple["Branch", "Task | None"]]
"""Routers to call on the new state, each with the task whose node it follows."""

DEFAULT_RECURSION_LIMIT: Final = 10_000
_NO_ROUTES: Final[list[Any]] = []  # shared, never appended to


@dataclass(frozen=True, slots=True)
class NestedInterrupt(Interrupt):
    """A question of a graph the task runs that keeps checkpoints of its own
    at namespace ``ns`` (:mod:`wfkit.threads.lineage`); its answer is kept
    for that graph (:class:`wfkit._context.NestedAnswer`)."""

    ns: str = ""


@dataclass(frozen=True, slots=True)
class PlannedTask:
    """A task as a checkpoint records it: node name, and a ``Send``'s argument."""

    node: str
    send: bool = False
    arg: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskResult:
    """What a checkpoint knows of a task's last execution (its write row)."""

    status: TaskStatus
    attempt: int = 1
    update: Any = None
    interrupts: tuple[Interrupt, ...] = ()
    resume: tuple[Any, ...] = ()


class Task:
    """One node execution in a superstep, and (once run) its result."""

    __slots__ = (
        "arg",
        "attempt",
        "cpu",
        "ended",
        "error",
        "index",
        "interrupts",
        "memory",
        "node",
        "remote",
        "resume",
        "retried",
        "saved",
        "send",
        "started",
        "status",
        "step",
        "update",
    )

    def __init__(self, node: NodeSpec, arg: Any, send: bool, step: int, index: int) -> None:
        self.node = node
        self.arg = arg  # the node's input: the state, or a Send's arg
        self.send = send
        self.step = step
        self.index = index
        self.status: TaskStatus = PENDING
        self.update: Any = None
        self.error: BaseException | None = None
        self.interrupts: tuple[Interrupt, ...] = ()
        self.resume: list[Any] | None = None
        self.attempt = 1
        self.started = 0  # monotonic ns (wfkit._clock) around the last attempt
        self.ended = 0
        self.cpu = -1  # thread CPU ns of the last attempt; -1: not measured (yet)
        self.memory = 0  # peak traced allocation (bytes), at trace="memory"
        self.retried: list[tuple[Any, ...]] | None = None  # earlier attempts' timings, when traced
        self.saved = False  # its write row has been recorded
        # where a remote executor ran it: (worker, queue_ns, run_ns, transfer_ns); None: here
        self.remote: tuple[str, int, int, int] | None = None

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def id(self) -> TaskId:
        """Stable within a thread: superstep, position and node."""
        return task_id(self.step, self.index, self.node.name)

    def asker(self) -> str | None:
        """The namespace of the checkpointed graph this task runs whose
        question it is paused at (None: the node's own ``interrupt()``)."""
        for i in self.interrupts:
            if type(i) is NestedInterrupt:
                return i.ns
        return None

    def pending_interrupts(self) -> tuple[Interrupt, ...]:
        """This task's open questions, each with its id (see :func:`wfkit._ids.interrupt_id`)."""
        base = interrupt_id(self.id, len(self.resume or ()))
        return tuple(Interrupt(i.value, i.id or base) for i in self.interrupts)

    def __repr__(self) -> str:
        return f"<Task {self.id} {self.status.label}>"


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Machine:
    """One run's superstep state machine (see the module docstring)."""

    __slots__ = (
        "_managed",
        "_next",
        "_pull_seen",
        "after",
        "before",
        "interrupts",
        "join_seen",
        "keys",
        "limit",
        "log",
        "node_input",
        "reducers",
        "run_breaks",
        "state",
        "status",
        "step",
        "tasks",
        "topology",
    )

    def __init__(
        self, topology: Topology, *, recursion_limit: int = DEFAULT_RECURSION_LIMIT
    ) -> None:
        schema = topology.schema
        self.topology = topology
        self.reducers = schema.reducers
        self.keys = schema.keys
        self.node_input: Callable[[dict[str, Any]], Any] | None = schema.node_input
        self.limit = recursion_limit
        self.before = topology.interrupt_before  # nodes to pause before (compile() or the run's)
        self.after = topology.interrupt_after
        self.run_breaks = False  # the run has breakpoints of its own (no chain shortcut)
        self.state: dict[str, Any] = {}
        self.step = 0
        self.tasks: list[Task] = []
        self.join_seen: dict[int, set[int]] | None = None  # made when a join is first reached
        self.status: RunStatus = "running"
        self.interrupts: tuple[Interrupt, ...] = ()
        self._next: list[NodeSpec | Send] = []
        self._pull_seen: set[int] | None = None
        self.log: list[tuple[str, Any]] | None = (
            None  # every applied write, when a parent needs them
        )
        # managed values (wfkit.managed): the node input at a superstep, with them
        self._managed: Callable[[dict[str, Any], int], Any] | None = None
        if schema.managed:
            at = self._managed = self._managed_input(schema.managed, schema.node_input)
            self.node_input = lambda state: at(state, self.step)

    # ---------------------------------------------------------------- restore
    @classmethod
    def restore(
        cls,
        topology: Topology,
        *,
        state: dict[str, Any],
        step: int,
        planned: Sequence[PlannedTask],
        joins: Mapping[int, set[int]] | None = None,
        results: Mapping[int, TaskResult] | None = None,
        recursion_limit: int = DEFAULT_RECURSION_LIMIT,
        where: str = "the checkpoint",
    ) -> Machine:
        """A machine at a checkpoint: its state and planned tasks, with the
        results of tasks that already finished (``results``, by task index)
        so they do not run again; paused when one of them interrupted."""
        machine = cls(topology, recursion_limit=recursion_limit)
        machine.state = state
        machine.step = step
        machine.join_seen = {k: set(v) for k, v in (joins or {}).items()} or None
        tasks = []
        for i, p in enumerate(planned):
            node = topology.by_name.get(p.node)
            if node is None:
                raise InvalidInputError(
                    f"{where} plans node {p.node!r}, which this graph no longer has; add it "
                    f"back, or update_state(config, {{}}, as_node=...) to move on"
                )
            if p.send:
                node_arg = p.arg
            else:  # a schema instance per task (see plan())
                node_arg = machine.router_input() if node.reads is None else node.reads(state)
            tasks.append(Task(node, node_arg, p.send, step, i))
        machine.tasks = tasks
        for i, r in (results or {}).items():
            if i >= len(tasks):
                continue
            task = tasks[i]
            task.attempt = r.attempt
            task.saved = r.status is not FAILED  # its row is stored; a failed task runs again
            if r.status is DONE:
                task.status = DONE
                task.update = r.update
            elif r.status is INTERRUPTED:
                task.status = INTERRUPTED
                task.interrupts = r.interrupts
                task.resume = list(r.resume) or None
        if any(t.status is INTERRUPTED for t in tasks):
            machine.pause(machine.collect_interrupts())
        if not tasks:
            machine.status = "done"
        return machine

    # ---------------------------------------------------------------- forks
    def restep(self, step: int) -> None:
        """Move the planned tasks to superstep ``step`` (a replay's fork copy
        of a checkpoint is one step on: its tasks get new ids)."""
        self.step = step
        for task in self.tasks:
            task.step = step

    def write_as(self, node: str, values: Mapping[str, Any]) -> Routes:
        """``update_state(..., as_node=node)``: a superstep in which ``node``
        returned ``values``; its edges are followed. Returns the routers to
        call, then :meth:`plan`."""
        task = Task(self.topology.by_name[node], None, False, self.step, 0)
        task.update = dict(values)
        task.status = DONE
        self.tasks = [task]
        self.status = "running"
        self.interrupts = ()
        return self.barrier()

    def breakpoints(
        self, before: Sequence[str] | str | None, after: Sequence[str] | str | None
    ) -> None:
        """This run's ``interrupt_before`` / ``interrupt_after`` (``invoke(...,
        interrupt_before=[...])``), in place of the compiled ones; ``"*"``
        names every node."""
        names = self.topology.by_name
        for what, value in (("interrupt_before", before), ("interrupt_after", after)):
            if value is None:
                continue
            chosen = (
                frozenset(names)
                if value == "*"
                else frozenset((value,) if isinstance(value, str) else value)
            )
            unknown = sorted(n for n in chosen if n not in names)
            if unknown:
                raise InvalidInputError(
                    f"{what}={list(value)!r} names {', '.join(map(repr, unknown))}, which is not a "
                    f"node of this graph (nodes: {', '.join(names)}); name a node or '*'"
                )
            self.run_breaks = True
            if what == "interrupt_before":
                self.before = chosen
            else:
                self.after = chosen

    def command_input(self, update: Any, goto: Any) -> None:
        """``invoke(Command(update=..., goto=...))`` on a thread: apply
        ``update`` as the input is applied (through the reducers) and add the
        ``goto`` nodes (or ``Send``s) to the tasks planned next, as LangGraph
        does; the run then goes on from there."""
        if update is not None:
            new = self.state.copy()
            self._apply(new, update, "the input", None)
            self.state = new
            arg = self.router_input()
            for task in self.tasks:
                if not task.send and task.status is PENDING:
                    reads = task.node.reads
                    task.arg = arg if reads is None else reads(new)
        if goto:
            items = (goto,) if isinstance(goto, str | Send) else goto
            nxt: list[NodeSpec | Send] = []
            seen = {t.node.index for t in self.tasks if not t.send}
            for item in items:
                self._add_target(item, nxt, seen, self.topology.by_name, "Command(goto=...)")
            arg = self.router_input()
            for item in nxt:
                index = len(self.tasks)
                if type(item) is Send:
                    node = self.topology.by_name[item.node]
                    self.tasks.append(Task(node, item.arg, True, self.step, index))
                else:
                    reads = item.reads  # type: ignore[union-attr]
                    node_arg = arg if reads is None else reads(self.state)
                    self.tasks.append(Task(item, node_arg, False, self.step, index))  # type: ignore[arg-type]
        if self.tasks and self.status == "done":
            self.status = "running"

    def failed_task(self) -> Task | None:
        """The first failed task of the step (task order), if any."""
        for task in self.tasks:
            if task.status is FAILED:
                return task
        return None

    # ---------------------------------------------------------------- start
    def start(self, updates: dict[str, Any], base: dict[str, Any] | None = None) -> Routes:
        """Apply the input (through the reducers) to a fresh state, or to
        ``base`` (a thread's last state), and trigger START's edges.

        Returns the START routers to call, like :meth:`barrier`.
        """
        topology = self.topology
        if base is not None:
            state = dict(base)
        elif topology.schema.defaults:
            state = topology.schema.initial_values()
        else:
            state = {}
        if updates:
            self._apply(state, updates, "the input", None)
        self.state = state
        self._next = list(topology.entry)
        if not topology.entry_branches:
            return _NO_ROUTES
        self._pull_seen = {n.index for n in topology.entry}
        return [(br, None) for br in topology.entry_branches]

    def router_input(self) -> Any:
        if self._managed is not None:  # routers read the managed values of their node's step
            return self._managed(self.state, self.step - 1)
        node_input = self.node_input
        return self.state if node_input is None else node_input(self.state)

    def _managed_input(
        self, managed: Mapping[str, Any], base: Callable[[dict[str, Any]], Any] | None
    ) -> Callable[[dict[str, Any], int], Any]:
        kinds = tuple(managed.items())

        def at(state: dict[str, Any], step: int) -> Any:
            values = dict(state)
            for key, kind in kinds:
                values[key] = kind.get(self.limit, step)
            return values if base is None else base(values)

        return at

    # ---------------------------------------------------------------- barrier
    def barrier(self) -> Routes:
        """Apply the step's writes and collect what they trigger.

        Call only when every task is DONE; returns the routers to call
        (with the task whose node they follow).
        """
        tasks = self.tasks
        new = self.state.copy()
        if len(tasks) == 1:
            task = tasks[0]
            node = task.node
            update = task.update
            if type(update) is dict and self.log is None and not self.reducers:
                keys = self.keys
                for key in update:
                    if key not in keys:
                        update = self._known(node.name, update)
                        break
                new.update(update)
            else:
                self._apply(new, update, node.name, None)
            if (
                not node.joins
                and not node.branches
                and type(update) is not Command
                and type(update) is not list
                and not self.topology.deferred
            ):
                # the common case (a chain): next is the node's static successors
                self.state = new
                self.step += 1
                self._next = list(node.succ)
                return _NO_ROUTES
        else:
            written: dict[str, tuple[int, str]] = {}  # key -> (task index, node) that wrote it
            for task in tasks:
                self._apply(new, task.update, task.node.name, written, task.index)
        self.state = new
        self.step += 1

        nxt: list[NodeSpec | Send] = []
        seen: set[int] = set()
        routes: Routes = []
        by_name = self.topology.by_name
        for task in tasks:
            node = task.node
            for succ in node.succ:
                if succ.index not in seen:
                    seen.add(succ.index)
                    nxt.append(succ)
            if node.joins:
                for join in node.joins:
                    if self.join_seen is None:
                        self.join_seen = {}
                    got = self.join_seen.setdefault(join.index, set())
                    got.add(node.index)
                    if got >= join.sources:
                        got.clear()
                        target = self.topology.nodes[join.target]
                        if target.index not in seen:
                            seen.add(target.index)
                            nxt.append(target)
            update = task.update
            if type(update) is Command and update.goto:
                self._goto(update, nxt, seen, by_name, node.name)
            elif type(update) is list:
                for item in update:
                    if type(item) is Command and item.goto:
                        self._goto(item, nxt, seen, by_name, node.name)
            if node.branches:
                for br in node.branches:
                    routes.append((br, task))
        self._next = nxt
        self._pull_seen = seen
        return routes

    def _goto(
        self,
        command: Command[Any],
        nxt: list[NodeSpec | Send],
        seen: set[int],
        by_name: dict[str, NodeSpec],
        who: str,
    ) -> None:
        goto = command.goto
        for item in (goto,) if isinstance(goto, str | Send) else goto:
            self._add_target(item, nxt, seen, by_name, f"Command(goto=...) of node {who!r}")

    def chain_step(self) -> bool:
        """The common superstep in one call: its one task wrote a plain dict,
        the state has no reducers, and the node's next step is its static
        successors (``NodeSpec.chain``). Applies the write and plans the next
        superstep, as :meth:`barrier` then :meth:`advance` would.

        Returns False, having changed nothing, when the step is not of that
        kind (the caller then takes the general path).
        """
        task = self.tasks[0]
        node = task.node
        update = task.update
        if (
            not node.chain
            or type(update) is not dict
            or self.reducers
            or self.log is not None
            or self.run_breaks
        ):
            return False
        keys = self.keys
        for key in update:
            if key not in keys:
                update = self._known(node.name, update)
                break
        new = self.state.copy()
        new.update(update)
        self.state = new
        self.step += 1
        succ = node.succ
        if len(succ) != 1 or self.step >= self.limit:
            self._next = list(succ)
            self.plan()
            return True
        node_input = self.node_input
        succ_node = succ[0]
        if succ_node.reads is not None:
            arg = succ_node.reads(new)
        else:
            arg = new if node_input is None else node_input(new)
        self.tasks = [Task(succ_node, arg, False, self.step, 0)]
        return True

    def _apply(
        self,
        new: dict[str, Any],
        update: Any,
        who: str,
        written: dict[str, tuple[int, str]] | None,
        task_index: int = 0,
    ) -> None:
        silent = False  # a subgraph's writes to its own keys stay inside it, unremarked
        if type(update) is not dict:
            if update is None:
                return
            if type(update) is Command:
                if update.graph is not None:
                    self._leave(update, who)
                self._apply(new, update.update, who, written, task_index)
                return
            if isinstance(update, Writes):
                pairs: Sequence[tuple[str, Any]] = update
                silent = True
            elif isinstance(update, dict):
                pairs = list(update.items())
            elif type(update) is list and any(type(u) is Command for u in update):
                for item in update:  # LangGraph: a list of Commands (and dicts) is one update
                    if type(item) is Command and item.graph is not None:
                        self._leave(item, who)
                for item in update:
                    self._apply(new, item, who, written, task_index)
                return
            elif type(update) is not list and is_schema(type(update)):
                pairs = update_pairs(update, self.topology.schema.order)
            else:
                what = "the input" if who == "the input" else f"node {who!r}"
                raise InvalidUpdateError(
                    f"{what} returned {type(update).__name__} ({_describe(update)}); a node must "
                    f"return a dict of state updates, None, or Command(update=..., goto=...)"
                )
        else:
            pairs = update.items()  # type: ignore[assignment]
        if self.log is not None and who != "the input":
            self.log.extend(pairs)
        keys = self.keys
        reducers = self.reducers
        for key, value in pairs:
            if key not in keys:
                if not silent:
                    warn_unknown(
                        "the input" if who == "the input" else f"node {who!r}",
                        [key],
                        self.topology.schema,
                    )
                continue
            reducer = reducers.get(key)
            if reducer is None:
                if written is not None:
                    other = written.get(key)
                    if other is not None and other[0] != task_index:
                        writers = (
                            f"two tasks of node {who!r}"
                            if other[1] == who
                            else f"nodes {other[1]!r} and {who!r}"
                        )
                        raise InvalidUpdateError(
                            f"state key {key!r} received values from {writers} in the same "
                            f"superstep, and it has no reducer to merge them. Declare it as "
                            f"Annotated[T, reducer] (e.g. operator.add) or let one task write it"
                        )
                    written[key] = (task_index, who)
                new[key] = value
            elif key in new:
                try:
                    new[key] = reducer(new[key], value)
                except Exception as exc:
                    what = "the input" if who == "the input" else f"node {who!r}"
                    exc.add_note(
                        f"wfkit: raised in the reducer of state key {key!r}, "
                        f"applying the update of {what}"
                    )
                    raise
            else:
                new[key] = value

    def _known(self, who: str, update: dict[str, Any]) -> dict[str, Any]:
        """``update`` without the keys no schema declares (dropped, as LangGraph
        drops them), with a warning naming them."""
        keys = self.keys
        warn_unknown(f"node {who!r}", [k for k in update if k not in keys], self.topology.schema)
        return {k: v for k, v in update.items() if k in keys}

    def _leave(self, command: Command[Any], who: str) -> None:
        """``Command(graph=Command.PARENT)``: this graph's run ends here and
        the parent applies the command as the subgraph node's result."""
        if command.graph != Command.PARENT:
            raise InvalidUpdateError(
                f"node {who!r} returned Command(graph={command.graph!r}); the only graph a "
                f"Command can name is Command.PARENT"
            )
        if self.log is None:
            raise InvalidUpdateError(
                f"node {who!r} returned Command(graph=Command.PARENT), but graph "
                f"{self.topology.name!r} is not running as a subgraph; return the Command "
                f"without graph= to act on this graph"
            )
        raise ParentCommand(Command(update=command.update, goto=command.goto))

    # ---------------------------------------------------------------- routing
    def route(self, branch: Branch, value: Any) -> None:
        """Schedule the targets a router returned."""
        where = f"router {branch.name!r} after {branch.source!r}"
        items = value if isinstance(value, list | tuple) else (value,)
        by_name = self.topology.by_name
        for item in items:
            if branch.path_map is not None and not isinstance(item, Send):
                try:
                    item = branch.path_map[item]
                except (KeyError, TypeError):
                    raise RouterError(
                        f"{where} returned {_describe(item)}, which is not a key of its path_map "
                        f"({', '.join(map(repr, branch.path_map))}); return one of them or add it to path_map"
                    ) from None
            elif (
                branch.targets is not None and isinstance(item, str) and item not in branch.targets
            ):
                raise RouterError(
                    f"{where} returned {item!r}, which is not among its declared targets "
                    f"({', '.join(map(repr, branch.targets))}); return one of them or widen the declaration"
                )
            if self._pull_seen is None:
                self._pull_seen = {n.index for n in self._next if type(n) is not Send}  # type: ignore[union-attr]
            self._add_target(item, self._next, self._pull_seen, by_name, where)

    def _add_target(
        self,
        item: Any,
        nxt: list[NodeSpec | Send],
        seen: set[int],
        by_name: dict[str, NodeSpec],
        where: str,
    ) -> None:
        if isinstance(item, Send):
            if item.node not in by_name:
                raise RouterError(
                    f"{where} sent to unknown node {item.node!r}; known nodes: {', '.join(by_name)}"
                )
            nxt.append(item)
            return
        if item == END:
            return
        node = by_name.get(item) if isinstance(item, str) else None
        if node is None:
            raise RouterError(
                f"{where} returned {_describe(item)}, which is not a node of this graph "
                f"(known: {', '.join(by_name)}, or END); return a node name, END, a list of them, or Send(...)"
            )
        if node.index not in seen:
            seen.add(node.index)
            nxt.append(node)

    # ---------------------------------------------------------------- plan
    def plan(self) -> list[Task]:
        """Build the next superstep's tasks; sets ``status`` to done when none."""
        if self.status == "interrupted":
            return self.tasks
        nxt = self._next
        if self.topology.deferred:
            nxt = self._defer(nxt)
        if not nxt:
            self.tasks = []
            self.status = "done"
            return self.tasks
        if self.step >= self.limit:
            names = sorted({(n.node if isinstance(n, Send) else n.name) for n in nxt})
            raise GraphRecursionError(
                f"recursion limit of {self.limit} supersteps reached before the run finished "
                f"(next: {', '.join(names)}). If the graph is meant to run longer, raise it with "
                f"invoke(..., recursion_limit=N) or config={{'recursion_limit': N}}; otherwise look "
                f"for a loop that never reaches END"
            )
        step = self.step
        node_input = self.node_input
        state = self.state
        if len(nxt) == 1 and type(nxt[0]) is not Send and nxt[0].reads is None:  # type: ignore[union-attr]
            arg = state if node_input is None else node_input(state)
            tasks = [Task(nxt[0], arg, False, step, 0)]  # type: ignore[arg-type]
        else:
            by_name = self.topology.by_name
            tasks = []
            for i, item in enumerate(nxt):
                if type(item) is Send:
                    tasks.append(Task(by_name[item.node], item.arg, True, step, i))
                else:
                    # a schema instance per task: what one changes in place
                    # its siblings do not see (the dict itself is shared)
                    reads = item.reads  # type: ignore[union-attr]
                    if reads is not None:
                        node_arg = reads(state)
                    else:
                        node_arg = state if node_input is None else node_input(state)
                    tasks.append(Task(item, node_arg, False, step, i))  # type: ignore[arg-type]
        self.tasks = tasks
        self._next = []
        before = self.before
        if before and any(t.node.name in before for t in tasks):
            self.status = "interrupted"
            self.interrupts = ()
        return tasks

    def _defer(self, nxt: list[NodeSpec | Send]) -> list[NodeSpec | Send]:
        """Hold back the ``defer=True`` nodes of ``nxt`` until a superstep
        would have nothing else to run; then run them. Waiting nodes are kept
        in ``join_seen`` under key ``-1 - index`` so checkpoints keep them."""
        waiting = self.join_seen
        rest: list[NodeSpec | Send] = []
        for item in nxt:
            if type(item) is not Send and item.defer:  # type: ignore[union-attr]
                if waiting is None:
                    waiting = self.join_seen = {}
                waiting[-1 - item.index] = {item.index}  # type: ignore[union-attr]
            else:
                rest.append(item)
        if rest or not waiting:
            return rest
        held = sorted(-1 - k for k, v in waiting.items() if k < 0 and v)
        for index in held:
            del waiting[-1 - index]
        return [self.topology.nodes[i] for i in held]

    def advance(self) -> None:
        """After routing: plan the next superstep, pausing first when an
        ``interrupt_after`` node just ran."""
        after = self.after
        if after and any(t.node.name in after for t in self.tasks):
            self.plan()
            if self.status == "running" and self.tasks:
                self.pause()
        else:
            self.plan()

    # ---------------------------------------------------------------- pauses

    def pause(self, interrupts: tuple[Interrupt, ...] = ()) -> None:
        self.status = "interrupted"
        self.interrupts = interrupts

    def resume(self) -> None:
        """Continue a paused run with the tasks already planned."""
        self.status = "running"
        self.interrupts = ()

    def answer(self, answer: Any) -> None:
        """Answer the pending interrupts and continue: one answer for all,
        or a dict of interrupt id to answer (tasks left out stay paused and
        interrupt again when the step re-runs them)."""
        if self.status != "interrupted":
            raise InvalidInputError(
                "the run is not paused at an interrupt, so there is nothing to resume"
            )
        pending = {i.id for i in self.interrupts}
        by_id = isinstance(answer, dict) and bool(answer) and set(answer) <= pending
        for task in self.tasks:
            if task.status != INTERRUPTED:
                continue
            tid = task.id
            ids = [i.id for i in self.interrupts if interrupt_belongs_to(i.id, tid)]
            if by_id and not any(i in answer for i in ids):
                continue
            value = answer[next(i for i in ids if i in answer)] if by_id else answer
            asker = task.asker()
            if asker is not None:  # the question of a graph the task runs: kept for it
                value = NestedAnswer(asker, value)
            task.resume = [*(task.resume or ()), value]
            task.status = PENDING
            task.interrupts = ()
            task.saved = False
        self.resume()

    def collect_interrupts(self) -> tuple[Interrupt, ...]:
        found: list[Interrupt] = []
        for task in self.tasks:
            if task.status is INTERRUPTED:
                found.extend(task.pending_interrupts())
        return tuple(found)

    def pending_state(self) -> tuple[dict[str, Any], set[str]] | None:
        """The state with the writes of the step's finished tasks applied, and
        the keys they wrote; None when none of its tasks finished.

        A step stopped by ``interrupt()`` or a failure keeps those writes on
        their tasks (pending writes, applied at the barrier once the step
        completes); this is the state they make meanwhile, which a paused
        run returns and ``get_state()`` shows at the thread's head, as in
        LangGraph. ``self.state`` does not change."""
        return self.applied(
            [(t.node.name, t.index, t.update) for t in self.tasks if t.status is DONE]
        )

    def applied(
        self, writes: Sequence[tuple[str, int, Any]]
    ) -> tuple[dict[str, Any], set[str]] | None:
        """``self.state`` with ``writes`` (node name, task index, update)
        applied through the reducers, and the keys they wrote; None when
        there are none (see :meth:`pending_state`)."""
        if not writes:
            return None
        new = self.state.copy()
        log, self.log = self.log, []  # the pairs applied: which keys were written
        try:
            for who, index, update in writes:
                if type(update) is Command and update.graph is not None:
                    continue  # it leaves this graph: nothing of it is applied here
                self._apply(new, update, who, None, index)
            written = {key for key, _ in self.log}
        finally:
            self.log = log
        return new, written

    def output(self) -> dict[str, Any]:
        """The run's result: the state, plus ``__interrupt__`` when paused (a
        step stopped at ``interrupt()`` with its finished tasks' writes applied)."""
        schema = self.topology.schema
        if self.status == "interrupted" and self.interrupts:
            pending = self.pending_state()
            out = schema.output_values(self.state if pending is None else pending[0])
            out["__interrupt__"] = list(self.interrupts)
            return out
        return schema.output_values(self.state)
