"""What a tool is given that the model does not choose: the graph state
(``InjectedState``), the long-term store (``InjectedStore``) and the
:class:`ToolRuntime`, with LangGraph's names and rules.

A tool declares them in its signature::

    @tool
    def lookup(query: str, user: Annotated[str, InjectedState("user")],
               store: Annotated[Any, InjectedStore()]) -> str: ...

langchain_core leaves such arguments out of the schema the model sees (they
are ``InjectedToolArg``\\s). :func:`scan` finds them once per tool, when the
``ToolNode`` is made; :func:`inject` fills them in for each call, after
dropping any value the model sent for an injected argument, so a model
cannot forge one. ``InjectedToolCallId`` is langchain_core's own: the tool
call's id is filled in by the tool itself when it is invoked with the call.
"""

from __future__ import annotations

import contextlib
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from langchain_core.tools import BaseTool, InjectedToolArg
from langchain_core.tools.base import (
    _DirectlyInjectedToolArg,
    _is_injected_arg_type,
    get_all_basemodel_annotations,
)

__all__ = ["Injected", "InjectedState", "InjectedStore", "ToolRuntime", "inject", "scan"]

ContextT = TypeVar("ContextT")
StateT = TypeVar("StateT")


class InjectedState(InjectedToolArg):
    """``Annotated[T, InjectedState]``: the tool is given the graph state;
    ``InjectedState("key")``: only that key of it."""

    def __init__(self, field: str | None = None) -> None:
        self.field = field


class InjectedStore(InjectedToolArg):
    """``Annotated[T, InjectedStore()]``: the tool is given the graph's
    long-term store (``compile(store=...)``)."""


@dataclass
class ToolRuntime(_DirectlyInjectedToolArg, Generic[ContextT, StateT]):
    """A tool parameter annotated ``ToolRuntime`` (or named ``runtime``) is
    given this: the state, the run's context, the tool call's config, the
    ``"custom"`` stream writer, the tool call's id, the store and the
    ``ToolNode``'s tools."""

    state: StateT
    context: ContextT
    config: dict[str, Any]
    stream_writer: Callable[[Any], None]
    tool_call_id: str | None
    store: Any
    tools: list[BaseTool] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Injected:
    """The injected parameters of one tool: ``state`` maps a parameter to
    the state key it gets (``None``: the whole state); ``optional`` are the
    state parameters with a default (a missing key is then not an error);
    ``hidden`` are all parameters the model may not set."""

    state: dict[str, str | None]
    store: str | None
    runtime: str | None
    hidden: frozenset[str]
    optional: frozenset[str]

    def __bool__(self) -> bool:
        return bool(self.state or self.store or self.runtime or self.hidden)


def _marker(annotation: Any, kind: type) -> Any:
    """The ``kind`` marker in an annotation (an instance, or the class
    itself as ``True``), looking inside ``Annotated`` and unions; else None."""
    if isinstance(annotation, kind):
        return annotation
    if isinstance(annotation, type) and issubclass(annotation, kind):
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        found = [m for m in (_marker(a, kind) for a in typing.get_args(annotation)) if m]
        if len(found) > 1:
            raise ValueError(
                f"a tool argument is annotated {annotation!r}, with {kind.__name__} more than "
                "once; give it once"
            )
        return found[0] if found else None
    if origin is typing.Union or origin is types.UnionType:
        return next(
            (m for m in map(lambda a: _marker(a, kind), typing.get_args(annotation)) if m), None
        )
    if isinstance(origin, type) and issubclass(origin, kind):  # ToolRuntime[Ctx, State]
        return True
    return None


def scan(tool: BaseTool) -> Injected:
    """Find ``tool``'s injected parameters, from its input schema and its
    function's annotations."""
    schema = tool.get_input_schema()
    annotations: dict[str, Any] = {}
    fn = getattr(tool, "func", None) or getattr(tool, "coroutine", None)
    if fn is not None:
        with contextlib.suppress(Exception):  # unresolvable: the schema still has them
            annotations.update(typing.get_type_hints(fn, include_extras=True))
    annotations.update(get_all_basemodel_annotations(schema))
    fields = getattr(schema, "model_fields", {})
    state: dict[str, str | None] = {}
    optional: set[str] = set()
    hidden: set[str] = set()
    store = runtime = None
    for name, annotation in annotations.items():
        if name == "return":
            continue
        if _is_injected_arg_type(annotation):
            hidden.add(name)
        if name == "runtime" or _marker(annotation, ToolRuntime):
            runtime = name
        wanted = _marker(annotation, InjectedState)
        if wanted:
            key = wanted.field if isinstance(wanted, InjectedState) else None
            state[name] = key
            info = fields.get(name)
            if key and info is not None and not info.is_required():
                optional.add(name)
        if _marker(annotation, InjectedStore):
            store = name
    return Injected(state, store, runtime, frozenset(hidden), frozenset(optional))


class NoState:
    """The state of a ``ToolNode`` given a list of tool calls: none."""


NO_STATE = NoState()


def _state_values(injected: Injected, tool: str, state: Any, messages_key: str) -> dict[str, Any]:
    if isinstance(state, NoState):
        raise ValueError(
            f"tool {tool!r} takes the graph state (InjectedState), but the ToolNode was given "
            "a bare list of tool calls, which carries none; give the ToolNode the state (or "
            "Send it {'__type': 'tool_call_with_context', 'tool_call': call, 'state': state}, "
            "as create_react_agent does)"
        )
    if isinstance(state, list):  # a list of messages is the state {messages_key: [...]}
        keys = list(injected.state.values())
        if keys[0] is None or keys == [messages_key]:
            state = {messages_key: state}
        else:
            wanted = ", ".join(k for k in keys if k)
            raise ValueError(
                f"tool {tool!r} takes state keys ({wanted}), but the ToolNode was given a list "
                f"of messages; give it the graph state (a dict with {wanted})"
            )
    out: dict[str, Any] = {}
    for param, key in injected.state.items():
        if key is None:
            out[param] = state
        elif isinstance(state, dict):
            if key in state:
                out[param] = state[key]
            elif param not in injected.optional:
                raise KeyError(key)
        elif hasattr(state, key):
            out[param] = getattr(state, key)
        elif param not in injected.optional:
            raise AttributeError(key)
    return out


def inject(
    call: dict[str, Any],
    injected: Injected,
    runtime: ToolRuntime[Any, Any],
    messages_key: str,
) -> dict[str, Any]:
    """``call`` (a ``ToolCall``) with its injected arguments filled in and
    whatever the model sent for them dropped."""
    if not injected:
        return call
    values: dict[str, Any] = {}
    if injected.state:
        values.update(_state_values(injected, call["name"], runtime.state, messages_key))
    if injected.store:
        if runtime.store is None:
            raise ValueError(
                f"tool {call['name']!r} takes the store (InjectedStore), but the graph has none; "
                "compile it with store=... (create_react_agent(..., store=...))"
            )
        values[injected.store] = runtime.store
    if injected.runtime:
        values[injected.runtime] = runtime
    args = {k: v for k, v in call["args"].items() if k not in injected.hidden}
    return {**call, "args": {**args, **values}}
