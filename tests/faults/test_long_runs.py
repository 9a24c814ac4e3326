"""Long runs: many runs in one process (RSS and file growth per 1,000 runs,
printed), and the store's per-thread bookkeeping stays bounded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from crashlib import REPORTS

from tests.conftest import LogState, appender
from wfkit import END, START, StateGraph
from wfkit.checkpoint import DuckDBCheckpointer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# 100,000 runs take about 35 s on the 2-CPU machine (make test runs them);
# WFKIT_LONG_RUNS=5000 makes a quick check.
RUNS = int(os.environ.get("WFKIT_LONG_RUNS", "100000"))


def footprint(seen: Any) -> int:
    """Bytes held by a store's record of the threads it wrote."""
    if isinstance(seen, set):
        return sys.getsizeof(seen) + sum(map(sys.getsizeof, seen))
    return sys.getsizeof(seen.bits)


def test_the_record_of_written_threads_does_not_grow_with_threads(tmp_path: Path) -> None:
    graph = StateGraph(LogState)
    graph.add_node("a", appender("a"))
    graph.add_edge(START, "a").add_edge("a", END)
    with DuckDBCheckpointer(tmp_path / "r.duckdb") as store:
        app = graph.compile(checkpointer=store)
        app.invoke({}, thread="t0")
        store.flush()
        before = footprint(store.written_threads)
        rows = [
            [(f"t{i}", "c", None, None, 0, "input", "[]", "[]", "[]", "{}", "{}", "{}", 0.0)]
            for i in range(1, 3001)
        ]
        for row in rows:  # 3,000 more threads, written the way runs write them
            store.put(row, [], [])
        store.flush()
        assert footprint(store.written_threads) == before
        # and reads stay right
        assert app.get_state({"configurable": {"thread_id": "t0"}}).values == {"log": ["a"]}
        assert app.get_state({"configurable": {"thread_id": "never"}}).values == {}
        assert "t2999" in store.written_threads and "t0" in store.written_threads


@pytest.mark.slow
def test_many_runs_in_one_process(tmp_path: Path) -> None:
    """``WFKIT_LONG_RUNS`` runs (100,000 by default) into one file."""
    path = tmp_path / "long.duckdb"
    out = subprocess.run(
        [sys.executable, str(HERE / "longrun.py"), str(path), str(RUNS)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout)
    samples = report["samples"]
    first, mid, last = samples[0], samples[len(samples) // 2], samples[-1]
    per_k = 1000 / (last["runs"] - mid["runs"])
    rss = (last["rss_mb"] - mid["rss_mb"]) * per_k
    grow = (last["file_mb"] - mid["file_mb"]) * per_k
    early = (mid["file_mb"] - first["file_mb"]) * 1000 / (mid["runs"] - first["runs"])
    REPORTS.append(
        f"long runs: {last['runs']:,} runs in {last['seconds']} s; second half, per 1,000 runs: "
        f"RSS {rss:+.2f} MB, file {grow:+.3f} MB (first half {early:+.3f} MB); "
        f"RSS {first['rss_mb']} -> {last['rss_mb']} MB, file {report['file_mb']} MB; "
        f"written-threads record {last['written_bytes']} bytes"
    )
    assert last["written_bytes"] == first["written_bytes"]  # bookkeeping does not grow
    assert last["dirty"] == 0
    assert rss < 2.0, samples  # RSS MB per 1,000 runs once warm
