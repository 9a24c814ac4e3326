"""How state values are stored: JSON where the value is JSON-able, a tagged
JSON form for other common types, pickle only when the user opts in.

Tagged values are objects with a ``"__wf__"`` key::

    {"__wf__": "bytes", "v": "<base64>"}          bytes, bytearray
    {"__wf__": "datetime", "v": "2026-11-27T..."}  datetime, date, time
    {"__wf__": "timedelta", "v": 1.5}              seconds
    {"__wf__": "decimal" | "uuid", "v": "..."}
    {"__wf__": "tuple" | "set" | "frozenset", "v": [...]}
    {"__wf__": "float", "v": "nan" | "inf" | "-inf"}
    {"__wf__": "dict", "v": [[key, value], ...]}   non-string keys, or a "__wf__" key
    {"__wf__": "dataclass" | "pydantic" | "enum", "type": "module.Qualname", "v": ...}
    {"__wf__": "pickle", "v": "<base64>"}          only with allow_pickle=True
    {"__wf__": "command" | "send" | "writes", ...} what a node returned

Decoding never imports anything: a ``type`` name is looked up in an
allowlist built from the graph's state schema (every dataclass, pydantic
model and enum its annotations mention) plus the ``allowed_types`` the user
passes. A name not on the list is refused with an error; so is a pickled
value when ``allow_pickle`` is off.
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
import re
import typing
import uuid
from collections.abc import Iterable
from typing import Any

from wfkit.errors import SerializationError, UnsafeValueError
from wfkit.types import Command, Send, Writes

__all__ = ["SerializationError", "Serde", "UnsafeValueError", "type_name"]

_SCALARS = (str, int, bool, type(None))


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

    # ---------------------------------------------------------------- encode
    def dumps(self, value: Any, where: str = "value") -> str:
        """JSON text for ``value``; ``where`` names it in errors (node, key)."""
        try:
            plain = self._plain(value, where)
            text = json.dumps(plain, separators=(",", ":"), allow_nan=False)
        except SerializationError:
            raise
        except (TypeError, ValueError) as exc:  # pragma: no cover - _plain covers the cases
            raise SerializationError(f"cannot store {where}: {exc}") from exc
        if "\\ud" in text and _LONE_SURROGATE.search(text):  # rare: then look exactly
            _refuse_surrogates(plain, where)
        return text

    def _plain(self, v: Any, path: str) -> Any:
        t = type(v)
        if t in _SCALARS:
            return v
        if t is float:
            return v if math.isfinite(v) else {"__wf__": "float", "v": repr(v)}
        if t is list:
            return [self._plain(x, f"{path}[{i}]") for i, x in enumerate(v)]
        if t is dict:
            if all(type(k) is str for k in v) and "__wf__" not in v:
                return {k: self._plain(x, f"{path}.{k}") for k, x in v.items()}
            return {
                "__wf__": "dict",
                "v": [
                    [self._plain(k, f"{path}<key>"), self._plain(x, f"{path}[{k!r}]")]
                    for k, x in v.items()
                ],
            }
        if t is tuple:
            return {
                "__wf__": "tuple",
                "v": [self._plain(x, f"{path}[{i}]") for i, x in enumerate(v)],
            }
        if t is set or t is frozenset:
            items = [self._plain(x, f"{path}{{}}") for x in v]
            items.sort(key=lambda x: json.dumps(x, sort_keys=True))  # a stable order
            return {"__wf__": t.__name__, "v": items}
        if t is bytes or t is bytearray:
            return {"__wf__": "bytes", "v": base64.b64encode(v).decode("ascii")}
        if t is dt.datetime or t is dt.date or t is dt.time:
            return {"__wf__": t.__name__, "v": v.isoformat()}
        if t is dt.timedelta:
            return {"__wf__": "timedelta", "v": v.total_seconds()}
        if t is decimal.Decimal:
            return {"__wf__": "decimal", "v": str(v)}
        if t is uuid.UUID:
            return {"__wf__": "uuid", "v": str(v)}
        if t is Command:
            goto = v.goto
            targets = [goto] if isinstance(goto, str | Send) else list(goto)
            return {
                "__wf__": "command",
                "update": self._plain(v.update, f"{path}.update"),
                "goto": [self._plain(g, f"{path}.goto") for g in targets],
            }
        if t is Send:
            return {"__wf__": "send", "node": v.node, "v": self._plain(v.arg, f"{path}.arg")}
        if t is Writes:
            return {"__wf__": "writes", "v": [[k, self._plain(x, f"{path}.{k}")] for k, x in v]}
        if isinstance(v, enum.Enum):
            return {
                "__wf__": "enum",
                "type": self._allowed_name(t, path),
                "v": self._plain(v.value, path),
            }
        if dataclasses.is_dataclass(v):
            fields = {
                f.name: self._plain(getattr(v, f.name), f"{path}.{f.name}")
                for f in dataclasses.fields(v)
            }
            return {"__wf__": "dataclass", "type": self._allowed_name(t, path), "v": fields}
        if hasattr(v, "model_dump") and hasattr(t, "model_fields"):
            data = {k: self._plain(getattr(v, k), f"{path}.{k}") for k in t.model_fields}
            return {"__wf__": "pydantic", "type": self._allowed_name(t, path), "v": data}
        for base in (str, int, float, list, dict):  # subclasses of plain types
            if isinstance(v, base):
                return self._plain(base(v), path)  # type: ignore[arg-type]
        if self.allow_pickle:
            return {"__wf__": "pickle", "v": base64.b64encode(pickle.dumps(v)).decode("ascii")}
        raise SerializationError(
            f"cannot store {path}: a {type_name(t)} is not JSON-able and has no tagged form. "
            f"Keep plain data (dicts, lists, str, numbers, dataclasses, pydantic models) in the state, "
            f"or open the checkpointer with allow_pickle=True if the file is only ever read by you"
        )

    def _allowed_name(self, cls: type, path: str) -> str:
        name = type_name(cls)
        if name not in self.allowed:
            self.allowed[name] = cls  # written by this process: it may read it back
        return name

    # ---------------------------------------------------------------- decode
    def loads(self, text: str | None) -> Any:
        if text is None:
            return None
        return json.loads(text, object_hook=self._hook)

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
        if tag == "datetime":
            return dt.datetime.fromisoformat(v)
        if tag == "date":
            return dt.date.fromisoformat(v)
        if tag == "time":
            return dt.time.fromisoformat(v)
        if tag == "timedelta":
            return dt.timedelta(seconds=v)
        if tag == "decimal":
            return decimal.Decimal(v)
        if tag == "uuid":
            return uuid.UUID(v)
        if tag == "float":
            return float(v)
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
        if cls is None:
            raise UnsafeValueError(
                f"a stored value names type {name!r}, which is not on the allowlist of this graph's "
                f"state types; nothing was imported or run. If you trust it, pass "
                f"allowed_types=[{str(name).rsplit('.', 1)[-1]}] to the checkpointer"
            )
        return cls


# a lone surrogate as json.dumps escapes it (a filter: escaped backslashes
# also match, and _refuse_surrogates then finds nothing)
_LONE_SURROGATE = re.compile(
    r"\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}"
)


def _refuse_surrogates(plain: Any, path: str) -> None:
    """Raise if a string in ``plain`` (keys too) holds a lone surrogate: UTF-8,
    and so DuckDB's JSON type, cannot hold one, and a file that had one
    written into it in the background could not be read back."""
    if isinstance(plain, str):
        try:
            plain.encode("utf-8")
        except UnicodeEncodeError as exc:
            shown = plain if len(plain) <= 40 else plain[max(0, exc.start - 10) : exc.start + 10]
            raise SerializationError(
                f"cannot store {path}: the string {shown!r} holds a lone surrogate "
                f"{plain[exc.start]!r} at position {exc.start}, which UTF-8 (and so the checkpoint "
                f"file) cannot hold. Fix the text where it is made, e.g. "
                f"text.encode('utf-8', 'replace').decode()"
            ) from None
    elif isinstance(plain, list):
        for i, x in enumerate(plain):
            _refuse_surrogates(x, f"{path}[{i}]")
    elif isinstance(plain, dict):
        for k, x in plain.items():
            _refuse_surrogates(k, f"{path}<key>")
            _refuse_surrogates(x, f"{path}.{k}" if k != "v" else path)


def _hashable(x: Any) -> Any:
    if isinstance(x, list):
        return tuple(_hashable(i) for i in x)
    return x
