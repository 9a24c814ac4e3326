"""The stress command on the example workflow (Python and CLI)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LogState
from wfkit import START, StateGraph
from wfkit.stress import StressResult

ROOT = Path(__file__).resolve().parent.parent


def test_stress_reports_throughput_and_node_latencies() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from examples.support import app
    finally:
        sys.path.remove(str(ROOT))
    result = app.stress(
        lambda i: {"text": f"Where is parcel {i}? shipped"}, runs=60, concurrency=6, progress=False
    )
    assert result.runs == 60 and result.failures == 0 and result.throughput > 0
    counts = dict(result.nodes.select("node", "count").rows())
    assert counts["classify"] == 60 and counts["answer"] == 60 and counts["lookup"] >= 60
    assert result.peak_rss_mb > 10
    assert "runs/s" in str(result) and "classify" in str(result)


def test_stress_async_graph_counts_failures(tmp_path: Path) -> None:
    async def sometimes(state: Any) -> dict[str, Any]:
        await asyncio.sleep(0.001)
        if state["n"] % 5 == 0:
            raise ConnectionError("flaky backend")
        return {"log": ["ok"]}

    g = StateGraph(LogState)
    g.add_node("sometimes", sometimes).add_edge(START, "sometimes")
    result = g.compile().stress(lambda i: {"n": i}, runs=50, concurrency=10, progress=False)
    assert result.failures == 10 and result.first_error == "ConnectionError: flaky backend"
    saved = StressResult.load(result.save(tmp_path / "r.json"))
    assert saved.runs == 50 and saved.nodes.height == result.nodes.height
    table = result.compare(saved)
    assert table["p50_ratio"][0] == pytest.approx(1.0)


def test_bad_arguments() -> None:
    g = StateGraph(LogState)
    g.add_node("n", lambda s: None).add_edge(START, "n")
    with pytest.raises(ValueError, match="runs >= 1"):
        g.compile().stress({}, runs=0)
    with pytest.raises(ValueError, match="not a saved stress result"):
        StressResult.load(__file__)


def wfkit(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfkit.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.slow
def test_cli_stress_and_trace_commands(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(
        "import time\n"
        "from typing import TypedDict\n"
        "from wfkit import StateGraph, START\n"
        "class S(TypedDict, total=False):\n    n: int\n"
        "def a(s):\n    time.sleep(0.001)\n    return {'n': s.get('n', 0) + 1}\n"
        "def b(s):\n    return {'n': s['n'] * 2}\n"
        "g = StateGraph(S)\ng.add_node('a', a)\ng.add_node('b', b)\ng.add_edge(START, 'a')\ng.add_edge('a', 'b')\n"
        "app = g.compile(checkpointer='runs.duckdb')\n"
    )
    out = wfkit(
        "stress", "flow:app", "--runs", "20", "-c", "4", "-q", "--save", "s.json", cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert "20 runs at concurrency 4" in out.stdout
    assert json.loads((tmp_path / "s.json").read_text())["runs"] == 20
    out = wfkit("stress", "flow:app", "-n", "10", "-q", "--compare", "s.json", cwd=tmp_path)
    assert out.returncode == 0 and "p99_ratio" in out.stdout, out.stderr

    out = wfkit("trace", "summary", "runs.duckdb", cwd=tmp_path)
    assert out.returncode == 0 and "p95_ms" in out.stdout and "engine overhead" in out.stdout, (
        out.stderr
    )
    out = wfkit("trace", "draw", "runs.duckdb", "--heat", "-o", "heat.dot", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "p95" in (tmp_path / "heat.dot").read_text()
    runs = wfkit("trace", "runs", "runs.duckdb", cwd=tmp_path)
    assert runs.returncode == 0, runs.stderr
    import polars as pl

    from wfkit.trace import frame

    ids = frame(tmp_path / "runs.duckdb").filter(pl.col("kind") == "run")["run_id"].to_list()
    out = wfkit("trace", "compare", "runs.duckdb", "--runs", ids[0], ids[1], cwd=tmp_path)
    assert out.returncode == 0 and "p95_ratio" in out.stdout, out.stderr
    out = wfkit("trace", "compare", "runs.duckdb", "--runs", "nope", ids[1], cwd=tmp_path)
    assert out.returncode == 2 and "no spans for run 'nope'" in out.stderr
    out = wfkit("trace", "summary", "missing.duckdb", cwd=tmp_path)
    assert out.returncode == 2 and "does not exist" in out.stderr


def test_counts_of_one_are_singular(tmp_path: Path) -> None:
    """'1 run', '1 node': the counts the commands and reprs print read as English."""
    (tmp_path / "one.py").write_text(
        "from typing import TypedDict\n"
        "from wfkit import StateGraph, START\n"
        "class S(TypedDict, total=False):\n    n: int\n"
        "g = StateGraph(S, name='one')\ng.add_node('a', lambda s: {'n': 1})\ng.add_edge(START, 'a')\n"
        "app = g.compile(checkpointer='runs.duckdb')\n"
    )
    out = wfkit("stress", "one:app", "-n", "1", "-c", "1", "-q", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "one: 1 run at concurrency 1 in" in out.stdout
    out = wfkit("trace", "summary", "runs.duckdb", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "\n1 run; engine overhead" in out.stdout
    from typing import TypedDict

    from wfkit import START, StateGraph

    class S(TypedDict, total=False):
        n: int

    g = StateGraph(S, name="one")
    g.add_node("a", lambda s: {})
    g.add_edge(START, "a")
    assert repr(g.compile()) == "<Workflow 'one': 1 node>"
