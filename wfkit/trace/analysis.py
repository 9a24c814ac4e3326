"""Answers from spans, as Polars frames: where the time goes
(:func:`summary`), what set a run's duration (:func:`critical_path`), which
node got slower (:func:`compare`), and what the engine itself cost
(:func:`engine_overhead`).

Every function takes a spans frame (``workflow.traces()``,
``wfkit.trace.frame(path)``) or anything with the same columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

__all__ = ["compare", "critical_path", "engine_overhead", "latest_run", "summary"]


def _nodes(spans: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    return spans.filter(pl.col("kind") == "node")


def summary(spans: pl.DataFrame) -> pl.DataFrame:
    """Per node: executions, errors, retries, p50/p95/p99/max wall ms, mean
    CPU ms, peak memory, and its share of all node time; slowest first."""
    import polars as pl

    nodes = _nodes(spans)
    total = nodes["wall_ms"].sum() or 1.0
    return (
        nodes.group_by("node")
        .agg(
            count=pl.len(),
            errors=(pl.col("status") == "error").sum(),
            retries=(pl.col("attempt") > 1).sum(),
            p50_ms=pl.col("wall_ms").quantile(0.5, "linear"),
            p95_ms=pl.col("wall_ms").quantile(0.95, "linear"),
            p99_ms=pl.col("wall_ms").quantile(0.99, "linear"),
            max_ms=pl.col("wall_ms").max(),
            mean_cpu_ms=pl.col("cpu_ms").mean(),
            peak_memory_bytes=pl.col("memory_bytes").max(),
            total_ms=pl.col("wall_ms").sum(),
        )
        .with_columns(share=pl.col("total_ms") / total)
        .sort("total_ms", descending=True)
    )


def critical_path(spans: pl.DataFrame, run: str | None = None) -> pl.DataFrame:
    """The chain of node spans that set a run's duration: in each superstep,
    the task that finished last (the barrier waited for it). ``run`` picks a
    run id; by default the only (or latest) run in the frame."""
    import polars as pl

    nodes = _nodes(spans)
    if run is None:
        run = latest_run(spans)
        if run is None:
            return nodes.head(0)
    one = nodes.filter(pl.col("run_id") == run)
    return (
        one.sort(["step", "end_ns"])
        .group_by("step", maintain_order=True)
        .last()
        .sort("step")
        .select("step", "node", "task_id", "attempt", "start_ns", "end_ns", "wall_ms", "status")
    )


def compare(before: pl.DataFrame, after: pl.DataFrame) -> pl.DataFrame:
    """Per node regression table: counts and p50/p95 before and after, and
    their ratios (after / before); biggest p95 regression first."""
    import polars as pl

    def stats(frame: pl.DataFrame) -> pl.DataFrame:
        return (
            _nodes(frame)
            .group_by("node")
            .agg(
                count=pl.len(),
                p50_ms=pl.col("wall_ms").quantile(0.5, "linear"),
                p95_ms=pl.col("wall_ms").quantile(0.95, "linear"),
            )
        )

    joined = stats(before).join(stats(after), on="node", how="full", suffix="_after", coalesce=True)
    return (
        joined.rename({"count": "count_before", "p50_ms": "p50_before", "p95_ms": "p95_before"})
        .rename(
            {"count_after": "count_after", "p50_ms_after": "p50_after", "p95_ms_after": "p95_after"}
        )
        .with_columns(
            p50_ratio=pl.col("p50_after") / pl.col("p50_before"),
            p95_ratio=pl.col("p95_after") / pl.col("p95_before"),
        )
        .sort("p95_ratio", descending=True, nulls_last=True)
    )


def _top_runs(spans: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    runs = spans.filter(pl.col("kind") == "run")
    if "parent_span_id" in runs.columns:
        runs = runs.filter(pl.col("parent_span_id").is_null())
    return runs


def latest_run(spans: pl.DataFrame) -> str | None:
    """The newest top-level run (not a subgraph's) in a spans frame."""

    runs = _top_runs(spans).sort("start_ns")
    if runs.height:
        return str(runs["run_id"][-1])
    nodes = _nodes(spans).sort("start_ns")
    return str(nodes["run_id"][-1]) if nodes.height else None


def engine_overhead(spans: pl.DataFrame) -> pl.DataFrame:
    """Per top-level run (a subgraph's run is part of its parent's node): its
    wall time, the time covered by its node spans (overlaps counted once),
    and the rest — time the run spent outside nodes."""
    import polars as pl

    runs = _top_runs(spans).select("run_id", "start_ns", "end_ns", "wall_ms")
    nodes = _nodes(spans).select("run_id", "start_ns", "end_ns").sort(["run_id", "start_ns"])
    covered: dict[Any, float] = {}
    for run_id, group in nodes.group_by("run_id"):
        busy = 0
        cur_start = cur_end = None
        for start, end in group.select("start_ns", "end_ns").iter_rows():
            if cur_end is None or start > cur_end:
                if cur_end is not None and cur_start is not None:
                    busy += cur_end - cur_start
                cur_start, cur_end = start, end
            else:
                cur_end = max(cur_end, end)
        if cur_end is not None and cur_start is not None:
            busy += cur_end - cur_start
        covered[run_id[0]] = busy / 1e6
    node_ms = pl.Series("node_ms", [covered.get(r, 0.0) for r in runs["run_id"]], dtype=pl.Float64)
    return (
        runs.with_columns(node_ms)
        .with_columns(
            overhead_ms=(pl.col("wall_ms") - pl.col("node_ms")).clip(lower_bound=0.0),
        )
        .with_columns(overhead_share=pl.col("overhead_ms") / pl.col("wall_ms"))
    )
