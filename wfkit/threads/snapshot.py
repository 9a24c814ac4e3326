"""What reading a thread gives back: :class:`StateSnapshot` (LangGraph's
name and fields) and the :class:`TaskInfo` of each planned task."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wfkit.types import Interrupt

__all__ = ["StateSnapshot", "TaskInfo"]


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskInfo:
    """A task planned at a checkpoint, with what is known of its execution."""

    id: str
    name: str
    status: str  # pending | done | failed | interrupted
    interrupts: tuple[Interrupt, ...] = ()
    error: str | None = None
    result: Any = None
    # for a task that runs a graph (a subgraph node, a nested call): the config
    # naming that graph's checkpoints, or with get_state(..., subgraphs=True) its snapshot
    state: Any = None


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
