"""``@entrypoint``: a function made a workflow, LangGraph's functional API.

``entrypoint(checkpointer=...)(fn)`` is a :class:`FunctionalWorkflow`: a
:class:`~wfkit.workflow.Workflow` of one node (the entrypoint), with the
same verbs (``invoke``, ``stream``, ``iter``, ``get_state``,
``get_state_history``, ``update_state``, ``batch``...), traces, debugger
and executors. Its runs are the flow of :mod:`wfkit.func.flow` on the
machine of :mod:`wfkit.func.machine`; the verbs' shapes are LangGraph's
for the functional API: ``invoke`` returns what the entrypoint returned,
``get_state().values`` is that value.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, TypedDict, TypeVar, Unpack

from wfkit._loop import run_sync
from wfkit.config import get_config
from wfkit.engine.interpret import EXECUTOR, drive
from wfkit.engine.machine import Machine
from wfkit.errors import (
    EmptyInputError,
    GraphValidationError,
    InvalidInputError,
    InvalidUpdateError,
)
from wfkit.func.body import aadvance, advance
from wfkit.func.events import EntryEvents
from wfkit.func.flow import AsyncEntryRun, EntryRun, EntryStepping
from wfkit.func.machine import END_KEY, INPUT_KEY, PREVIOUS_KEY, EntryMachine, Program
from wfkit.func.tasks import TaskFunction, _policies, task_spec
from wfkit.graph.topology import NodeOptions, NodeSpec, Topology
from wfkit.runtime import RUNTIME_KEY, Runtime
from wfkit.state import Schema
from wfkit.types import END, START, CachePolicy, Command, RetryPolicy, RunOptions
from wfkit.workflow import Workflow, _output, _Prepared, refuse_without_checkpointer

if TYPE_CHECKING:
    from wfkit.cache.base import BaseCache
    from wfkit.threads.snapshot import StateSnapshot

__all__ = ["FunctionalWorkflow", "entrypoint"]

R = TypeVar("R")
S = TypeVar("S")

_INJECTED = ("config", "previous", "runtime", "writer", "store")


@dataclass(frozen=True, kw_only=True)
class _Options:
    checkpointer: Any = None
    store: Any = None
    cache: BaseCache | None = None
    context_schema: Any = None
    cache_policy: CachePolicy | None = None
    retry_policy: tuple[RetryPolicy, ...] = ()
    trace: str = "timing"
    executor: Any = None
    name: str | None = None


def _hints(func: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func)
    except Exception:  # unresolvable annotations: every value is Any
        return {}


def _never(*_: Any) -> Any:  # pragma: no cover - a placeholder is replaced before it runs
    raise RuntimeError("a stored task call ran before the entrypoint called it again")


def _tasks_in(func: Any) -> dict[str, TaskFunction[Any, Any]]:
    """The tasks an entrypoint's code names (globals and closure cells)."""
    found: dict[str, TaskFunction[Any, Any]] = {}
    code = getattr(inspect.unwrap(func), "__code__", None)
    namespace = getattr(func, "__globals__", {})
    stack = [code] if code is not None else []
    names: set[str] = set()
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    for name in names:
        value = namespace.get(name)
        if isinstance(value, TaskFunction):
            found[value.name] = value
    for cell in getattr(func, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(value, TaskFunction):
            found[value.name] = value
    return found


class FunctionalWorkflow(Workflow, Program):
    """An ``@entrypoint`` function as a workflow (see the module docstring)."""

    _stepping = EntryStepping
    _run = EntryRun
    _async_run = AsyncEntryRun
    _events = EntryEvents

    def __init__(self, func: Callable[..., Any], options: _Options) -> None:
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise GraphValidationError(
                f"@entrypoint cannot make a workflow of generator {func.__name__!r}; return a "
                f"value, and stream parts of it with the `writer` parameter"
            )
        name = options.name or getattr(func, "__name__", None)
        if not isinstance(name, str) or not name:
            raise GraphValidationError(f"cannot name entrypoint {func!r}: it has no __name__")
        params = list(inspect.signature(func).parameters.values())
        if not params or params[0].kind not in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            raise GraphValidationError(
                f"entrypoint {name!r} needs one positional parameter for its input (a dict for "
                f"several values), e.g. def {name}(inputs: dict): ..."
            )
        self.func = func
        self.options = options
        self.cache_policy = options.cache_policy
        self._injected = tuple(
            p.name
            for p in params[1:]
            if p.name in _INJECTED
            and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        )
        hints = _hints(func)
        input_type = hints.get(params[0].name, Any)
        output_type = save_type = hints.get("return", Any)
        if output_type is entrypoint.final:
            output_type = save_type = Any
        elif typing.get_origin(output_type) is entrypoint.final:
            args = typing.get_args(output_type)
            if len(args) != 2:
                raise GraphValidationError(
                    f"entrypoint {name!r}: annotate both values of entrypoint.final, e.g. "
                    f"-> entrypoint.final[int, str] (returned, saved)"
                )
            output_type, save_type = args
        state = TypedDict(  # type: ignore[misc]
            f"{name}_state", {INPUT_KEY: input_type, END_KEY: output_type, PREVIOUS_KEY: save_type}
        )
        is_async = inspect.iscoroutinefunction(inspect.unwrap(func))
        topology = Topology(
            Schema(state),
            {name: NodeOptions(fn=aadvance if is_async else advance, retry=options.retry_policy)},
            [(START, name), (name, END)],
            [],
            [],
            interrupt_before=(),
            interrupt_after=(),
            name=name,
        )
        topology.nodes[0].local = True
        topology.context_schema = options.context_schema
        self._tasks = _tasks_in(func)  # the tasks it calls, found in its code or as called
        self._swapped: dict[str, NodeSpec] = {}  # hot-swapped tasks (replace_node)
        self._placeholders: dict[str, NodeSpec] = {}
        super().__init__(
            topology,
            checkpointer=options.checkpointer,
            trace=options.trace,
            cache=options.cache,
            executor=options.executor,
            store=options.store,
        )
        for fn in self._tasks.values():
            self._allow(fn)
        self.__doc__ = func.__doc__
        self.__wrapped__ = func

    def __repr__(self) -> str:
        return f"<entrypoint {self.name!r}>"

    # ------------------------------------------------------------ what the machine needs
    def body_start(self, machine: EntryMachine) -> Callable[[], Any]:
        func = self.func
        names = self._injected

        def arguments() -> tuple[Any, dict[str, Any]]:
            kwargs: dict[str, Any] = {}
            if names:
                config = get_config()
                previous = machine.state.get(PREVIOUS_KEY)
                runtime: Runtime[Any] = (config.get(RUNTIME_KEY) or self._runtime).override(
                    previous=previous
                )
                for n in names:
                    kwargs[n] = (
                        config
                        if n == "config"
                        else previous
                        if n == "previous"
                        else runtime
                        if n == "runtime"
                        else runtime.stream_writer
                        if n == "writer"
                        else runtime.store
                    )
            return machine.state.get(INPUT_KEY), kwargs

        if machine.topology.needs_async:

            async def astart() -> dict[str, Any]:
                arg, kwargs = arguments()
                return _update(await func(arg, **kwargs))

            return astart

        def start() -> dict[str, Any]:
            arg, kwargs = arguments()
            out = func(arg, **kwargs)
            if hasattr(out, "__await__") and inspect.iscoroutine(out):
                out.close()
                raise InvalidUpdateError(
                    f"entrypoint {self.name!r} is a plain function but returned a coroutine; "
                    f"declare it with 'async def'"
                )
            return _update(out)

        return start

    def spec_of(self, fn: TaskFunction[Any, Any]) -> NodeSpec:
        swapped = self._swapped.get(fn.name)
        if swapped is not None:
            return swapped
        if fn.name not in self._tasks:
            self._tasks[fn.name] = fn
            self._allow(fn)
        return fn.spec(self.topology.schema)

    def _allow(self, fn: TaskFunction[Any, Any]) -> None:
        """Let the store read back the types a task's signature names
        (dataclasses, pydantic models, enums), as the state schema's are."""
        if self._serde is not None:
            for hint in _hints(fn.func).values():
                self._serde.allow(hint)

    def decode(self, fn: TaskFunction[Any, Any], text: str) -> Any:
        serde = self._serde
        assert serde is not None  # stored results come from the checkpointer
        self._allow(fn)
        return serde.loads(text)

    def placeholder(self, name: str) -> NodeSpec:
        spec = self._placeholders.get(name)
        if spec is None:
            spec = self._placeholders[name] = task_spec(
                name, _never, (), None, self.topology.schema
            )
        return spec

    # ------------------------------------------------------------ starting runs
    def _start(self, input: Any, cfg: dict[str, Any]) -> tuple[Machine, dict[str, Any]]:
        refuse_without_checkpointer(
            input, f"entrypoint {self.name!r}", "@entrypoint(checkpointer=...)", "an input"
        )
        machine = EntryMachine(self.topology, self, recursion_limit=cfg["recursion_limit"])
        return machine, {INPUT_KEY: input}

    def _prepare(self, input: Any, cfg: dict[str, Any]) -> _Prepared:
        from wfkit.threads.saver import RunSaver, checkpoint_of, load, reader, thread_of

        store, serde = self.checkpointer, self._serde
        assert store is not None and serde is not None
        thread = thread_of(cfg, self.name)
        durability = cfg.get("durability") or store.durability
        view = reader(store, thread)
        loaded = load(view, serde, thread, checkpoint_of(cfg))
        if input is None or isinstance(input, Command):
            if loaded is None:
                raise EmptyInputError(
                    f"thread {thread!r} has no checkpoint to continue from; start it with an input"
                )
            saver = RunSaver(store, serde, thread, durability=durability, base=loaded)
            return self._continue(input, cfg, loaded, saver)
        # LangGraph's numbering: a new thread's input checkpoint is step -1; a
        # later run's is one after the thread's last checkpoint
        step = loaded.step + 1 if loaded else -1
        machine = EntryMachine(
            self.topology, self, recursion_limit=cfg["recursion_limit"], step=step
        )
        saver = RunSaver(store, serde, thread, durability=durability, base=loaded)
        return _Prepared(machine, {INPUT_KEY: input}, loaded.values if loaded else None, saver)

    def _continue(self, input: Any, cfg: dict[str, Any], loaded: Any, saver: Any) -> _Prepared:
        """``invoke(None | Command(resume=...), config)``: go on from a
        checkpoint; one the config names by id is replayed (its calls run
        again), after a ``fork`` copy of it, as for graphs."""
        from wfkit.threads.saver import load_writes, reader, task_result

        store, serde = self.checkpointer, self._serde
        assert store is not None and serde is not None
        thread = loaded.thread_id
        view = reader(store, thread)
        addressed = cfg["configurable"].get("checkpoint_id") is not None
        resuming = isinstance(input, Command) and input.resume is not None
        superseded = addressed and view.has_children(thread, loaded.checkpoint_id)
        replay = (addressed and not resuming) or superseded
        fork = (
            addressed and not resuming and (superseded or loaded.source not in ("update", "fork"))
        )
        load_writes(view, loaded)
        if isinstance(input, Command) and input.graph is not None:
            raise InvalidInputError(
                "as invoke() input, Command(graph=...) has no parent graph to go to; use "
                "Command(resume=...)"
            )
        machine = EntryMachine.at_checkpoint(
            self.topology,
            self,
            state=loaded.values,
            step=loaded.step,
            planned=bool(loaded.tasks),
            writes=None if replay else loaded.writes,
            result=lambda row: task_result(row, serde),
            recursion_limit=cfg["recursion_limit"],
        )
        if fork:
            machine.restep(machine.step + 1)
            saver.fork(machine)
        if isinstance(input, Command):
            self._command(input, machine, thread)
        return _Prepared(machine, None, None, saver)

    def invoke(
        self, input: Any, config: Mapping[str, Any] | None = None, **opts: Unpack[RunOptions]
    ) -> Any:
        """Run the entrypoint to its end (or to an interrupt) and return what it returned."""
        if self.topology.needs_async:
            return run_sync(self.ainvoke(input, config, **opts))
        run = self._open(self._stepping, input, config, opts)
        if EXECUTOR not in run.config:  # every advance is inline, in this thread
            run.machine.body.inline = True
        drive(self._flow(run), run.config)
        return _output(run)

    # ------------------------------------------------------------ reading threads
    def _view(self, snap: StateSnapshot) -> StateSnapshot:
        """A snapshot in LangGraph's functional shape: the value as ``values``,
        the entrypoint's return value as its task's result."""
        values = snap.values.get(END_KEY) if snap.values else None
        tasks = tuple(
            replace(t, result=t.result.get(END_KEY)) if isinstance(t.result, dict) else t
            for t in snap.tasks
        )
        return replace(snap, values=values, tasks=tasks)  # type: ignore[arg-type]

    def get_state(self, config: Mapping[str, Any], *, subgraphs: bool = False) -> StateSnapshot:
        """The thread's value at its latest checkpoint (or the one the config names)."""
        snap = super().get_state(config, subgraphs=subgraphs)
        return self._view(snap) if snap.metadata else snap

    def get_state_history(
        self,
        config: Mapping[str, Any],
        *,
        limit: int | None = None,
        before: Mapping[str, Any] | None = None,
        filter: Mapping[str, Any] | None = None,
    ) -> Iterator[StateSnapshot]:
        """The thread's checkpoints, newest first (two a run: its input and its end)."""
        for snap in super().get_state_history(config, limit=limit, before=before, filter=filter):
            yield self._view(snap)

    def update_state(
        self,
        config: Mapping[str, Any],
        values: Any,
        as_node: str | None = None,
    ) -> dict[str, Any]:
        """Store ``values`` as if the entrypoint had returned (and saved) it:
        a new checkpoint (source ``update``) whose value it is, and the next
        run's ``previous``."""
        from wfkit._ids import task_id
        from wfkit.threads.saver import RunSaver, checkpoint_of, load, require_store, thread_of

        store = require_store(self.name, self.checkpointer, "update_state()")
        serde = self._serde
        assert serde is not None
        if as_node is not None and as_node != self.name:
            raise InvalidUpdateError(
                f"update_state(as_node={as_node!r}): entrypoint {self.name!r} has one node, "
                f"itself; leave as_node out (the values are stored as its return value)"
            )
        cfg = dict(config)
        thread = thread_of(cfg, self.name)
        loaded = load(store, serde, thread, checkpoint_of(cfg))
        machine = EntryMachine(
            self.topology, self, recursion_limit=1, step=loaded.step if loaded else -1
        )
        machine.state = dict(loaded.values) if loaded else {}
        machine.entry.update = _update(values)
        machine.finish()
        saver = RunSaver(store, serde, thread, durability="sync", base=loaded)
        writes = []
        if loaded is not None and loaded.tasks:
            tid = task_id(loaded.step, 0, self.name)
            writes.append(saver.write_row(tid, 0, self.name, loaded.step, machine.entry.update))
        saver.save(machine, "update", writes)
        return {
            "configurable": {
                "thread_id": thread,
                "checkpoint_ns": "",
                "checkpoint_id": saver.checkpoint_id,
            }
        }

    # ------------------------------------------------------------ the debugger's
    def node_names(self) -> tuple[str, ...]:
        """The entrypoint and the tasks it calls (found in its code, or called)."""
        return (self.name, *self._tasks)

    def runs_again(self, snapshot: StateSnapshot, node: str) -> bool:
        """Replaying a checkpoint that plans the entrypoint runs it and every task again."""
        return snapshot.next == (self.name,)

    def replace_node(self, name: str, fn: Callable[..., Any]) -> FunctionalWorkflow:
        """A copy whose entrypoint (``name`` is the entrypoint's) or task
        ``name`` runs ``fn``, sharing the checkpointer (hot swap)."""
        clone = FunctionalWorkflow.__new__(FunctionalWorkflow)
        clone.__dict__.update(self.__dict__)
        if name == self.name:
            clone.func = fn.__wrapped__ if isinstance(fn, FunctionalWorkflow) else fn
            clone._tasks = {**self._tasks, **_tasks_in(clone.func)}
            return clone
        old = self._tasks.get(name)
        if old is None and name not in self._swapped:
            raise GraphValidationError(
                f"no task {name!r} to replace in entrypoint {self.name!r}; known: "
                f"{', '.join(self.node_names())}"
            )
        if isinstance(fn, TaskFunction):
            func, retry, cache = fn.func, fn.retry_policy, fn.cache_policy
        else:
            func = fn
            retry = old.retry_policy if old is not None else ()
            cache = old.cache_policy if old is not None else None
        clone._swapped = {
            **self._swapped,
            name: task_spec(name, func, retry, cache, self.topology.schema),
        }
        return clone

    def with_checkpointer(self, checkpointer: Any) -> FunctionalWorkflow:
        clone = FunctionalWorkflow(self.func, replace(self.options, checkpointer=checkpointer))
        clone._swapped = dict(self._swapped)
        clone._tasks.update(self._tasks)
        return clone

    # ------------------------------------------------------------ as a node of a graph
    def run_as_node(self, arg: Any, config: dict[str, Any], task_id: str = "") -> Any:
        """As a node of a graph: the node's input is the entrypoint's, and
        what it returns is the node's update."""
        return self.invoke(arg)

    async def arun_as_node(self, arg: Any, config: dict[str, Any], task_id: str = "") -> Any:
        return await self.ainvoke(arg)


def _update(out: Any) -> dict[str, Any]:
    """The entrypoint task's update: the value returned and the value saved."""
    if isinstance(out, entrypoint.final):
        return {END_KEY: out.value, PREVIOUS_KEY: out.save}
    return {END_KEY: out, PREVIOUS_KEY: out}


class entrypoint:  # LangGraph's name (a class, for entrypoint.final)
    """Make a function a workflow (LangGraph's ``@entrypoint``)::

        @entrypoint(checkpointer=MemoryCheckpointer())
        def workflow(topic: str, *, previous: Any = None) -> dict:
            essay = write_essay(topic).result()
            review = interrupt({"essay": essay})
            return {"essay": essay, "review": review}

    The function takes one input (a dict for several values) and may also
    take ``config``, ``previous`` (what the last run on this thread
    returned, or saved with :class:`entrypoint.final`), ``runtime``,
    ``writer`` and ``store``. ``retry_policy`` and ``cache_policy`` apply
    to the entrypoint as a whole; ``cache`` is where task and entrypoint
    results with a ``cache_policy`` are kept. ``trace`` and ``executor``
    are ``compile()``'s.
    """

    @dataclass(frozen=True, slots=True)
    class final(Generic[R, S]):
        """Return ``value`` to the caller but save ``save`` as the next run's
        ``previous``: ``return entrypoint.final(value=answer, save=memory)``."""

        value: R
        save: S

    def __init__(
        self,
        checkpointer: Any = None,
        store: Any = None,
        cache: BaseCache | None = None,
        context_schema: Any = None,
        cache_policy: CachePolicy | None = None,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
        *,
        trace: str = "timing",
        executor: Any = None,
        name: str | None = None,
    ) -> None:
        if cache_policy is not None and not isinstance(cache_policy, CachePolicy):
            raise InvalidInputError(
                f"entrypoint(cache_policy=...) takes a CachePolicy, got {cache_policy!r}"
            )
        self.options = _Options(
            checkpointer=checkpointer,
            store=store,
            cache=cache,
            context_schema=context_schema,
            cache_policy=cache_policy,
            retry_policy=_policies("the entrypoint", retry_policy),
            trace=trace,
            executor=executor,
            name=name,
        )

    def __call__(self, func: Callable[..., Any]) -> FunctionalWorkflow:
        if isinstance(func, type):
            raise GraphValidationError(f"@entrypoint decorates a function, got class {func!r}")
        if not callable(func):
            raise GraphValidationError(f"@entrypoint decorates a function, got {func!r}")
        return FunctionalWorkflow(func, self.options)
