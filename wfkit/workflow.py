"""``Workflow``: a compiled graph, and the verbs that run it.

``invoke``/``ainvoke`` run to the end and return the final state;
``stream``/``astream`` yield events per superstep; ``iter``/``aiter`` hand
out a run to advance one superstep at a time (the debugger's basis). Each
pair is one implementation: a flow of :mod:`wfkit.engine.loop` built once
(:meth:`Workflow._open`), driven by the sync or the async interpreter.

Calls take LangGraph's config dict (``{"configurable": {"thread_id": ...},
"recursion_limit": N, "max_concurrency": N}``) and the same settings as
keywords (:class:`~wfkit.types.RunOptions`: ``thread=``,
``recursion_limit=``, ``max_concurrency=``, ``durability=``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final, NamedTuple, TypeVar, Unpack

from wfkit import _context
from wfkit._context import current_config
from wfkit._ids import new_run_id, run_numbers
from wfkit._loop import run_sync
from wfkit._words import count
from wfkit.engine.attempts import CACHE, TRACE_LEVEL
from wfkit.engine.events import NAMESPACE, SINK, STREAM_MODES, Events, Sink
from wfkit.engine.inject import TASK_NAMESPACE, TASK_PART
from wfkit.engine.interpret import (
    EXECUTOR,
    TASK_CONTEXT,
    TIMED,
    adrive,
    adrive_stream,
    drive,
    drive_stream,
)
from wfkit.engine.loop import Flow
from wfkit.engine.machine import DEFAULT_RECURSION_LIMIT, PENDING, Machine, NestedInterrupt
from wfkit.engine.runs import AsyncRun, Run, Stepping
from wfkit.errors import (
    CheckpointerRequiredError,
    EmptyInputError,
    GraphInterrupt,
    InvalidInputError,
    ParentCommand,
)
from wfkit.runtime import RUNTIME_KEY, Runtime, no_op_writer
from wfkit.state import update_writes
from wfkit.trace.record import MemorySpans, SpanRecorder, trace_level
from wfkit.types import BatchOptions, Command, Interrupt, RunOptions, Writes, check_durability

if TYPE_CHECKING:
    import polars as pl

    from wfkit.batch import BatchResult
    from wfkit.cache.base import BaseCache
    from wfkit.checkpoint.base import Checkpointer
    from wfkit.checkpoint.serde import Serde
    from wfkit.drawing import GraphView
    from wfkit.engine.interpret import NodeExecutor
    from wfkit.graph.topology import Topology
    from wfkit.store.base import BaseStore
    from wfkit.stress import StressResult
    from wfkit.threads.saver import RunSaver
    from wfkit.threads.snapshot import StateSnapshot
    from wfkit.trace.draw import Drawing

__all__ = ["STREAM_MODES", "Workflow"]  # STREAM_MODES: wfkit.engine.events

T = TypeVar("T")
S = TypeVar("S", bound=Stepping)
_OPTIONS = frozenset(RunOptions.__annotations__)
NESTED: Final = "wfkit_nested"  # config key: a graph called from inside another's node
_LINEAGE: Final = "wfkit_lineage"  # config key: where a checkpointed run's checkpoints go
_CALLS: Final = "wfkit_calls"  # task config key: how many graphs the task called so far
# a task's own keys, not its subgraph run's (a graph that run's nodes call is in their task)
_TASK_KEYS: Final = ("configurable", TASK_NAMESPACE, TASK_PART, _CALLS)
_CALLER: Final = "wfkit_caller"  # config key: the Lineage of the run a nested run is inside
# configurable keys with which a nested call names a checkpoint lineage of its own
_COORDINATES = ("thread_id", "checkpoint_ns", "checkpoint_id", "checkpoint_map")


def _inherit(
    parent: dict[str, Any], config: Mapping[str, Any] | None, opts: RunOptions
) -> dict[str, Any] | None:
    """The config of a call made from inside a running node of another graph
    (``parent`` is that run's config): the caller's config with this call's
    on top, as LangGraph merges ``var_child_runnable_config``. None when the
    call names a thread or checkpoint of its own: then it is a run like any
    other, on its own thread."""
    explicit = (config.get("configurable") if config else None) or {}
    if opts.get("thread") is not None or any(explicit.get(k) is not None for k in _COORDINATES):
        return None
    cfg = {k: v for k, v in parent.items() if not k.startswith("wfkit_")}
    if config:
        cfg.update({k: v for k, v in config.items() if k != "configurable"})
    cfg["configurable"] = {**(parent.get("configurable") or {}), **explicit}
    cfg[NESTED] = True
    return cfg


def _make_config(config: Mapping[str, Any] | None, opts: RunOptions) -> dict[str, Any]:
    unknown = set(opts) - _OPTIONS if opts else None
    if unknown:
        raise InvalidInputError(
            f"unknown run option(s) {', '.join(map(repr, sorted(unknown)))}; the options are "
            f"{', '.join(sorted(_OPTIONS))} (or LangGraph's config dict)"
        )
    cfg: dict[str, Any] = dict(config) if config else {}
    if opts.get("durability") is not None:
        cfg["durability"] = opts["durability"]
    if cfg.get("durability") is not None:
        check_durability(cfg["durability"])
    if opts.get("thread") is not None:
        cfg["configurable"] = {**(cfg.get("configurable") or {}), "thread_id": opts["thread"]}
    for key in ("recursion_limit", "max_concurrency", "interrupt_before", "interrupt_after"):
        if opts.get(key) is not None:
            cfg[key] = opts[key]
    executor = opts.get("executor")
    if executor is not None:
        cfg[EXECUTOR] = executor
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


def _check_executor(executor: Any, name: str) -> Any:
    """``executor`` if it can run node calls (a ``NodeExecutor``), else a clear error."""
    if executor is None or executor == "local":
        return None
    if not callable(getattr(executor, "run_tasks", None)) or not callable(
        getattr(executor, "arun_tasks", None)
    ):
        raise InvalidInputError(
            f"executor={executor!r} for {name!r} is not a node executor (it needs run_tasks and "
            f"arun_tasks); use wfkit.distributed.DaskExecutor(client), or 'local' to run here"
        )
    return executor


def _coerce_context(schema: Any, context: Any) -> Any:
    """``invoke(..., context={...})`` with a dataclass or pydantic
    ``context_schema``: the dict becomes an instance, as in LangGraph."""
    if context is None or schema is None or not isinstance(context, dict):
        return context
    if isinstance(schema, type) and (
        hasattr(schema, "__dataclass_fields__") or hasattr(schema, "model_fields")
    ):
        try:
            return schema(**context)
        except TypeError as exc:
            raise InvalidInputError(
                f"context {context!r} does not fit context_schema {schema.__name__}: {exc}"
            ) from exc
    return context


def _pause_caller(run: Stepping) -> None:
    """A graph run inside a task of another (a subgraph node, a nested call)
    that paused at ``interrupt()`` pauses that task: the caller's task owns
    the pause, and its id names the interrupts. A run with checkpoints of
    its own (``wfkit.threads.lineage``) names its namespace, so the answer is
    kept for it."""
    machine = run.machine
    if machine.status == "interrupted" and machine.interrupts:
        lineage = run.config.get(_LINEAGE)
        if lineage is None:
            raise GraphInterrupt(tuple(Interrupt(i.value) for i in machine.interrupts))
        ns = lineage.ns
        raise GraphInterrupt(tuple(NestedInterrupt(i.value, "", ns) for i in machine.interrupts))


def refuse_without_checkpointer(
    input: Any, subject: str, fix: str, fresh: str = "an input dict"
) -> None:
    """What a run without a checkpointer cannot start from: a resume
    (``Command``) or ``None`` (continue); ``subject`` names the workflow in
    the error, ``fix`` how to give it a checkpointer, ``fresh`` what input
    starts a new run."""
    if isinstance(input, Command):
        raise CheckpointerRequiredError(
            f"invoke(Command(resume=...)) answers a paused run of {subject}, which needs "
            f"a checkpointer to resume from; {fix} first"
        )
    if input is None:
        raise EmptyInputError(
            f"invoke(None) continues a paused or failed run of {subject} from its "
            f"checkpoint, which needs a checkpointer; pass {fresh} to start a new run"
        )


def _output(run: Stepping) -> dict[str, Any]:
    """What ``invoke()`` returns, or for a nested call that paused, the pause
    raised into the calling node (LangGraph does the same)."""
    if NESTED in run.config:
        _pause_caller(run)
    return run.output()


def _isolated(flow: Flow[T], caller: Any, ns: str) -> Flow[T]:
    """The flow of a run with checkpoints of its own (at namespace ``ns``)
    inside a task of the run whose Lineage is ``caller``: its tasks do not
    see the caller's resume answers (the run takes the one meant for it when
    it continues from its checkpoint); a failure is noted for a retry."""
    outer = _context.current_task.get()
    _context.current_task.set(None)
    try:
        return (yield from flow)
    except Exception:
        caller.failed.add(ns)
        raise
    finally:
        _context.current_task.set(outer)


def _task_contexts(cfg: dict[str, Any], topology: Topology) -> None:
    """A checkpointed run of a graph whose nodes call graphs: each task runs
    in a context of its own, so a graph a node calls knows its task (and
    keeps its checkpoints under the task's namespace). Runs without a
    checkpointer keep such nodes on the hot path."""
    if topology.calls_graphs:
        cfg[TIMED] = max(cfg[TIMED], TASK_CONTEXT)


def _inside(run: Stepping, flow: Flow[T]) -> Flow[T]:
    """``flow``, isolated (:func:`_isolated`) when ``run`` keeps checkpoints
    of its own inside a task of another run."""
    caller = run.config.get(_CALLER)
    return flow if caller is None else _isolated(flow, caller, run.config[_LINEAGE].ns)


def _nested_call_index(parent: dict[str, Any]) -> int:
    """The number of graphs the task whose config is ``parent`` called before
    this one (in this attempt): the ``"|n"`` of this call's namespace."""
    counter: list[int] | None = parent.get(_CALLS)
    if counter is None:
        counter = parent[_CALLS] = [0]
    index = counter[0]
    counter[0] += 1
    return index


class _Prepared(NamedTuple):
    machine: Machine
    updates: dict[str, Any] | None  # None: continue from the restored tasks
    base: dict[str, Any] | None  # the thread's state a new input applies to
    saver: RunSaver | None
    replay: bool = False  # a replay (time travel): the graphs its tasks run start over


class Workflow:
    """A compiled graph: run it with ``invoke``/``ainvoke``, ``stream``/
    ``astream``, or step it with ``iter``/``aiter``. Also usable as a node
    of another graph (a subgraph)."""

    #: the runs the verbs make and the events of a stream (a functional
    #: workflow, ``wfkit.func``, has its own of each)
    _stepping: ClassVar[type[Stepping]] = Stepping
    _run: ClassVar[type[Run]] = Run
    _async_run: ClassVar[type[AsyncRun]] = AsyncRun
    _events: ClassVar[type[Events]] = Events

    def __init__(
        self,
        topology: Topology,
        *,
        checkpointer: Any = None,
        trace: str = "timing",
        cache: BaseCache | None = None,
        executor: Any = None,
        store: Any = None,
    ) -> None:
        self.topology = topology
        self.cache = cache
        self.executor: NodeExecutor | None = _check_executor(executor, topology.name)
        self.name = topology.name
        self.__name__ = topology.name
        self.trace = trace
        self._trace_level = trace_level(trace)
        self._spans = MemorySpans()
        self.store: BaseStore | None = None
        if store is not None:
            from wfkit.store import open_store

            self.store = open_store(store, f"graph {topology.name!r}")
        self._runtime: Runtime[Any] = Runtime(store=self.store)
        self.checkpointer: Checkpointer | None = None
        self._serde: Serde | None = None
        # False (LangGraph's): inside a checkpointed graph, this one keeps no
        # checkpoints of its own, so a resumed task runs it again from its start
        self.checkpoints_inside = checkpointer is not False
        if checkpointer is False:
            checkpointer = None
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
        return f"<Workflow {self.name!r}: {count(len(self.topology.nodes), 'node')}>"

    # ------------------------------------------------------------ setup
    def _config(
        self, config: Mapping[str, Any] | None, opts: RunOptions, sink: Sink | None = None
    ) -> dict[str, Any]:
        parent = current_config.get()  # set when a node of another run invokes this graph
        if not config and not opts and sink is None and parent is None:
            level = self._trace_level  # the common call, invoke(input): the defaults
            defaults: dict[str, Any] = {
                "recursion_limit": DEFAULT_RECURSION_LIMIT,
                TRACE_LEVEL: level,
                TIMED: level if self.checkpointer is None else max(level, 1),
                RUNTIME_KEY: self._runtime,
            }
            if self.cache is not None:
                defaults[CACHE] = self.cache
            if self.executor is not None:
                defaults[EXECUTOR] = self.executor
            return defaults
        cfg = _make_config(config, opts)
        if self.cache is not None:
            cfg[CACHE] = self.cache
        executor: Any = cfg.get(EXECUTOR, self.executor)
        if executor is None or executor == "local":
            cfg.pop(EXECUTOR, None)
        else:
            cfg[EXECUTOR] = _check_executor(executor, self.name)
        if "trace" in cfg:
            cfg[TRACE_LEVEL] = trace_level(cfg["trace"])
        elif TRACE_LEVEL not in cfg:
            cfg[TRACE_LEVEL] = self._trace_level
        cfg[TIMED] = max(cfg[TRACE_LEVEL], int(self.checkpointer is not None))
        self._stream_into(cfg, sink, parent, opts)
        return cfg

    def _stream_into(
        self,
        cfg: dict[str, Any],
        sink: Sink | None,
        parent: dict[str, Any] | None,
        opts: RunOptions,
    ) -> None:
        """Give a run its Runtime, and its place in a stream: ``sink`` for a
        streamed run, else the stream of the node invoking this graph, if any
        (its chunks then carry the invoking task's namespace)."""
        ns: tuple[str, ...] = ()
        if sink is None and parent is not None and SINK in parent:
            inherited = parent.get(TASK_NAMESPACE)
            if inherited is not None:  # None: the parent's stream wants no nested chunks
                sink, ns = parent[SINK], inherited
        writer = None
        if sink is not None:
            cfg[SINK] = sink
            cfg[NAMESPACE] = ns
            writer = sink.writer(ns)
            if sink.task_context:
                cfg[TIMED] = max(cfg[TIMED], TASK_CONTEXT)
        outer: Runtime[Any] | None = parent.get(RUNTIME_KEY) if parent is not None else None
        if "context" in opts:
            context = _coerce_context(
                getattr(self.topology, "context_schema", None), opts["context"]
            )
        elif outer is not None:
            context = outer.context
        else:
            context = None
        # a graph invoked from a node of another uses that run's store (its own if none)
        store = outer.store if outer is not None and outer.store is not None else self.store
        cfg[RUNTIME_KEY] = Runtime(
            context=context, store=store, stream_writer=writer or no_op_writer
        )

    def _recorder(self, cfg: dict[str, Any], saver: RunSaver | None) -> SpanRecorder | None:
        """A span recorder for a run with this config (None when tracing is off).

        Spans go to the checkpoint file when there is one, else to memory; a
        subgraph's spans go where its parent's go, under the parent's task.
        """
        level = cfg.get(TRACE_LEVEL, 0)
        if not level:
            return None
        configurable = cfg.get("configurable")
        thread_id = configurable.get("thread_id") if configurable else None
        sink = cfg.get("wfkit_span_sink")  # a parent's (subgraph) or a caller's (stress)
        if sink is None and not self.topology.passes_config:  # the hot path: nothing to link
            return SpanRecorder(
                (self._spans if self.checkpointer is None else self.checkpointer).put_run,
                (None, None, self.name, thread_id, level),
                saver.run_id if saver is not None else next(run_numbers),  # text made when read
            )
        run_id = saver.run_id if saver is not None else new_run_id()
        trace_id = parent = None
        if sink is None:
            sink = self._spans if self.checkpointer is None else self.checkpointer
        elif (parent_task := cfg.pop("wfkit_parent_task", None)) is not None:
            parent_run = cfg.get("wfkit_run_id")
            parent = f"{parent_run}/{parent_task}" if parent_run else None
            trace_id = cfg.get("wfkit_trace_id")
        recorder = SpanRecorder(
            sink.put_run, (trace_id, parent, self.name, thread_id, level), run_id
        )
        if self.topology.passes_config:
            cfg["wfkit_span_sink"] = sink
            cfg["wfkit_run_id"] = run_id
            cfg["wfkit_trace_id"] = trace_id or run_id
        return recorder

    def _start(self, input: Any, cfg: dict[str, Any]) -> tuple[Machine, dict[str, Any]]:
        """A machine for a run without a checkpointer, and its input updates."""
        refuse_without_checkpointer(input, repr(self.name), "compile(checkpointer=...)")
        updates = self.topology.schema.input_updates(input)
        return Machine(self.topology, recursion_limit=cfg["recursion_limit"]), updates

    def _prepare(self, input: Any, cfg: dict[str, Any]) -> _Prepared:
        """Set up a checkpointed run: fresh, continuing a thread, resuming or replaying."""
        assert self.checkpointer is not None  # else _open starts a fresh machine itself
        from wfkit.threads.saver import RunSaver, checkpoint_of, load, reader, thread_of

        store, serde = self.checkpointer, self._serde
        assert serde is not None
        thread = thread_of(cfg, self.name)
        checkpoint_id = checkpoint_of(cfg)
        durability = cfg.get("durability") or store.durability
        view = reader(store, thread)  # the thread's rows in memory when the store keeps them
        loaded = load(view, serde, thread, checkpoint_id)
        if input is None or isinstance(input, Command):
            if loaded is None:
                raise EmptyInputError(
                    f"thread {thread!r} has no checkpoint to continue from; start it with an input dict"
                )
            saver = RunSaver(store, serde, thread, durability=durability, base=loaded)
            return self._continue(input, cfg, loaded, saver)
        updates = self.topology.schema.input_updates(input)
        # LangGraph's numbering: a new thread's input checkpoint is step -1, its
        # first loop checkpoint 0; a later run's input checkpoint follows the last
        step = loaded.step + 2 if loaded else 0
        machine = Machine(self.topology, recursion_limit=step + cfg["recursion_limit"])
        machine.step = step
        saver = RunSaver(store, serde, thread, durability=durability, base=loaded)
        return _Prepared(machine, updates, loaded.values if loaded else None, saver)

    def _continue(self, input: Any, cfg: dict[str, Any], loaded: Any, saver: RunSaver) -> _Prepared:
        """``invoke(None | Command(...), config)``: go on from a checkpoint.

        A checkpoint the config names by id is replayed, as in LangGraph: its
        tasks run again (stored results ignored) after a ``fork`` copy of it,
        so the replay is a new branch. An input checkpoint (``__start__``
        planned) applies its stored input again."""
        from wfkit.threads.saver import load_writes, reader, restore, stored_input

        store, serde = self.checkpointer, self._serde
        assert store is not None and serde is not None
        thread = loaded.thread_id
        view = reader(store, thread)  # the thread's rows in memory when the store keeps them
        # LangGraph's time travel: a checkpoint named by id (not to answer an
        # interrupt) is replayed, finished tasks included; unless it was made by
        # update_state (or is a fork) and nothing follows it yet, a fork copy of
        # it starts the replay's branch first
        addressed = cfg["configurable"].get("checkpoint_id") is not None
        resuming = isinstance(input, Command) and input.resume is not None
        superseded = addressed and view.has_children(thread, loaded.checkpoint_id)
        replay = (addressed and not resuming) or superseded
        fork = (
            addressed and not resuming and (superseded or loaded.source not in ("update", "fork"))
        )
        load_writes(view, loaded)
        if isinstance(input, Command) and (input.graph is not None):
            raise InvalidInputError(
                "as invoke() input, Command(graph=...) has no parent graph to go to; use "
                "Command(resume=..., update=..., goto=...)"
            )
        updates = stored_input(loaded, serde)
        if updates is not None:  # an input checkpoint: apply its input (again)
            step = loaded.step + 1
            if fork:
                saver.fork_input(loaded, step, updates)
                step += 1
            saver.input_stored = True
            machine = Machine(self.topology, recursion_limit=step + cfg["recursion_limit"])
            machine.step = step
            if isinstance(input, Command):
                self._command(input, machine, thread)
            return _Prepared(machine, updates, loaded.values, saver)
        machine = restore(
            self.topology,
            loaded,
            serde,
            recursion_limit=loaded.step + 1 + cfg["recursion_limit"],
            with_writes=not replay,
        )
        if fork:
            machine.restep(machine.step + 1)
            saver.fork(machine)
        if isinstance(input, Command):
            self._command(input, machine, thread)
        return _Prepared(machine, None, None, saver, replay and not fork)

    @staticmethod
    def _command(command: Command[Any], machine: Machine, thread: str) -> None:
        """Apply a ``Command`` given as input: answer the pending interrupts
        (``resume``; at a static breakpoint the run just goes on), then its
        ``update`` and ``goto``, as LangGraph does."""
        if command.resume is not None or (command.update is None and not command.goto):
            if machine.status == "interrupted" and machine.interrupts:
                machine.answer(command.resume)
            elif not machine.tasks:
                raise InvalidInputError(
                    f"thread {thread!r} has no pending interrupt to resume; invoke(None, config) "
                    f"continues it, an input dict starts a new run on it"
                )
        if (command.update is not None or command.goto) and any(
            t.status is not PENDING for t in machine.tasks
        ):
            raise InvalidInputError(
                f"thread {thread!r} is paused inside a superstep (a task is waiting at interrupt() "
                f"or some finished before a failure); Command(update=..., goto=...) changes the "
                f"state between supersteps: answer with Command(resume=...) or continue with "
                f"invoke(None, config) first"
            )
        machine.command_input(command.update, command.goto)

    def _open(
        self,
        kind: type[S],
        input: Any,
        config: Mapping[str, Any] | None,
        opts: RunOptions,
        sink: Sink | None = None,
    ) -> S:
        """The one way a run starts: config, then fresh / continued / resumed
        machine, then its hooks (saver, span recorder), as a stepping run."""
        parent = current_config.get()
        inside: tuple[Any, str] | None = None  # the caller's Lineage, and this run's namespace
        if parent is not None:  # called from inside a node of another graph
            nested = _inherit(parent, config, opts)
            if nested is not None:
                config = nested  # this call's own options still apply on top
                lineage = parent.get(_LINEAGE)
                part = parent.get(TASK_PART)  # set in the context of a non-plain node's task
                if lineage is not None and part and self.checkpoints_inside:
                    inside = lineage, lineage.child_ns(part, _nested_call_index(parent))
        cfg = self._config(config, opts, sink)
        if inside is not None:  # the caller checkpoints: so does this run, in its namespace
            return self._open_inside(kind, input, cfg, *inside)
        if self.checkpointer is None or NESTED in cfg:  # the hot path: fresh machine, no saver
            if self.checkpointer is not None:  # a nested call stores nothing: spans to memory
                cfg["wfkit_span_sink"] = self._spans
            machine, updates = self._start(input, cfg)
            if "interrupt_before" in cfg or "interrupt_after" in cfg:
                machine.breakpoints(cfg.get("interrupt_before"), cfg.get("interrupt_after"))
            recorder = self._recorder(cfg, None) if cfg[TRACE_LEVEL] else None
            return kind(
                machine,
                cfg,
                start=updates,
                recorder=recorder,
                needs_async=self.topology.needs_async,
            )
        p = self._prepare(input, cfg)
        if "interrupt_before" in cfg or "interrupt_after" in cfg:
            p.machine.breakpoints(cfg.get("interrupt_before"), cfg.get("interrupt_after"))
        if self.topology.nests:  # where the graphs this run's tasks run keep their checkpoints
            from wfkit.threads.lineage import Lineage

            assert p.saver is not None and self.checkpointer is not None
            cfg[_LINEAGE] = Lineage(
                self.checkpointer, p.saver.thread_id, "", {}, p.saver, replay=p.replay
            )
            _task_contexts(cfg, self.topology)
        return kind(
            p.machine,
            cfg,
            start=p.updates,
            base=p.base,
            saver=p.saver,
            recorder=self._recorder(cfg, p.saver),
            needs_async=self.topology.needs_async,
        )

    def _open_inside(
        self, kind: type[S], input: Any, cfg: dict[str, Any], parent: Any, ns: str
    ) -> S:
        """A graph called inside a task of a checkpointed run (a nested call):
        it keeps checkpoints of its own at namespace ``ns``, and continues from
        them when the task runs again (``wfkit.threads.lineage``)."""
        from wfkit.threads.lineage import open_nested

        _, updates = self._start(input, cfg)
        opened = open_nested(
            self.topology,
            parent,
            ns,
            updates,
            recursion_limit=cfg["recursion_limit"],
            scratch=_context.current_task.get(),
        )
        if "interrupt_before" in cfg or "interrupt_after" in cfg:
            opened.machine.breakpoints(cfg.get("interrupt_before"), cfg.get("interrupt_after"))
        cfg[_LINEAGE] = opened.lineage
        cfg[_CALLER] = parent
        _task_contexts(cfg, self.topology)
        return kind(
            opened.machine,
            cfg,
            start=opened.start,
            saver=opened.saver,
            recorder=self._recorder(cfg, opened.saver) if cfg[TRACE_LEVEL] else None,
            needs_async=self.topology.needs_async,
        )

    def iter(
        self, input: Any, config: Mapping[str, Any] | None = None, **opts: Unpack[RunOptions]
    ) -> Run:
        """Start a run to advance one superstep at a time with ``step()``."""
        return self._open(self._run, input, config, opts)

    def aiter(
        self, input: Any, config: Mapping[str, Any] | None = None, **opts: Unpack[RunOptions]
    ) -> AsyncRun:
        """Start a run to advance one superstep at a time with ``await astep()``."""
        return self._open(self._async_run, input, config, opts)

    # ------------------------------------------------------------ run to the end
    def invoke(
        self, input: Any, config: Mapping[str, Any] | None = None, **opts: Unpack[RunOptions]
    ) -> dict[str, Any]:
        """Run to the end (or to a pause) and return the final state.

        Works in scripts and inside a running event loop (a Jupyter cell):
        a graph of sync nodes runs without any event loop; one with async
        nodes runs on a private loop when the calling thread already has one.
        """
        if self.topology.needs_async:
            return run_sync(self.ainvoke(input, config, **opts))
        run = self._open(self._stepping, input, config, opts)
        drive(self._flow(run), run.config)
        return _output(run)

    async def ainvoke(
        self, input: Any, config: Mapping[str, Any] | None = None, **opts: Unpack[RunOptions]
    ) -> dict[str, Any]:
        """Async :meth:`invoke`: ``await workflow.ainvoke(...)`` in a cell or coroutine."""
        run = self._open(self._stepping, input, config, opts)
        await adrive(self._flow(run), run.config)
        return _output(run)

    # ------------------------------------------------------------ many runs
    def batch(
        self,
        inputs: Sequence[Any],
        config: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        **opts: Unpack[BatchOptions],
    ) -> BatchResult:
        """One run per input, results in input order, with a progress bar.

        ``config`` is LangGraph's: one config for every run, or a list of
        them; ``threads`` names each run's thread (with a checkpointer and no
        thread in the config, ids are generated: ``result.threads``).
        ``max_concurrency`` caps the runs at once; ``executor`` runs the node
        calls elsewhere (see ``docs/scale-out.md``); ``progress=False`` hides
        the bar. A failed run raises its error, unless ``return_exceptions``:
        then it is the run's result. The other keywords go to every run.
        """
        from wfkit.batch import batch

        return batch(self, inputs, config, **opts)

    async def abatch(
        self,
        inputs: Sequence[Any],
        config: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        **opts: Unpack[BatchOptions],
    ) -> BatchResult:
        """Async :meth:`batch`."""
        from wfkit.batch import abatch

        return await abatch(self, inputs, config, **opts)

    # ------------------------------------------------------------ streaming
    def _flow(self, run: Stepping) -> Flow[Any]:
        """All of a run's supersteps; with its events when it is nested in a
        stream that wants them (a subgraph, or a graph a node invokes)."""
        sink: Sink | None = run.config.get(SINK)
        flow: Flow[Any]
        if sink is not None and sink.subgraphs and run.config.get(NAMESPACE):
            flow = self._events(sink, run.config[NAMESPACE], self._snapshot).flow(run)
        else:
            flow = run.step_flow(-1)
        caller = run.config.get(_CALLER)
        return flow if caller is None else _isolated(flow, caller, run.config[_LINEAGE].ns)

    def _snapshot(self, run: Stepping, checkpoint_id: str | None = None) -> dict[str, Any] | None:
        """A ``"checkpoints"`` chunk: the checkpoint the run wrote last (or the one named)."""
        if run.saver is None or not run.saver.checkpoint_id:
            return None
        lineage = run.config.get(_LINEAGE)
        if lineage is not None and lineage.ns:  # a subgraph's, in its namespace
            from wfkit.threads.history import read_state

            cid = checkpoint_id or run.saver.checkpoint_id
            snap = read_state(lineage.store, self.topology, lineage.thread, lineage.ns, cid)
        else:
            config = run.config_for_resume
            if checkpoint_id is not None:
                config = {
                    **config,
                    "configurable": {**config["configurable"], "checkpoint_id": checkpoint_id},
                }
            snap = self.get_state(config)
        return {
            "config": snap.config,
            "parent_config": snap.parent_config,
            "values": snap.values,
            "metadata": snap.metadata,
            "next": list(snap.next),
            "tasks": [
                {"id": t.id, "name": t.name, "interrupts": t.interrupts, "state": t.state}
                for t in snap.tasks
            ],
        }

    def stream(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "updates",
        subgraphs: bool = False,
        **opts: Unpack[RunOptions],
    ) -> Iterator[Any]:
        """Yield chunks as the run goes, in LangGraph's shapes (see
        :mod:`wfkit.engine.events`): ``"updates"`` (the default: ``{node:
        update}`` per task), ``"values"`` (the state after each superstep,
        starting with the input), ``"custom"`` (what nodes write with
        ``get_stream_writer()``), ``"messages"`` (chat model tokens),
        ``"tasks"``, ``"checkpoints"``, ``"debug"``. With a list of modes,
        yields ``(mode, chunk)``; with ``subgraphs=True``, ``(namespace, ...)``
        and the chunks of subgraphs too."""
        sink = Sink(stream_mode, subgraphs)
        run = self._open(self._stepping, input, config, opts, sink)
        flow = _inside(run, self._events(sink, (), self._snapshot).flow(run))
        yield from drive_stream(flow, run.config, on_loop=run.needs_async, sink=sink)
        if NESTED in run.config:
            _pause_caller(run)

    async def astream(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "updates",
        subgraphs: bool = False,
        **opts: Unpack[RunOptions],
    ) -> AsyncIterator[Any]:
        """Async :meth:`stream`."""
        sink = Sink(stream_mode, subgraphs)
        run = self._open(self._stepping, input, config, opts, sink)
        flow = _inside(run, self._events(sink, (), self._snapshot).flow(run))
        async for chunk in adrive_stream(flow, run.config, sink):
            yield chunk
        if NESTED in run.config:
            _pause_caller(run)

    # ------------------------------------------------------------ as a node
    def _sub_input(self, arg: Any) -> dict[str, Any]:
        keys = self.topology.schema.keys
        if isinstance(arg, Mapping):
            return {k: v for k, v in arg.items() if k in keys}
        return {k: getattr(arg, k) for k in keys if hasattr(arg, k)}

    def _sub_writes(self, run: Stepping) -> Writes:
        _pause_caller(run)
        machine = run.machine
        writes = Writes(machine.log or ())
        # what an "updates" chunk shows for the subgraph node: its final value of each key it wrote
        writes.final = {k: machine.state[k] for k, _ in writes if k in machine.state}
        return writes

    def _sub_config(self, config: dict[str, Any], task_id: str) -> dict[str, Any]:
        # not the task's namespace: a graph this run's nodes call is in one of theirs
        cfg = dict(config)
        for key in _TASK_KEYS:
            cfg.pop(key, None)
        cfg["configurable"] = dict(config.get("configurable") or {})
        if "wfkit_span_sink" in cfg:  # the parent is traced: link this run's spans under its task
            cfg["wfkit_parent_task"] = task_id
        runtime: Runtime[Any] = cfg.get(RUNTIME_KEY) or self._runtime
        if runtime.store is None and self.store is not None:  # a parent without a store
            runtime = cfg[RUNTIME_KEY] = runtime.override(store=self.store)
        sink: Sink | None = cfg.get(SINK)
        if sink is not None:  # the parent streams: this run's chunks are in the task's namespace
            ns = config.get(TASK_NAMESPACE, ())
            cfg[NAMESPACE] = ns
            cfg[RUNTIME_KEY] = runtime.override(stream_writer=sink.writer(ns) or no_op_writer)
        return cfg

    def _as_node(self, arg: Any, config: dict[str, Any], task_id: str) -> Stepping:
        cfg = self._sub_config(config, task_id)
        machine, updates = self._start(self._sub_input(arg), cfg)
        parent = config.get(_LINEAGE)
        part = config.get(TASK_PART)
        if parent is None or not part or not self.checkpoints_inside:
            machine.log = []
            if parent is not None:  # neither this run nor the graphs its tasks run checkpoint
                cfg.pop(_LINEAGE, None)
                cfg.pop(_CALLER, None)
            return Stepping(machine, cfg, start=updates, recorder=self._recorder(cfg, None))
        from wfkit.threads.lineage import open_nested

        opened = open_nested(
            self.topology,
            parent,
            parent.child_ns(part),
            updates,
            recursion_limit=cfg["recursion_limit"],
            scratch=_context.current_task.get(),
            with_earlier=True,
        )
        machine = opened.machine
        schema = self.topology.schema
        # the parent applies every write this graph made, those before a resume too
        machine.log = [p for _, _, u in opened.earlier for p in update_writes(u, schema) or ()]
        cfg[_LINEAGE] = opened.lineage
        cfg[_CALLER] = parent
        _task_contexts(cfg, self.topology)
        return Stepping(
            machine,
            cfg,
            start=opened.start,
            saver=opened.saver,
            recorder=self._recorder(cfg, opened.saver),
        )

    def run_as_node(self, arg: Any, config: dict[str, Any], task_id: str = "") -> Writes:
        """Run as a node of a parent graph (:class:`~wfkit.graph.topology.Subgraph`):
        the parent applies every write this graph's nodes made, in order,
        through its own reducers."""
        if self.topology.needs_async:
            return run_sync(self.arun_as_node(arg, config, task_id))
        run = self._as_node(arg, config, task_id)
        try:
            drive(self._flow(run), run.config)
        except ParentCommand as signal:  # a node's Command(graph=Command.PARENT)
            return signal.command  # type: ignore[no-any-return]
        return self._sub_writes(run)

    async def arun_as_node(self, arg: Any, config: dict[str, Any], task_id: str = "") -> Writes:
        run = self._as_node(arg, config, task_id)
        try:
            await adrive(self._flow(run), run.config)
        except ParentCommand as signal:
            return signal.command  # type: ignore[no-any-return]
        return self._sub_writes(run)

    # ------------------------------------------------------------ checkpoints
    def get_state(self, config: Mapping[str, Any], *, subgraphs: bool = False) -> StateSnapshot:
        """The thread's state at its latest checkpoint (or the one the config
        names; a ``checkpoint_ns`` names a subgraph's). With ``subgraphs``,
        each task that runs a graph shows that graph's state in ``state``
        (else the config to read it with)."""
        from wfkit.threads.history import get_state

        return get_state(self, config, subgraphs=subgraphs)

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
        from wfkit.threads.history import get_state_history

        return get_state_history(self, config, limit=limit, before=before, filter=filter)

    def update_state(
        self,
        config: Mapping[str, Any],
        values: Mapping[str, Any] | None,
        as_node: str | None = None,
    ) -> dict[str, Any]:
        """Write ``values`` as a new checkpoint (a fork when the config names an
        older one) and return its config; ``invoke(None, that_config)`` goes on."""
        from wfkit.threads.history import update_state

        return update_state(self, config, values, as_node)

    async def aget_state(
        self, config: Mapping[str, Any], *, subgraphs: bool = False
    ) -> StateSnapshot:
        """Async :meth:`get_state` (LangGraph's name; the stores answer in memory
        or from their own connection, so it does not wait on the event loop)."""
        return self.get_state(config, subgraphs=subgraphs)

    async def aget_state_history(
        self,
        config: Mapping[str, Any],
        *,
        limit: int | None = None,
        before: Mapping[str, Any] | None = None,
        filter: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[StateSnapshot]:
        """Async :meth:`get_state_history`: ``async for snap in ...``."""
        for snap in self.get_state_history(config, limit=limit, before=before, filter=filter):
            yield snap

    async def aupdate_state(
        self,
        config: Mapping[str, Any],
        values: Mapping[str, Any] | None,
        as_node: str | None = None,
    ) -> dict[str, Any]:
        """Async :meth:`update_state`."""
        return self.update_state(config, values, as_node)

    def node_writes(self, config: Mapping[str, Any]) -> pl.DataFrame:
        """A Polars frame: one row per node execution of the thread."""
        from wfkit.threads.history import node_writes

        return node_writes(self, config)

    def history_frame(self, config: Mapping[str, Any]) -> pl.DataFrame:
        """A Polars frame: one row per checkpoint of the thread, newest first."""
        from wfkit.threads.history import history_frame

        return history_frame(self, config)

    def replace_node(self, name: str, fn: Callable[..., Any]) -> Workflow:
        """A copy of this workflow with node ``name`` running ``fn``, sharing
        the checkpointer (so its threads can be continued with the new code)."""
        clone = Workflow.__new__(Workflow)
        clone.__dict__.update(self.__dict__)
        clone.topology = self.topology.replace_node(name, fn)
        return clone

    def node_names(self) -> tuple[str, ...]:
        """The names a breakpoint or a hot swap may name: the graph's nodes."""
        return tuple(self.topology.by_name)

    def runs_again(self, snapshot: StateSnapshot, node: str) -> bool:
        """Whether replaying the checkpoint ``snapshot`` runs ``node`` again
        (the debugger's ``reload`` replays from the newest such checkpoint)."""
        return node in snapshot.next

    def with_checkpointer(self, checkpointer: Any) -> Workflow:
        """This workflow checkpointed to ``checkpointer`` (the debugger's
        in-memory store, for a workflow compiled without one)."""
        return Workflow(self.topology, checkpointer=checkpointer, trace=self.trace)

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
