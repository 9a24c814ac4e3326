"""State schemas: which keys a graph's state has, how updates merge, what
an input must contain, what a node reads and what a run returns.

A schema is a ``TypedDict`` (from ``typing`` or ``typing_extensions``), a
dataclass or a pydantic model. A key declared ``Annotated[T, reducer]``
merges each update with ``reducer(old, new)`` (``operator.add`` appends
lists); every other key is overwritten.

A graph's state is the union of the keys of several schemas, as in
LangGraph: the state schema, the graph's ``input_schema`` and
``output_schema``, and the input schema of each node (its first
parameter's annotation, or ``add_node(..., input_schema=...)``). Keys that
only a node's input schema declares are private channels: nodes write and
read them, ``invoke()`` does not return them. The input is filtered to the
input schema's keys, the output to the output schema's.

Required input keys: dataclass and pydantic fields without a default, and
``TypedDict`` keys marked ``Required[...]``. Plain ``TypedDict`` keys are
optional, as in LangGraph, so ported graphs accept partial input. A key
that starts with a value is a reducer key whose type has an empty value
(``list[str]`` starts as ``[]``) or a default; other defaults of a dataclass
or pydantic schema are not state values until written (LangGraph's rule),
but the node's instance has them, built by the class.

State travels as a plain ``dict`` inside the engine. Nodes of a dataclass or
pydantic graph receive an instance of the schema built from that dict, one
per task (pydantic: ``model_construct``, no re-validation after the input,
with its lists, dicts and sets copied, as pydantic's validation copies them
in LangGraph: a node that changes its model in place changes only its own
copy).
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import sys
import types
import typing
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, NotRequired, Required, get_args, get_origin, get_type_hints

from wfkit.errors import GraphValidationError, InvalidInputError, WfkitWarning
from wfkit.managed import ManagedValue, managed_value
from wfkit.types import Command, Writes

__all__ = [
    "Fields",
    "Schema",
    "is_schema",
    "is_typeddict",
    "stream_update",
    "update_pairs",
    "update_writes",
]

Reducer = Callable[[Any, Any], Any]

_EMPTY_FACTORIES: Final = (list, dict, set, frozenset, tuple, int, float, str, bytes)


def is_typeddict(cls: Any) -> bool:
    """A ``TypedDict`` of ``typing`` or of ``typing_extensions`` (which
    LangGraph's docs import); the latter is looked up only if loaded."""
    if typing.is_typeddict(cls):
        return True
    extensions = sys.modules.get("typing_extensions")
    return extensions is not None and bool(extensions.is_typeddict(cls))


def _is_pydantic(cls: Any) -> bool:
    return hasattr(cls, "model_fields") and hasattr(cls, "model_construct")


def is_schema(cls: Any) -> bool:
    """Whether ``cls`` is a class wfkit can read keys from."""
    return isinstance(cls, type) and (
        is_typeddict(cls) or dataclasses.is_dataclass(cls) or _is_pydantic(cls)
    )


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


class Fields:
    """The keys one schema class declares: order, reducers, starting values
    of reducer keys, required input keys, and how to build an instance."""

    __slots__ = (
        "cls",
        "defaults",
        "kind",
        "make",
        "managed",
        "order",
        "reducers",
        "required",
        "role",
    )

    def __init__(self, cls: Any, role: str = "state schema") -> None:
        self.cls = cls
        self.role = role
        if not isinstance(cls, type):
            raise GraphValidationError(
                f"StateGraph() needs a class as its {role} (a TypedDict, dataclass or "
                f"pydantic model), got {cls!r}"
            )
        try:
            hints = get_type_hints(cls, include_extras=True)
        except Exception as exc:  # an annotation that cannot be resolved
            raise GraphValidationError(
                f"cannot read the annotations of {role} {cls.__name__}: {exc}; "
                f"make every annotation importable at module level"
            ) from exc
        self.reducers: dict[str, Reducer] = {}
        self.defaults: dict[str, Callable[[], Any]] = {}
        field_defaults: dict[str, Callable[[], Any]] = {}
        required: set[str] = set()
        self.make: Callable[[dict[str, Any]], Any] | None = None
        if is_typeddict(cls):
            self.kind = "typeddict"
            names = list(hints)
        elif dataclasses.is_dataclass(cls):
            self.kind = "dataclass"
            names = []
            for f in dataclasses.fields(cls):
                names.append(f.name)
                if f.default is not dataclasses.MISSING:
                    field_defaults[f.name] = _constant(f.default)
                elif f.default_factory is not dataclasses.MISSING:
                    field_defaults[f.name] = f.default_factory
                else:
                    required.add(f.name)
            self.make = _dataclass_maker(cls)
        elif _is_pydantic(cls):
            self.kind = "pydantic"
            names = []
            model_fields: dict[str, Any] = cls.model_fields  # type: ignore[attr-defined]
            for name, info in model_fields.items():
                names.append(name)
                if info.is_required():
                    required.add(name)
                elif info.default_factory is not None:
                    field_defaults[name] = info.default_factory
                else:
                    field_defaults[name] = _constant(info.default)
            self.make = _pydantic_input(cls, hints)
        else:
            raise GraphValidationError(
                f"{role} {cls.__name__} is not a TypedDict, dataclass or pydantic model; "
                f"declare one, e.g. class State(TypedDict): ..."
            )

        # managed values (wfkit.managed): computed for each node, never state
        self.managed: dict[str, type[ManagedValue]] = {}
        for name in names:
            hint = hints.get(name, Any)
            while get_origin(hint) in (Required, NotRequired):  # NotRequired[RemainingSteps]
                hint = get_args(hint)[0]
            if get_origin(hint) is typing.Annotated:
                kind = managed_value(get_args(hint)[1:])
                if kind is not None:
                    self.managed[name] = kind
        if self.managed:
            names = [n for n in names if n not in self.managed]
            required -= self.managed.keys()
        self.order: tuple[str, ...] = tuple(names)  # declaration order
        for name in names:
            base, reducer, explicit = _unwrap(hints.get(name, Any))
            if reducer is None and self.kind == "pydantic":
                for item in reversed(getattr(cls.model_fields[name], "metadata", [])):  # type: ignore[attr-defined]
                    if _is_reducer(item):
                        reducer = item
                        break
            if reducer is not None:
                self.reducers[name] = reducer
                if name in field_defaults:
                    self.defaults[name] = field_defaults[name]
                else:
                    ok, empty = _empty_value(base)
                    if ok:
                        self.defaults[name] = type(empty)  # list, dict, int, ...
            if explicit and self.kind == "typeddict":
                required.add(name)
        self.required: frozenset[str] = frozenset(required)

    @property
    def name(self) -> str:
        return str(getattr(self.cls, "__name__", repr(self.cls)))

    def reader(self) -> Callable[[dict[str, Any]], Any]:
        """What a node whose input schema this is receives, from the state:
        its own keys only, as a dict or an instance of the class."""
        keys = self.order
        make = self.make

        def read(state: dict[str, Any]) -> Any:
            values = {k: state[k] for k in keys if k in state}
            return values if make is None else make(values)

        return read


def _dataclass_maker(cls: type[Any]) -> Callable[[dict[str, Any]], Any]:
    return lambda values: cls(**values)


class Schema:
    """What the engine knows about a graph's state, computed once per graph:
    the keys (channels) of every schema the graph uses, their reducers and
    starting values, the input and output keys (see the module's text)."""

    __slots__ = (
        "cls",
        "defaults",
        "fields",
        "input",
        "keys",
        "kind",
        "managed",
        "node_input",
        "order",
        "output",
        "output_order",
        "reducers",
        "required",
    )

    def __init__(
        self,
        cls: Any,
        *,
        input_schema: Any = None,
        output_schema: Any = None,
        private: Iterable[Any] = (),
    ) -> None:
        self.fields = state = Fields(cls)
        self.cls = cls
        self.kind = state.kind
        self.input = state if input_schema in (None, cls) else Fields(input_schema, "input_schema")
        self.output = (
            state if output_schema in (None, cls) else Fields(output_schema, "output_schema")
        )
        self.reducers: dict[str, Reducer] = {}
        self.defaults: dict[str, Callable[[], Any]] = {}
        self.managed: dict[str, type[ManagedValue]] = {}
        order: dict[str, None] = {}
        for fields in (
            state,
            self.input,
            self.output,
            *(Fields(p, "node input schema") for p in private),
        ):
            for key in fields.order:
                order.setdefault(key, None)
            self.managed.update(fields.managed)
            for key, reducer in fields.reducers.items():
                known = self.reducers.get(key)
                if known is not None and known is not reducer:
                    raise GraphValidationError(
                        f"state key {key!r} has two different reducers ({_named(known)} and "
                        f"{_named(reducer)} in {fields.name}); declare it with one reducer"
                    )
                self.reducers[key] = reducer
            for key, make in fields.defaults.items():
                self.defaults.setdefault(key, make)
        self.keys: frozenset[str] = frozenset(order)
        self.order: tuple[str, ...] = tuple(order)  # every key: get_state's values
        self.output_order: tuple[str, ...] = self.output.order  # invoke()'s result
        self.required = self.input.required
        # a node of the state schema: the whole state, as the schema's class when it is not
        # a dict; only the state schema's own keys when other schemas add private ones
        self.node_input: Callable[[dict[str, Any]], Any] | None
        if len(self.keys) != len(state.order):
            self.node_input = state.reader()
        else:
            self.node_input = state.make  # None for a TypedDict: the state dict itself

    @property
    def name(self) -> str:
        return str(getattr(self.cls, "__name__", repr(self.cls)))

    def reader(self, cls: Any) -> Callable[[dict[str, Any]], Any] | None:
        """What a node whose input schema is ``cls`` receives (None: the
        graph's usual node input, :attr:`node_input`)."""
        if cls is None or cls is self.cls:
            return None
        return Fields(cls, "node input schema").reader()

    def initial_values(self) -> dict[str, Any]:
        """A fresh state: reducer keys at their starting values."""
        return {key: make() for key, make in self.defaults.items()}

    def input_updates(self, value: Any) -> dict[str, Any]:
        """Check an ``invoke()`` input and return it as a dict of updates:
        the input schema's keys (others are left out, as LangGraph does;
        a key that no schema of the graph declares also warns)."""
        fields = self.input
        keys = fields.order
        if type(value) is dict and fields.kind == "typeddict":
            for k in value:
                if k not in keys:
                    break
            else:
                if not fields.required or fields.required <= value.keys():
                    return value  # fast path: valid as given (never mutated by the engine)
        if value is None:
            updates: dict[str, Any] = {}
        elif isinstance(value, Mapping):
            updates = dict(value)
        elif fields.make is not None and isinstance(value, fields.cls):
            updates = dict(update_pairs(value, keys))
        else:
            raise InvalidInputError(
                f"the input must be a dict of state keys (schema {fields.name}), "
                f"got {type(value).__name__}; call invoke({{'key': value, ...}})"
            )
        if self.managed:  # a value given for a managed key is ignored, as in LangGraph
            updates = {k: v for k, v in updates.items() if k not in self.managed}
        if any(k not in keys for k in updates):
            unknown = sorted(k for k in updates if k not in self.keys)
            if unknown:
                warn_unknown("the input", unknown, self)
            updates = {k: v for k, v in updates.items() if k in keys}
        missing = sorted(fields.required - updates.keys())
        if missing:
            raise InvalidInputError(
                f"the input is missing required key(s) {', '.join(map(repr, missing))} of "
                f"{fields.role} {fields.name}; pass them, e.g. invoke({{{missing[0]!r}: ...}})"
            )
        if fields.kind == "pydantic" and not isinstance(value, fields.cls):  # validate dict input
            try:
                model = fields.cls.model_validate(updates)
            except Exception as exc:
                raise InvalidInputError(
                    f"the input does not validate against {fields.name}: {exc}"
                ) from exc
            updates = {k: getattr(model, k) for k in updates}
        return updates

    def output_values(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """A run's result: the output schema's keys that have values, in its order."""
        return {k: state[k] for k in self.output_order if k in state}

    def describe(self) -> str:
        parts = []
        for key in sorted(self.keys):
            reducer = self.reducers.get(key)
            suffix = f" (reducer {_named(reducer)})" if reducer else ""
            parts.append(f"{key}{suffix}")
        return f"{self.name}: " + ", ".join(parts)


def update_pairs(value: Any, keys: Sequence[str]) -> list[tuple[str, Any]]:
    """The writes of a dataclass or pydantic instance used as an update
    (a node's return, ``Command(update=...)``): each of ``keys`` it has,
    except, for pydantic, a ``None`` left unset at a ``None`` default
    (LangGraph's rule)."""
    fields_set = getattr(value, "model_fields_set", None)
    model_fields: Mapping[str, Any] = getattr(type(value), "model_fields", None) or {}
    pairs = []
    for key in keys:
        got = getattr(value, key, _MISSING)
        if got is _MISSING:
            continue
        if (
            got is None
            and fields_set is not None
            and key not in fields_set
            and key in model_fields
            and model_fields[key].default is None
        ):
            continue
        pairs.append((key, got))
    return pairs


def stream_update(update: Any, schema: Schema) -> Any:
    """A node's return as the ``updates`` stream shows it (LangGraph's
    shape): a dict of its writes, or a list of one-key dicts when a key is
    written more than once (a list of ``Command``s), ``None`` for no writes."""
    if type(update) is dict or update is None:
        return update
    pairs = _writes(update, schema)
    if pairs is None:
        return update
    pairs = [(k, v) for k, v in pairs if k in schema.keys]
    if not pairs:
        return None
    keys = [k for k, _ in pairs]
    if len(set(keys)) < len(keys):
        return [{k: v} for k, v in pairs]
    return dict(pairs)


def update_writes(update: Any, schema: Schema) -> list[tuple[str, Any]] | None:
    """The (key, value) pairs a node's update writes, in order (keys no
    schema declares included); None for a value that is not an update."""
    return _writes(update, schema)


def _writes(update: Any, schema: Schema) -> list[tuple[str, Any]] | None:
    if update is None:
        return []
    if isinstance(update, Writes):
        return list(update)
    if isinstance(update, dict):
        return list(update.items())
    if type(update) is Command:
        return _writes(update.update, schema)
    if type(update) is list:
        pairs: list[tuple[str, Any]] = []
        for item in update:
            pairs.extend(_writes(item, schema) or ())
        return pairs
    if is_schema(type(update)):
        return update_pairs(update, schema.order)
    return None


def warn_unknown(who: str, keys: Sequence[str], schema: Schema) -> None:
    """An input or update named keys no schema of the graph declares: they
    are dropped, as LangGraph drops them; a warning says so, since such a
    key is most often a typo."""
    warnings.warn(
        f"{who} wrote key(s) {', '.join(map(repr, keys))}, which no schema of the graph "
        f"declares (known keys: {', '.join(sorted(schema.keys))}); they are left out. Add them "
        f"to {schema.name} (or to a node's input schema) or fix the returned value",
        StateKeyWarning,
        stacklevel=2,
    )


class StateKeyWarning(WfkitWarning):
    """An input or a node's update had keys the graph's schemas do not declare."""


_MISSING: Final = object()


def _named(fn: Any) -> str:
    return str(getattr(fn, "__name__", repr(fn)))


def _constant(value: Any) -> Callable[[], Any]:
    """A factory for a default given as a value: immutable values are shared,
    others copied per run (as pydantic copies mutable defaults)."""
    if isinstance(value, str | int | float | bool | bytes | tuple | frozenset | type(None)):
        return lambda: value
    return lambda: copy.deepcopy(value)


_SCALARS: Final = frozenset((int, str, float, bool, bytes, type(None)))
_CONTAINERS: Final = frozenset((list, dict, set))


def _detached(value: Any) -> Any:
    """``value`` with its lists, dicts and sets copied, recursively (what
    pydantic's validation of such a field builds anew); other objects are
    shared, as validation shares model instances."""
    t = type(value)
    if t is list:
        return [_detached(v) if type(v) in _CONTAINERS else v for v in value]
    if t is dict:
        return {k: _detached(v) if type(v) in _CONTAINERS else v for k, v in value.items()}
    if t is set:
        return value.copy()
    return value


def _keep(value: Any) -> Any:
    return value


def _shallow(value: Any) -> Any:
    """A container of immutable values, copied (``list[str]`` and the like)."""
    return value.copy() if type(value) in _CONTAINERS else value


def _copier(tp: Any) -> Callable[[Any], Any] | None:
    """How a field of type ``tp`` is copied for a node's input: not at all
    (immutable values, models: validation shares them too), shallow (a
    container of immutable values), or recursively (anything else that can
    hold a container)."""
    origin = get_origin(tp)
    if origin is typing.Annotated:
        return _copier(get_args(tp)[0])
    if tp is Any or tp in _CONTAINERS or isinstance(tp, typing.TypeVar):
        return _detached
    if origin in _CONTAINERS:
        args = get_args(tp)
        return _shallow if args and all(a in _SCALARS for a in args) else _detached
    if origin is typing.Union or origin is types.UnionType:
        found = [_copier(a) for a in get_args(tp)]
        if _detached in found:
            return _detached
        return _shallow if _shallow in found else None
    return None


def _pydantic_input(cls: Any, hints: dict[str, Any]) -> Callable[[dict[str, Any]], Any]:
    """A pydantic model of the state for one task, with what can change in
    place copied (pydantic's validation copies it in LangGraph), so that a
    node changing its model in place changes only its own copy."""
    copiers: dict[str, Callable[[Any], Any]] = {}
    for name in cls.model_fields:
        found = _copier(hints.get(name, Any))
        if found is not None:
            copiers[name] = found
    construct = cls.model_construct
    if not copiers:
        return lambda values: construct(**values)
    keep = _keep

    def node_input(values: dict[str, Any]) -> Any:
        return construct(**{k: copiers.get(k, keep)(v) for k, v in values.items()})

    return node_input
