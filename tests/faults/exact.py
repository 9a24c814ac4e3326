"""Exact equality for round-trip tests: equal, and of the same type all the
way down (shared by the hostile-value tests and the value property)."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any


def exact(a: Any, b: Any) -> bool:
    """Equal, and of the same type all the way down (NaN equals NaN of the
    same sign; -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):  # repr shows -0.0 but not the sign of a NaN
        return repr(a) == repr(b) and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, int):
        return a == b
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(map(exact, a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            exact(ka, kb) and exact(va, vb)
            for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True)
        )
    if isinstance(a, set | frozenset):  # small sets: match each element (NaN hashes by id)
        rest = list(b)
        for x in a:
            match = next((i for i, y in enumerate(rest) if exact(x, y)), None)
            if match is None:
                return False
            rest.pop(match)
        return not rest
    if isinstance(a, dt.datetime | dt.time):
        return a == b and a.tzinfo == b.tzinfo and a.fold == b.fold and repr(a) == repr(b)
    if isinstance(a, decimal.Decimal):
        return str(a) == str(b)
    return bool(a == b) and repr(a) == repr(b)
