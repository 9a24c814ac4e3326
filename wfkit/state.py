"""State schemas: which keys a graph's state has, how updates merge, what
an input must contain.

A schema is a ``TypedDict``, a dataclass or a pydantic model. A key declared
``Annotated[T, reducer]`` merges each update with ``reducer(old, new)``
(``operator.add`` appends lists); every other key is overwritten.

Required input keys: dataclass and pydantic fields without a default, and
``TypedDict`` keys marked ``Required[...]``. Plain ``TypedDict`` keys are
optional, as in LangGraph, so ported graphs accept partial input.

State travels as a plain ``dict`` inside the engine. Nodes of a dataclass or
pydantic graph receive an instance of the schema built from that dict
(pydantic: ``model_construct``, no re-validation after the input).
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any, Final, NotRequired, Required, get_args, get_origin, get_type_hints

from wfkit.errors import GraphValidationError, InvalidInputError
from wfkit.managed import ManagedValue, managed_value

__all__ = ["Schema"]

Reducer = Callable[[Any, Any], Any]

_EMPTY_FACTORIES: Final = (list, dict, set, frozenset, tuple, int, float, str, bytes)


def _is_reducer(obj: Any) -> bool:
    if not callable(obj):
        return False
    try:
        params = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: assume binary
        return True
    # LangGraph's rule: two positional parameters, defaults or not (add_messages has them)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) == 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


def _unwrap(hint: Any) -> tuple[Any, Reducer | None, bool | None]:
    """Split a key's annotation into (base type, reducer, explicitly required)."""
    required: bool | None = None
    reducer: Reducer | None = None
    while True:
        origin = get_origin(hint)
        if origin is Required or origin is NotRequired:
            required = origin is Required
            hint = get_args(hint)[0]
        elif origin is typing.Annotated:
            base, *meta = get_args(hint)
            for item in reversed(meta):
                if _is_reducer(item):
                    reducer = item
                    break
            hint = base
        else:
            return hint, reducer, required


def _empty_value(base: Any) -> tuple[bool, Any]:
    """The value a reducer key starts from: ``list()`` for lists and so on."""
    origin = get_origin(base) or base
    if origin in _EMPTY_FACTORIES:
        return True, origin()
    return False, None


class Schema:
    """What the engine knows about a state schema, computed once per graph."""

    __slots__ = (
        "cls",
        "defaults",
        "keys",
        "kind",
        "managed",
        "node_input",
        "order",
        "reducers",
        "required",
    )

    def __init__(self, cls: Any) -> None:
        self.cls = cls
        if not isinstance(cls, type):
            raise GraphValidationError(
                f"StateGraph() needs a class as its state schema (a TypedDict, dataclass or "
                f"pydantic model), got {cls!r}"
            )
        try:
            hints = get_type_hints(cls, include_extras=True)
        except Exception as exc:  # an annotation that cannot be resolved
            raise GraphValidationError(
                f"cannot read the annotations of state schema {cls.__name__}: {exc}; "
                f"make every annotation importable at module level"
            ) from exc

        self.reducers: dict[str, Reducer] = {}
        self.defaults: dict[str, Callable[[], Any]] = {}
        self.required: frozenset[str]
        required: set[str] = set()
        self.node_input: Callable[[dict[str, Any]], Any] | None = None

        if typing.is_typeddict(cls):
            self.kind = "typeddict"
            names = list(hints)
        elif dataclasses.is_dataclass(cls):
            self.kind = "dataclass"
            names = []
            for f in dataclasses.fields(cls):
                names.append(f.name)
                if f.default is not dataclasses.MISSING:
                    self.defaults[f.name] = _constant(f.default)
                elif f.default_factory is not dataclasses.MISSING:
                    self.defaults[f.name] = f.default_factory
                else:
                    required.add(f.name)
            self.node_input = lambda values: cls(**values)
        elif hasattr(cls, "model_fields") and hasattr(cls, "model_construct"):
            self.kind = "pydantic"
            names = []
            for name, info in cls.model_fields.items():
                names.append(name)
                if info.is_required():
                    required.add(name)
                elif info.default_factory is not None:
                    self.defaults[name] = info.default_factory
                else:
                    self.defaults[name] = _constant(info.default)
            self.node_input = lambda values: cls.model_construct(**values)
        else:
            raise GraphValidationError(
                f"state schema {cls.__name__} is not a TypedDict, dataclass or pydantic model; "
                f"declare one, e.g. class State(TypedDict): ..."
            )

        # managed values (wfkit.managed): computed for each node, never state
        self.managed: dict[str, type[ManagedValue]] = {}
        for name in names:
            hint = hints.get(name, Any)
            if get_origin(hint) is typing.Annotated:
                kind = managed_value(get_args(hint)[1:])
                if kind is not None:
                    self.managed[name] = kind
        if self.managed:
            names = [n for n in names if n not in self.managed]
            required -= self.managed.keys()
            for name in self.managed:
                self.defaults.pop(name, None)
        self.keys: frozenset[str] = frozenset(names)
        self.order: tuple[str, ...] = tuple(names)  # declaration order, for output
        for name in names:
            hint = hints.get(name, Any)
            base, reducer, explicit = _unwrap(hint)
            if reducer is None and self.kind == "pydantic":
                for item in reversed(getattr(cls.model_fields[name], "metadata", [])):
                    if _is_reducer(item):
                        reducer = item
                        break
            if reducer is not None:
                self.reducers[name] = reducer
                if name not in self.defaults:
                    ok, empty = _empty_value(base)
                    if ok:
                        self.defaults[name] = type(empty)  # list, dict, int, ...
            if explicit and self.kind == "typeddict":
                required.add(name)
        self.required = frozenset(required)

    @property
    def name(self) -> str:
        return str(getattr(self.cls, "__name__", repr(self.cls)))

    def initial_values(self) -> dict[str, Any]:
        """A fresh state: defaults (factories called) and empty reducer values."""
        return {key: make() for key, make in self.defaults.items()}

    def input_updates(self, value: Any) -> dict[str, Any]:
        """Check an ``invoke()`` input and return it as a dict of updates."""
        if type(value) is dict and self.kind == "typeddict":
            keys = self.keys
            for k in value:
                if k not in keys:
                    break
            else:
                if not self.required or self.required <= value.keys():
                    return value  # fast path: valid as given (never mutated by the engine)
        if value is None:
            updates: dict[str, Any] = {}
        elif isinstance(value, Mapping):
            updates = dict(value)
        elif self.kind == "dataclass" and isinstance(value, self.cls):
            updates = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        elif self.kind == "pydantic" and isinstance(value, self.cls):
            updates = {k: getattr(value, k) for k in value.model_fields_set}
        else:
            raise InvalidInputError(
                f"the input must be a dict of state keys (schema {self.name}), "
                f"got {type(value).__name__}; call invoke({{'key': value, ...}})"
            )
        if self.managed:  # a value given for a managed key is ignored, as in LangGraph
            updates = {k: v for k, v in updates.items() if k not in self.managed}
        unknown = [k for k in updates if k not in self.keys]
        if unknown:
            raise InvalidInputError(
                f"the input has key(s) {', '.join(map(repr, sorted(unknown)))} that state schema "
                f"{self.name} does not declare; known keys: {', '.join(sorted(self.keys))}. "
                f"Add them to {self.name} or leave them out of the input"
            )
        missing = sorted(self.required - updates.keys())
        if missing:
            raise InvalidInputError(
                f"the input is missing required key(s) {', '.join(map(repr, missing))} of state "
                f"schema {self.name}; pass them, e.g. invoke({{{missing[0]!r}: ...}})"
            )
        if self.kind == "pydantic" and not isinstance(value, self.cls):  # validate dict input
            try:
                model = self.cls.model_validate(updates)
            except Exception as exc:
                raise InvalidInputError(
                    f"the input does not validate against {self.name}: {exc}"
                ) from exc
            updates = {k: getattr(model, k) for k in updates}
        return updates

    def describe(self) -> str:
        parts = []
        for key in sorted(self.keys):
            reducer = self.reducers.get(key)
            suffix = f" (reducer {getattr(reducer, '__name__', repr(reducer))})" if reducer else ""
            parts.append(f"{key}{suffix}")
        return f"{self.name}: " + ", ".join(parts)


def _constant(value: Any) -> Callable[[], Any]:
    """A factory for a default given as a value: immutable values are shared,
    others copied per run (as pydantic copies mutable defaults)."""
    if isinstance(value, str | int | float | bool | bytes | tuple | frozenset | type(None)):
        return lambda: value
    return lambda: copy.deepcopy(value)
