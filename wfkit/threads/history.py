"""Reading a thread's past and forking it: ``get_state``,
``get_state_history``, ``update_state``, and Polars frames of node writes
and checkpoints. The methods of the same names on ``Workflow`` call these.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from wfkit._ids import check_id, lineage_key, task_id
from wfkit.checkpoint.base import WRITE_COLUMNS, Checkpointer
from wfkit.checkpoint.rows import CheckpointRecord, WriteRecord
from wfkit.checkpoint.serde import Serde
from wfkit.engine.interpret import route_sync
from wfkit.engine.loop import Route
from wfkit.engine.machine import Machine
from wfkit.errors import InvalidInputError, InvalidUpdateError, StoreError
from wfkit.threads.fold import Folder
from wfkit.threads.lineage import NS_SEP, graph_at, serde_for
from wfkit.threads.saver import (
    Loaded,
    RunSaver,
    _from_row,
    checkpoint_of,
    load,
    load_writes,
    reader,
    reading,
    require_store,
    snapshot,
    thread_of,
)
from wfkit.threads.snapshot import StateSnapshot
from wfkit.types import END, START

if TYPE_CHECKING:
    import polars as pl

    from wfkit.graph.topology import Topology


class Workflow(Protocol):
    """What reading a thread needs of a workflow (``wfkit.Workflow`` is one)."""

    name: str
    topology: Topology
    checkpointer: Checkpointer | None
    _serde: Serde | None


__all__ = [
    "get_state",
    "get_state_history",
    "history_frame",
    "node_writes",
    "read_state",
    "update_state",
]


def _ids(workflow: Workflow, config: Mapping[str, Any], what: str) -> tuple[str, str | None]:
    require_store(workflow.name, workflow.checkpointer, what)
    cfg = dict(config)
    return thread_of(cfg, workflow.name), checkpoint_of(cfg)


def _namespace(config: Mapping[str, Any]) -> str:
    ns = (config.get("configurable") or {}).get("checkpoint_ns") or ""
    if type(ns) is not str:
        raise InvalidInputError(
            f"checkpoint_ns {ns!r} is a {type(ns).__name__}; a namespace is text, as "
            f"get_state(config).tasks[i].state names it"
        )
    return ns


def get_state(
    workflow: Workflow, config: Mapping[str, Any], *, subgraphs: bool = False
) -> StateSnapshot:
    thread, checkpoint_id = _ids(workflow, config, "get_state()")
    store = workflow.checkpointer
    assert store is not None
    ns = _namespace(config)
    return read_state(
        store,
        graph_at(workflow.topology, ns) if ns else workflow.topology,
        thread,
        ns,
        checkpoint_id,
        serde=None if ns else workflow._serde,
        subgraphs=subgraphs,
    )


def read_state(
    store: Checkpointer,
    topology: Topology,
    thread: str,
    ns: str,
    checkpoint_id: str | None,
    *,
    serde: Serde | None = None,
    subgraphs: bool = False,
) -> StateSnapshot:
    """The snapshot of a checkpoint of namespace ``ns`` of ``thread`` (the
    newest when ``checkpoint_id`` is None: the thread's head, shown live, as
    LangGraph shows it), read with ``topology``'s schema. Each task that runs
    a graph gets, in ``state``, the config naming that graph's namespace, or
    with ``subgraphs`` that graph's own snapshot (recursively)."""
    if serde is None:
        serde = serde_for(topology, store)
    key = lineage_key(thread, ns)
    view = reader(store, key)
    loaded = load(view, serde, key, checkpoint_id)
    if loaded is None:  # a thread (or namespace) that never ran: empty, as in LangGraph
        return StateSnapshot(
            values={},
            next=(),
            config={"configurable": {"thread_id": thread, "checkpoint_ns": ns}},
            metadata={},
            created_at="",
            parent_config=None,
            tasks=(),
        )
    if loaded.tasks:  # the writes of its planned tasks (none planned: none to show)
        load_writes(view, loaded)
    snap = snapshot(loaded, serde, topology, live=checkpoint_id is None)
    return _task_states(snap, store, topology, thread, ns, subgraphs=subgraphs)


def _task_states(
    snap: StateSnapshot,
    store: Checkpointer,
    topology: Topology,
    thread: str,
    ns: str,
    *,
    subgraphs: bool,
) -> StateSnapshot:
    """``snap`` with each task that runs a graph given its ``state``: the
    config of that graph's namespace, or (``subgraphs``) its snapshot."""
    if not topology.runs_graphs:
        return snap
    tasks = []
    for task in snap.tasks:
        node = topology.by_name.get(task.name)
        graph = None if node is None else node.subgraph or next(iter(node.calls), None)
        if graph is None or not getattr(graph, "checkpoints_inside", True):  # checkpointer=False
            tasks.append(task)
            continue
        inner = f"{ns}{NS_SEP}{task.name}:{task.id}" if ns else f"{task.name}:{task.id}"
        state: Any
        if subgraphs:
            state = read_state(store, graph.topology, thread, inner, None, subgraphs=True)
        else:
            state = {"configurable": {"thread_id": thread, "checkpoint_ns": inner}}
        tasks.append(dataclasses.replace(task, state=state))
    return dataclasses.replace(snap, tasks=tuple(tasks))


def get_state_history(
    workflow: Workflow,
    config: Mapping[str, Any],
    *,
    limit: int | None = None,
    before: Mapping[str, Any] | None = None,
    filter: Mapping[str, Any] | None = None,
) -> Iterator[StateSnapshot]:
    thread, _ = _ids(workflow, config, "get_state_history()")
    store, serde = workflow.checkpointer, workflow._serde
    assert store is not None and serde is not None
    root = thread
    ns = _namespace(config)
    topology = workflow.topology
    if ns:  # a subgraph's checkpoints: read with its schema (wfkit.threads.lineage)
        topology = graph_at(topology, ns)
        serde = serde_for(topology, store)
        thread = lineage_key(thread, ns)
    before_id = checkpoint_of(dict(before)) if before else None
    for key in filter or ():
        if type(key) is not str:
            raise InvalidInputError(
                f"get_state_history() filter key {key!r} is a {type(key).__name__}; metadata "
                f"keys are strings: filter={{'source': 'loop'}}"
            )
        check_id(key, "get_state_history() filter key")
    # one read of the thread (rows in memory, or fetched in bulk), decoded as it is iterated
    view = reader(store, thread)
    complete = getattr(view, "complete", None)
    if complete is not None:
        complete()  # a thread read cold: the rest of it in two queries, not one per checkpoint
    rows = view.list_checkpoints(thread, limit=None if filter else limit, before=before_id)
    index = getattr(view, "value_rows", None)
    folder = Folder(serde, index(thread), steps=True) if index is not None else None
    count = 0
    for row in rows:
        if filter:
            with reading(f"checkpoint {row[1]!r} of thread {thread!r}"):
                meta = json.loads(CheckpointRecord._make(row).metadata or "{}")
                if not isinstance(meta, dict):
                    raise TypeError(f"its metadata is {type(meta).__name__}, not an object")
            if any(meta.get(k) != v for k, v in filter.items()):
                continue
        loaded = _from_row(view, serde, row, folder)
        load_writes(view, loaded)
        yield _task_states(
            snapshot(loaded, serde, topology), store, topology, root, ns, subgraphs=False
        )
        count += 1
        if limit is not None and count >= limit:
            return


def update_state(
    workflow: Workflow,
    config: Mapping[str, Any],
    values: Mapping[str, Any] | None,
    as_node: str | None = None,
) -> dict[str, Any]:
    """Write a new checkpoint (source ``update``, one step on), as LangGraph
    does: ``values`` applied through the reducers as if node ``as_node`` had
    returned them, and that node's successors planned in place of what the
    checkpoint planned. Without ``as_node``, the node that wrote the
    checkpoint acts (``START`` for an input or a new thread); ``as_node=START``
    applies the values as an input and plans ``START``'s nodes;
    ``update_state(config, None, as_node=END)`` plans nothing. A config naming
    an older checkpoint forks the thread there; the original branch is never
    changed."""
    thread, checkpoint_id = _ids(workflow, config, "update_state()")
    if _namespace(config):
        raise InvalidInputError(
            f"update_state() with checkpoint_ns {_namespace(config)!r}: wfkit updates the state "
            f"of a thread's root graph only, not a subgraph's; pass a config without "
            f"checkpoint_ns (get_state(config).config)"
        )
    store, serde = workflow.checkpointer, workflow._serde
    assert store is not None and serde is not None
    topology = workflow.topology
    if (
        as_node is not None
        and as_node not in topology.by_name
        and as_node not in (START, END, COPY)
    ):
        raise InvalidUpdateError(
            f"update_state(as_node={as_node!r}): no such node; known: "
            f"{', '.join(topology.by_name)}, START or END"
        )
    if as_node == END and values is not None:
        raise InvalidUpdateError(
            "update_state(config, values, as_node=END): END takes no values, it only ends the "
            "run (update_state(config, None, as_node=END)); write the values as a node first"
        )
    loaded = load(store, serde, thread, checkpoint_id)
    if as_node == COPY:
        return _copy(workflow, loaded, thread, values)
    if loaded is not None:
        load_writes(store, loaded)
    if as_node is None:
        as_node = _writer(store, loaded, thread)
    limit = (loaded.step if loaded else 0) + 10_000
    if loaded is None:  # a new thread: the update is its first checkpoint (step 0)
        machine = Machine(topology, recursion_limit=limit)
        machine.state = topology.schema.initial_values()
        machine.step = -1
    else:  # what the checkpoint planned is replaced, so a node since removed is no obstacle
        machine = Machine.restore(
            topology,
            state=loaded.values,
            step=loaded.step,
            planned=(),
            joins=loaded.joins,
            recursion_limit=limit,
        )
    planned = [t.node for t in loaded.tasks] if loaded is not None else []
    cfg: dict[str, Any] = {"configurable": {"thread_id": thread}}
    if as_node == END:
        machine.tasks = []
        machine.step += 1
    else:
        if as_node == START:
            routes = machine.start(dict(values or {}), machine.state)
            machine.step += 1
        else:
            routes = machine.write_as(as_node, values or {})
        if routes:
            route_sync(Route(machine, routes), cfg)
        machine.status = "running"
        machine.plan()
    saver = RunSaver(store, serde, thread, durability="sync", base=loaded)
    writes = []
    if loaded is not None and as_node != END:
        # the update as the write of the task it stands for (LangGraph shows it
        # as that task's result in the history); -1: a node the checkpoint did not plan
        index = planned.index(as_node) if as_node in planned else -1
        tid = task_id(loaded.step, index, as_node) if index >= 0 else f"update:{saver.run_id}"
        writes.append(saver.write_row(tid, index, as_node, loaded.step, dict(values or {})))
    saver.save(machine, "update", writes)
    return _config_of(thread, saver.checkpoint_id)


COPY = "__copy__"


def _copy(
    workflow: Workflow, loaded: Loaded | None, thread: str, values: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``update_state(config, None, as_node="__copy__")``: a sibling of the
    checkpoint (same parent, state and planned tasks, one step on, source
    ``fork``), as in LangGraph."""
    store, serde = workflow.checkpointer, workflow._serde
    assert store is not None and serde is not None
    if loaded is None:
        raise InvalidUpdateError(
            f"update_state(as_node='__copy__'): thread {thread!r} has no checkpoint to copy"
        )
    if values is not None:
        raise InvalidUpdateError(
            "update_state(config, values, as_node='__copy__') copies a checkpoint and takes no "
            "values: update_state(config, None, as_node='__copy__'), then update the copy"
        )
    saver = RunSaver(store, serde, thread, durability="sync", base=loaded)
    saver.checkpoint_id = loaded.parent_id  # the copy is the checkpoint's sibling
    planned = [
        [t.node, True, serde.dumps(t.arg, f"the Send to {t.node!r}")]
        if t.send
        else [t.node, False, None]
        for t in loaded.tasks
    ]
    checkpoints, rows = saver.checkpoint_rows(
        None,
        "fork",
        state=loaded.values,
        step=loaded.step + 1,
        planned=planned,
        joins={str(k): sorted(v) for k, v in loaded.joins.items() if v},
    )
    store.wait(store.put(checkpoints, rows, []))
    return _config_of(thread, saver.checkpoint_id)


def _config_of(thread: str, checkpoint_id: str | None) -> dict[str, Any]:
    return {
        "configurable": {"thread_id": thread, "checkpoint_ns": "", "checkpoint_id": checkpoint_id}
    }


def _writer(store: Checkpointer, loaded: Loaded | None, thread: str) -> str:
    """The node that wrote checkpoint ``loaded``: what ``update_state``
    without ``as_node`` acts as (LangGraph's rule: the last node that updated
    the state; ambiguous when several did in one superstep)."""
    if loaded is None:
        return START
    record = _record(store, thread, loaded.checkpoint_id)
    seen: list[str] = []
    while record is not None and record.source == "fork" and record.parent_id:
        seen.append(record.checkpoint_id)  # a copy: its original's writer
        if record.parent_id in seen:
            raise StoreError(
                f"checkpoint {seen[0]!r} of thread {thread!r} is a fork copy whose originals "
                f"come back to it (a cycle: {' -> '.join(seen)} -> {record.parent_id}); the "
                f"file was changed outside wfkit. Pass update_state(..., as_node=...), or check "
                f"it with: wfkit check FILE"
            )
        original = _record(store, thread, record.parent_id)
        if original is None:
            raise StoreError(
                f"checkpoint {record.checkpoint_id!r} of thread {thread!r} is a fork copy of "
                f"checkpoint {record.parent_id!r}, which is missing; the file is incomplete or "
                f"was changed outside wfkit. Pass update_state(..., as_node=...), or check it "
                f"with: wfkit check FILE"
            )
        record = original
    if record is None or record.parent_id is None or _names(record, thread) == [START]:
        return START
    if record.source == "update":
        for raw in store.get_writes(thread, record.parent_id):
            row = WriteRecord._make(raw)
            if row.run_id == record.run_id:
                return str(row.node)
        return START
    parent = _record(store, thread, record.parent_id)
    names = set(_names(parent, thread)) if parent is not None else {START}
    if len(names) == 1:
        return names.pop()
    raise InvalidUpdateError(
        f"update_state() on thread {thread!r}: nodes {', '.join(sorted(names))} all wrote this "
        f"checkpoint, so it is ambiguous which one the update comes from; pass as_node=... "
        f"(one of them, or START)"
    )


def _record(store: Checkpointer, thread: str, checkpoint_id: str) -> CheckpointRecord | None:
    row = store.get_checkpoint(thread, checkpoint_id)
    return None if row is None else CheckpointRecord._make(row)


def _names(record: CheckpointRecord, thread: str) -> list[str]:
    """The node names a checkpoint row plans."""
    with reading(f"checkpoint {record.checkpoint_id!r} of thread {thread!r}"):
        return [str(t[0]) for t in json.loads(record.tasks)]


def node_writes(workflow: Workflow, config: Mapping[str, Any]) -> pl.DataFrame:
    """One row per node execution of the thread (or of one checkpoint)."""
    import polars as pl

    thread, checkpoint_id = _ids(workflow, config, "node_writes()")
    store = workflow.checkpointer
    assert store is not None
    # node executions only: not the input's and update_state's rows (attempt 0)
    rows = [r for r in store.get_writes(thread, checkpoint_id) if WriteRecord._make(r).attempt != 0]
    schema: dict[str, Any] = {c: pl.String for c in WRITE_COLUMNS}
    schema.update({"step": pl.Int64, "task_index": pl.Int64, "attempt": pl.Int64})
    frame = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
    return frame.with_columns(
        [
            pl.from_epoch(
                pl.col(c).cast(pl.Float64).mul(1_000_000).cast(pl.Int64), time_unit="us"
            ).alias(c)
            for c in ("started_at", "ended_at", "written_at")
        ]
    )


def history_frame(workflow: Workflow, config: Mapping[str, Any]) -> pl.DataFrame:
    """One row per checkpoint of the thread, newest first, with its state as JSON."""
    import polars as pl

    records = []
    for snap in get_state_history(workflow, config):
        records.append(
            {
                "checkpoint_id": snap.config["configurable"]["checkpoint_id"],
                "parent_id": (snap.parent_config or {})
                .get("configurable", {})
                .get("checkpoint_id"),
                "step": snap.metadata.get("step"),
                "source": snap.metadata.get("source"),
                "next": list(snap.next),
                "interrupts": len(snap.interrupts),
                "created_at": snap.created_at,
                "values": json.dumps(snap.values, default=repr),
            }
        )
    schema: dict[str, Any] = {
        "checkpoint_id": pl.String,
        "parent_id": pl.String,
        "step": pl.Int64,
        "source": pl.String,
        "next": pl.List(pl.String),
        "interrupts": pl.Int64,
        "created_at": pl.String,
        "values": pl.String,
    }
    return pl.DataFrame(records, schema=schema)
