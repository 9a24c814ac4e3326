"""The graph builder: ``StateGraph`` collects nodes, edges and branches
with LangGraph's verbs; ``compile()`` freezes them into a
:class:`~wfkit.graph.topology.Topology` (validated there) and wraps it in a
runnable :class:`~wfkit.workflow.Workflow`.
"""

from __future__ import annotations

import inspect
import itertools
import typing
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from wfkit.cache.base import BaseCache
from wfkit.errors import GraphValidationError
from wfkit.graph.topology import (
    Branch,
    NodeOptions,
    Subgraph,
    Topology,
    _literal_targets,
    _name_of,
    _return_annotation,
)
from wfkit.state import Schema, is_schema
from wfkit.types import END, START, CachePolicy, RetryPolicy
from wfkit.workflow import Workflow

__all__ = ["StateGraph"]


class StateGraph:
    """Build a graph of nodes over a shared state, LangGraph-style.

    >>> from typing import TypedDict
    >>> class State(TypedDict):
    ...     n: int
    >>> g = StateGraph(State)
    >>> g.add_node("inc", lambda s: {"n": s["n"] + 1})  # doctest: +ELLIPSIS
    <wfkit.graph.builder.StateGraph object at ...>
    >>> g.add_edge(START, "inc").add_edge("inc", END)  # doctest: +ELLIPSIS
    <wfkit.graph.builder.StateGraph object at ...>
    >>> g.compile().invoke({"n": 1})
    {'n': 2}
    """

    def __init__(
        self,
        state_schema: type[Any],
        context_schema: type[Any] | None = None,
        *,
        input_schema: type[Any] | None = None,
        output_schema: type[Any] | None = None,
        name: str | None = None,
        **deprecated: type[Any] | None,
    ) -> None:
        input_schema = _renamed(deprecated, "input", "input_schema", input_schema)
        output_schema = _renamed(deprecated, "output", "output_schema", output_schema)
        context_schema = _renamed(deprecated, "config_schema", "context_schema", context_schema)
        if deprecated:
            raise TypeError(
                f"StateGraph() got unexpected keyword argument(s) {', '.join(sorted(deprecated))}"
            )
        self.state_schema = state_schema
        self.context_schema = context_schema  # what invoke(..., context=...) is (Runtime.context)
        self.input_schema = input_schema or state_schema
        self.output_schema = output_schema or state_schema
        self.schema = Schema(state_schema, input_schema=input_schema, output_schema=output_schema)
        self.name = name or self.schema.name
        self.nodes: dict[str, NodeOptions] = {}
        self.edges: list[tuple[str, str]] = []
        self.joins: list[tuple[tuple[str, ...], str]] = []
        self.branches: list[Branch] = []

    # ---------------------------------------------------------------- nodes
    def add_node(
        self,
        node: str | Callable[..., Any],
        action: Callable[..., Any] | None = None,
        *,
        retry: RetryPolicy | Sequence[RetryPolicy] | None = None,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
        cache_policy: CachePolicy | None = None,
        timeout: float | None = None,
        metadata: Mapping[str, Any] | None = None,
        defer: bool = False,
        input_schema: type[Any] | None = None,
        destinations: Mapping[str, str] | Sequence[str] | None = None,
        **deprecated: Any,
    ) -> StateGraph:
        """Add a node: ``add_node("name", fn)`` or ``add_node(fn)``.

        ``fn`` takes the state (and optionally ``config``) and returns a dict
        of updates, ``None``, a ``Command`` or a list of them; it may be
        ``async``. A compiled workflow is also a node (a subgraph).

        - ``retry_policy`` (alias ``retry``): a ``RetryPolicy``, or a list of
          them of which the first whose ``retry_on`` matches the error applies;
        - ``cache_policy``: reuse the node's result for the same input, with a
          cache given to ``compile(cache=...)``;
        - ``timeout``: seconds each attempt may take;
        - ``defer``: run only when nothing else is left to run;
        - ``input_schema``: what the node reads (default: the annotation of
          its first parameter, else the state schema); keys it declares that
          the state schema does not are private channels;
        - ``destinations``: where a node that returns ``Command(goto=...)``
          may go (the names, or a dict of name to label), for validation
          and drawing.
        """
        input_schema = _renamed(deprecated, "input", "input_schema", input_schema)
        if deprecated:
            raise TypeError(
                f"add_node() got unexpected keyword argument(s) {', '.join(sorted(deprecated))}"
            )
        if isinstance(node, str):
            name = node
            if action is None:
                raise GraphValidationError(
                    f"add_node({name!r}) needs a function: add_node({name!r}, fn)"
                )
            fn = action
        else:
            if action is not None:
                raise GraphValidationError(
                    "add_node(fn, other) is ambiguous; use add_node('name', fn)"
                )
            fn = node
            name = _name_of(fn)
        target: Any = fn
        if not callable(target) and not isinstance(target, Subgraph):
            raise GraphValidationError(f"node {name!r}: {fn!r} is not callable; pass a function")
        if not name or name in (START, END):
            raise GraphValidationError(
                f"{name!r} is not a valid node name; START and END are reserved"
            )
        if name in self.nodes:
            raise GraphValidationError(
                f"node {name!r} is already in the graph; choose another name or build a new StateGraph"
            )
        if retry is not None and retry_policy is not None:
            raise GraphValidationError(f"node {name!r}: pass retry or retry_policy, not both")
        policies = _policies(name, retry if retry is not None else retry_policy)
        if cache_policy is not None and not isinstance(cache_policy, CachePolicy):
            raise GraphValidationError(
                f"node {name!r}: cache_policy must be a CachePolicy, got {cache_policy!r}"
            )
        if timeout is not None and not (isinstance(timeout, int | float) and timeout > 0):
            raise GraphValidationError(
                f"node {name!r}: timeout must be a positive number of seconds"
            )
        reads = input_schema if input_schema is not None else _input_annotation(fn)
        if input_schema is not None and not is_schema(input_schema):
            raise GraphValidationError(
                f"node {name!r}: input_schema must be a TypedDict, dataclass or pydantic model, "
                f"got {input_schema!r}"
            )
        self.nodes[name] = NodeOptions(
            fn=fn,
            retry=policies,
            timeout=float(timeout) if timeout is not None else None,
            metadata=metadata,
            defer=bool(defer),
            input_schema=None if reads is self.state_schema else reads,
            cache=cache_policy,
            destinations=None if destinations is None else tuple(destinations),
        )
        return self

    def add_sequence(
        self, nodes: Sequence[Callable[..., Any] | tuple[str, Callable[..., Any]]]
    ) -> StateGraph:
        """Add nodes and chain them with edges, in order: a function is named
        by its ``__name__``, a ``(name, fn)`` pair by its name."""
        if not nodes:
            raise GraphValidationError("add_sequence() needs at least one node")
        names: list[str] = []
        for item in nodes:
            if isinstance(item, tuple):
                self.add_node(item[0], item[1])
                names.append(item[0])
            else:
                self.add_node(item)
                names.append(_name_of(item))
        for a, b in itertools.pairwise(names):
            self.add_edge(a, b)
        return self

    # ---------------------------------------------------------------- edges
    def add_edge(self, start: str | Sequence[str], end: str) -> StateGraph:
        """``add_edge(a, b)``: ``b`` runs in the superstep after ``a``.

        ``add_edge([a, b], c)``: ``c`` runs once, after both ``a`` and ``b``
        have run (in any supersteps).
        """
        if not isinstance(end, str):
            raise GraphValidationError(f"add_edge(..., {end!r}): the target must be one node name")
        if isinstance(start, str):
            pair = (start, end)
            if pair not in self.edges:
                self.edges.append(pair)
            return self
        sources = tuple(start)
        if not sources or not all(isinstance(s, str) for s in sources):
            raise GraphValidationError(f"add_edge({start!r}, {end!r}): sources must be node names")
        if START in sources:
            raise GraphValidationError(
                f"add_edge({list(sources)!r}, {end!r}): a join cannot start at START"
            )
        if len(sources) == 1:
            return self.add_edge(sources[0], end)
        self.joins.append((sources, end))
        return self

    def add_conditional_edges(
        self,
        source: str,
        path: Callable[..., Any],
        path_map: Mapping[Hashable, str] | Sequence[str] | None = None,
    ) -> StateGraph:
        """After ``source`` runs, call ``path(state)`` to choose what runs next.

        The router returns a node name, ``END``, a list of names, or a list
        of ``Send``. With ``path_map`` a dict, its return value is looked up
        in it; with a list, it names the allowed targets. Without either,
        a ``Literal[...]`` return annotation lists the targets.
        """
        if not callable(path):
            raise GraphValidationError(
                f"add_conditional_edges({source!r}, ...): the router {path!r} is not callable"
            )
        mapping: Mapping[Hashable, str] | None
        if path_map is None:
            mapping = None
            targets = _literal_targets(_return_annotation(path))
        elif isinstance(path_map, Mapping):
            mapping = dict(path_map)
            targets = tuple(mapping.values())
        elif isinstance(path_map, Sequence) and not isinstance(path_map, str):
            mapping = None
            targets = tuple(path_map)
        else:
            raise GraphValidationError(
                f"add_conditional_edges({source!r}, ...): path_map must be a dict or a list of "
                f"node names, got {type(path_map).__name__}"
            )
        self.branches.append(Branch(source, path, mapping, targets))
        return self

    def set_entry_point(self, node: str) -> StateGraph:
        return self.add_edge(START, node)

    def set_conditional_entry_point(
        self,
        path: Callable[..., Any],
        path_map: Mapping[Hashable, str] | Sequence[str] | None = None,
    ) -> StateGraph:
        return self.add_conditional_edges(START, path, path_map)

    def set_finish_point(self, node: str) -> StateGraph:
        return self.add_edge(node, END)

    # ---------------------------------------------------------------- compile
    def compile(
        self,
        checkpointer: Any = None,
        *,
        cache: BaseCache | None = None,
        interrupt_before: Sequence[str] | str = (),
        interrupt_after: Sequence[str] | str = (),
        name: str | None = None,
        trace: str = "timing",
        executor: Any = None,
        store: Any = None,
    ) -> Workflow:
        """Validate the graph and freeze it into a runnable :class:`Workflow`.

        ``store`` (e.g. ``wfkit.store.InMemoryStore()``, or a DuckDB file's
        path) is the long-term store its nodes reach through a ``store``
        parameter, ``runtime.store`` or ``get_store()``; subgraphs use their
        parent's. ``executor`` (e.g. ``wfkit.distributed.DaskExecutor(client)``) runs the
        node calls elsewhere; the run verbs' ``executor=`` overrides it per call.
        """

        def names(value: Sequence[str] | str) -> tuple[str, ...]:
            if value == "*":
                return tuple(self.nodes)
            return (value,) if isinstance(value, str) else tuple(value)

        private = [o.input_schema for o in self.nodes.values() if o.input_schema is not None]
        schema = (
            Schema(
                self.state_schema,
                input_schema=self.input_schema,
                output_schema=self.output_schema,
                private=private,
            )
            if private
            else self.schema
        )
        topology = Topology(
            schema,
            dict(self.nodes),
            list(self.edges),
            list(self.joins),
            list(self.branches),
            interrupt_before=names(interrupt_before),
            interrupt_after=names(interrupt_after),
            name=name or self.name,
        )
        if cache is not None and not callable(getattr(cache, "get", None)):
            raise GraphValidationError(
                f"compile(cache=...) takes a cache such as wfkit.cache.memory.InMemoryCache(), "
                f"got {cache!r}"
            )
        topology.context_schema = self.context_schema
        return Workflow(
            topology,
            checkpointer=checkpointer,
            trace=trace,
            cache=cache,
            executor=executor,
            store=store,
        )


def _policies(name: str, given: Any) -> tuple[RetryPolicy, ...]:
    """``retry_policy=`` as a tuple: one policy, or a list of them."""
    if given is None:
        return ()
    policies = (given,) if isinstance(given, RetryPolicy) else given
    if not isinstance(policies, Sequence) or not all(isinstance(p, RetryPolicy) for p in policies):
        raise GraphValidationError(
            f"node {name!r}: retry_policy must be a RetryPolicy or a list of them, got {given!r}"
        )
    return tuple(policies)


def _input_annotation(fn: Any) -> Any:
    """The schema class a node's first parameter is annotated with, if any
    (LangGraph reads a node's input schema from it)."""
    if isinstance(fn, Subgraph):
        return None
    target = fn if inspect.isfunction(fn) or inspect.ismethod(fn) else getattr(fn, "__call__", None)  # noqa: B004
    if target is None:
        return None
    try:
        first = next(iter(inspect.signature(target).parameters))
        hint = typing.get_type_hints(target).get(first)
    except Exception:  # no parameters, or annotations that cannot be resolved
        return None
    return hint if is_schema(hint) else None


def _renamed(given: dict[str, Any], old: str, new: str, value: Any) -> Any:
    """LangGraph's older keyword ``old`` for ``new``: accepted, with the
    DeprecationWarning LangGraph gives."""
    if old not in given:
        return value
    warnings.warn(
        f"`{old}` is deprecated (as in LangGraph); use `{new}` instead",
        DeprecationWarning,
        stacklevel=3,
    )
    older = given.pop(old)
    return value if value is not None else older
