"""``Workflow``: a compiled graph, and the verbs that run it.

``invoke``/``ainvoke`` run to the end and return the final state;
``stream``/``astream`` yield events per superstep; ``iter``/``aiter`` hand
out a run to advance one superstep at a time (the debugger's basis). All of
them drive the same :class:`~wfkit.machine.Machine` through the drivers in
:mod:`wfkit.run`.

Calls take LangGraph's config dict (``{"configurable": {"thread_id": ...},
"recursion_limit": N, "max_concurrency": N}``) and the same settings as
keywords (``thread=``, ``recursion_limit=``, ``max_concurrency=``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from wfkit._loop import run_sync
from wfkit.checkpoint.base import check_durability, new_run_id
from wfkit.errors import CheckpointerRequiredError, GraphInterrupt, InvalidInputError
from wfkit.machine import DEFAULT_RECURSION_LIMIT, DONE, PENDING, Machine, Task, Writes
from wfkit.run import TRACE_LEVEL, AsyncRun, Run, abegin, adrive, begin, drive
from wfkit.trace.record import SpanRecorder
from wfkit.types import Command, Interrupt

if TYPE_CHECKING:
    import polars as pl

    from wfkit.checkpoint.base import Checkpointer
    from wfkit.checkpoint.saver import RunSaver, StateSnapshot
    from wfkit.checkpoint.serde import Serde
    from wfkit.drawing import GraphView
    from wfkit.graph import Topology
    from wfkit.stress import StressResult
    from wfkit.trace.draw import Drawing

__all__ = ["STREAM_MODES", "Workflow"]

T = TypeVar("T")
STREAM_MODES = ("values", "updates", "debug")


def _make_config(
    config: Mapping[str, Any] | None,
    thread: str | None,
    recursion_limit: int | None,
    max_concurrency: int | None,
    durability: str | None = None,
) -> dict[str, Any]:
    cfg: dict[str, Any] = dict(config) if config else {}
    if durability is not None:
        cfg["durability"] = durability
    if cfg.get("durability") is not None:
        check_durability(cfg["durability"])
    if thread is not None:
        cfg["configurable"] = {**(cfg.get("configurable") or {}), "thread_id": thread}
    if recursion_limit is not None:
        cfg["recursion_limit"] = recursion_limit
    if max_concurrency is not None:
        cfg["max_concurrency"] = max_concurrency
    limit = cfg.setdefault("recursion_limit", DEFAULT_RECURSION_LIMIT)
    if type(limit) is not int or limit < 1:
        raise InvalidInputError(
            f"recursion_limit must be a positive int, got {limit!r}; e.g. recursion_limit=100"
        )
    workers = cfg.get("max_concurrency")
    if workers is not None and (type(workers) is not int or workers < 1):
        raise InvalidInputError(
            f"max_concurrency must be a positive int, got {workers!r}; e.g. max_concurrency=8"
        )
    return cfg


def _update_payload(update: Any) -> Any:
    if type(update) is Command:
        update = update.update
    if isinstance(update, Writes):
        return dict(update)
    return update


class _Events:
    """Turns a run's progress into ``stream`` chunks; shared by sync and async."""

    def __init__(self, stream_mode: str | Sequence[str]) -> None:
        modes = (stream_mode,) if isinstance(stream_mode, str) else tuple(stream_mode)
        for mode in modes:
            if mode not in STREAM_MODES:
                raise InvalidInputError(
                    f"unknown stream_mode {mode!r}; use one of {', '.join(STREAM_MODES)} or a list of them"
                )
        self.single = isinstance(stream_mode, str)
        self.values = "values" in modes
        self.updates = "updates" in modes
        self.debug = "debug" in modes

    def _out(self, mode: str, chunk: Any) -> Any:
        return chunk if self.single else (mode, chunk)

    def start(self, run: Run | AsyncRun) -> list[Any]:
        return [self._out("values", run.state)] if self.values else []

    def before(self, run: Run | AsyncRun) -> list[Any]:
        if not self.debug:
            return []
        now = time.time()
        return [
            self._out(
                "debug",
                {
                    "type": "task",
                    "step": t.step,
                    "timestamp": now,
                    "payload": {
                        "id": t.id,
                        "name": t.node.name,
                        "input": t.arg,
                        "triggers": ("send",) if t.send else (),
                    },
                },
            )
            for t in run.tasks
            if t.status == PENDING
        ]

    def after(self, run: Run | AsyncRun, tasks: list[Task]) -> list[Any]:
        out: list[Any] = []
        now = time.time()
        for t in tasks:
            if t.status != DONE:
                continue
            payload = _update_payload(t.update)
            if self.updates:
                out.append(self._out("updates", {t.node.name: payload}))
            if self.debug:
                out.append(
                    self._out(
                        "debug",
                        {
                            "type": "task_result",
                            "step": t.step,
                            "timestamp": now,
                            "payload": {"id": t.id, "name": t.node.name, "result": payload},
                        },
                    )
                )
        if run.paused:  # empty for interrupt_before/after, as in LangGraph
            chunk = {"__interrupt__": tuple(run.machine.interrupts)}
            if self.updates:
                out.append(self._out("updates", chunk))
            if self.values:
                out.append(self._out("values", chunk))
        elif tasks and tasks[0].step < run.step_number:  # the barrier ran
            if self.values:
                out.append(self._out("values", run.state))
            if self.debug:
                out.append(
                    self._out(
                        "debug",
                        {
                            "type": "checkpoint",
                            "step": run.step_number,
                            "timestamp": now,
                            "payload": {"values": run.state, "next": list(run.next)},
                        },
                    )
                )
        return out


class _Prepared(NamedTuple):
    machine: Machine
    updates: dict[str, Any] | None  # None: continue from the restored tasks
    base: dict[str, Any] | None  # the thread's state a new input applies to
    saver: RunSaver | None


async def _next_chunk(agen: AsyncIterator[Any]) -> Any:
    return await agen.__anext__()


class Workflow:
    """A compiled graph: run it with ``invoke``/``ainvoke``, ``stream``/
    ``astream``, or step it with ``iter``/``aiter``. Also usable as a node
    of another graph (a subgraph)."""

    def __init__(
        self, topology: Topology, *, checkpointer: Any = None, trace: str = "timing"
    ) -> None:
        from wfkit.trace.record import MemorySpans, trace_level

        self.topology = topology
        self.name = topology.name
        self.__name__ = topology.name
        self.trace = trace
        self._trace_level = trace_level(trace)
        self._spans = MemorySpans()
        self.checkpointer: Checkpointer | None = None
        self._serde: Serde | None = None
        if checkpointer is not None:
            from wfkit.checkpoint import open_checkpointer
            from wfkit.checkpoint.serde import Serde

            self.checkpointer = open_checkpointer(checkpointer)
            self._serde = Serde(topology.schema.cls, **self.checkpointer.serde_options)
            save_graph = getattr(self.checkpointer, "save_graph", None)
            if save_graph is not None:
                save_graph(self.name, self.get_graph().to_dict())
        self.name = topology.name
        self.__name__ = topology.name

    def __repr__(self) -> str:
        return f"<Workflow {self.name!r}: {len(self.topology.nodes)} nodes>"

    # ------------------------------------------------------------ setup
    def _config(
        self,
        config: Mapping[str, Any] | None,
        thread: str | None,
        recursion_limit: int | None,
        max_concurrency: int | None,
        durability: str | None,
    ) -> dict[str, Any]:
        cfg = _make_config(config, thread, recursion_limit, max_concurrency, durability)
        if "trace" in cfg:
            from wfkit.trace.record import trace_level

            cfg[TRACE_LEVEL] = trace_level(cfg["trace"])
        elif TRACE_LEVEL not in cfg:
            cfg[TRACE_LEVEL] = self._trace_level
        return cfg

    def _recorder(self, cfg: dict[str, Any], saver: RunSaver | None) -> SpanRecorder | None:
        """A span recorder for a run with this config (None when tracing is off).

        Spans go to the checkpoint file when there is one, else to memory; a
        subgraph's spans go where its parent's go, under the parent's task.
        """
        level = cfg.get(TRACE_LEVEL, 0)
        if not level:
            return None
        parent_task = cfg.pop("wfkit_parent_task", None)
        sink = cfg.get("wfkit_span_sink")  # a parent's (subgraph) or a caller's (stress)
        if sink is None:
            sink = self.checkpointer if self.checkpointer is not None else self._spans
            cfg["wfkit_span_sink"] = sink
        run_id = saver.run_id if saver is not None else new_run_id()
        configurable = cfg.get("configurable")
        thread_id = configurable.get("thread_id") if configurable else None
        if parent_task is None:
            recorder = SpanRecorder(sink, level, self.name, thread_id, run_id, None, None)
        else:
            parent_run = cfg.get("wfkit_run_id")
            parent = f"{parent_run}/{parent_task}" if parent_run else None
            recorder = SpanRecorder(
                sink, level, self.name, thread_id, run_id, cfg.get("wfkit_trace_id"), parent
            )
        cfg["wfkit_run_id"] = run_id
        cfg["wfkit_trace_id"] = recorder.trace_id
        return recorder

    def _start(self, input: Any, cfg: dict[str, Any]) -> tuple[Machine, dict[str, Any]]:
        """A machine for a run without a checkpointer, and its input updates."""
        if isinstance(input, Command):
            raise CheckpointerRequiredError(
                f"invoke(Command(resume=...)) answers a paused run of {self.name!r}, which needs "
                f"a checkpointer to resume from; compile(checkpointer=...) first"
            )
        if input is None:
            raise CheckpointerRequiredError(
                f"invoke(None) continues a paused or failed run of {self.name!r} from its "
                f"checkpoint, which needs a checkpointer; pass an input dict to start a new run"
            )
        updates = self.topology.schema.input_updates(input)
        return Machine(self.topology, recursion_limit=cfg["recursion_limit"]), updates

    def _prepare(self, input: Any, cfg: dict[str, Any]) -> _Prepared:
        """Set up a run: fresh, continuing a thread, resuming or replaying."""
        if self.checkpointer is None:
            machine, updates = self._start(input, cfg)
            return _Prepared(machine, updates, None, None)
        from wfkit.checkpoint.saver import RunSaver, load, load_writes, restore, thread_of

        store, serde = self.checkpointer, self._serde
        assert serde is not None
        thread = thread_of(cfg, self.name)
        checkpoint_id = (cfg.get("configurable") or {}).get("checkpoint_id")
        durability = cfg.get("durability") or store.durability
        loaded = load(store, serde, thread, checkpoint_id)
        if input is None or isinstance(input, Command):
            if loaded is None:
                raise InvalidInputError(
                    f"thread {thread!r} has no checkpoint to continue from; start it with an input dict"
                )
            with_writes = checkpoint_id is None or not store.has_children(thread, checkpoint_id)
            if with_writes:
                load_writes(store, loaded)
            machine = restore(
                self.topology,
                loaded,
                serde,
                recursion_limit=loaded.step + cfg["recursion_limit"],
                with_writes=with_writes,
            )
            if isinstance(input, Command):
                if input.update is not None or input.goto or input.graph is not None:
                    raise InvalidInputError(
                        "as invoke() input, Command only answers interrupts: Command(resume=value). "
                        "To change the state use update_state(config, values, as_node=...)"
                    )
                if machine.status != "interrupted" or not machine.interrupts:
                    raise InvalidInputError(
                        f"thread {thread!r} has no pending interrupt to resume; invoke(None, config) continues it, "
                        f"an input dict starts a new run on it"
                    )
                machine.answer(input.resume)
            saver = RunSaver(store, serde, thread, durability=durability, base=loaded)
            return _Prepared(machine, None, None, saver)
        updates = self.topology.schema.input_updates(input)
        step = loaded.step if loaded else 0
        machine = Machine(self.topology, recursion_limit=step + cfg["recursion_limit"])
        machine.step = step
        saver = RunSaver(store, serde, thread, durability=durability, base=loaded)
        return _Prepared(machine, updates, loaded.values if loaded else None, saver)

    def _run_plain(self, machine: Machine, updates: dict[str, Any], cfg: dict[str, Any]) -> None:
        """Run a fresh machine to its end or pause, without a checkpointer
        (the hot path of ``invoke``), recording spans when tracing is on."""
        recorder = self._recorder(cfg, None)
        if recorder is None:
            begin(machine, updates, cfg)
            drive(machine, cfg)
            return
        try:
            begin(machine, updates, cfg)
            drive(machine, cfg, -1, None, recorder)
        except BaseException as exc:
            recorder.finish(machine, exc)
            raise
        recorder.finish(machine)

    async def _arun_plain(
        self, machine: Machine, updates: dict[str, Any], cfg: dict[str, Any]
    ) -> None:
        recorder = self._recorder(cfg, None)
        try:
            await abegin(machine, updates, cfg)
            await adrive(machine, cfg, -1, None, recorder)
        except BaseException as exc:
            if recorder is not None:
                recorder.finish(machine, exc)
            raise
        if recorder is not None:
            recorder.finish(machine)

    def iter(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        thread: str | None = None,
        recursion_limit: int | None = None,
        max_concurrency: int | None = None,
        durability: str | None = None,
    ) -> Run:
        """Start a run to advance one superstep at a time with ``step()``."""
        cfg = self._config(config, thread, recursion_limit, max_concurrency, durability)
        p = self._prepare(input, cfg)
        return Run(self, p.machine, cfg, start=p.updates, base=p.base, saver=p.saver)

    def aiter(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        thread: str | None = None,
        recursion_limit: int | None = None,
        max_concurrency: int | None = None,
        durability: str | None = None,
    ) -> AsyncRun:
        """Start a run to advance one superstep at a time with ``await astep()``."""
        cfg = self._config(config, thread, recursion_limit, max_concurrency, durability)
        p = self._prepare(input, cfg)
        return AsyncRun(self, p.machine, cfg, start=p.updates, base=p.base, saver=p.saver)

    # ------------------------------------------------------------ run to the end
    def invoke(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        thread: str | None = None,
        recursion_limit: int | None = None,
        max_concurrency: int | None = None,
        durability: str | None = None,
    ) -> dict[str, Any]:
        """Run to the end (or to a pause) and return the final state.

        Works in scripts and inside a running event loop (a Jupyter cell):
        a graph of sync nodes runs without any event loop; one with async
        nodes runs on a private loop when the calling thread already has one.
        """
        cfg = self._config(config, thread, recursion_limit, max_concurrency, durability)
        if self.topology.needs_async:
            return run_sync(self.ainvoke(input, cfg))
        if self.checkpointer is not None:
            return self.iter(input, cfg).run_to_end()
        machine, updates = self._start(input, cfg)
        self._run_plain(machine, updates, cfg)
        return machine.output()

    async def ainvoke(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        thread: str | None = None,
        recursion_limit: int | None = None,
        max_concurrency: int | None = None,
        durability: str | None = None,
    ) -> dict[str, Any]:
        """Async :meth:`invoke`: ``await workflow.ainvoke(...)`` in a cell or coroutine."""
        cfg = self._config(config, thread, recursion_limit, max_concurrency, durability)
        if self.checkpointer is not None:
            return await self.aiter(input, cfg).run_to_end()
        machine, updates = self._start(input, cfg)
        await self._arun_plain(machine, updates, cfg)
        return machine.output()

    # ------------------------------------------------------------ streaming
    def stream(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "values",
        thread: str | None = None,
        recursion_limit: int | None = None,
        max_concurrency: int | None = None,
        durability: str | None = None,
    ) -> Iterator[Any]:
        """Yield events as the run goes: ``"values"`` (the state after each
        superstep, starting with the input), ``"updates"`` (``{node: update}``
        per task), ``"debug"`` (task, task_result and checkpoint events). With
        a list of modes, yields ``(mode, chunk)`` pairs."""
        events = _Events(stream_mode)
        cfg = self._config(config, thread, recursion_limit, max_concurrency, durability)
        if self.topology.needs_async:
            agen = self.astream(input, cfg, stream_mode=stream_mode)
            try:
                while True:
                    try:
                        chunk: Any = run_sync(_next_chunk(agen))
                    except StopAsyncIteration:
                        return
                    yield chunk
            finally:
                run_sync(agen.aclose())  # type: ignore[attr-defined]
        run = self.iter(input, cfg)
        yield from events.start(run)
        while True:
            yield from events.before(run)
            tasks = run.step()
            if tasks is None:
                return
            yield from events.after(run, tasks)

    async def astream(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "values",
        thread: str | None = None,
        recursion_limit: int | None = None,
        max_concurrency: int | None = None,
        durability: str | None = None,
    ) -> AsyncIterator[Any]:
        """Async :meth:`stream`."""
        events = _Events(stream_mode)
        cfg = self._config(config, thread, recursion_limit, max_concurrency, durability)
        run = self.aiter(input, cfg)
        await run.start()
        for chunk in events.start(run):
            yield chunk
        while True:
            for chunk in events.before(run):
                yield chunk
            tasks = await run.astep()
            if tasks is None:
                return
            for chunk in events.after(run, tasks):
                yield chunk

    # ------------------------------------------------------------ as a node
    def _sub_input(self, arg: Any) -> dict[str, Any]:
        keys = self.topology.schema.keys
        if isinstance(arg, Mapping):
            return {k: v for k, v in arg.items() if k in keys}
        return {k: getattr(arg, k) for k in keys if hasattr(arg, k)}

    def _sub_writes(self, machine: Machine) -> Writes:
        if machine.status == "interrupted" and machine.interrupts:
            # the parent task owns the pause: its id names the interrupts
            raise GraphInterrupt(tuple(Interrupt(i.value) for i in machine.interrupts))
        return Writes(machine.log or ())

    def _sub_config(self, config: dict[str, Any], task_id: str) -> dict[str, Any]:
        cfg = {k: v for k, v in config.items() if k != "configurable"}
        cfg["configurable"] = dict(config.get("configurable") or {})
        cfg["wfkit_parent_task"] = task_id
        return cfg

    def _run_as_node(self, arg: Any, config: dict[str, Any], task_id: str = "") -> Writes:
        """Run as a node of a parent graph: the parent applies every write
        this graph's nodes made, in order, through its own reducers."""
        cfg = self._sub_config(config, task_id)
        if self.topology.needs_async:
            return run_sync(self._arun_as_node(arg, config, task_id))
        machine, updates = self._start(self._sub_input(arg), cfg)
        machine.log = []
        self._run_plain(machine, updates, cfg)
        return self._sub_writes(machine)

    async def _arun_as_node(self, arg: Any, config: dict[str, Any], task_id: str = "") -> Writes:
        cfg = self._sub_config(config, task_id)
        machine, updates = self._start(self._sub_input(arg), cfg)
        machine.log = []
        await self._arun_plain(machine, updates, cfg)
        return self._sub_writes(machine)

    def _resolve_awaitable(self, aw: Awaitable[T]) -> T:
        async def wait() -> T:
            return await aw

        return run_sync(wait())

    # ------------------------------------------------------------ checkpoints
    def get_state(self, config: Mapping[str, Any]) -> StateSnapshot:
        """The thread's state at its latest checkpoint (or the one the config names)."""
        from wfkit.checkpoint.history import get_state

        return get_state(self, config)

    def get_state_history(
        self,
        config: Mapping[str, Any],
        *,
        limit: int | None = None,
        before: Mapping[str, Any] | None = None,
        filter: Mapping[str, Any] | None = None,
    ) -> Iterator[StateSnapshot]:
        """The thread's checkpoints, newest first; ``before`` is a config naming a
        checkpoint, ``filter`` matches metadata (e.g. ``{"source": "loop"}``)."""
        from wfkit.checkpoint.history import get_state_history

        return get_state_history(self, config, limit=limit, before=before, filter=filter)

    def update_state(
        self,
        config: Mapping[str, Any],
        values: Mapping[str, Any] | None,
        as_node: str | None = None,
    ) -> dict[str, Any]:
        """Write ``values`` as a new checkpoint (a fork when the config names an
        older one) and return its config; ``invoke(None, that_config)`` goes on."""
        from wfkit.checkpoint.history import update_state

        return update_state(self, config, values, as_node)

    def node_writes(self, config: Mapping[str, Any]) -> pl.DataFrame:
        """A Polars frame: one row per node execution of the thread."""
        from wfkit.checkpoint.history import node_writes

        return node_writes(self, config)

    def history_frame(self, config: Mapping[str, Any]) -> pl.DataFrame:
        """A Polars frame: one row per checkpoint of the thread, newest first."""
        from wfkit.checkpoint.history import history_frame

        return history_frame(self, config)

    def replace_node(self, name: str, fn: Callable[..., Any]) -> Workflow:
        """A copy of this workflow with node ``name`` running ``fn``, sharing
        the checkpointer (so its threads can be continued with the new code)."""
        clone = Workflow.__new__(Workflow)
        clone.__dict__.update(self.__dict__)
        clone.topology = self.topology.replace_node(name, fn)
        return clone

    # ------------------------------------------------------------ traces
    def traces(self, *, thread: str | None = None, run: str | None = None) -> pl.DataFrame:
        """Recorded spans as a Polars frame (from the checkpoint file, or from
        memory when there is none), optionally for one thread or run."""
        from wfkit.trace import spans_frame

        if self.checkpointer is not None:
            rows = self.checkpointer.get_spans(thread_id=thread, run_id=run)
        else:
            rows = self._spans.rows()
        return spans_frame(rows, thread=thread, run=run)

    def draw(
        self,
        *,
        run: str | None = None,
        heat: pl.DataFrame | None = None,
        spans: pl.DataFrame | None = None,
    ) -> Drawing:
        """A Graphviz picture of the graph (``Drawing``: shows in Jupyter, ``.save(path)``).

        ``run=run_id`` overlays that run's path (spans from :meth:`traces`
        unless given); ``heat=wfkit.trace.summary(spans)`` colours nodes by
        p95 latency.
        """
        from wfkit.trace.draw import draw

        if run is not None and spans is None:
            spans = self.traces(run=run)
        return draw(self.get_graph(), spans=spans, run=run, heat=heat)

    def stress(
        self,
        input: Any,
        *,
        runs: int = 100,
        concurrency: int = 10,
        progress: bool = True,
        config: Mapping[str, Any] | None = None,
    ) -> StressResult:
        """Run this workflow ``runs`` times, ``concurrency`` at a time, and
        report throughput, per-node p50/p99, engine overhead and peak RSS
        (see :mod:`wfkit.stress`). ``input`` is a dict or a function of the
        run number returning one."""
        from wfkit.stress import stress

        return stress(
            self, input, runs=runs, concurrency=concurrency, progress=progress, config=config
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return self.draw()._repr_mimebundle_(include, exclude)

    # ------------------------------------------------------------ structure
    def get_graph(self) -> GraphView:
        """The graph's structure: nodes and edges, with DOT and Mermaid text."""
        from wfkit.drawing import GraphView

        return GraphView.from_topology(self.topology)
