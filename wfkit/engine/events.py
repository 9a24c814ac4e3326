"""Stream events: what ``stream()``/``astream()`` yield, in LangGraph's shapes.

A :class:`Sink` is one stream request: the modes asked for, whether
subgraphs' chunks are wanted, and ``put``, set by the streaming interpreter,
through which chunks made *inside* tasks (a node's ``"custom"`` writes, chat
model tokens, a subgraph's own events) reach the caller while the task runs.

:class:`Events` turns one run's progress into chunks; the root run hands
them to the interpreter as :class:`~wfkit.engine.loop.Emit` effects, a
subgraph's run (namespace not empty) puts them into the sink.

Shapes, as LangGraph 1.x streams them:

- ``"values"``: the state at the start, then after each superstep; a run
  paused by ``interrupt()`` ends with the state plus ``"__interrupt__"``,
  then (if they wrote any) the state with the finished tasks' writes;
- ``"updates"``: ``{node: update}`` per finished task; a pause ends with
  ``{"__interrupt__": interrupts}`` (empty for ``interrupt_before/after``);
- ``"custom"``: what nodes write through ``get_stream_writer()`` / ``writer``;
- ``"messages"``: ``(message_chunk, metadata)`` from langchain_core chat
  models, and messages nodes return (see :mod:`wfkit.engine.messages`);
- ``"tasks"``: a task's start ``{id, name, input, triggers}`` and result
  ``{id, name, error, result, interrupts}``;
- ``"checkpoints"``: each checkpoint written (a checkpointed run only):
  ``{config, parent_config, values, metadata, next, tasks}``;
- ``"debug"``: the last two, as ``{step, timestamp, type, payload}``.

One mode: the chunk; several: ``(mode, chunk)``; with ``subgraphs=True``
the namespace comes first: ``(namespace, chunk)`` or ``(namespace, mode,
chunk)``, where ``()`` is the root graph and a subgraph's namespace holds
one ``"node:task_id"`` per level.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from wfkit.engine.loop import Emit, Flow
from wfkit.engine.machine import DONE, INTERRUPTED, PENDING, Machine, Task
from wfkit.errors import InvalidInputError
from wfkit.state import Schema, stream_update
from wfkit.types import Command, Writes

__all__ = [
    "NAMESPACE",
    "SINK",
    "STREAM_MODES",
    "Events",
    "Sink",
    "namespace_of",
    "task_metadata",
]

STREAM_MODES: Final = ("values", "updates", "custom", "messages", "checkpoints", "tasks", "debug")
SINK: Final = "wfkit_stream"  # config key: the Sink of the stream this run is part of
NAMESPACE: Final = "wfkit_ns"  # config key: the run's namespace, () for the root graph


class Stepping(Protocol):
    """What events need of a run (``wfkit.engine.runs.Stepping`` is one)."""

    machine: Machine

    @property
    def started(self) -> bool: ...
    @property
    def state(self) -> dict[str, Any]: ...
    @property
    def step_number(self) -> int: ...
    @property
    def tasks(self) -> list[Task]: ...
    @property
    def paused(self) -> bool: ...
    def start_flow(self) -> Flow[list[Task] | None]: ...
    def step_flow(self, max_steps: int = 1) -> Flow[list[Task] | None]: ...


Snapshot = Callable[..., "dict[str, Any] | None"]
"""``snapshot(run, checkpoint_id=None)``: a checkpoints chunk of the run's last
checkpoint (or of the one named)."""


def namespace_of(config: dict[str, Any]) -> tuple[str, ...]:
    ns: tuple[str, ...] = config.get(NAMESPACE, ())
    return ns


def _update_payload(update: Any, schema: Schema) -> Any:
    if type(update) is Command:
        update = update.update
    if isinstance(update, Writes):
        return update.final if update.final is not None else dict(update)
    return stream_update(update, schema)


class Sink:
    """One stream request, shared by the root run and every run nested in it."""

    __slots__ = ("handler", "modes", "put", "seen", "single", "subgraphs")

    def __init__(self, stream_mode: str | Sequence[str], subgraphs: bool = False) -> None:
        modes = (stream_mode,) if isinstance(stream_mode, str) else tuple(stream_mode)
        for mode in modes:
            if mode not in STREAM_MODES:
                raise InvalidInputError(
                    f"unknown stream_mode {mode!r}; use one of {', '.join(STREAM_MODES)} "
                    "or a list of them"
                )
        self.modes = frozenset(modes)
        self.single = isinstance(stream_mode, str)
        self.subgraphs = subgraphs
        # set by the streaming interpreter: hands a finished chunk to the caller
        self.put: Callable[[Any], None] = _unset
        self.handler: Any = None  # the chat-model callback handler ("messages")
        self.seen: set[Any] = set()  # ids of messages already streamed or given as input

    @property
    def live(self) -> bool:
        """Whether chunks may come from inside tasks (then the interpreter
        runs tasks off the caller's thread and relays them as they come)."""
        return self.subgraphs or "custom" in self.modes or "messages" in self.modes

    @property
    def task_context(self) -> bool:
        """Whether each task needs its own context (its namespace and metadata)."""
        return self.subgraphs or "messages" in self.modes

    def wants(self, ns: tuple[str, ...]) -> bool:
        return not ns or self.subgraphs

    def format(self, ns: tuple[str, ...], mode: str, chunk: Any) -> Any:
        if self.subgraphs:
            return (ns, chunk) if self.single else (ns, mode, chunk)
        return chunk if self.single else (mode, chunk)

    def emit(self, ns: tuple[str, ...], mode: str, chunk: Any) -> None:
        """Put a chunk made inside a task (from any thread)."""
        if mode in self.modes and (not ns or self.subgraphs):
            self.put(self.format(ns, mode, chunk))

    def writer(self, ns: tuple[str, ...]) -> Callable[[Any], None] | None:
        """The ``"custom"`` stream writer of a run in namespace ``ns``, or None
        when that run's custom chunks are not streamed."""
        if "custom" not in self.modes or not self.wants(ns):
            return None
        chunk_of = self.format

        def write(chunk: Any) -> None:
            self.put(chunk_of(ns, "custom", chunk))

        return write


def _unset(chunk: Any) -> None:
    raise RuntimeError("stream chunk put before the streaming interpreter set Sink.put")


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _triggers(task: Task) -> tuple[str, ...]:
    return ("__pregel_push",) if task.send else (f"branch:to:{task.node.name}",)


def task_metadata(task: Task, ns: tuple[str, ...]) -> dict[str, Any]:
    """LangGraph's metadata for one task of a run in namespace ``ns``: what a
    node's ``config["metadata"]`` and a ``"messages"`` chunk carry."""
    name = task.node.name
    checkpoint_ns = "|".join((*ns, f"{name}:{task.id}"))
    return {
        "langgraph_step": task.step,
        "langgraph_node": name,
        "langgraph_triggers": _triggers(task),
        "langgraph_path": ("__pregel_push", task.index) if task.send else ("__pregel_pull", name),
        "langgraph_checkpoint_ns": checkpoint_ns,
    }


class Events:
    """Turns one run's progress into its stream chunks (sync and async alike)."""

    __slots__ = (
        "checkpoints",
        "debug",
        "messages",
        "nested",
        "ns",
        "sink",
        "snapshot",
        "tasks",
        "updates",
        "values",
    )

    def __init__(
        self, sink: Sink, ns: tuple[str, ...] = (), snapshot: Snapshot | None = None
    ) -> None:
        self.sink = sink
        self.ns = ns
        self.nested = bool(ns)
        modes = sink.modes
        self.values = "values" in modes
        self.updates = "updates" in modes
        self.tasks = "tasks" in modes
        self.debug = "debug" in modes
        self.messages = "messages" in modes
        # checkpoint chunks need the run's saver: a snapshot of its last checkpoint
        wants_checkpoints = "checkpoints" in modes or self.debug
        self.snapshot = snapshot if wants_checkpoints else None
        self.checkpoints = "checkpoints" in modes

    def _out(self, chunks: list[Any], mode: str, chunk: Any) -> None:
        chunks.append(self.sink.format(self.ns, mode, chunk))

    def _with_debug(
        self, chunks: list[Any], mode: str, wanted: bool, step: int, kind: str, payload: Any
    ) -> None:
        """``payload`` as a ``mode`` chunk (when ``wanted``) and as its
        ``"debug"`` twin of type ``kind`` (when streaming ``"debug"``)."""
        if wanted:
            self._out(chunks, mode, payload)
        if self.debug:
            self._out(
                chunks,
                "debug",
                {"step": step, "timestamp": _now(), "type": kind, "payload": payload},
            )

    def _emit(self, chunks: list[Any]) -> list[Any]:
        """The chunks for the caller as Emit effects (root), or put now (nested)."""
        if self.nested:
            for chunk in chunks:
                self.sink.put(chunk)
            return []
        return chunks

    def flow(self, run: Stepping) -> Flow[None]:
        """The run's supersteps, with its events."""
        started = run.started
        yield from run.start_flow()
        for chunk in self._emit(self.start(run, started)):
            yield Emit(chunk)
        while True:
            for chunk in self._emit(self.before(run)):
                yield Emit(chunk)
            tasks = yield from run.step_flow(1)
            if tasks is None:
                return
            for chunk in self._emit(self.after(run, tasks)):
                yield Emit(chunk)

    def _checkpoint(
        self, chunks: list[Any], run: Stepping, step: int, checkpoint_id: str | None = None
    ) -> None:
        if self.snapshot is None:
            return
        payload = self.snapshot(run, checkpoint_id)
        if payload is None:
            return
        self._with_debug(chunks, "checkpoints", self.checkpoints, step, "checkpoint", payload)

    def start(self, run: Stepping, was_started: bool) -> list[Any]:
        chunks: list[Any] = []
        if self.values:
            self._out(chunks, "values", run.state)
        if not was_started:
            # LangGraph's numbers: a checkpoint event has its checkpoint's step;
            # a new input stored the input checkpoint (one step before) first
            input_id = getattr(getattr(run, "saver", None), "input_id", None)
            if input_id:
                self._checkpoint(chunks, run, run.step_number - 1, input_id)
            self._checkpoint(chunks, run, run.step_number)
        return chunks

    def before(self, run: Stepping) -> list[Any]:
        if not (self.tasks or self.debug):
            return []
        chunks: list[Any] = []
        for t in run.tasks:
            if t.status != PENDING:
                continue
            payload = {"id": t.id, "name": t.node.name, "input": t.arg, "triggers": _triggers(t)}
            self._with_debug(chunks, "tasks", self.tasks, t.step + 1, "task", payload)
        return chunks

    def _result(self, chunks: list[Any], t: Task, payload: Any, error: str | None = None) -> None:
        """A task's ``"tasks"`` result chunk (and its ``"debug"`` twin); a
        ``payload`` of None is an empty result."""
        result = {
            "id": t.id,
            "name": t.node.name,
            "error": error,
            "result": payload if payload is not None else {},
            "interrupts": [{"value": i.value, "id": i.id} for i in t.pending_interrupts()],
        }
        self._with_debug(chunks, "tasks", self.tasks, t.step + 1, "task_result", result)

    def after(self, run: Stepping, tasks: list[Task]) -> list[Any]:
        chunks: list[Any] = []
        results = self.tasks or self.debug
        for t in tasks:
            if t.status is DONE:
                payload = _update_payload(t.update, run.machine.topology.schema)
                if self.messages:  # a node's messages come before its update, as in LangGraph
                    from wfkit.engine.messages import node_messages

                    for item in node_messages(self.sink, task_metadata(t, self.ns), t.arg, payload):
                        self._out(chunks, "messages", item)
                if self.updates:
                    self._out(chunks, "updates", {t.node.name: payload})
                if results:
                    self._result(chunks, t, payload)
            elif t.status is INTERRUPTED and results:
                self._result(chunks, t, None)
        barrier = bool(tasks) and tasks[0].step < run.step_number
        if barrier:
            if self.values:
                self._out(chunks, "values", run.state)
            self._checkpoint(chunks, run, run.step_number)
        if run.paused:
            interrupts = tuple(run.machine.interrupts)
            if self.updates:
                self._out(chunks, "updates", {"__interrupt__": interrupts})
            if self.values and interrupts:  # interrupt_before/after: no values chunk
                self._out(chunks, "values", {**run.state, "__interrupt__": interrupts})
                if not self.nested:  # LangGraph's last chunk: the finished tasks' writes applied
                    pending = run.machine.pending_state()
                    keys = run.machine.topology.schema.output_order
                    if pending is not None and not pending[1].isdisjoint(keys):
                        self._out(chunks, "values", pending[0])
        return chunks
