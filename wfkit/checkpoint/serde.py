"""How state values are stored: JSON where the value is JSON-able, a tagged
JSON form for other common types, pickle only when the user opts in.

Tagged values are objects with a ``"__wf__"`` key::

    {"__wf__": "bytes" | "bytearray", "v": "<base64>"}
    {"__wf__": "datetime" | "time", "v": "2026-11-27T...", ...}  "tz": a zoneinfo key,
                                                   "off"/"name": an odd fixed offset, "fold": 1
    {"__wf__": "date", "v": "2026-11-27"}
    {"__wf__": "timedelta", "v": [days, seconds, microseconds]}
    {"__wf__": "decimal" | "uuid", "v": "..."}
    {"__wf__": "tuple" | "set" | "frozenset", "v": [...]}
    {"__wf__": "float", "v": "nan" | "-nan" | "inf" | "-inf"}
    {"__wf__": "int", "v": "0x..."}                an int of more than 8192 bits
    {"__wf__": "str", "v": "x\\ud800y"}           a str that UTF-8 cannot hold (lone surrogates)
    {"__wf__": "dict", "v": [[key, value], ...]}   non-string keys, or a "__wf__" key
    {"__wf__": "dataclass" | "pydantic" | "enum", "type": "module.Qualname", "v": ...}
    {"__wf__": "pickle", "v": "<base64>"}          only with allow_pickle=True
    {"__wf__": "command" | "send" | "writes", ...} what a node returned

Every value either comes back exactly (same types, same values) or is
refused when it is written, with a :class:`SerializationError` naming where
it is (``the update of node 'a'.x[1].inner``): containers nested more than
``MAX_DEPTH`` levels deep (a value that contains itself among them), a
subclass of a plain type (it would come back as the plain type), a datetime
whose tzinfo is neither ``datetime.timezone`` nor ``zoneinfo.ZoneInfo``, a
dataclass with ``init=False`` fields, and anything with no tagged form.

Decoding never imports anything: a ``type`` name is looked up in an
allowlist built from the graph's state schema (every dataclass, pydantic
model and enum its annotations mention) plus the ``allowed_types`` the user
passes, and langchain_core's message classes once its messages package
is imported (a ``MessagesState`` holds them under ``list[Any]``). A name not
on the list is refused with an error; so is a pickled value when
``allow_pickle`` is off.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import json
import math
import pickle
import sys
import typing
import uuid
import zoneinfo
from collections.abc import Iterable
from typing import Any

from wfkit.errors import SerializationError, UnsafeValueError
from wfkit.types import Command, Send, Writes

__all__ = ["MAX_DEPTH", "SerializationError", "Serde", "UnsafeValueError", "type_name"]

MAX_DEPTH = 100
"""Containers nested deeper than this are refused: JSON readers (Python's
included) recurse once per level, so a deeper value could be written but
not read back in a deeper call stack."""

_INT_BITS = 8192  # a longer int is stored as hex: JSON readers limit digits (Python: 4300)
_LEAVES = frozenset(
    (bytes, bytearray, dt.datetime, dt.date, dt.time, dt.timedelta, decimal.Decimal, uuid.UUID)
)
_PLAIN_BASES = (str, int, float, list, dict, tuple, set, frozenset, bytes, bytearray)


def type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _collect_types(hint: Any, found: dict[str, type], seen: set[int]) -> None:
    if id(hint) in seen:
        return
    seen.add(id(hint))
    for arg in typing.get_args(hint):
        _collect_types(arg, found, seen)
    if not isinstance(hint, type):
        return
    value_type = (
        dataclasses.is_dataclass(hint)
        or hasattr(hint, "model_fields")
        or issubclass(hint, enum.Enum)
    )
    if value_type:
        found[type_name(hint)] = hint
    if value_type or typing.is_typeddict(hint):
        try:
            hints = typing.get_type_hints(hint, include_extras=True)
        except Exception:  # unresolvable annotations: the user can list the types
            hints = {}
        for sub in hints.values():
            _collect_types(sub, found, seen)


class _Refused(Exception):
    """Raised inside the encoder; :meth:`Serde.dumps` adds where it happened.

    ``steps`` collects, innermost first, each container passed on the way
    down and the path segment taken inside it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.steps: list[tuple[str, Any]] = []


def _utf8_ok(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _key_segment(k: Any) -> str:
    if type(k) is str and k.isidentifier():
        return f".{k}"
    try:
        return f"[{k!r}]"
    except Exception:  # an int too long for repr, a key whose repr fails
        return f"[<{type(k).__name__} key>]"


def _nonfinite(v: float) -> str:
    if v != v:
        return "-nan" if math.copysign(1.0, v) < 0 else "nan"
    return "inf" if v > 0 else "-inf"


class Serde:
    """Encoder/decoder for one graph's state values."""

    def __init__(
        self,
        schema: type | None = None,
        *,
        allowed_types: Iterable[type] = (),
        allow_pickle: bool = False,
    ) -> None:
        self.allow_pickle = allow_pickle
        self.allowed: dict[str, type] = {}
        if schema is not None:
            _collect_types(schema, self.allowed, set())
        for cls in allowed_types:
            self.allowed[type_name(cls)] = cls

    def allow(self, hint: Any) -> None:
        """Add the dataclasses, pydantic models and enums that type ``hint``
        mentions to the allowlist (a functional workflow's task signatures)."""
        _collect_types(hint, self.allowed, set())

    # ---------------------------------------------------------------- encode
    def dumps(self, value: Any, where: str = "value", *, update: bool = False) -> str:
        """JSON text for ``value``; ``where`` names it in errors (node, key).

        ``update``: ``value`` is a node's update dict, whose own level does not
        count towards :data:`MAX_DEPTH` (the values in it are state values)."""
        top = -1 if update else 0
        try:
            text = json.dumps(
                self._plain(value, top, False),
                separators=(",", ":"),
                allow_nan=False,
                ensure_ascii=False,
                check_circular=False,
            )
            if not text.isascii() and not _utf8_ok(text):  # a lone surrogate somewhere
                text = json.dumps(
                    self._plain(value, top, True), separators=(",", ":"), ensure_ascii=False
                )
                if not _utf8_ok(text):
                    raise SerializationError(
                        f"cannot store {where}: a node name, key or field name in it has a lone "
                        f"surrogate, which UTF-8 cannot hold; use valid text"
                    )
        except _Refused as exc:
            raise SerializationError(_message(where, exc)) from None
        except (TypeError, ValueError, RecursionError) as exc:
            raise SerializationError(f"cannot store {where}: {exc}") from exc
        return text

    def _plain(self, v: Any, depth: int, strict: bool) -> Any:
        t = type(v)
        if t is str:
            if strict and not v.isascii() and not _utf8_ok(v):
                return {"__wf__": "str", "v": v.encode("unicode_escape").decode("ascii")}
            return v
        if t is int:
            return v if v.bit_length() <= _INT_BITS else {"__wf__": "int", "v": hex(v)}
        if t is bool or v is None:
            return v
        if t is float:
            return v if math.isfinite(v) else {"__wf__": "float", "v": _nonfinite(v)}
        if depth >= MAX_DEPTH and t not in _LEAVES:
            raise _Refused(f"it is nested deeper than {MAX_DEPTH} levels")
        d = depth + 1
        plain = self._plain
        if t is list:
            out: list[Any] = []
            add = out.append
            try:
                for x in v:
                    add(plain(x, d, strict))
            except _Refused as exc:
                exc.steps.append((f"[{len(out)}]", v))
                raise
            return out
        if t is dict:
            if "__wf__" not in v and all(
                type(k) is str and (not strict or k.isascii() or _utf8_ok(k)) for k in v
            ):
                obj: dict[str, Any] = {}
                k = None
                try:
                    for k, x in v.items():
                        obj[k] = plain(x, d, strict)
                except _Refused as exc:
                    exc.steps.append((_key_segment(k), v))
                    raise
                return obj
            pairs: list[Any] = []
            k = None
            try:
                for k, x in v.items():
                    pk = plain(k, d, strict)
                    pairs.append([pk, plain(x, d, strict)])
            except _Refused as exc:
                exc.steps.append((_key_segment(k), v))
                raise
            return {"__wf__": "dict", "v": pairs}
        if t is tuple:
            items: list[Any] = []
            try:
                for x in v:
                    items.append(plain(x, d, strict))
            except _Refused as exc:
                exc.steps.append((f"[{len(items)}]", v))
                raise
            return {"__wf__": "tuple", "v": items}
        if t is set or t is frozenset:
            try:
                items = [plain(x, d, strict) for x in v]
            except _Refused as exc:
                exc.steps.append(("{}", v))
                raise
            items.sort(key=lambda x: json.dumps(x, sort_keys=True))  # a stable order
            return {"__wf__": t.__name__, "v": items}
        if t is bytes or t is bytearray:
            return {"__wf__": t.__name__, "v": base64.b64encode(v).decode("ascii")}
        if t is dt.datetime or t is dt.time:
            return _clock(t, v)
        if t is dt.date:
            return {"__wf__": "date", "v": v.isoformat()}
        if t is dt.timedelta:
            return {"__wf__": "timedelta", "v": [v.days, v.seconds, v.microseconds]}
        if t is decimal.Decimal:
            return {"__wf__": "decimal", "v": str(v)}
        if t is uuid.UUID:
            return {"__wf__": "uuid", "v": str(v)}
        if t is Command:
            goto = v.goto
            targets = [goto] if isinstance(goto, str | Send) else list(goto)
            return {
                "__wf__": "command",
                "update": self._part(v.update, d, strict, ".update", v),
                "goto": self._part(targets, d, strict, ".goto", v),
            }
        if t is Send:
            return {"__wf__": "send", "node": v.node, "v": self._part(v.arg, d, strict, ".arg", v)}
        if t is Writes:
            return {
                "__wf__": "writes",
                "v": [[k, self._part(x, d, strict, _key_segment(k), v)] for k, x in v],
            }
        if isinstance(v, enum.Enum):
            return {
                "__wf__": "enum",
                "type": self._allowed_name(t),
                "v": self._part(v.value, d, strict, ".value", v),
            }
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            fields = {}
            for f in dataclasses.fields(v):
                if not f.init:
                    raise _Refused(
                        f"dataclass {type_name(t)} has field {f.name!r} with init=False, so it "
                        f"cannot be rebuilt from its fields; give the field init=True or store "
                        f"plain data"
                    )
                fields[f.name] = self._part(getattr(v, f.name), d, strict, f".{f.name}", v)
            return {"__wf__": "dataclass", "type": self._allowed_name(t), "v": fields}
        if hasattr(v, "model_dump") and hasattr(t, "model_fields"):
            data = {k: self._part(getattr(v, k), d, strict, f".{k}", v) for k in t.model_fields}
            return {"__wf__": "pydantic", "type": self._allowed_name(t), "v": data}
        if self.allow_pickle:
            try:
                return {"__wf__": "pickle", "v": base64.b64encode(pickle.dumps(v)).decode("ascii")}
            except Exception as exc:
                raise _Refused(f"pickle refused it: {exc}") from None
        for base in _PLAIN_BASES:
            if isinstance(v, base):
                raise _Refused(
                    f"a {type_name(t)} is a subclass of {base.__name__} and would be read back "
                    f"as a plain {base.__name__}; store {base.__name__}(value), a dataclass, or "
                    f"open the checkpointer with allow_pickle=True"
                )
        raise _Refused(
            f"a {type_name(t)} is not JSON-able and has no tagged form. "
            f"Keep plain data (dicts, lists, str, numbers, dataclasses, pydantic models) in the state, "
            f"or open the checkpointer with allow_pickle=True if the file is only ever read by you"
        )

    def _part(self, v: Any, depth: int, strict: bool, segment: str, owner: Any) -> Any:
        try:
            return self._plain(v, depth, strict)
        except _Refused as exc:
            exc.steps.append((segment, owner))
            raise

    def _allowed_name(self, cls: type) -> str:
        name = type_name(cls)
        if name not in self.allowed:
            self.allowed[name] = cls  # written by this process: it may read it back
        return name

    # ---------------------------------------------------------------- decode
    def loads(self, text: str | None) -> Any:
        if text is None:
            return None
        if '"__wf__"' not in text:  # plain JSON: no hook to call for every object
            return json.loads(text)
        return json.loads(text, object_hook=self._hook)

    def loads_many(self, texts: list[str]) -> list[Any] | None:
        """Each text decoded as :meth:`loads` would, in one call to the JSON
        reader (a long thread's appended tails); None if they do not read
        as one list of that many values (then decode them one by one, which
        names the bad one)."""
        joined = "[" + ",".join(texts) + "]"
        try:
            if '"__wf__"' in joined:
                values = json.loads(joined, object_hook=self._hook)
            else:
                values = json.loads(joined)
        except UnsafeValueError:
            raise
        except Exception:
            return None
        return values if type(values) is list and len(values) == len(texts) else None

    def _hook(self, obj: dict[str, Any]) -> Any:
        tag = obj.get("__wf__")
        if tag is None:
            return obj
        v: Any = obj.get("v")
        if tag == "tuple":
            return tuple(v)
        if tag == "set":
            return set(_hashable(x) for x in v)
        if tag == "frozenset":
            return frozenset(_hashable(x) for x in v)
        if tag == "dict":
            return {_hashable(k): x for k, x in v}
        if tag == "bytes":
            return base64.b64decode(v)
        if tag == "bytearray":
            return bytearray(base64.b64decode(v))
        if tag == "datetime" or tag == "time":
            return _unclock(tag, obj)
        if tag == "date":
            return dt.date.fromisoformat(v)
        if tag == "timedelta":
            if isinstance(v, list):
                days, seconds, micro = v
                return dt.timedelta(days=days, seconds=seconds, microseconds=micro)
            return dt.timedelta(seconds=v)  # files written before wfkit kept microseconds
        if tag == "decimal":
            return decimal.Decimal(v)
        if tag == "uuid":
            return uuid.UUID(v)
        if tag == "float":
            return float(v)
        if tag == "int":
            return int(v, 16)
        if tag == "str":
            return v.encode("ascii").decode("unicode_escape")
        if tag == "command":
            return Command(update=obj.get("update"), goto=tuple(obj.get("goto") or ()))
        if tag == "send":
            return Send(obj["node"], v)
        if tag == "writes":
            return Writes((k, x) for k, x in v)
        if tag in ("dataclass", "pydantic", "enum"):
            cls = self._lookup(obj.get("type"))
            if tag == "enum":
                return cls(v)
            if tag == "pydantic":
                return cls.model_validate(v)  # type: ignore[attr-defined]
            return cls(**v)
        if tag == "pickle":
            if not self.allow_pickle:
                raise UnsafeValueError(
                    "a stored value is pickled, and reading pickles can run arbitrary code; "
                    "open the checkpointer with allow_pickle=True only if you trust the file"
                )
            return pickle.loads(base64.b64decode(v))
        raise UnsafeValueError(
            f"a stored value has unknown tag {tag!r}; the file was written by a newer wfkit or tampered with"
        )

    def _lookup(self, name: Any) -> type:
        cls = self.allowed.get(name) if isinstance(name, str) else None
        if cls is None and isinstance(name, str) and name.startswith(_LANGCHAIN_MESSAGES):
            cls = _langchain_message(name)
            if cls is not None:
                self.allowed[name] = cls
        if cls is None:
            raise UnsafeValueError(
                f"a stored value names type {name!r}, which is not on the allowlist of this graph's "
                f"state types; nothing was imported or run. If you trust it, pass "
                f"allowed_types=[{str(name).rsplit('.', 1)[-1]}] to the checkpointer"
            )
        return cls


_LANGCHAIN_MESSAGES = "langchain_core.messages."


def _langchain_message(name: str) -> type | None:
    """A langchain_core message class (``AIMessage``, ``ToolMessage``, their
    chunks...) by its stored name, once langchain_core's messages package
    is imported: the values of a ``MessagesState`` (typed ``list[Any]``, so
    its schema names no class), data-only models. The class is taken from
    that package's own names (which may load its module, as
    ``from langchain_core.messages import ...`` would) and must be the one
    stored and a ``BaseMessage``; nothing else is imported or accepted."""
    package = sys.modules.get("langchain_core.messages")
    if package is None:
        return None
    module_name, _, qualname = name.rpartition(".")
    try:
        cls = getattr(package, qualname, None)
        base = package.BaseMessage
    except Exception:  # a lazy import that fails: refuse, as for any unknown name
        return None
    if isinstance(cls, type) and issubclass(cls, base) and cls.__module__ == module_name:
        return cls
    return None


def _message(where: str, exc: _Refused) -> str:
    steps = exc.steps[::-1]  # outermost first
    path = "".join(segment for segment, _ in steps)
    if len(steps) > 12:  # a value nested too deeply: its path, shortened
        path = "".join(s for s, _ in steps[:8]) + "..." + "".join(s for s, _ in steps[-2:])
    seen: dict[int, int] = {}
    for i, (_, container) in enumerate(steps):
        first = seen.setdefault(id(container), i)
        if first != i:  # container i is container `first` again: a cycle
            inner = "".join(segment for segment, _ in steps[:i])
            outer = "".join(segment for segment, _ in steps[:first]) or " itself"
            return (
                f"cannot store {where}{inner}: the value contains itself ({where}{inner} is "
                f"{where}{outer}); store a copy without the cycle, or ids instead of references"
            )
    return f"cannot store {where}{path}: {exc.reason}"


def _clock(t: type, v: dt.datetime | dt.time) -> dict[str, Any]:
    """A datetime or time with its tzinfo and fold, exactly."""
    tz = v.tzinfo
    out: dict[str, Any] = {"__wf__": t.__name__}
    if tz is None or tz is dt.UTC:
        out["v"] = v.isoformat()
    elif type(tz) is dt.timezone:
        off = tz.utcoffset(None)
        named = tz.tzname(None) != dt.timezone(off).tzname(None) or not off
        if off.microseconds or named:  # what ISO 8601 text does not carry
            out["v"] = v.replace(tzinfo=None).isoformat()
            out["off"] = [off.days, off.seconds, off.microseconds]
            if named:
                out["name"] = tz.tzname(None)
        else:
            out["v"] = v.isoformat()
    elif type(tz) is zoneinfo.ZoneInfo and tz.key is not None:
        out["v"] = v.replace(tzinfo=None).isoformat()
        out["tz"] = tz.key
    else:
        raise _Refused(
            f"its tzinfo is a {type_name(type(tz))}, which would be read back as a fixed offset; "
            f"use datetime.timezone or zoneinfo.ZoneInfo"
        )
    if v.fold:
        out["fold"] = 1
    return out


def _unclock(tag: str, obj: dict[str, Any]) -> dt.datetime | dt.time:
    parse = dt.datetime.fromisoformat if tag == "datetime" else dt.time.fromisoformat
    value = parse(obj["v"])
    if "tz" in obj:
        value = value.replace(tzinfo=zoneinfo.ZoneInfo(obj["tz"]))
    elif "off" in obj:
        days, seconds, micro = obj["off"]
        offset = dt.timedelta(days=days, seconds=seconds, microseconds=micro)
        zone = dt.timezone(offset, obj["name"]) if "name" in obj else dt.timezone(offset)
        value = value.replace(tzinfo=zone)
    if obj.get("fold"):
        value = value.replace(fold=1)
    return value


def _hashable(x: Any) -> Any:
    if isinstance(x, list):
        return tuple(_hashable(i) for i in x)
    return x
