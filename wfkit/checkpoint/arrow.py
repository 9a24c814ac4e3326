"""Rows as Arrow for DuckDB's bulk insert, built with nanoarrow.

A flush hands DuckDB a table's rows as one Arrow struct array (a column
per field) through the Arrow PyCapsule stream interface, which DuckDB
scans as a table (``INSERT ... SELECT ... FROM batch``). nanoarrow is a
small library: about 2 MB in a process, where PyArrow's libraries take
about 35 MB. It builds the columns more slowly: 20,000 write rows take
about 12 ms, PyArrow's struct conversion about 7 ms, and DuckDB's insert of
them about 9 ms either way (benchmarks/RESULTS.md, issue 11).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

__all__ = ["ArrowRows"]


@functools.cache
def _types(columns: tuple[str, ...], floats: frozenset[str], ints: frozenset[str]) -> Any:
    import nanoarrow as na

    def kind(name: str) -> Any:
        if name in floats:
            return na.float64()
        return na.int64() if name in ints else na.string()

    types = [kind(name) for name in columns]
    return types, na.struct({name: t for name, t in zip(columns, types, strict=True)})


class ArrowRows:
    """``rows`` (tuples in ``columns`` order) as an Arrow struct array:
    ``floats`` are float64 columns, ``ints`` int64, the others strings;
    ``None`` is null. DuckDB reads it, as often as it asks, through
    ``__arrow_c_stream__``. A value of the wrong type raises ``ValueError``."""

    __slots__ = ("_array",)

    def __init__(
        self,
        rows: Sequence[tuple[Any, ...]],
        columns: tuple[str, ...],
        *,
        floats: frozenset[str],
        ints: frozenset[str],
    ) -> None:
        import nanoarrow as na

        types, schema = _types(columns, floats, ints)
        width = len(columns)
        if any(len(row) != width for row in rows):
            bad = next(row for row in rows if len(row) != width)
            raise ValueError(f"a row of {len(bad)} values where the table has {width} columns")
        children = [
            na.c_array(col, t) for col, t in zip(zip(*rows, strict=True), types, strict=True)
        ]
        self._array = na.c_array_from_buffers(schema, len(rows), [None], children=children)

    def __len__(self) -> int:
        return int(self._array.length)

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        import nanoarrow as na

        return na.c_array_stream(self._array).__arrow_c_stream__(requested_schema)
