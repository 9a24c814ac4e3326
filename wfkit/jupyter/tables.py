"""Polars frames as a notebook should show them.

Polars' own HTML shows a dtype row, quotes every string, prints six or
seven decimals and hides middle columns of a wide frame. :func:`table`
returns the same frame (a ``pl.DataFrame``: every method works, and its
plain-text form is Polars' own) whose HTML is a plain table instead: units
in the headers (``p95 (ms)``, ``peak memory (MB)``, ``share (%)``), numbers
with three significant digits (:func:`wfkit._format.significant`), strings
as they are, every column, long cells cut with the whole text as a
tooltip.
"""

from __future__ import annotations

import html
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from wfkit._format import significant

if TYPE_CHECKING:
    import polars as pl

__all__ = ["table", "to_html"]

MAX_ROWS = 50
MAX_CELL = 80
_BYTE_UNITS = (("GB", 1e9), ("MB", 1e6), ("KB", 1e3), ("B", 1.0))
_STYLE = (
    "border-collapse:collapse;font-size:12px;margin:2px 0;"
    "font-family:var(--jp-ui-font-family, sans-serif)"
)


def _column(name: str, values: list[Any]) -> tuple[str, list[str], bool]:
    """A column's header, its cells as text, and whether it is numeric."""
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    numeric = bool(numbers) and len(numbers) == len([v for v in values if v is not None])
    header = name.replace("_", " ")
    scale = 1.0
    floats = numeric and any(isinstance(v, float) for v in numbers)
    if name.endswith("_ms"):
        header, floats = f"{name[:-3].replace('_', ' ')} (ms)", True
    elif name.endswith("_bytes") and numeric:
        top = max((abs(v) for v in numbers), default=0)
        unit, scale = next((u, s) for u, s in _BYTE_UNITS if top >= s or s == 1.0)
        header = f"{name[:-6].replace('_', ' ')} ({unit})"
        floats = scale != 1.0
    elif name == "share" and numeric:
        header, scale, floats = "share (%)", 0.01, True
    cells = []
    for v in values:
        if v is None:
            cells.append("—")
        elif numeric and floats:
            cells.append(significant(v / scale))
        elif isinstance(v, datetime):
            cells.append(v.isoformat(sep=" ", timespec="milliseconds"))
        elif isinstance(v, list | tuple):
            cells.append(", ".join(str(x) for x in v))
        else:
            cells.append(str(v))
    return header, cells, numeric


def to_html(frame: pl.DataFrame) -> str:
    """``frame`` as a plain HTML table (see the module docstring)."""
    shown = frame.head(MAX_ROWS)
    columns = [_column(name, shown[name].to_list()) for name in shown.columns]
    head = "".join(
        f"<th style='text-align:{'right' if numeric else 'left'};padding:2px 8px;"
        f"border-bottom:1px solid #999'>{html.escape(header)}</th>"
        for header, _, numeric in columns
    )
    rows = []
    for i in range(shown.height):
        cells = []
        for _, texts, numeric in columns:
            text = texts[i]
            cut = text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"
            tip = f" title='{html.escape(text)}'" if cut != text else ""
            cells.append(
                f"<td{tip} style='text-align:{'right' if numeric else 'left'};padding:2px 8px;"
                f"border-bottom:1px solid #e0e0e0'>{html.escape(cut)}</td>"
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = (
        f"<div style='font-size:11px;color:#666'>{frame.height - MAX_ROWS} more rows</div>"
        if frame.height > MAX_ROWS
        else ""
    )
    return (
        f"<div style='overflow-x:auto'><table style='{_STYLE}'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{more}</div>"
    )


@cache
def _table_class() -> type[pl.DataFrame]:
    import polars as pl

    class Table(pl.DataFrame):
        """A Polars frame shown as a plain HTML table in a notebook."""

        def _repr_html_(self, *args: Any, **kwargs: Any) -> str:
            return to_html(self)

    return Table


def table(frame: pl.DataFrame) -> pl.DataFrame:
    """The same frame, shown as a plain HTML table (Polars' text otherwise)."""
    return _table_class()._from_pydf(frame._df)
