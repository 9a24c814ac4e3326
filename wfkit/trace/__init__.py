"""Traces: spans of every node execution and run, as Polars frames.

    spans = workflow.traces()                 # or wfkit.trace.frame("runs.duckdb")
    wfkit.trace.summary(spans)                # where the time goes
    wfkit.trace.critical_path(spans)          # what set a run's duration
    wfkit.trace.compare(before, after)        # which node got slower
    wfkit.trace.engine_overhead(spans)        # run time outside nodes

Recording is described in :mod:`wfkit.trace.record`; pictures in
:mod:`wfkit.trace.draw`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfkit.trace.analysis import compare, critical_path, engine_overhead, summary
from wfkit.trace.record import SPAN_COLUMNS, SPAN_FLOAT_COLUMNS, SPAN_INT_COLUMNS

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "SPAN_COLUMNS",
    "compare",
    "critical_path",
    "engine_overhead",
    "frame",
    "load",
    "spans_frame",
    "summary",
    "timeline",
]


def _schema() -> dict[str, Any]:
    import polars as pl

    ints, floats = SPAN_INT_COLUMNS, SPAN_FLOAT_COLUMNS
    return {
        c: pl.Int64 if c in ints else pl.Float64 if c in floats else pl.String for c in SPAN_COLUMNS
    }


def spans_frame(
    rows: Sequence[tuple[Any, ...]], *, thread: str | None = None, run: str | None = None
) -> pl.DataFrame:
    """Span rows as a Polars frame, optionally filtered to a thread or run."""
    import polars as pl

    frame = (
        pl.DataFrame(list(rows), schema=_schema(), orient="row")
        if rows
        else pl.DataFrame(schema=_schema())
    )
    if thread is not None:
        frame = frame.filter(pl.col("thread_id") == thread)
    if run is not None:
        frame = frame.filter(pl.col("run_id") == run)
    return frame.with_columns(
        start=pl.from_epoch(pl.col("start_time_unix_nano"), time_unit="ns"),
        end=pl.from_epoch(pl.col("end_time_unix_nano"), time_unit="ns"),
    ).sort("start_ns")


def load(path: str | Path) -> list[tuple[Any, ...]]:
    """Every span row stored in a checkpoint file (opened read-only)."""
    import duckdb

    from wfkit.errors import StoreError

    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise StoreError(
            f"cannot read traces from {path}: {exc}. If a process is writing it, read its spans there "
            f"with workflow.traces(), or close the store first"
        ) from exc
    try:
        return con.execute(
            f"SELECT {', '.join(SPAN_COLUMNS)} FROM wf_spans ORDER BY start_ns"
        ).fetchall()
    except duckdb.Error as exc:
        raise StoreError(
            f"{path} has no wf_spans table: it is not a wfkit checkpoint file"
        ) from exc
    finally:
        con.close()


def frame(path: str | Path, *, thread: str | None = None, run: str | None = None) -> pl.DataFrame:
    """The spans of a checkpoint file as a Polars frame."""
    return spans_frame(load(path), thread=thread, run=run)


def timeline(spans: pl.DataFrame, run: str | None = None) -> Any:
    """An Altair Gantt chart of one run's spans (see :func:`wfkit.trace.draw.timeline`)."""
    from wfkit.trace.draw import timeline as _timeline

    return _timeline(spans, run)
