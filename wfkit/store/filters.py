"""``search(filter=...)``: what a filter means, parsed once, and two ways to
run it — Python checks (``InMemoryStore`` compiles them) and a SQL condition over the
JSON column (``DuckDBStore``), so both stores answer alike.

A filter is a dict of field → condition, all of which must hold:

- a value (string, number, bool, ``None``): the field equals it, as JSON
  values are equal (``1 == 1.0``; ``True`` is not ``1``; ``None`` matches a
  missing field too);
- a dict of operators (``{"$gte": 3, "$lt": 9}``): each holds; ``$eq`` and
  ``$ne`` take a value as above (``$ne`` holds for a missing field), and
  ``$gt``, ``$gte``, ``$lt``, ``$lte`` a number (the field must be a number)
  or a string (the field must be a string; compared by code point);
- another dict: the field is a dict matching it (extra keys allowed);
- a list: the field is a list of that length, element by element.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from wfkit.errors import InvalidInputError

__all__ = ["MISSING", "Test", "parse_filter", "python_checks", "sql_condition"]

OPERATORS: Final = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")
_ORDER: Final = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_NUMBER_TYPES: Final = "('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT')"

Path = tuple[str | int, ...]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


class Test(NamedTuple):
    """One condition on the value at ``path``: ``kind`` is ``"eq"``,
    ``"ne"``, an order operator (``"$gt"``...), ``"object"`` or
    ``"array"`` (``operand``: its length)."""

    path: Path
    kind: str
    operand: Any


def _scalar(filter: Mapping[str, Any], path: Path, value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise _error(filter, path, f"{value!r} is not a JSON number")
        return value
    raise _error(
        filter,
        path,
        f"{value!r} ({type(value).__name__}) cannot be compared; filter values are JSON: "
        f"strings, numbers, booleans, None, lists and dicts of them",
    )


def _error(filter: Mapping[str, Any], path: Path, why: str) -> InvalidInputError:
    field = ".".join(map(str, path)) or "(top)"
    return InvalidInputError(f"search filter {filter!r}, field {field!r}: {why}")


def parse_filter(filter: Mapping[str, Any] | None) -> list[Test]:
    """The tests ``filter`` stands for (all must hold); a clear error for a
    filter that is not one."""
    if not filter:
        return []
    if not isinstance(filter, Mapping):
        raise InvalidInputError(
            f"search filter {filter!r} is a {type(filter).__name__}; give a dict such as "
            f'{{"kind": "note", "score": {{"$gte": 3}}}}'
        )
    tests: list[Test] = []
    for key, wanted in filter.items():
        if not isinstance(key, str):
            raise _error(filter, (), f"key {key!r} is not a string")
        _parse(filter, (key,), wanted, tests)
    return tests


def _parse(filter: Mapping[str, Any], path: Path, wanted: Any, out: list[Test]) -> None:
    if isinstance(wanted, Mapping):
        ops = [k for k in wanted if isinstance(k, str) and k.startswith("$")]
        if ops:
            if len(ops) != len(wanted):
                raise _error(
                    filter,
                    path,
                    "mixes operators ($...) and fields; put the fields in their own dict",
                )
            for op, operand in wanted.items():
                if op not in OPERATORS:
                    raise _error(
                        filter,
                        path,
                        f"unknown operator {op!r}; the operators are {', '.join(OPERATORS)}",
                    )
                if op in ("$eq", "$ne"):
                    out.append(Test(path, op[1:], _scalar(filter, path, operand)))
                else:
                    value = _scalar(filter, path, operand)
                    if value is None or isinstance(value, bool):
                        raise _error(
                            filter, path, f"{op} compares numbers or strings, not {value!r}"
                        )
                    out.append(Test(path, op, value))
            return
        out.append(Test(path, "object", None))
        for key, inner in wanted.items():
            if not isinstance(key, str):
                raise _error(filter, path, f"key {key!r} is not a string")
            _parse(filter, (*path, key), inner, out)
        return
    if isinstance(wanted, list | tuple):
        out.append(Test(path, "array", len(wanted)))
        for i, inner in enumerate(wanted):
            _parse(filter, (*path, i), inner, out)
        return
    out.append(Test(path, "eq", _scalar(filter, path, wanted)))


# ---------------------------------------------------------------- Python
def _at(value: Any, path: Path) -> Any:
    for step in path:
        if isinstance(step, str):
            if not isinstance(value, Mapping):
                return MISSING
            value = value.get(step, MISSING)
            if value is MISSING:
                return MISSING
        else:
            if not isinstance(value, list) or step >= len(value):
                return MISSING
            value = value[step]
    return value


def python_checks(tests: list[Test]) -> tuple[list[str], dict[str, Any]]:
    """``tests`` as the lines of a Python function body that returns
    ``False`` as soon as a test fails, reading the local ``value``; with the
    names those lines use. Operands and keys are bound by name, never
    written into the text, so the text depends only on the tests' shape
    (``InMemoryStore`` compiles it once per shape: a search's scan then
    runs one plain function per item)."""
    lines: list[str] = []
    names: dict[str, Any] = {"MISSING": MISSING, "Mapping": Mapping, "NUMBERS": (int, float)}
    for j, (path, kind, operand) in enumerate(tests):
        x, c = f"x{j}", f"c{j}"
        names[c] = operand
        if len(path) == 1 and isinstance(path[0], str):
            names[f"k{j}"] = path[0]
            lines.append(f"{x} = value.get(k{j}, MISSING)")
        else:
            names[f"p{j}"] = path
            lines.append(f"{x} = at(value, p{j})")
            names["at"] = _at
        if kind in ("eq", "ne"):
            if operand is None:
                same = f"({x} is None or {x} is MISSING)"
            elif isinstance(operand, bool):
                same = f"{x} is {c}"
            elif isinstance(operand, str):
                same = f"{x} == {c}"
            else:
                same = f"({x}.__class__ is not bool and {x} == {c})"
            lines.append(
                f"if not {same}: return False" if kind == "eq" else f"if {same}: return False"
            )
        elif kind == "object":
            lines.append(f"if not isinstance({x}, Mapping): return False")
        elif kind == "array":
            lines.append(f"if {x}.__class__ is not list or len({x}) != {c}: return False")
        else:
            sign = _ORDER[kind]
            kinds = "str" if isinstance(operand, str) else "NUMBERS"
            test = (
                f"{x}.__class__ is not str" if kinds == "str" else f"{x}.__class__ not in NUMBERS"
            )
            lines.append(f"if {test} or not ({x} {sign} {c}): return False")
    return lines, names


# ---------------------------------------------------------------- SQL
def pointer(path: Path) -> str:
    """``path`` as a JSON pointer (RFC 6901), which DuckDB's JSON functions take."""
    return "".join("/" + str(step).replace("~", "~0").replace("/", "~1") for step in path)


def sql_condition(tests: list[Test], column: str = "value") -> tuple[str, list[Any]]:
    """``tests`` as a SQL condition on the JSON ``column`` and its parameters
    (every value is bound; ``column`` is a constant of the caller)."""
    parts: list[str] = []
    params: list[Any] = []
    for path, kind, operand in tests:
        p = pointer(path)
        if kind == "object":
            parts.append(f"json_type({column}, ?) = 'OBJECT'")
            params.append(p)
        elif kind == "array":
            parts.append(
                f"(json_type({column}, ?) = 'ARRAY' AND json_array_length({column}, ?) = ?)"
            )
            params += [p, p, operand]
        elif kind in ("eq", "ne"):
            sql, args = _equal_sql(column, p, operand)
            parts.append(sql if kind == "eq" else f"NOT coalesce({sql}, FALSE)")
            params += args
        elif isinstance(operand, str):
            parts.append(
                f"(json_type({column}, ?) = 'VARCHAR' AND json_extract_string({column}, ?) "
                f"{_ORDER[kind]} ?)"
            )
            params += [p, p, operand]
        else:
            parts.append(
                f"(json_type({column}, ?) IN {_NUMBER_TYPES} AND "
                f"json_extract({column}, ?)::DOUBLE {_ORDER[kind]} ?)"
            )
            params += [p, p, float(operand)]
    return " AND ".join(parts) or "TRUE", params


def _equal_sql(column: str, p: str, operand: Any) -> tuple[str, list[Any]]:
    if operand is None:
        return f"coalesce(json_type({column}, ?), 'NULL') = 'NULL'", [p]
    if isinstance(operand, bool):
        return f"json_extract({column}, ?)::VARCHAR = ?", [p, "true" if operand else "false"]
    if isinstance(operand, str):
        return (
            f"(json_type({column}, ?) = 'VARCHAR' AND json_extract_string({column}, ?) = ?)",
            [p, p, operand],
        )
    return (
        f"(json_type({column}, ?) IN {_NUMBER_TYPES} AND json_extract({column}, ?)::DOUBLE = ?)",
        [p, p, float(operand)],
    )
