"""What a compiled graph is: :class:`Topology`, its nodes (:class:`NodeSpec`),
branches and joins, validated and frozen by ``StateGraph.compile()``.

Validation happens here, at compile time (nodes may be added after the
edges that name them). Every error names the node or edge and says the fix.

The frozen topology keeps successors in CSR form (``succ_offsets`` /
``succ_targets``: the successors of node *i* are
``succ_targets[succ_offsets[i]:succ_offsets[i+1]]``) and gives each node its
own slice as a tuple, so planning a superstep touches only the nodes that ran.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import types
import typing
import warnings
from array import array
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol, get_args, get_origin, runtime_checkable

from wfkit.errors import GraphValidationError, WfkitWarning
from wfkit.state import Schema
from wfkit.types import END, START, Command, RetryPolicy, Writes

__all__ = ["Branch", "GraphWarning", "Join", "NodeOptions", "NodeSpec", "Subgraph", "Topology"]


class GraphWarning(WfkitWarning):
    """The graph compiles, as in LangGraph, but part of it looks unintended."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeOptions:
    """What ``add_node`` was given for one node, besides its name."""

    fn: Any
    retry: tuple[RetryPolicy, ...] = ()
    timeout: float | None = None
    metadata: Mapping[str, Any] | None = None
    defer: bool = False
    input_schema: Any = None
    cache: Any = None  # a CachePolicy
    destinations: tuple[str, ...] | None = None


@runtime_checkable
class Subgraph(Protocol):
    """A compiled graph used as a node of another (``Workflow`` is one): the
    engine runs it with the parent's config and applies its writes, in order,
    through the parent's reducers."""

    topology: Topology

    def run_as_node(self, arg: Any, config: dict[str, Any], task_id: str) -> Writes: ...

    async def arun_as_node(self, arg: Any, config: dict[str, Any], task_id: str) -> Writes: ...


def _is_async_callable(fn: Any) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(type(fn), "__call__", None)  # noqa: B004 - callable objects
    return call is not None and not inspect.isfunction(fn) and inspect.iscoroutinefunction(call)


_INJECTED = ("config", "runtime", "writer", "store")  # LangGraph's names (wfkit.engine.inject)


def _accepts_config(fn: Any) -> tuple[str, ...]:
    """Which of the injected parameters (``config``, ``runtime``, ``writer``,
    ``store``) ``fn`` declares, by name; empty when none."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return ()
    return tuple(
        name
        for name in _INJECTED
        if name in params
        and params[name].kind
        in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    )


def _literal_targets(annotation: Any) -> tuple[str, ...] | None:
    """Names in a ``Literal[...]`` annotation (possibly inside a union)."""
    if get_origin(annotation) is Literal:
        return tuple(str(a) for a in get_args(annotation))
    if get_origin(annotation) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        found: list[str] = []
        for arg in get_args(annotation):
            sub = _literal_targets(arg)
            if sub is None:
                return None
            found.extend(sub)
        return tuple(found)
    return None


def _return_annotation(fn: Any) -> Any:
    target = fn if inspect.isfunction(fn) or inspect.ismethod(fn) else getattr(fn, "__call__", fn)  # noqa: B004
    try:
        return typing.get_type_hints(target).get("return", inspect.Signature.empty)
    except Exception:  # unresolvable annotations: we simply know less
        return inspect.Signature.empty


def _command_targets(fn: Any) -> tuple[bool, tuple[str, ...] | None]:
    """(may return Command, its possible goto targets or None if unknown)."""
    ann = _return_annotation(fn)
    candidates = (
        get_args(ann)
        if get_origin(ann) in (typing.Union,) or type(ann).__name__ == "UnionType"
        else (ann,)
    )
    for cand in candidates:
        if cand is Command:
            return True, None
        if get_origin(cand) is Command:
            args = get_args(cand)
            return True, _literal_targets(args[0]) if args else None
    return False, ()


def _name_of(fn: Any) -> str:
    name = getattr(fn, "__name__", None) or getattr(fn, "name", None)
    if not isinstance(name, str):
        raise GraphValidationError(
            f"cannot name node {fn!r}: it has no __name__; use add_node('name', fn)"
        )
    return name


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


class Branch:
    """A conditional edge: ``router`` picks the next node(s) after ``source``."""

    __slots__ = ("is_async", "name", "path_map", "router", "source", "targets", "wants_config")

    def __init__(
        self,
        source: str,
        router: Callable[..., Any],
        path_map: Mapping[Hashable, str] | None,
        targets: tuple[str, ...] | None,
    ) -> None:
        self.source = source
        self.router = router
        self.path_map = path_map
        self.targets = targets  # possible targets, None when the router may go anywhere
        self.name = getattr(router, "__name__", "router")
        self.is_async = _is_async_callable(router)
        self.wants_config = _accepts_config(router)


class Join:
    """``add_edge([a, b], c)``: ``c`` runs once after all of ``a``, ``b`` have run."""

    __slots__ = ("index", "sources", "target")

    def __init__(self, index: int, sources: frozenset[int], target: int) -> None:
        self.index = index
        self.sources = sources
        self.target = target


class NodeSpec:
    """One compiled node. Attributes are read on the hot path: keep them flat."""

    __slots__ = (
        "branches",
        "cache",
        "calls",
        "chain",
        "command_targets",
        "defer",
        "fn",
        "index",
        "is_async",
        "joins",
        "local",
        "metadata",
        "name",
        "options",
        "plain",
        "reads",
        "retry",
        "subgraph",
        "succ",
        "timeout",
        "to_end",
        "wants_config",
    )

    def __init__(self, name: str, index: int, options: NodeOptions, schema: Schema) -> None:
        self.name = name
        self.index = index
        self.options = options
        self.fn = fn = options.fn
        self.retry = options.retry
        self.timeout = options.timeout
        self.metadata = dict(options.metadata or {})
        self.defer = options.defer
        self.cache = options.cache
        # what the node reads of the state; None: the graph's usual input
        self.reads: Callable[[dict[str, Any]], Any] | None = schema.reader(options.input_schema)
        self.subgraph: Subgraph | None = fn if isinstance(fn, Subgraph) else None
        # the compiled graphs the node's code refers to (it may call them: a
        # nested call), found the way LangGraph finds them; in a checkpointed
        # run such a node runs in a context of its own, so the graphs it calls
        # know its task
        self.calls: tuple[Subgraph, ...] = () if self.subgraph is not None else _graphs_in(fn)
        self.is_async: bool
        self.wants_config: tuple[str, ...]  # the injected parameters it declares
        may_command: bool
        targets: tuple[str, ...] | None
        if self.subgraph is not None:
            self.is_async = self.subgraph.topology.needs_async
            self.wants_config = ("config",)
            # an inner node's Command(graph=Command.PARENT) may go anywhere in this graph
            may_command = any(n.command_targets != () for n in self.subgraph.topology.nodes)
            targets = None
        else:
            self.is_async = _is_async_callable(fn)
            self.wants_config = _accepts_config(fn)
            may_command, targets = _command_targets(fn)
            if not may_command and _mentions_command(fn):
                may_command, targets = True, None  # an unannotated Command(goto=...)
        if options.destinations is not None:
            may_command, targets = True, options.destinations
        self.command_targets: tuple[str, ...] | None = targets if may_command else ()
        # filled by Topology
        self.succ: tuple[NodeSpec, ...] = ()
        self.branches: tuple[Branch, ...] = ()
        self.joins: tuple[Join, ...] = ()
        self.to_end = False
        self.plain = False
        self.chain = False
        # its work runs in the driving process even when an executor runs node
        # calls elsewhere: a functional entrypoint's body (its task calls travel)
        self.local = False

    def __repr__(self) -> str:
        return f"<node {self.name!r}>"


def _graphs_in(fn: Any) -> tuple[Subgraph, ...]:
    """The compiled graphs ``fn`` refers to: in its closure, its defaults, or
    the globals its code names (LangGraph looks at a function's nonlocals in
    the same way to find the subgraphs of a node)."""
    fn = inspect.unwrap(fn)
    while isinstance(fn, functools.partial):
        fn = fn.func
    if not inspect.isfunction(fn) and not inspect.ismethod(fn):
        call = getattr(type(fn), "__call__", None)  # noqa: B004 - callable objects
        if call is None or not inspect.isfunction(call):
            return ()
        fn = call
    candidates: list[Any] = [fn.__self__] if inspect.ismethod(fn) else []  # inner.invoke
    fn = getattr(fn, "__func__", fn)
    candidates.extend(c.cell_contents for c in fn.__closure__ or () if _filled(c))
    candidates.extend(fn.__defaults__ or ())
    candidates.extend((fn.__kwdefaults__ or {}).values())
    names: set[str] = set()
    stack = [fn.__code__]
    while stack:
        code = stack.pop()
        names.update(code.co_names)
        stack.extend(k for k in code.co_consts if isinstance(k, types.CodeType))
    scope = fn.__globals__
    candidates.extend(scope[name] for name in names if name in scope)
    found: list[Subgraph] = []
    for value in candidates:
        # the class says it runs as a node (a proxy answering every attribute does not count)
        if (
            callable(getattr(type(value), "run_as_node", None))
            and isinstance(value, Subgraph)
            and all(value is not f for f in found)
        ):
            found.append(value)
    return tuple(found)


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def _mentions_command(fn: Any) -> bool:
    """Whether ``fn``'s code names ``Command`` (so it may jump anywhere)."""
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is None:
        code = getattr(getattr(type(fn), "__call__", None), "__code__", None)  # noqa: B004
    stack = [code] if code is not None else []
    while stack:
        c = stack.pop()
        if "Command" in c.co_names or "Command" in c.co_freevars:
            return True
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    return False


class Topology:
    """A compiled graph's frozen structure."""

    def __init__(
        self,
        schema: Schema,
        nodes: dict[str, NodeOptions],
        edges: list[tuple[str, str]],
        joins: list[tuple[tuple[str, ...], str]],
        branches: list[Branch],
        *,
        interrupt_before: Sequence[str],
        interrupt_after: Sequence[str],
        name: str,
    ) -> None:
        self.schema = schema
        self.name = name
        self.context_schema: Any = None  # StateGraph(..., context_schema=...), set by compile()
        self.nodes: tuple[NodeSpec, ...] = tuple(
            NodeSpec(n, i, options, schema) for i, (n, options) in enumerate(nodes.items())
        )
        self.by_name: dict[str, NodeSpec] = {n.name: n for n in self.nodes}
        self.edges = list(edges)
        self.join_edges = list(joins)
        self.branch_list = list(branches)
        self._validate(interrupt_before, interrupt_after)
        joins = [(sources, dst) for sources, dst in joins if dst != END]  # they lead nowhere

        index = {n.name: n.index for n in self.nodes}
        succ_lists: list[list[int]] = [[] for _ in self.nodes]
        entry: list[int] = []
        for src, dst in edges:
            if dst == END:
                if src != START:
                    self.by_name[src].to_end = True
                continue
            (entry if src == START else succ_lists[index[src]]).append(index[dst])
        self.succ_offsets = array("l", [0])
        self.succ_targets = array("l")
        for targets in succ_lists:
            self.succ_targets.extend(targets)
            self.succ_offsets.append(len(self.succ_targets))
        for node in self.nodes:
            i = node.index
            node.succ = tuple(
                self.nodes[t]
                for t in self.succ_targets[self.succ_offsets[i] : self.succ_offsets[i + 1]]
            )
        self.entry: tuple[NodeSpec, ...] = tuple(self.nodes[i] for i in entry)

        by_source: dict[str, list[Branch]] = {}
        for br in branches:
            by_source.setdefault(br.source, []).append(br)
        self.entry_branches: tuple[Branch, ...] = tuple(by_source.get(START, ()))
        for node in self.nodes:
            node.branches = tuple(by_source.get(node.name, ()))

        self.joins: tuple[Join, ...] = tuple(
            Join(j, frozenset(index[s] for s in sources), index[target])
            for j, (sources, target) in enumerate(joins)
        )
        member: dict[int, list[Join]] = {}
        for join in self.joins:
            for s in join.sources:
                member.setdefault(s, []).append(join)
        for node in self.nodes:
            node.joins = tuple(member.get(node.index, ()))
            node.plain = (
                not node.retry
                and node.timeout is None
                and not node.wants_config
                and node.subgraph is None
                and node.cache is None
            )

        self.interrupt_before = frozenset(interrupt_before)
        self.interrupt_after = frozenset(interrupt_after)
        self.deferred = any(n.defer for n in self.nodes)
        for node in self.nodes:
            # after this node, the next step is its static successors (Machine.chain_step)
            node.chain = (
                not node.joins
                and not node.branches
                and not self.deferred
                and node.name not in self.interrupt_after
                and not any(s.name in self.interrupt_before for s in node.succ)
            )
        # a subgraph, or a node that may start runs of its own with the run's
        # config: runs then put the span links into the config (Workflow._recorder)
        self.passes_config = any(
            n.subgraph is not None or n.wants_config or n.calls for n in self.nodes
        )
        # a node is a subgraph or calls graphs: its tasks may show a graph's state
        self.runs_graphs = any(n.subgraph is not None or n.calls for n in self.nodes)
        # a node runs in a task context of its own (not plain), or calls graphs:
        # a graph it runs may keep checkpoints under the task's namespace
        # (wfkit.threads.lineage); a checkpointed run then gives the tasks of a
        # node that calls graphs a context of their own (Workflow._open)
        self.calls_graphs = any(n.calls for n in self.nodes)
        self.nests = self.calls_graphs or not all(n.plain for n in self.nodes)
        self.needs_async: bool = any(n.is_async for n in self.nodes) or any(
            b.is_async for b in branches
        )

    def replace_node(self, name: str, fn: Callable[..., Any]) -> Topology:
        """The same topology with node ``name`` running ``fn`` (hot swap)."""
        if name not in self.by_name:
            raise GraphValidationError(
                f"no node {name!r} to replace; known: {', '.join(self.by_name)}"
            )
        nodes = {
            n.name: (replace(n.options, fn=fn) if n.name == name else n.options) for n in self.nodes
        }
        swapped = Topology(
            self.schema,
            nodes,
            self.edges,
            self.join_edges,
            self.branch_list,
            interrupt_before=sorted(self.interrupt_before),
            interrupt_after=sorted(self.interrupt_after),
            name=self.name,
        )
        swapped.context_schema = self.context_schema
        return swapped

    # ---------------------------------------------------------------- validation
    def _check_name(self, name: str, role: str, *, allow: tuple[str, ...]) -> None:
        if name in allow or name in self.by_name:
            return
        if name in (START, END):
            what, where = ("START", "a target") if name == START else ("END", "a source")
            raise GraphValidationError(
                f"{role}: {what} cannot be {where}; START only begins edges and END only ends them"
            )
        raise GraphValidationError(
            f"{role} names unknown node {name!r}.{_suggest(name, self.by_name)} "
            f"Known nodes: {', '.join(self.by_name) or '(none)'}; add it with add_node({name!r}, fn)"
        )

    def _validate(self, interrupt_before: Sequence[str], interrupt_after: Sequence[str]) -> None:
        for src, dst in self.edges:
            self._check_name(src, f"edge {src!r} -> {dst!r}", allow=(START,))
            self._check_name(dst, f"edge {src!r} -> {dst!r}", allow=(END,))
        for sources, dst in self.join_edges:
            for s in sources:
                self._check_name(s, f"join edge {list(sources)!r} -> {dst!r}", allow=())
            self._check_name(dst, f"join edge {list(sources)!r} -> {dst!r}", allow=(END,))
        for br in self.branch_list:
            role = f"conditional edge from {br.source!r} (router {br.name!r})"
            self._check_name(br.source, role, allow=(START,))
            for target in br.targets or ():
                self._check_name(target, role, allow=(END,))
        for node in self.nodes:
            for target in node.command_targets or ():
                self._check_name(
                    target,
                    f"the Command targets (Command[Literal[...]] or destinations=) of node "
                    f"{node.name!r}",
                    allow=(END,),
                )
        for which, names in (
            ("interrupt_before", interrupt_before),
            ("interrupt_after", interrupt_after),
        ):
            for name in names:
                if name != "*":
                    self._check_name(name, f"compile({which}=...)", allow=())

        has_entry = any(src == START for src, _ in self.edges) or any(
            br.source == START for br in self.branch_list
        )
        if not has_entry:
            first = next(iter(self.by_name), "first_node")
            raise GraphValidationError(
                f"graph has no entry point: nothing leads from START. "
                f"Add add_edge(START, {first!r}) (or set_entry_point({first!r}))"
            )
        self._check_reachable()

    def _check_reachable(self) -> None:
        succ: dict[str, list[str]] = {}
        for src, dst in self.edges:
            succ.setdefault(src, []).append(dst)
        open_ended = False
        for br in self.branch_list:
            if br.targets is None:
                open_ended = True
            else:
                succ.setdefault(br.source, []).extend(br.targets)
        for node in self.nodes:
            if node.command_targets is None:
                open_ended = True
            else:
                succ.setdefault(node.name, []).extend(node.command_targets)
        if open_ended:
            # a router without path_map (or a Command without Literal targets)
            # may reach any node: nothing can be called unreachable.
            return
        seen: set[str] = set()
        stack = [START]
        while True:
            while stack:
                name = stack.pop()
                for nxt in succ.get(name, ()):
                    if nxt not in seen:
                        seen.add(nxt)
                        stack.append(nxt)
            grew = False
            for sources, dst in self.join_edges:
                if dst not in seen and all(s in seen for s in sources):
                    seen.add(dst)
                    stack.append(dst)
                    grew = True
            if not grew:
                break
        unreachable = [n for n in self.by_name if n not in seen]
        if unreachable:
            # LangGraph compiles such a graph; a node nothing leads to is most often a
            # forgotten edge, so say so without refusing the graph
            name = unreachable[0]
            warnings.warn(
                f"node {name!r} is unreachable: no edge, router path or Command leads to it "
                f"from START, so it never runs. Add an edge to it (add_edge('...', {name!r})), "
                f"list it in a router's path_map, declare where a node jumps with "
                f"-> Command[Literal[{name!r}]] or add_node(..., destinations=...), or remove it",
                GraphWarning,
                stacklevel=4,
            )
