"""Reading a thread's past and forking it: ``get_state``,
``get_state_history``, ``update_state``, and Polars frames of node writes
and checkpoints. The methods of the same names on ``Workflow`` call these.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from wfkit._ids import check_id
from wfkit.checkpoint.base import WRITE_COLUMNS, Checkpointer
from wfkit.checkpoint.rows import CheckpointRecord
from wfkit.checkpoint.serde import Serde
from wfkit.engine.interpret import route_sync
from wfkit.engine.loop import Route
from wfkit.errors import InvalidInputError
from wfkit.threads.fold import Folder
from wfkit.threads.saver import (
    RunSaver,
    _from_row,
    checkpoint_of,
    load,
    load_writes,
    reader,
    reading,
    require_store,
    restore,
    snapshot,
    thread_of,
)
from wfkit.threads.snapshot import StateSnapshot

if TYPE_CHECKING:
    import polars as pl

    from wfkit.graph.topology import Topology


class Workflow(Protocol):
    """What reading a thread needs of a workflow (``wfkit.Workflow`` is one)."""

    name: str
    topology: Topology
    checkpointer: Checkpointer | None
    _serde: Serde | None


__all__ = ["get_state", "get_state_history", "history_frame", "node_writes", "update_state"]


def _ids(workflow: Workflow, config: Mapping[str, Any], what: str) -> tuple[str, str | None]:
    require_store(workflow.name, workflow.checkpointer, what)
    cfg = dict(config)
    return thread_of(cfg, workflow.name), checkpoint_of(cfg)


def get_state(workflow: Workflow, config: Mapping[str, Any]) -> StateSnapshot:
    thread, checkpoint_id = _ids(workflow, config, "get_state()")
    store, serde = workflow.checkpointer, workflow._serde
    assert store is not None and serde is not None
    view = reader(store, thread)
    loaded = load(view, serde, thread, checkpoint_id)
    if loaded is None:  # a thread that never ran: empty, as in LangGraph
        return StateSnapshot(
            values={},
            next=(),
            config={"configurable": {"thread_id": thread}},
            metadata={},
            created_at="",
            parent_config=None,
            tasks=(),
        )
    load_writes(view, loaded)
    return snapshot(loaded, serde, workflow.topology)


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
        yield snapshot(loaded, serde, workflow.topology)
        count += 1
        if limit is not None and count >= limit:
            return


def update_state(
    workflow: Workflow,
    config: Mapping[str, Any],
    values: Mapping[str, Any] | None,
    as_node: str | None = None,
) -> dict[str, Any]:
    """Write a new checkpoint: ``values`` applied through the reducers as if
    ``as_node`` had returned them. A config naming an older checkpoint forks
    the thread there; the original branch is never changed."""
    thread, checkpoint_id = _ids(workflow, config, "update_state()")
    store, serde = workflow.checkpointer, workflow._serde
    assert store is not None and serde is not None
    topology = workflow.topology
    loaded = load(store, serde, thread, checkpoint_id)
    if loaded is None:
        raise InvalidInputError(f"thread {thread!r} has no checkpoint to update; run it first")
    if as_node is not None and as_node not in topology.by_name:
        raise InvalidInputError(
            f"update_state(as_node={as_node!r}): no such node; known: {', '.join(topology.by_name)}"
        )
    forking = checkpoint_id is not None and store.has_children(thread, checkpoint_id)
    machine = restore(
        topology, loaded, serde, recursion_limit=loaded.step + 10_000, with_writes=False
    )
    cfg: dict[str, Any] = {"configurable": {"thread_id": thread}}
    if as_node is None:
        machine.patch(values or {})
    else:
        routes = machine.write_as(as_node, values or {})
        if routes:
            route_sync(Route(machine, routes), cfg)
        machine.plan()
    meta = {"writes": {as_node or "update_state": dict(values or {})}}
    saver = RunSaver(store, serde, thread, durability="sync", base=loaded, metadata=meta)
    saver.save(machine, "fork" if forking else "update")
    return {"configurable": {"thread_id": thread, "checkpoint_id": saver.checkpoint_id}}


def node_writes(workflow: Workflow, config: Mapping[str, Any]) -> pl.DataFrame:
    """One row per node execution of the thread (or of one checkpoint)."""
    import polars as pl

    thread, checkpoint_id = _ids(workflow, config, "node_writes()")
    store = workflow.checkpointer
    assert store is not None
    rows = store.get_writes(thread, checkpoint_id)
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
