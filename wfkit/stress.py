"""Stress-testing a workflow before you deploy it: many runs at a chosen
concurrency, with spans recorded, summarised as throughput, per-node
latency percentiles, engine overhead and peak memory.

    result = workflow.stress({"text": "hi"}, runs=1000, concurrency=50)
    print(result)                       # a table
    result.save("before.json")
    result.compare(StressResult.load("before.json"))   # per-node regression table
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from wfkit._loop import run_sync
from wfkit._words import count
from wfkit.errors import InvalidInputError

__all__ = ["StressResult", "stress"]

if TYPE_CHECKING:
    import polars as pl

    from wfkit.checkpoint.base import Checkpointer
    from wfkit.graph.topology import Topology
    from wfkit.trace.record import MemorySpans as _Spans


class Workflow(Protocol):
    """What a stress run needs of a workflow (``wfkit.Workflow`` is one)."""

    name: str
    topology: Topology
    checkpointer: Checkpointer | None
    _spans: _Spans

    def invoke(self, input: Any, config: Mapping[str, Any] | None = None) -> dict[str, Any]: ...

    async def ainvoke(
        self, input: Any, config: Mapping[str, Any] | None = None
    ) -> dict[str, Any]: ...


def _number(value: Any) -> float:
    return float(value) if value is not None else 0.0


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


@dataclass(frozen=True, kw_only=True)
class StressResult:
    """What a stress run measured. ``nodes`` has one row per node: count,
    errors, p50/p95/p99/max ms, mean CPU ms."""

    workflow: str
    runs: int
    concurrency: int
    seconds: float
    failures: int
    throughput: float
    overhead_ms_p50: float
    overhead_share: float
    peak_rss_mb: float
    nodes: pl.DataFrame
    first_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "runs": self.runs,
            "concurrency": self.concurrency,
            "seconds": self.seconds,
            "failures": self.failures,
            "throughput": self.throughput,
            "overhead_ms_p50": self.overhead_ms_p50,
            "overhead_share": self.overhead_share,
            "peak_rss_mb": self.peak_rss_mb,
            "first_error": self.first_error,
            "nodes": self.nodes.to_dicts(),
        }

    def save(self, path: str | Path) -> Path:
        out = Path(path)
        out.write_text(json.dumps(self.to_dict(), indent=2))
        return out

    @classmethod
    def load(cls, path: str | Path) -> StressResult:
        import polars as pl

        try:
            data = json.loads(Path(path).read_text())
            nodes = pl.DataFrame(data.pop("nodes"))
            return cls(nodes=nodes, **data)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise InvalidInputError(
                f"{path} is not a saved stress result ({exc}); save one with result.save(path)"
            ) from exc

    def compare(self, before: StressResult) -> pl.DataFrame:
        """Per node: p50 and p99 before and now, and their ratios (now / before)."""
        import polars as pl

        old = before.nodes.select(
            "node",
            pl.col("count").alias("count_before"),
            pl.col("p50_ms").alias("p50_before"),
            pl.col("p99_ms").alias("p99_before"),
        )
        new = self.nodes.select(
            "node",
            pl.col("count").alias("count_after"),
            pl.col("p50_ms").alias("p50_after"),
            pl.col("p99_ms").alias("p99_after"),
        )
        return (
            old.join(new, on="node", how="full", coalesce=True)
            .with_columns(
                p50_ratio=pl.col("p50_after") / pl.col("p50_before"),
                p99_ratio=pl.col("p99_after") / pl.col("p99_before"),
            )
            .sort("p99_ratio", descending=True, nulls_last=True)
        )

    def __str__(self) -> str:
        lines = [
            f"{self.workflow}: {count(self.runs, 'run')} at concurrency {self.concurrency} in {self.seconds:.2f} s "
            f"= {self.throughput:,.1f} runs/s; {self.failures} failed",
            f"engine overhead p50 {self.overhead_ms_p50:.3f} ms per run ({self.overhead_share:.1%} of run time); "
            f"peak RSS {self.peak_rss_mb:.0f} MB (process)",
        ]
        if self.first_error:
            lines.append(f"first error: {self.first_error}")
        lines.append(
            f"{'node':<24}{'count':>8}{'errors':>8}{'p50 ms':>11}{'p99 ms':>11}{'max ms':>11}"
        )
        for row in self.nodes.iter_rows(named=True):
            lines.append(
                f"{row['node']:<24}{row['count']:>8}{row['errors']:>8}"
                f"{row['p50_ms']:>11.3f}{row['p99_ms']:>11.3f}{row['max_ms']:>11.3f}"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = str(self).split("\n")[:2]
        return "<br>".join(head) + self.nodes._repr_html_()


def stress(
    workflow: Workflow,
    input: Mapping[str, Any] | Callable[[int], Any],
    *,
    runs: int = 100,
    concurrency: int = 10,
    progress: bool = True,
    config: Mapping[str, Any] | None = None,
) -> StressResult:
    """Run ``workflow`` ``runs`` times, at most ``concurrency`` at once, and
    measure it: a graph with async nodes runs on one event loop, a graph of
    sync nodes on ``concurrency`` worker threads."""
    import polars as pl

    from wfkit.trace import engine_overhead, spans_frame
    from wfkit.trace.record import MemorySpans

    if runs < 1 or concurrency < 1:
        raise InvalidInputError(
            f"stress needs runs >= 1 and concurrency >= 1, got runs={runs}, concurrency={concurrency}"
        )
    make = input if callable(input) else (lambda i: input)
    # this stress's spans for the report, and the workflow's usual sink too
    sink = MemorySpans(max_bytes=None, forward=workflow.checkpointer or workflow._spans)
    base = dict(config or {})
    failures = 0
    first_error: str | None = None

    lock = threading.Lock()

    def config_for(i: int) -> dict[str, Any]:
        cfg = {**base, "trace": base.get("trace", "timing"), "wfkit_span_sink": sink}
        if workflow.checkpointer is not None:
            cfg["configurable"] = {**(base.get("configurable") or {}), "thread_id": f"stress-{i}"}
        return cfg

    def failed(exc: Exception) -> None:
        nonlocal failures, first_error
        with lock:
            failures += 1
            if first_error is None:
                first_error = f"{type(exc).__name__}: {exc}"

    from tqdm.auto import tqdm

    bar = tqdm(total=runs, desc=f"stress {workflow.name}", disable=not progress, unit="run")

    async def run_async() -> None:
        # async nodes: concurrent runs on one event loop
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with gate:
                try:
                    await workflow.ainvoke(make(i), config_for(i))
                except Exception as exc:
                    failed(exc)
                finally:
                    bar.update(1)

        await asyncio.gather(*(one(i) for i in range(runs)))

    def run_threads() -> None:
        # sync nodes: concurrent runs on worker threads, as a sync service runs them
        def one(i: int) -> None:
            try:
                workflow.invoke(make(i), config_for(i))
            except Exception as exc:
                failed(exc)
            finally:
                bar.update(1)

        with ThreadPoolExecutor(concurrency, thread_name_prefix="wfkit-stress") as pool:
            list(pool.map(one, range(runs)))

    started = time.perf_counter()
    try:
        if workflow.topology.needs_async:
            run_sync(run_async())
        else:
            run_threads()
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    spans = spans_frame(sink.rows())
    nodes = (
        spans.filter(pl.col("kind") == "node")
        .group_by("node")
        .agg(
            count=pl.len(),
            errors=(pl.col("status") == "error").sum(),
            p50_ms=pl.col("wall_ms").quantile(0.5, "linear"),
            p95_ms=pl.col("wall_ms").quantile(0.95, "linear"),
            p99_ms=pl.col("wall_ms").quantile(0.99, "linear"),
            max_ms=pl.col("wall_ms").max(),
            mean_cpu_ms=pl.col("cpu_ms").mean(),
        )
        .sort("p99_ms", descending=True)
    )
    overhead = engine_overhead(spans)
    return StressResult(
        workflow=workflow.name,
        runs=runs,
        concurrency=concurrency,
        seconds=seconds,
        failures=failures,
        throughput=runs / seconds if seconds > 0 else float("inf"),
        overhead_ms_p50=_number(overhead["overhead_ms"].median()),
        overhead_share=_number(overhead["overhead_ms"].sum())
        / max(_number(overhead["wall_ms"].sum()), 1e-9),
        peak_rss_mb=_peak_rss_mb(),
        nodes=nodes,
        first_error=first_error,
    )
