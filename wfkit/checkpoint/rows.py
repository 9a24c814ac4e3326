"""Named rows: what a store hands back, read by field name (``row.status``),
never by position. The fields are the columns of the DuckDB tables
(``docs/checkpoints.md``), in order, so a store's plain tuples convert with
``WriteRow._make(values)``."""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["CheckpointRecord", "ValueRecord", "WriteRecord"]


class CheckpointRecord(NamedTuple):
    """One checkpoint of a thread (table ``wf_checkpoints``)."""

    thread_id: str
    checkpoint_id: str
    parent_id: str | None
    run_id: str
    step: int
    source: str
    next: str  # JSON list of node names
    tasks: str  # JSON list of [node, is_send, encoded Send arg]
    interrupts: Any  # encoded [[value, id], ...]
    versions: str  # JSON {key: version}
    joins: str | None  # JSON {join index: [source node indices]}
    metadata: Any  # encoded dict
    created_at: float


class ValueRecord(NamedTuple):
    """One changed state key of a checkpoint (table ``wf_values``)."""

    thread_id: str
    checkpoint_id: str
    key: str
    version: int
    base_version: int | None
    kind: str  # set | append
    value: Any  # encoded


class WriteRecord(NamedTuple):
    """One node execution (table ``wf_writes``)."""

    thread_id: str
    checkpoint_id: str | None
    run_id: str
    step: int
    task_id: str
    task_index: int
    node: str
    attempt: int | None
    input: Any
    result: Any
    status: str  # done | failed | interrupted
    error_type: str | None
    error: str | None
    interrupts: Any
    resume: Any
    started_at: float | None
    ended_at: float | None
    written_at: float
