"""What a node is given besides its state, and the context its code runs in.

A node function may declare, besides the state, any of LangGraph's
injected parameters (found by name at compile time,
``NodeSpec.wants_config``):

- ``config``: the task's config — the run's, with LangGraph's metadata for
  the task (``langgraph_node``, ``langgraph_step``, ``langgraph_triggers``,
  ``langgraph_path``, ``langgraph_checkpoint_ns``);
- ``runtime``: the run's :class:`~wfkit.runtime.Runtime`;
- ``writer``: the run's ``"custom"`` stream writer;
- ``store``: the run's long-term store.

Plain nodes (none of these, no retry, no timeout) are called on the hot
path and see the *run's* config through ``get_config()``. Every other
task runs in its own context: :func:`enter` sets the task's config for
``get_config()``, ``get_runtime()`` and graphs the node invokes, and, in a
``stream_mode="messages"`` run, langchain_core's callbacks for chat models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from wfkit import _context
from wfkit.engine.events import NAMESPACE, SINK, Sink, task_metadata
from wfkit.engine.machine import Task
from wfkit.runtime import RUNTIME_KEY, Runtime

__all__ = ["TASK_NAMESPACE", "TASK_PART", "enter", "leave", "node_kwargs", "task_config"]

TASK_NAMESPACE: Final = "wfkit_task_ns"  # config key: the namespace of runs a task starts
TASK_PART: Final = "wfkit_task_part"  # config key: "node:task_id" of a task that checkpoints nested
_DEFAULT_RUNTIME: Final[Runtime[Any]] = Runtime()


def task_config(task: Task, config: dict[str, Any]) -> dict[str, Any]:
    """The config one task sees: the run's, with the task's metadata."""
    ns: tuple[str, ...] = config.get(NAMESPACE, ())
    own = task_metadata(task, ns)
    metadata = dict(config.get("metadata") or ())
    metadata.update(own)
    metadata["checkpoint_ns"] = own["langgraph_checkpoint_ns"]
    cfg = dict(config)
    cfg["metadata"] = metadata
    part = f"{task.node.name}:{task.id}"
    cfg[TASK_NAMESPACE] = (*ns, part)
    node = task.node
    if not node.plain or node.calls:
        # a node that always runs in a context of its own in a checkpointed run:
        # the graphs it runs keep checkpoints under this task's namespace
        # (wfkit.threads.lineage); another plain node's task has a context only
        # sometimes (a resume, a stream)
        cfg[TASK_PART] = part
    return cfg


def node_kwargs(names: tuple[str, ...], config: dict[str, Any]) -> dict[str, Any]:
    """The injected keyword arguments a node (or router) declared."""
    runtime: Runtime[Any] = config.get(RUNTIME_KEY) or _DEFAULT_RUNTIME
    out: dict[str, Any] = {}
    for name in names:
        if name == "config":
            out[name] = config
        elif name == "runtime":
            out[name] = runtime
        elif name == "writer":
            out[name] = runtime.stream_writer
        elif name == "store":
            out[name] = runtime.store
    return out


Token = tuple[Any, Callable[[], None] | None]


def enter(config: dict[str, Any]) -> Token:
    """Make ``config`` (a task's) what code in this context sees; undo with :func:`leave`."""
    token = _context.current_config.set(config)
    sink: Sink | None = config.get(SINK)
    undo = None
    if sink is not None and "messages" in sink.modes:
        from wfkit.engine.messages import enter_chat_callbacks

        undo = enter_chat_callbacks(sink, config)
    return token, undo


def leave(token: Token) -> None:
    var_token, undo = token
    if undo is not None:
        undo()
    _context.current_config.reset(var_token)
