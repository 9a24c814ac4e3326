"""Rebuilding state values from value rows: each key's chain walked back to
its last ``set`` and the appended tails folded onto it, every stored text
decoded once.

:class:`Folder` is one reading (a ``get_state``, a whole
``get_state_history``): it decodes each value row once and keeps the
values it folded, so a history of a thousand checkpoints decodes each
appended tail once instead of once per checkpoint after it. When the
store keeps a thread in memory (``ThreadRows.decoded``), the value of each
key at the version read last is kept there too, and the next reading
folds only what was appended since.

What is kept is never handed out: every value returned is a copy
(:func:`thaw`), so a caller who changes a returned list in place changes
nothing the next reader sees.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Mapping
from typing import Any

from wfkit.checkpoint.serde import Serde
from wfkit.errors import StoreError

__all__ = ["Folder", "chain", "out", "thaw"]

_ATOMS = frozenset(
    (str, int, float, bool, type(None), bytes, dt.datetime, dt.date, dt.time, dt.timedelta)
) | {decimal.Decimal, uuid.UUID}


def _atom(v: Any) -> bool:
    return type(v) in _ATOMS or isinstance(v, enum.Enum)


def thaw(value: Any) -> Any:
    """A copy of a decoded value that shares nothing mutable with it."""
    t = type(value)
    if t in _ATOMS:
        return value
    if t is list:
        return [x if type(x) in _ATOMS else thaw(x) for x in value]
    if t is dict:
        return {k: x if type(x) in _ATOMS else thaw(x) for k, x in value.items()}
    if t is tuple:
        return tuple(thaw(x) for x in value)
    if isinstance(value, enum.Enum):
        return value
    return copy.deepcopy(value)


def _frozen(value: Any) -> bool:
    """A list of immutable items (shared safely by a shallow copy)."""
    return type(value) is list and all(map(_atom, value))


def chain(
    rows: Mapping[tuple[str, int], tuple[Any, ...]],
    key: str,
    version: Any,
    where: str,
    folded: Mapping[tuple[str, int], Any] | None = None,
) -> list[tuple[Any, ...]]:
    """The value rows of ``key`` from ``version`` back to its last ``set``
    (or to a version in ``folded``, whose value is known); a missing link
    or a cycle (a tampered file) is the store's error."""
    found: list[tuple[Any, ...]] = []
    seen: set[Any] = set()
    v: Any = version
    while v is not None:
        if v in seen:
            raise StoreError(
                f"{where}: version {v} of state key {key!r} is its own ancestor (a cycle in "
                f"its append chain: {' -> '.join(str(r[3]) for r in found)} -> {v}); the file "
                f"was changed outside wfkit. Check it with: wfkit check FILE"
            )
        seen.add(v)
        r = rows.get((key, v)) if isinstance(v, int) else None
        if r is None:
            raise StoreError(
                f"{where}: version {v!r} of state key {key!r} is missing"
                + (f" (the base of version {found[-1][3]})" if found else "")
                + "; the file is incomplete or was changed outside wfkit. "
                "Check it with: wfkit check FILE"
            )
        found.append(r)
        if folded is not None and len(found) > 1 and (key, v) in folded:
            break  # folded already: start from there
        v = r[4] if r[5] == "append" else None  # base_version of an append
    return found


class Folder:
    """Decodes and folds value rows (``(key, version) -> row``) for one
    reading. ``steps``: keep the value of every version on the way (a
    history reads them all); otherwise only the one asked for."""

    __slots__ = ("memo", "parts", "rows", "serde", "steps")

    def __init__(
        self,
        serde: Serde,
        rows: Mapping[tuple[str, int], tuple[Any, ...]],
        *,
        steps: bool = False,
    ) -> None:
        self.serde = serde
        self.rows = rows
        self.steps = steps
        # (key, version) -> (folded value, frozen, bytes of the texts it was built from)
        self.memo: dict[tuple[str, int], tuple[Any, bool, int]] = {}
        self.parts: dict[tuple[str, int], tuple[Any, bool]] = {}

    def chain(self, key: str, version: Any, where: str) -> list[tuple[Any, ...]]:
        return chain(self.rows, key, version, where, self.memo)

    def _part(self, row: tuple[Any, ...]) -> tuple[Any, bool]:
        k = (row[2], row[3])
        part = self.parts.get(k)
        if part is None:
            value = self.serde.loads(row[6])
            part = self.parts[k] = (value, _frozen(value))
        return part

    def _decode(self, rows: list[tuple[Any, ...]]) -> None:
        """Decode the texts of ``rows`` not decoded yet, in one call."""
        parts = self.parts
        todo = [r for r in rows if (r[2], r[3]) not in parts and type(r[6]) is str]
        if len(todo) < 2:
            return
        values = self.serde.loads_many([r[6] for r in todo])
        if values is not None:
            for r, v in zip(todo, values, strict=True):
                parts[(r[2], r[3])] = (v, _frozen(v))

    def value(
        self, key: str, version: int, where: str, start: tuple[Any, ...] | None = None
    ) -> tuple[Any, bool, int]:
        """``key`` at ``version``: (the value, kept private; whether it is a
        list of immutable items; bytes of text it was folded from).
        ``start`` is a value folded earlier, ``(version, value, frozen,
        bytes)``, to fold onto if the chain reaches it."""
        memo = self.memo
        if start is not None:
            memo.setdefault((key, start[0]), (start[1], start[2], start[3]))
        hit = memo.get((key, version))
        if hit is not None:
            return hit
        chain = self.chain(key, version, where)
        self._decode(chain)
        last = chain[-1]
        base = memo.get((key, last[3])) if len(chain) > 1 else None
        if base is not None:
            value, frozen, nbytes = base
        else:
            value, frozen = self._part(last)
            nbytes = len(last[6] or "")
        tails = chain[-2::-1]
        if self.steps:  # every version on the way gets its own value
            for row in tails:
                tail, tail_frozen = self._part(row)
                value = value + tail
                frozen = frozen and tail_frozen
                nbytes += len(row[6] or "")
                memo[(key, row[3])] = (value, frozen, nbytes)
        elif tails:
            parts = [self._part(row) for row in tails]
            if type(value) is list and all(type(p) is list for p, _ in parts):
                value = list(value)
                for p, _ in parts:
                    value.extend(p)
            else:
                for p, _ in parts:
                    value = value + p
            frozen = frozen and all(f for _, f in parts)
            nbytes += sum(len(row[6] or "") for row in tails)
        got = memo[(key, version)] = (value, frozen, nbytes)
        return got


def out(value: Any, frozen: bool) -> Any:
    """What a reader hands out of a kept value: a copy."""
    return list(value) if frozen else thaw(value)
