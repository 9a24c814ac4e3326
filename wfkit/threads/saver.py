"""Between the engine and a store: turning a run into rows, and rows back
into a run.

:class:`RunSaver` follows one run as one of its hooks
(:class:`~wfkit.engine.loop.RunHooks`). After each superstep it writes the
node writes of the step and a checkpoint whose values rows hold only the
keys that changed: a list that grew by appending is stored as its new tail
(``kind = "append"``), anything else whole (``kind = "set"``).

After a superstep only the keys its tasks wrote are stored, as in
LangGraph: a node that changes a value of its input in place
(``state["log"].append(x)``) and does not return it changes nothing that is
stored. A key that was written is stored if its value is another object or
the same object changed in place (a node returning the list it appended to,
a reducer that extends its first argument): for every value that can change
in place, the saver keeps a decoded copy of what it stored to compare with.
A list counts as appended to only if its head holds the very objects stored
before (``is``, so ``[1, 2]`` followed by ``[1.0, 2.0, 3.0]`` is stored
whole) and still equals the stored copy.
:func:`load` rebuilds a checkpoint's state by walking each key's chain of
rows back to its last ``set`` and folding the tails onto it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import operator
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from wfkit._clock import wall_ns
from wfkit._context import NestedAnswer
from wfkit._ids import KEY_SEP, check_id, new_checkpoint_id, new_run_id, split_key, task_id
from wfkit.checkpoint.base import Checkpointer
from wfkit.checkpoint.cache import ThreadReader
from wfkit.checkpoint.rows import CheckpointRecord, WriteRecord
from wfkit.checkpoint.serde import Serde
from wfkit.engine.machine import Machine, NestedInterrupt, PlannedTask, Task, TaskResult
from wfkit.errors import CheckpointerRequiredError, InvalidInputError, StoreError, UnsafeValueError
from wfkit.threads.fold import Folder, out
from wfkit.threads.snapshot import StateSnapshot, TaskInfo
from wfkit.types import START, Command, Durability, Interrupt, TaskStatus, Writes

if TYPE_CHECKING:
    from wfkit.graph.topology import Topology

__all__ = [
    "LOG_ROW",
    "Loaded",
    "is_input",
    "reading",
    "stored_input",
    "RunSaver",
    "checkpoint_of",
    "load",
    "load_writes",
    "reader",
    "require_store",
    "restore",
    "snapshot",
    "task_result",
    "thread_of",
]

_MISSING = object()
LOG_ROW = "__writes__"  # a write row's node: a subgraph's writes before its checkpoint (exit)
_START_NEXT = json.dumps([START])  # an input checkpoint's next and tasks columns
_START_TASKS = json.dumps([[START, False, None]])

# Values of these types cannot change in place: the saver keeps no copy of them.
_IMMUTABLE = frozenset(
    (str, int, float, bool, type(None), bytes, dt.datetime, dt.date, dt.time, dt.timedelta)
) | {decimal.Decimal, uuid.UUID}


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
    tasks: list[PlannedTask]
    joins: dict[int, set[int]]
    metadata: dict[str, Any]
    created_at: float
    run_id: str = ""
    writes: dict[int, WriteRecord] = field(default_factory=dict)  # task index -> latest write
    # key -> (the decoded value the reader keeps, never handed out; frozen)
    kept: dict[str, tuple[Any, bool]] = field(default_factory=dict)

    def copies(self, serde: Serde) -> dict[str, Any]:
        """A second copy of the mutable values: what the store holds, to
        compare the live values with (:class:`RunSaver`)."""
        copies = {}
        for key, value in self.values.items():
            if _can_change(value):
                kept = self.kept.get(key)
                copies[key] = out(*kept) if kept else serde.loads(serde.dumps(value))
        return copies


def thread_of(config: dict[str, Any], workflow_name: str) -> str:
    thread = (config.get("configurable") or {}).get("thread_id")
    if thread is None:
        raise InvalidInputError(
            f"workflow {workflow_name!r} has a checkpointer, so each run needs a thread id: "
            f"invoke(..., thread='t1') or config={{'configurable': {{'thread_id': 't1'}}}}"
        )
    thread = check_id(thread, "thread id")
    if KEY_SEP in thread:
        raise InvalidInputError(
            f"thread id {thread!r} contains the unit separator (U+001F), which wfkit uses to "
            f"store the checkpoints of subgraphs under their thread; use a thread id without it"
        )
    return thread


def checkpoint_of(config: dict[str, Any]) -> str | None:
    """The checkpoint id a config names (checked), or None."""
    cid = (config.get("configurable") or {}).get("checkpoint_id")
    return None if cid is None else check_id(cid, "checkpoint id")


def reader(store: ThreadReader, thread_id: str) -> ThreadReader:
    """What to read one thread through: the store's rows of it in memory
    (a ``ThreadRows``, fetched in bulk if need be) when the store keeps
    them, else the store itself."""
    rows_of = getattr(store, "thread_rows", None)
    return store if rows_of is None else rows_of(thread_id)


def load(
    store: ThreadReader, serde: Serde, thread_id: str, checkpoint_id: str | None = None
) -> Loaded | None:
    store = reader(store, thread_id)
    row = store.get_checkpoint(thread_id, checkpoint_id)
    if row is None:
        if checkpoint_id is not None:
            raise InvalidInputError(
                f"thread {thread_id!r} has no checkpoint {checkpoint_id!r}; list them with get_state_history(config)"
            )
        return None
    return _from_row(store, serde, row)


@contextmanager
def reading(where: str) -> Iterator[None]:
    """Turn what a damaged or tampered row raises while it is decoded into
    the store's error, naming ``where`` (thread, checkpoint, key, version).
    Nothing in a row is run: an unsafe value stays an ``UnsafeValueError``."""
    try:
        yield
    except (StoreError, InvalidInputError):
        raise
    except UnsafeValueError as exc:
        raise UnsafeValueError(f"{where}: {exc}") from exc
    except Exception as exc:
        raise StoreError(
            f"{where} cannot be read ({type(exc).__name__}: {exc}); the file was changed outside "
            f"wfkit or is damaged. Check it with: wfkit check FILE"
        ) from exc


def _from_row(
    store: ThreadReader, serde: Serde, raw: tuple[Any, ...], folder: Folder | None = None
) -> Loaded:
    """A checkpoint row read back. ``folder`` is shared by the checkpoints
    of one reading (a history), so each stored text is decoded once."""
    row = CheckpointRecord._make(raw)
    thread_id, cid = row.thread_id, row.checkpoint_id
    where = f"checkpoint {cid!r} of thread {thread_id!r}"
    with reading(where):
        version_map: dict[str, int] = _object(json.loads(row.versions), "versions")
    # a ThreadRows keeps each key's value read last: the next reading folds onto it
    decoded = getattr(store, "decoded", None) if folder is None else None
    if folder is None:
        folder = Folder(serde, _value_index(store, thread_id, version_map))
    values: dict[str, Any] = {}
    kept: dict[str, tuple[Any, bool]] = {}
    for key, version in version_map.items():
        with reading(f"{where}, state key {key!r} version {version}"):
            start = decoded.get(key) if decoded is not None else None
            value, frozen, nbytes = folder.value(key, version, where, start)
        if decoded is not None and (start is None or start[0] != version):
            store.remember(key, version, value, frozen, nbytes)  # type: ignore[attr-defined]
        values[key] = out(value, frozen)
        kept[key] = (value, frozen)
    with reading(where):
        planned = [
            PlannedTask(name, bool(is_send), serde.loads(arg) if is_send else None)
            for name, is_send, arg in json.loads(row.tasks)
        ]
        return Loaded(
            thread_id=thread_id,
            checkpoint_id=cid,
            parent_id=row.parent_id,
            step=int(row.step),
            source=row.source,
            values=values,
            versions=version_map,
            tasks=planned,
            joins={int(k): set(v) for k, v in json.loads(row.joins or "{}").items()},
            metadata=_object(json.loads(row.metadata or "{}"), "metadata"),
            created_at=float(row.created_at),
            run_id=row.run_id or "",
            kept=kept,
        )


def _value_index(
    store: ThreadReader, thread_id: str, keys: Any
) -> dict[tuple[str, int], tuple[Any, ...]]:
    """The thread's value rows of ``keys`` by (key, version)."""
    index = getattr(store, "value_rows", None)
    if index is not None:
        return index(thread_id)  # type: ignore[no-any-return]
    return {(r[2], r[3]): r for r in store.get_values(thread_id, list(keys))}


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"its {what} is {type(value).__name__}, not an object")
    return value


def _can_change(value: Any) -> bool:
    return type(value) not in _IMMUTABLE and not isinstance(value, enum.Enum)


def _same(live: Any, stored: Any) -> bool:
    """Whether ``live`` still equals the decoded copy of what was stored
    (``==``, in C; NaN counts as equal to NaN, as in the store)."""
    try:
        return bool(live == stored) or _nan_equal(live, stored)
    except Exception:  # values that cannot be compared count as changed: stored again
        return False


def _nan_equal(a: Any, b: Any) -> bool:
    t = type(a)
    if t is not type(b):
        return False
    if t is float:
        return bool(a == b or (a != a and b != b))
    if t is list or t is tuple:
        return len(a) == len(b) and all(map(_nan_equal, a, b))
    if t is dict:
        return len(a) == len(b) and all(k in b and _nan_equal(x, b[k]) for k, x in a.items())
    return bool(a == b)


def load_writes(store: ThreadReader, loaded: Loaded) -> None:
    """Attach the latest write of each task planned at this checkpoint."""
    where = f"the writes of checkpoint {loaded.checkpoint_id!r} of thread {loaded.thread_id!r}"
    with reading(where):
        for raw in reader(store, loaded.thread_id).get_writes(
            loaded.thread_id, loaded.checkpoint_id
        ):
            row = WriteRecord._make(raw)
            TaskStatus.from_label(row.status)  # a known status, or the store's error
            index = int(row.task_index)
            if index >= 0:  # -1: update_state(as_node=...) of a node the checkpoint did not plan
                loaded.writes[index] = row


def is_input(loaded: Loaded) -> bool:
    """Whether ``loaded`` is an input checkpoint (it plans ``__start__``)."""
    return len(loaded.tasks) == 1 and loaded.tasks[0].node == START


def stored_input(loaded: Loaded, serde: Serde) -> dict[str, Any] | None:
    """The input an input checkpoint holds (the write of its ``__start__``
    task; attach the writes first), or None for any other checkpoint."""
    if not is_input(loaded):
        return None
    row = loaded.writes.get(0)
    if row is None or row.result is None:
        return {}
    with reading(
        f"the input of checkpoint {loaded.checkpoint_id!r} of thread {loaded.thread_id!r}"
    ):
        value = serde.loads(row.result)
    return dict(value) if value else {}


def _questions(task: Task) -> list[list[Any]]:
    """A task's pending questions as stored: ``[value, id]``, or ``[value, id,
    namespace]`` for a question of a checkpointed graph the task runs."""
    asker = task.asker()
    if asker is None:
        return [[i.value, i.id] for i in task.pending_interrupts()]
    return [[i.value, i.id, asker] for i in task.pending_interrupts()]


def _answers(resume: list[Any]) -> Any:
    """A task's resume answers as stored: a list of its answers or, when some
    were given for the graphs it runs (``NestedAnswer``), ``{"answers": [...],
    "for": [namespace or None, ...]}``."""
    if not any(type(a) is NestedAnswer for a in resume):
        return resume
    return {
        "answers": [a.value if type(a) is NestedAnswer else a for a in resume],
        "for": [a.ns if type(a) is NestedAnswer else None for a in resume],
    }


def _answers_of(stored: Any) -> tuple[Any, ...]:
    if isinstance(stored, dict):  # some were for the graphs the task runs (see _answers)
        return tuple(
            a if ns is None else NestedAnswer(ns, a)
            for a, ns in zip(stored["answers"], stored["for"], strict=True)
        )
    return tuple(stored or ())


def _interrupts(serde: Serde, encoded: Any, *, nested: bool = False) -> tuple[Interrupt, ...]:
    """Stored questions (see :func:`_questions`); with ``nested``, a question
    of a graph the task runs keeps its namespace (``NestedInterrupt``)."""
    out: list[Interrupt] = []
    for item in serde.loads(encoded) or ():
        if nested and len(item) > 2:
            out.append(NestedInterrupt(item[0], item[1], item[2]))
        else:
            out.append(Interrupt(item[0], item[1]))
    return tuple(out)


def task_result(row: WriteRecord, serde: Serde) -> TaskResult:
    """What a write row says of its task's execution (its outcome decoded)."""
    status = TaskStatus.from_label(row.status)
    interrupted = status is TaskStatus.INTERRUPTED
    return TaskResult(
        status=status,
        attempt=int(row.attempt or 1),
        update=serde.loads(row.result) if status is TaskStatus.DONE else None,
        interrupts=_interrupts(serde, row.interrupts, nested=True) if interrupted else (),
        resume=_answers_of(serde.loads(row.resume)) if interrupted else (),
    )


def _results(loaded: Loaded, serde: Serde) -> dict[int, TaskResult]:
    out = {}
    for i, r in loaded.writes.items():
        with reading(f"the write of task {r.task_id!r} of thread {loaded.thread_id!r}"):
            out[i] = task_result(r, serde)
    return out


def restore(
    topology: Topology, loaded: Loaded, serde: Serde, *, recursion_limit: int, with_writes: bool
) -> Machine:
    """A machine at ``loaded`` (:meth:`Machine.restore`), with finished tasks'
    results (``with_writes``) so they do not run again."""
    return Machine.restore(
        topology,
        state=loaded.values,
        step=loaded.step,
        planned=loaded.tasks,
        joins=loaded.joins,
        results=_results(loaded, serde) if with_writes else None,
        recursion_limit=recursion_limit,
        where=f"checkpoint {loaded.checkpoint_id!r} of thread {loaded.thread_id!r}",
    )


class RunSaver:
    """Writes one run's checkpoints and node writes to a store."""

    __slots__ = (
        "base_id",
        "buffer",
        "checkpoint_id",
        "durability",
        "exit_source",
        "input_id",
        "input_stored",
        "keep_done",
        "keep_log",
        "metadata",
        "next_version",
        "parents",
        "run_id",
        "serde",
        "store",
        "stored",
        "thread_id",
        "ticket",
        "values",
        "versions",
        "written",
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
        parents: dict[str, str] | None = None,
    ) -> None:
        self.store = store
        self.serde = serde
        self.thread_id = thread_id
        self.durability = durability
        self.run_id: str = new_run_id()
        self.metadata = metadata or {}
        # LangGraph's metadata "parents": the checkpoints of the runs this one is nested in
        self.parents = parents or {}
        # under "exit", a run that ends stores its last checkpoint; a nested one
        # (wfkit.threads.lineage) only when it paused or failed, as in LangGraph
        self.keep_done = True
        # under "exit", a nested run stores no earlier steps: a subgraph node's
        # run keeps the writes it made before its last checkpoint in a row of
        # its own (node LOG_ROW), for the parent that applies them all
        self.keep_log = False
        self.checkpoint_id: str | None = base.checkpoint_id if base else None
        self.base_id = self.checkpoint_id  # the checkpoint the run started from
        self.exit_source: str | None = (
            None  # exit: the source of the checkpoint to store at the end
        )
        self.input_stored = False  # the run continues an input checkpoint already stored
        self.input_id: str | None = None  # the input checkpoint this run stored
        self.versions: dict[str, int] = dict(base.versions) if base else {}
        self.values: dict[str, Any] = dict(base.values) if base else {}
        # key -> a decoded copy of what the store holds, for values that can change in place
        self.stored: dict[str, Any] = base.copies(serde) if base else {}
        self.next_version = store.max_version(thread_id) + 1 if base else 1
        self.buffer: tuple[list[Any], list[Any], list[Any]] | None = (
            ([], [], []) if durability == "exit" else None
        )
        self.ticket = 0  # the store's ticket for this run's newest rows
        # the keys the tasks since the last checkpoint wrote; None: not known
        # (an update of a shape the saver cannot read), so every key is compared
        self.written: set[str] | None = set()

    # ---------------------------------------------------------------- rows
    def _new_version(self) -> int:
        """The next version number of a value row of this thread. A store that
        can hands it out itself, so that runs of one thread going on at the
        same time never write two rows of one key with the same version."""
        reserve = getattr(self.store, "reserve_version", None)
        if reserve is not None:
            version: int = reserve(self.thread_id, self.next_version)
        else:
            version = self.next_version
        self.next_version = version + 1
        return version

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
            if task.status is TaskStatus.PENDING or task.saved:
                continue
            status = task.status.label
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
                    dumps(task.update, f"the update of node {name!r}", update=True)
                    if status == "done"
                    else None,
                    status,
                    type(err).__name__ if err is not None else None,
                    str(err) if err is not None else None,
                    dumps(_questions(task), f"the interrupt of node {name!r}")
                    if status == "interrupted"
                    else None,
                    dumps(_answers(task.resume), f"the resume values of node {name!r}")
                    if task.resume
                    else None,
                    wall_ns(task.started) / 1e9 if task.started else None,
                    wall_ns(task.ended) / 1e9 if task.ended else None,
                    now,
                )
            )
        return rows

    def checkpoint_rows(
        self,
        machine: Machine | None,
        source: str,
        *,
        state: dict[str, Any] | None = None,
        step: int | None = None,
        planned: list[Any] | None = None,
        joins: dict[str, list[int]] | None = None,
        cid: str | None = None,
        written: set[str] | None = None,
    ) -> tuple[list[Any], list[Any]]:
        """The rows of a checkpoint of ``machine`` (or of ``state`` at ``step``
        with ``planned`` tasks: the input checkpoint, planning ``__start__``)."""
        cid = cid or new_checkpoint_id()
        serde = self.serde
        stored = self.stored
        value_rows = []
        if state is None:
            assert machine is not None
            state = machine.state
        for key, value in state.items():
            prev = self.values.get(key, _MISSING)
            if value is prev and written is not None and key not in written:
                continue  # not written: a change made in place is not the state's
            copy = stored.get(key, _MISSING)
            if value is prev and (copy is _MISSING or _same(value, copy)):
                continue  # the same object, unchanged since it was stored
            kind, base, payload = "set", None, value
            if type(value) is list and type(copy) is list and copy and len(value) >= len(copy):
                n = len(copy)
                head = value[:n]
                if (
                    value is prev  # changed in place: compare with the stored copy only
                    or (type(prev) is list and all(map(operator.is_, head, prev)))
                ) and _same(head, copy):
                    kind, base, payload = "append", self.versions[key], value[n:]
            text = serde.dumps(payload, f"state key {key!r}")
            version = self._new_version()
            value_rows.append((self.thread_id, cid, key, version, base, kind, text))
            self.versions[key] = version
            self.values[key] = value
            if not _can_change(value):
                stored.pop(key, None)
            elif kind == "append":
                stored[key] = copy + serde.loads(text)
            else:
                stored[key] = serde.loads(text)
        dumps = serde.dumps
        if planned is None:
            assert machine is not None
            planned = [
                [t.node.name, True, dumps(t.arg, f"the Send to {t.node.name!r}")]
                if t.send
                else [t.node.name, False, None]
                for t in machine.tasks
            ]
            interrupts = [[i.value, i.id] for i in machine.interrupts]
            joins = {str(k): sorted(v) for k, v in (machine.join_seen or {}).items() if v}
        else:
            interrupts, joins = [], joins or {}
        if step is None:
            assert machine is not None
            step = machine.step
        if self.metadata or self.parents:
            meta = {**self.metadata, "source": source, "step": step, "parents": self.parents}
            meta_text = dumps(meta, "the checkpoint metadata")
        else:  # the common case, written as serde.dumps writes it (source is one of four words)
            meta_text = f'{{"source":"{source}","step":{step},"parents":{{}}}}'
        if not planned:
            next_text = tasks_text = "[]"
        elif len(planned) == 1 and planned[0][0] == START:
            next_text, tasks_text = _START_NEXT, _START_TASKS
        else:
            next_text, tasks_text = json.dumps([t[0] for t in planned]), json.dumps(planned)
        row = (
            self.thread_id,
            cid,
            self.checkpoint_id,
            self.run_id,
            step,
            source,
            next_text,
            tasks_text,
            dumps(interrupts, "the pending interrupts") if interrupts else "[]",
            json.dumps(self.versions),
            json.dumps(joins) if joins else "{}",
            meta_text,
            time.time(),
        )
        self.checkpoint_id = cid
        return [row], value_rows

    def input_rows(
        self, machine: Machine, updates: dict[str, Any], base: dict[str, Any] | None
    ) -> tuple[list[Any], list[Any], list[Any]]:
        """The input checkpoint (LangGraph's step -1 of a new thread): the
        state before the input, ``__start__`` planned, and the input as the
        write of its ``__start__`` task; the run's first checkpoint follows."""
        before = dict(base) if base is not None else machine.topology.schema.initial_values()
        step = machine.step - 1
        checkpoints, values = self.checkpoint_rows(
            machine, "input", state=before, step=step, planned=[[START, False, None]]
        )
        write = self.write_row(task_id(step, 0, START), 0, START, step, updates)
        return checkpoints, values, [write]

    def write_row(self, tid: str, index: int, node: str, step: int, update: Any) -> tuple[Any, ...]:
        """A ``done`` write row on the current checkpoint for a task that is not
        a node execution: the input (``__start__``) or an ``update_state``."""
        now = time.time()
        return (
            self.thread_id,
            self.checkpoint_id,
            self.run_id,
            step,
            tid,
            index,
            node,
            0,  # attempt 0: written, not executed (node_writes() leaves it out)
            None,
            self.serde.dumps(update, f"the update written as node {node!r}", update=True),
            "done",
            None,
            None,
            None,
            None,
            now,
            now,
            now,
        )

    # ---------------------------------------------------------------- hooks
    def after_tasks(self, *, machine: Machine, tasks: list[Task], **_: Any) -> None:
        """Record the finished tasks of a step (before its barrier)."""
        written = self.written
        if written is not None:
            for task in tasks:
                if task.status is TaskStatus.DONE and not _add_keys(written, task.update):
                    self.written = None
                    break
        rows = self.write_rows(tasks)
        if rows:
            self._put([], [], rows)

    def after_step(
        self,
        *,
        machine: Machine,
        source: str,
        input: dict[str, Any] | None = None,
        base: dict[str, Any] | None = None,
        entry: bool = False,
        **_: Any,
    ) -> int:
        """Store the checkpoint after a superstep (or the input's); under
        ``sync``, the ticket to wait for before the run goes on.

        At the input boundary (``source="input"``) two checkpoints are
        stored, as in LangGraph: the input checkpoint (the state before the
        input, ``__start__`` planned) and the first ``loop`` checkpoint (the
        input applied, ``START``'s nodes planned), unless the input
        checkpoint is already stored (a run continuing or replaying it).
        Under ``exit`` durability nothing is written until the run ends:
        the run stores its last checkpoint only (:meth:`after_run`).

        ``entry``: a functional run's input (``wfkit.func``): one checkpoint,
        source ``input``, holding the input and planning the entrypoint, as
        LangGraph stores it."""
        written = self.written if source == "loop" else None
        self.written = set()
        # what the checkpoint's source says: an input boundary stores a "loop"
        # checkpoint (after the input checkpoint), a functional one an "input" one
        stored = "input" if entry else "loop" if source == "input" else source
        if self.buffer is not None:  # exit: the run's one checkpoint is written at its end
            self.exit_source = stored
            self.checkpoint_id = new_checkpoint_id()  # what the next step's writes refer to
            self.buffer[2].clear()  # writes of a checkpoint that is not stored
            return 0
        writes: list[Any] = []
        if source == "input" and input is not None and not entry and not self.input_stored:
            checkpoints, values, writes = self.input_rows(machine, input, base)
            self.input_id = self.checkpoint_id
            more, more_values = self.checkpoint_rows(machine, "loop")
            checkpoints += more
            values += more_values
        else:
            checkpoints, values = self.checkpoint_rows(machine, stored, written=written)
        ticket = self._put(checkpoints, values, writes)
        return ticket if self.durability == "sync" else 0

    def after_run(
        self,
        *,
        machine: Machine | None = None,
        error: BaseException | None = None,
        **_: Any,
    ) -> int:
        """The run ended, paused or failed: what it wrote must be durable
        (``exit`` writes its last checkpoint and that checkpoint's writes now;
        ``sync`` already is; ``async`` follows shortly): the ticket to wait
        for, or 0."""
        if self.buffer is not None:
            writes = self.buffer[2]
            self.buffer = ([], [], [])
            if (
                not self.keep_done
                and error is None
                and machine is not None
                and machine.status == "done"
            ):
                self.exit_source = None  # a nested run that finished: nothing to resume
                return 0
            if self.exit_source is None or machine is None:
                # no checkpoint boundary was reached: only the writes of the
                # checkpoint the run started from (a failed or interrupted task)
                return self.store.put([], [], writes) if writes else 0
            cid = self.checkpoint_id
            self.checkpoint_id = self.base_id
            checkpoints, values = self.checkpoint_rows(machine, self.exit_source, cid=cid)
            self.exit_source = None
            if self.keep_log and machine.log:
                step = machine.step
                writes.append(
                    self.write_row(
                        task_id(step, -1, LOG_ROW), -1, LOG_ROW, step, Writes(machine.log)
                    )
                )
            return self.store.put(checkpoints, values, writes)
        return self.ticket if self.durability == "sync" else 0

    def wait(self, ticket: int) -> None:
        self.store.wait(ticket)

    async def await_(self, ticket: int) -> None:
        await self.store.await_(ticket)

    def save(self, machine: Machine, source: str, writes: Any = ()) -> None:
        """Store one checkpoint now (with ``writes`` on the one it follows)
        and wait until it is durable (``update_state``)."""
        checkpoints, values = self.checkpoint_rows(machine, source)
        self.store.wait(self.store.put(checkpoints, values, list(writes)))

    def fork_input(self, loaded: Loaded, step: int, updates: dict[str, Any]) -> None:
        """A replay of an input checkpoint: its ``fork`` copy, one step on,
        holding the same input."""
        checkpoints, values = self.checkpoint_rows(
            None, "fork", state=loaded.values, step=step, planned=[[START, False, None]]
        )
        writes = [self.write_row(task_id(step, 0, START), 0, START, step, updates)]
        self.ticket = self.store.put(checkpoints, values, writes)
        if self.durability != "async":
            self.store.wait(self.ticket)

    def fork(self, machine: Machine) -> None:
        """A replay's first checkpoint: a copy of the checkpoint it replays
        (source ``fork``, one step on), so that what the replay writes starts
        a new branch and the replayed one never changes (as LangGraph does)."""
        checkpoints, values = self.checkpoint_rows(machine, "fork")
        self.ticket = self.store.put(checkpoints, values, [])
        if self.durability != "async":
            self.store.wait(self.ticket)


def _add_keys(keys: set[str], update: Any) -> bool:
    """Add the state keys ``update`` (a node's return value) writes; False
    when its shape is not one the saver knows."""
    if update is None:
        return True
    if type(update) is dict:
        keys.update(update)
        return True
    if isinstance(update, Command):
        return _add_keys(keys, update.update)
    if isinstance(update, Mapping):
        keys.update(update)
        return True
    if isinstance(update, list | tuple):
        for item in update:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                keys.add(item[0])  # a (key, value) pair: Writes, Command.update as pairs
            elif not _add_keys(keys, item):
                return False
        return True
    return False


def require_store(workflow_name: str, store: Checkpointer | None, what: str) -> Checkpointer:
    if store is None:
        raise CheckpointerRequiredError(
            f"{what} needs a checkpointer, and workflow {workflow_name!r} has none; "
            f"compile(checkpointer='runs.duckdb') or compile(checkpointer=MemoryCheckpointer())"
        )
    return store


def _config(key: str, checkpoint_id: str, parents: Any = None) -> dict[str, Any]:
    """The config naming a checkpoint, keys as LangGraph's: thread id,
    namespace (``""`` for a root graph) and checkpoint id; for a subgraph's
    checkpoint (``key`` names a namespace: :mod:`wfkit.threads.lineage`)
    also ``checkpoint_map``, the checkpoint of each namespace it is in."""
    thread, ns = split_key(key)
    configurable: dict[str, Any] = {
        "thread_id": thread,
        "checkpoint_ns": ns,
        "checkpoint_id": checkpoint_id,
    }
    if ns:
        configurable["checkpoint_map"] = {**(parents or {}), ns: checkpoint_id}
    return {"configurable": configurable}


def snapshot(
    loaded: Loaded, serde: Serde, topology: Topology, *, live: bool = False
) -> StateSnapshot:
    """A :class:`StateSnapshot` of a loaded checkpoint (with its writes attached).

    ``live`` (the thread's head, read without a checkpoint id): as LangGraph
    shows it, the writes of the tasks that finished in a step stopped by an
    interrupt or a failure are applied to ``values``, and ``next`` lists only
    the tasks still to run. Otherwise the snapshot is the record of the
    checkpoint: the state before its step, and every task it planned."""
    infos = []
    interrupts: list[Interrupt] = []
    done: list[tuple[str, int, Any]] = []
    for i, planned in enumerate(loaded.tasks):
        name = planned.node
        tid = task_id(loaded.step, i, name)
        r = loaded.writes.get(i)
        if r is None:
            infos.append(TaskInfo(id=tid, name=name, status="pending"))
            continue
        with reading(f"the write of task {tid!r} of thread {loaded.thread_id!r}"):
            intr = _interrupts(serde, r.interrupts)
            result = serde.loads(r.result) if r.status == "done" else None
        if r.status == "done":
            done.append((name, i, result))
        interrupts.extend(intr)
        infos.append(
            TaskInfo(
                id=tid,
                name=name,
                status=r.status,
                interrupts=intr,
                error=f"{r.error_type}: {r.error}" if r.error_type else None,
                result=result,
            )
        )
    state = loaded.values
    next_nodes = tuple(p.node for p in loaded.tasks)
    if live and done and not is_input(loaded):
        machine = Machine(topology)
        machine.state = state
        applied = machine.applied(done)
        if applied is not None:
            state = applied[0]
        finished = {i for _, i, _ in done}
        next_nodes = tuple(p.node for i, p in enumerate(loaded.tasks) if i not in finished)
    order = topology.schema.order
    values = {k: state[k] for k in order if k in state}
    parents = loaded.metadata.get("parents")
    config = _config(loaded.thread_id, loaded.checkpoint_id, parents)
    parent = _config(loaded.thread_id, loaded.parent_id, parents) if loaded.parent_id else None
    return StateSnapshot(
        values=values,
        next=next_nodes,
        config=config,
        metadata=loaded.metadata,
        created_at=datetime.fromtimestamp(loaded.created_at, UTC).isoformat(),
        parent_config=parent,
        tasks=tuple(infos),
        interrupts=tuple(interrupts),
    )
