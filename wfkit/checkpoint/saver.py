"""Between the engine and a store: turning a run into rows, and rows back
into a run.

:class:`RunSaver` follows one run. After each superstep it writes the
node writes of the step and a checkpoint whose values rows hold only the
keys that changed: a list that grew by appending is stored as its new tail
(``kind = "append"``), anything else whole (``kind = "set"``).
:func:`load` rebuilds a checkpoint's state by walking each key's chain of
rows back to its last ``set`` and folding the tails onto it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wfkit._clock import wall_ns
from wfkit.checkpoint.base import Checkpointer, CheckpointRow, Durability, new_id, new_run_id
from wfkit.checkpoint.serde import Serde
from wfkit.errors import CheckpointerRequiredError, InvalidInputError
from wfkit.machine import DONE, FAILED, INTERRUPTED, Machine, Task
from wfkit.types import Interrupt

if TYPE_CHECKING:
    from wfkit.graph import Topology

__all__ = [
    "Loaded",
    "RunSaver",
    "StateSnapshot",
    "TaskInfo",
    "load",
    "load_writes",
    "require_store",
    "restore",
    "snapshot",
    "thread_of",
]

_MISSING = object()
_STATUS = {DONE: "done", FAILED: "failed", INTERRUPTED: "interrupted"}


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskInfo:
    """A task planned at a checkpoint, with what is known of its execution."""

    id: str
    name: str
    status: str  # pending | done | failed | interrupted
    interrupts: tuple[Interrupt, ...] = ()
    error: str | None = None
    result: Any = None


@dataclass(frozen=True, kw_only=True, slots=True)
class StateSnapshot:
    """A thread's state at one checkpoint (LangGraph's ``StateSnapshot``)."""

    values: dict[str, Any]
    next: tuple[str, ...]
    config: dict[str, Any]
    metadata: dict[str, Any]
    created_at: str
    parent_config: dict[str, Any] | None
    tasks: tuple[TaskInfo, ...]
    interrupts: tuple[Interrupt, ...] = ()


@dataclass(kw_only=True)
class Loaded:
    """A checkpoint read back: its row, rebuilt state and pending writes."""

    thread_id: str
    checkpoint_id: str
    parent_id: str | None
    step: int
    source: str
    values: dict[str, Any]
    versions: dict[str, int]
    tasks: list[tuple[str, bool, Any]]
    joins: dict[int, set[int]]
    metadata: dict[str, Any]
    created_at: float
    writes: dict[int, tuple[Any, ...]] = field(
        default_factory=dict
    )  # task index -> latest write row


def thread_of(config: dict[str, Any], workflow_name: str) -> str:
    thread = (config.get("configurable") or {}).get("thread_id")
    if thread is None:
        raise InvalidInputError(
            f"workflow {workflow_name!r} has a checkpointer, so each run needs a thread id: "
            f"invoke(..., thread='t1') or config={{'configurable': {{'thread_id': 't1'}}}}"
        )
    return str(thread)


def load(
    store: Checkpointer, serde: Serde, thread_id: str, checkpoint_id: str | None = None
) -> Loaded | None:
    row = store.get_checkpoint(thread_id, checkpoint_id)
    if row is None:
        if checkpoint_id is not None:
            raise InvalidInputError(
                f"thread {thread_id!r} has no checkpoint {checkpoint_id!r}; list them with get_state_history(config)"
            )
        return None
    return _from_row(store, serde, row)


def _from_row(store: Checkpointer, serde: Serde, row: CheckpointRow) -> Loaded:
    (
        thread_id,
        cid,
        parent,
        _run,
        step,
        source,
        _next,
        tasks,
        _intr,
        versions,
        joins,
        metadata,
        created,
    ) = row
    version_map: dict[str, int] = json.loads(versions)
    rows = store.get_values(thread_id, list(version_map))
    by_version = {(r[2], r[3]): r for r in rows}
    values: dict[str, Any] = {}
    for key, version in version_map.items():
        chain = []
        v: int | None = version
        while v is not None:
            r = by_version.get((key, v))
            if r is None:
                raise InvalidInputError(
                    f"checkpoint {cid!r} of thread {thread_id!r} is missing version {v} of state key {key!r}; "
                    f"the file is incomplete"
                )
            chain.append(r)
            v = r[4] if r[5] == "append" else None
        value = serde.loads(chain[-1][6])
        for r in reversed(chain[:-1]):
            value = value + serde.loads(r[6])
        values[key] = value
    task_list = [
        (name, bool(is_send), serde.loads(arg) if is_send else None)
        for name, is_send, arg in json.loads(tasks)
    ]
    return Loaded(
        thread_id=thread_id,
        checkpoint_id=cid,
        parent_id=parent,
        step=int(step),
        source=source,
        values=values,
        versions=version_map,
        tasks=task_list,
        joins={int(k): set(v) for k, v in json.loads(joins or "{}").items()},
        metadata=json.loads(metadata or "{}"),
        created_at=float(created),
    )


def load_writes(store: Checkpointer, loaded: Loaded) -> None:
    """Attach the latest write of each task planned at this checkpoint."""
    for r in store.get_writes(loaded.thread_id, loaded.checkpoint_id):
        loaded.writes[int(r[5])] = r


def restore(
    topology: Topology, loaded: Loaded, serde: Serde, *, recursion_limit: int, with_writes: bool
) -> Machine:
    """A machine at ``loaded``: its state and planned tasks, with finished
    tasks' results restored (``with_writes``) so they do not run again."""
    machine = Machine(topology, recursion_limit=recursion_limit)
    machine.state = loaded.values
    machine.step = loaded.step
    machine.join_seen = {k: set(v) for k, v in loaded.joins.items()} or None
    arg = machine.router_input()
    tasks = []
    for i, (name, is_send, send_arg) in enumerate(loaded.tasks):
        node = topology.by_name.get(name)
        if node is None:
            raise InvalidInputError(
                f"checkpoint {loaded.checkpoint_id!r} of thread {loaded.thread_id!r} plans node {name!r}, which "
                f"this graph no longer has; add it back, or update_state(config, {{}}, as_node=...) to move on"
            )
        tasks.append(Task(node, send_arg if is_send else arg, is_send, loaded.step, i))
    machine.tasks = tasks
    if with_writes:
        for i, r in loaded.writes.items():
            if i >= len(tasks):
                continue
            task = tasks[i]
            status = r[10]
            task.attempt = int(r[7] or 1)
            task.saved = status != "failed"  # its row is stored; a failed task will run again
            if status == "done":
                task.status = DONE
                task.update = serde.loads(r[9])
            elif status == "interrupted":
                task.status = INTERRUPTED
                task.interrupts = tuple(Interrupt(v, iid) for v, iid in (serde.loads(r[13]) or ()))
                task.resume = list(serde.loads(r[14]) or ()) or None
        if any(t.status == INTERRUPTED for t in tasks):
            machine.pause(machine.collect_interrupts())
    if not tasks:
        machine.status = "done"
    return machine


class RunSaver:
    """Writes one run's checkpoints and node writes to a store."""

    __slots__ = (
        "buffer",
        "checkpoint_id",
        "durability",
        "metadata",
        "next_version",
        "run_id",
        "serde",
        "store",
        "thread_id",
        "ticket",
        "values",
        "versions",
    )

    def __init__(
        self,
        store: Checkpointer,
        serde: Serde,
        thread_id: str,
        *,
        durability: Durability,
        base: Loaded | None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.serde = serde
        self.thread_id = thread_id
        self.durability = durability
        self.run_id = new_run_id()
        self.metadata = metadata or {}
        self.checkpoint_id: str | None = base.checkpoint_id if base else None
        self.versions: dict[str, int] = dict(base.versions) if base else {}
        self.values: dict[str, Any] = dict(base.values) if base else {}
        self.next_version = store.max_version(thread_id) + 1 if base else 1
        self.buffer: tuple[list[Any], list[Any], list[Any]] | None = (
            ([], [], []) if durability == "exit" else None
        )
        self.ticket = 0  # the store's ticket for this run's newest rows

    # ---------------------------------------------------------------- rows
    def _put(self, checkpoints: list[Any], values: list[Any], writes: list[Any]) -> int:
        if self.buffer is not None:
            self.buffer[0].extend(checkpoints)
            self.buffer[1].extend(values)
            self.buffer[2].extend(writes)
            return 0
        self.ticket = self.store.put(checkpoints, values, writes)
        return self.ticket

    def write_rows(self, tasks: list[Task]) -> list[tuple[Any, ...]]:
        rows = []
        dumps = self.serde.dumps
        now = time.time()
        for task in tasks:
            status = _STATUS.get(task.status)
            if status is None or task.saved:
                continue
            task.saved = True
            name = task.node.name
            err = task.error
            rows.append(
                (
                    self.thread_id,
                    self.checkpoint_id,
                    self.run_id,
                    task.step,
                    task.id,
                    task.index,
                    name,
                    task.attempt,
                    dumps(task.arg, f"the input sent to node {name!r}") if task.send else None,
                    dumps(task.update, f"the update of node {name!r}")
                    if status == "done"
                    else None,
                    status,
                    type(err).__name__ if err is not None else None,
                    str(err) if err is not None else None,
                    dumps(
                        [[i.value, i.id] for i in _task_interrupts(task)],
                        f"the interrupt of node {name!r}",
                    )
                    if status == "interrupted"
                    else None,
                    dumps(task.resume, f"the resume values of node {name!r}")
                    if task.resume
                    else None,
                    wall_ns(task.started) / 1e9 if task.started else None,
                    wall_ns(task.ended) / 1e9 if task.ended else None,
                    now,
                )
            )
        return rows

    def checkpoint_rows(self, machine: Machine, source: str) -> tuple[list[Any], list[Any]]:
        cid = new_id()
        dumps = self.serde.dumps
        value_rows = []
        for key, value in machine.state.items():
            prev = self.values.get(key, _MISSING)
            if value is prev:
                continue
            kind, base, payload = "set", None, value
            if type(value) is list and type(prev) is list and len(value) >= len(prev) and prev:
                try:
                    if value[: len(prev)] == prev:
                        kind, base, payload = "append", self.versions[key], value[len(prev) :]
                except Exception:  # elements that cannot be compared: store whole
                    pass
            version = self.next_version
            self.next_version += 1
            value_rows.append(
                (
                    self.thread_id,
                    cid,
                    key,
                    version,
                    base,
                    kind,
                    dumps(payload, f"state key {key!r}"),
                )
            )
            self.versions[key] = version
            self.values[key] = value
        tasks = [
            [t.node.name, True, dumps(t.arg, f"the Send to {t.node.name!r}")]
            if t.send
            else [t.node.name, False, None]
            for t in machine.tasks
        ]
        interrupts = [[i.value, i.id] for i in machine.interrupts]
        joins = {str(k): sorted(v) for k, v in (machine.join_seen or {}).items() if v}
        meta = {**self.metadata, "source": source, "step": machine.step}
        row = (
            self.thread_id,
            cid,
            self.checkpoint_id,
            self.run_id,
            machine.step,
            source,
            json.dumps([t.node.name for t in machine.tasks]),
            json.dumps(tasks),
            dumps(interrupts, "the pending interrupts"),
            json.dumps(self.versions),
            json.dumps(joins),
            dumps(meta, "the checkpoint metadata"),
            time.time(),
        )
        self.checkpoint_id = cid
        return [row], value_rows

    # ---------------------------------------------------------------- hooks
    def step_writes(self, tasks: list[Task]) -> None:
        """Record the finished tasks of a step (before its barrier)."""
        rows = self.write_rows(tasks)
        if rows:
            self._put([], [], rows)

    def checkpoint(self, machine: Machine, source: str) -> None:
        """Store the checkpoint after a superstep (or the input's). Under
        ``sync`` it is committed before this returns."""
        checkpoints, values = self.checkpoint_rows(machine, source)
        ticket = self._put(checkpoints, values, [])
        if self.durability == "sync":
            self.store.wait(ticket)

    async def acheckpoint(self, machine: Machine, source: str) -> None:
        checkpoints, values = self.checkpoint_rows(machine, source)
        ticket = self._put(checkpoints, values, [])
        if self.durability == "sync":
            await self.store.await_(ticket)

    def end(self) -> None:
        """The run ended, paused or failed: make what it wrote durable
        (for ``exit``; ``sync`` already is, ``async`` follows shortly)."""
        if self.buffer is not None:
            checkpoints, values, writes = self.buffer
            self.buffer = ([], [], [])
            if checkpoints or values or writes:
                self.store.wait(self.store.put(checkpoints, values, writes))
        elif self.durability == "sync" and self.ticket:
            self.store.wait(self.ticket)

    async def aend(self) -> None:
        if self.buffer is not None:
            checkpoints, values, writes = self.buffer
            self.buffer = ([], [], [])
            if checkpoints or values or writes:
                await self.store.await_(self.store.put(checkpoints, values, writes))
        elif self.durability == "sync" and self.ticket:
            await self.store.await_(self.ticket)


def _task_interrupts(task: Task) -> tuple[Interrupt, ...]:
    answered = len(task.resume or ())
    base = task.id if not answered else f"{task.id}#{answered}"
    return tuple(Interrupt(i.value, i.id or base) for i in task.interrupts)


def require_store(workflow_name: str, store: Checkpointer | None, what: str) -> Checkpointer:
    if store is None:
        raise CheckpointerRequiredError(
            f"{what} needs a checkpointer, and workflow {workflow_name!r} has none; "
            f"compile(checkpointer='runs.duckdb') or compile(checkpointer=MemoryCheckpointer())"
        )
    return store


def snapshot(loaded: Loaded, serde: Serde, topology: Topology) -> StateSnapshot:
    """A :class:`StateSnapshot` of a loaded checkpoint (with its writes attached)."""
    infos = []
    interrupts: list[Interrupt] = []
    for i, (name, _is_send, _arg) in enumerate(loaded.tasks):
        task_id = f"{loaded.step}:{i}:{name}"
        r = loaded.writes.get(i)
        if r is None:
            infos.append(TaskInfo(id=task_id, name=name, status="pending"))
            continue
        intr = tuple(Interrupt(v, iid) for v, iid in (serde.loads(r[13]) or ()))
        interrupts.extend(intr)
        infos.append(
            TaskInfo(
                id=task_id,
                name=name,
                status=r[10],
                interrupts=intr,
                error=f"{r[11]}: {r[12]}" if r[11] else None,
                result=serde.loads(r[9]) if r[10] == "done" else None,
            )
        )
    order = topology.schema.order
    values = {k: loaded.values[k] for k in order if k in loaded.values}
    config = {
        "configurable": {"thread_id": loaded.thread_id, "checkpoint_id": loaded.checkpoint_id}
    }
    parent = (
        {"configurable": {"thread_id": loaded.thread_id, "checkpoint_id": loaded.parent_id}}
        if loaded.parent_id
        else None
    )
    from datetime import UTC, datetime

    return StateSnapshot(
        values=values,
        next=tuple(name for name, _s, _a in loaded.tasks),
        config=config,
        metadata=loaded.metadata,
        created_at=datetime.fromtimestamp(loaded.created_at, UTC).isoformat(),
        parent_config=parent,
        tasks=tuple(infos),
        interrupts=tuple(interrupts),
    )
