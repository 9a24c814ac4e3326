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
from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from wfkit._loop import run_sync
from wfkit.errors import CheckpointerRequiredError, GraphInterrupt, InvalidInputError
from wfkit.machine import DEFAULT_RECURSION_LIMIT, DONE, Machine, Task, Writes
from wfkit.run import AsyncRun, Run, abegin, adrive, begin, drive
from wfkit.types import Command

if TYPE_CHECKING:
    from wfkit.drawing import GraphView
    from wfkit.graph import Topology

__all__ = ["STREAM_MODES", "Workflow"]

T = TypeVar("T")
STREAM_MODES = ("values", "updates", "debug")


def _make_config(
    config: Mapping[str, Any] | None,
    thread: str | None,
    recursion_limit: int | None,
    max_concurrency: int | None,
) -> dict[str, Any]:
    cfg: dict[str, Any] = dict(config) if config else {}
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
            if t.status == 0
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
        if run.paused and run.machine.interrupts:
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


async def _next_chunk(agen: AsyncIterator[Any]) -> Any:
    return await agen.__anext__()


class Workflow:
    """A compiled graph: run it with ``invoke``/``ainvoke``, ``stream``/
    ``astream``, or step it with ``iter``/``aiter``. Also usable as a node
    of another graph (a subgraph)."""

    def __init__(self, topology: Topology, *, checkpointer: Any = None) -> None:
        if checkpointer is not None:
            raise InvalidInputError(
                "compile(checkpointer=...) is not supported by this version of wfkit; "
                "compile() without it (runs are kept in memory)"
            )
        self.topology = topology
        self.checkpointer = checkpointer
        self.name = topology.name
        self.__name__ = topology.name

    def __repr__(self) -> str:
        return f"<Workflow {self.name!r}: {len(self.topology.nodes)} nodes>"

    # ------------------------------------------------------------ setup
    def _start(self, input: Any, cfg: dict[str, Any]) -> tuple[Machine, dict[str, Any]]:
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

    def iter(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        thread: str | None = None,
        recursion_limit: int | None = None,
        max_concurrency: int | None = None,
    ) -> Run:
        """Start a run to advance one superstep at a time with ``step()``."""
        cfg = _make_config(config, thread, recursion_limit, max_concurrency)
        machine, updates = self._start(input, cfg)
        return Run(self, machine, cfg, start=updates)

    def aiter(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        thread: str | None = None,
        recursion_limit: int | None = None,
        max_concurrency: int | None = None,
    ) -> AsyncRun:
        """Start a run to advance one superstep at a time with ``await astep()``."""
        cfg = _make_config(config, thread, recursion_limit, max_concurrency)
        machine, updates = self._start(input, cfg)
        return AsyncRun(self, machine, cfg, start=updates)

    # ------------------------------------------------------------ run to the end
    def invoke(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        thread: str | None = None,
        recursion_limit: int | None = None,
        max_concurrency: int | None = None,
    ) -> dict[str, Any]:
        """Run to the end (or to a pause) and return the final state.

        Works in scripts and inside a running event loop (a Jupyter cell):
        a graph of sync nodes runs without any event loop; one with async
        nodes runs on a private loop when the calling thread already has one.
        """
        cfg = _make_config(config, thread, recursion_limit, max_concurrency)
        if self.topology.needs_async:
            return run_sync(self.ainvoke(input, cfg))
        machine, updates = self._start(input, cfg)
        begin(machine, updates, cfg)
        drive(machine, cfg)
        return machine.output()

    async def ainvoke(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        thread: str | None = None,
        recursion_limit: int | None = None,
        max_concurrency: int | None = None,
    ) -> dict[str, Any]:
        """Async :meth:`invoke`: ``await workflow.ainvoke(...)`` in a cell or coroutine."""
        cfg = _make_config(config, thread, recursion_limit, max_concurrency)
        machine, updates = self._start(input, cfg)
        await abegin(machine, updates, cfg)
        await adrive(machine, cfg)
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
    ) -> Iterator[Any]:
        """Yield events as the run goes: ``"values"`` (the state after each
        superstep, starting with the input), ``"updates"`` (``{node: update}``
        per task), ``"debug"`` (task, task_result and checkpoint events). With
        a list of modes, yields ``(mode, chunk)`` pairs."""
        events = _Events(stream_mode)
        if self.topology.needs_async:
            yield from self._stream_via_loop(
                input, config, stream_mode, thread, recursion_limit, max_concurrency
            )
            return
        run = self.iter(
            input,
            config,
            thread=thread,
            recursion_limit=recursion_limit,
            max_concurrency=max_concurrency,
        )
        yield from events.start(run)
        while True:
            yield from events.before(run)
            tasks = run.step()
            if tasks is None:
                return
            yield from events.after(run, tasks)

    def _stream_via_loop(self, *args: Any) -> Iterator[Any]:
        input, config, stream_mode, thread, recursion_limit, max_concurrency = args
        agen = self.astream(
            input,
            config,
            stream_mode=stream_mode,
            thread=thread,
            recursion_limit=recursion_limit,
            max_concurrency=max_concurrency,
        )
        try:
            while True:
                try:
                    chunk: Any = run_sync(_next_chunk(agen))
                except StopAsyncIteration:
                    return
                yield chunk
        finally:
            run_sync(agen.aclose())  # type: ignore[attr-defined]

    async def astream(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "values",
        thread: str | None = None,
        recursion_limit: int | None = None,
        max_concurrency: int | None = None,
    ) -> AsyncIterator[Any]:
        """Async :meth:`stream`."""
        events = _Events(stream_mode)
        run = self.aiter(
            input,
            config,
            thread=thread,
            recursion_limit=recursion_limit,
            max_concurrency=max_concurrency,
        )
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
            raise GraphInterrupt(machine.interrupts)
        return Writes(machine.log or ())

    def _sub_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in config.items() if k != "configurable"} | {
            "configurable": dict(config.get("configurable") or {})
        }

    def _run_as_node(self, arg: Any, config: dict[str, Any]) -> Writes:
        """Run as a node of a parent graph: the parent applies every write
        this graph's nodes made, in order, through its own reducers."""
        cfg = self._sub_config(config)
        if self.topology.needs_async:
            return run_sync(self._arun_as_node(arg, cfg))
        machine, updates = self._start(self._sub_input(arg), cfg)
        machine.log = []
        begin(machine, updates, cfg)
        drive(machine, cfg)
        return self._sub_writes(machine)

    async def _arun_as_node(self, arg: Any, config: dict[str, Any]) -> Writes:
        cfg = self._sub_config(config)
        machine, updates = self._start(self._sub_input(arg), cfg)
        machine.log = []
        await abegin(machine, updates, cfg)
        await adrive(machine, cfg)
        return self._sub_writes(machine)

    def _resolve_awaitable(self, aw: Awaitable[T]) -> T:
        async def wait() -> T:
            return await aw

        return run_sync(wait())

    # ------------------------------------------------------------ structure
    def get_graph(self) -> GraphView:
        """The graph's structure: nodes and edges, with DOT and Mermaid text."""
        from wfkit.drawing import GraphView

        return GraphView.from_topology(self.topology)
