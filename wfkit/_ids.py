"""Typed ids and the one formatter of each.

Ids are plain strings at run time (``NewType``), so they cost nothing, but
the type checker keeps a task id from being passed where a checkpoint id is
wanted, and no other module formats an id by hand.
"""

from __future__ import annotations

import itertools
import os
import time
import uuid
from typing import NewType

from wfkit.errors import InvalidInputError

__all__ = [
    "MAX_ID_LENGTH",
    "CheckpointId",
    "InterruptId",
    "RunId",
    "TaskId",
    "ThreadId",
    "KEY_SEP",
    "batch_thread_id",
    "check_id",
    "interrupt_id",
    "lineage_key",
    "new_checkpoint_id",
    "new_run_id",
    "split_key",
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


KEY_SEP = "\x1f"  # the unit separator: between a thread id and a namespace (see lineage_key)


def lineage_key(thread: str, ns: str) -> str:
    """The thread id under which the checkpoints of namespace ``ns`` of
    thread ``thread`` are stored (a subgraph's: ``wfkit.threads.lineage``):
    the thread itself for the root graph (``ns == ""``), else the thread id,
    :data:`KEY_SEP` and the namespace."""
    return f"{thread}{KEY_SEP}{ns}" if ns else thread


def split_key(key: str) -> tuple[str, str]:
    """(thread id, namespace) of a stored thread id (see :func:`lineage_key`)."""
    thread, _, ns = key.partition(KEY_SEP)
    return thread, ns


def batch_thread_id(batch: str, index: int) -> ThreadId:
    """The thread generated for input ``index`` of a batch (``batch``: the batch's run id)."""
    return ThreadId(f"batch-{batch}-{index}")


def new_run_id() -> RunId:
    """A run id, unique in the process and across processes (cheaper than
    :func:`new_checkpoint_id`; run ids need not sort by time)."""
    return f"{_run_prefix}{next(_counter):x}"  # type: ignore[return-value]


#: ``next(run_numbers)`` is a number that :func:`run_id_of` makes a run id of
#: (a traced run keeps the number, and the text is made when its spans are read)
run_numbers = _counter


def run_id_of(number: int) -> RunId:
    """The run id of a number from :data:`run_numbers` (what :func:`new_run_id` gives)."""
    return f"{_run_prefix}{number:x}"  # type: ignore[return-value]


MAX_ID_LENGTH = 1_000


def check_id(value: object, what: str) -> str:
    """``value`` as an id (a string; an int or UUID is turned into one), or
    :class:`InvalidInputError` naming it. An id is non-empty text of at most
    ``MAX_ID_LENGTH`` characters that UTF-8 can hold, without NUL: what the
    file, error messages and the DuckDB CLI can show."""
    if type(value) is str:
        text = value
    elif isinstance(value, int | uuid.UUID) and not isinstance(value, bool):
        text = str(value)
    else:
        raise InvalidInputError(
            f"{what} {_shown(value)} is a {type(value).__name__}, not a string; use a string "
            f"such as 't1'"
        )
    if text and len(text) <= MAX_ID_LENGTH and "\x00" not in text and text.isascii():
        return text  # the common case, without encoding
    if not text:
        problem = "is empty"
    elif len(text) > MAX_ID_LENGTH:
        problem = f"is {len(text):,} characters long (at most {MAX_ID_LENGTH:,})"
    elif "\x00" in text:
        problem = f"contains a NUL character at position {text.index(chr(0))}"
    else:
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError as exc:
            problem = (
                f"contains a lone surrogate {text[exc.start]!r} at position {exc.start}, "
                f"which UTF-8 cannot hold"
            )
    raise InvalidInputError(
        f"{what} {_shown(text)} {problem}; use non-empty text of at most "
        f"{MAX_ID_LENGTH:,} characters, e.g. 't1'"
    )


def _shown(value: object) -> str:
    text = repr(value)  # escapes NUL and surrogates, so the message prints
    return text if len(text) <= 60 else f"{text[:40]}...{text[-10:]} ({len(text):,} characters)"
