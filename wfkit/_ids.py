"""Typed ids and the one formatter of each.

Ids are plain strings at run time (``NewType``), so they cost nothing, but
the type checker keeps a task id from being passed where a checkpoint id is
wanted, and no other module formats an id by hand.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import NewType

__all__ = [
    "CheckpointId",
    "InterruptId",
    "RunId",
    "TaskId",
    "ThreadId",
    "interrupt_id",
    "new_checkpoint_id",
    "new_run_id",
    "task_id",
]

ThreadId = NewType("ThreadId", str)
CheckpointId = NewType("CheckpointId", str)
RunId = NewType("RunId", str)
TaskId = NewType("TaskId", str)
InterruptId = NewType("InterruptId", str)

_counter = itertools.count()
_node = os.getpid() & 0xFFFF
_run_prefix = f"{time.time_ns():x}-{os.getpid():x}-"


def task_id(step: int, index: int, node: str) -> TaskId:
    """A task's id, stable within a thread: superstep, position in it, node."""
    return TaskId(f"{step}:{index}:{node}")


def interrupt_id(task: TaskId, answered: int) -> InterruptId:
    """The id of a task's pending ``interrupt()``: the task id for its first
    question, ``task#n`` once ``n`` earlier questions were answered (a node
    may ask several in turn)."""
    return InterruptId(task if not answered else f"{task}#{answered}")


def interrupt_belongs_to(iid: str, task: TaskId) -> bool:
    """Whether interrupt id ``iid`` was raised by ``task`` (see :func:`interrupt_id`)."""
    return iid == task or iid.startswith(task + "#")


def new_checkpoint_id() -> CheckpointId:
    """A checkpoint id that sorts by creation time (then by process and order)."""
    # a NewType is a call at run time: these two are on the hot path, so no call
    return f"{time.time_ns():016x}-{_node:04x}-{next(_counter) & 0xFFFFFF:06x}"  # type: ignore[return-value]


def new_run_id() -> RunId:
    """A run id, unique in the process and across processes (cheaper than
    :func:`new_checkpoint_id`; run ids need not sort by time)."""
    return f"{_run_prefix}{next(_counter):x}"  # type: ignore[return-value]
