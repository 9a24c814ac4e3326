"""Scale-out on Dask (issue 14): three measurements on a LocalCluster of two
worker processes, each in its own subprocess (so peak RSS is its own).

- ``overhead``: a node that does nothing, one run at a time through Dask.
  Each iteration times ``app.invoke`` through the executor and a bare
  ``client.submit(f).result()`` of the same no-op, interleaved; the engine's
  overhead per node call is their difference (p50, p99 over the pairs).
- ``cpu``: a CPU-bound pure-Python node (``--work-ms`` of work) over
  ``--cpu-inputs`` inputs: runs per second on the local driver (threads,
  held back by the GIL) and through Dask on two processes; target ≥1.7x.
- ``batch``: ``--batch-inputs`` inputs (100,000 by default) through a
  3-node graph with checkpoints to a file and the progress bar: on Dask, on
  the local async driver (``abatch`` without an executor), and LangGraph's
  ``batch`` (SqliteSaver file); wall time and peak driver RSS each.

Usage: ``python -m benchmarks.dask_scale [--markdown benchmarks/RESULTS.md]``
(``make bench`` runs it after the main suite). Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

MARK = "DASK-RESULT "
BEGIN, END_ = "<!-- dask-scale:begin -->", "<!-- dask-scale:end -->"


class B(TypedDict, total=False):
    n: int
    a: int
    b: int
    log: Annotated[list[str], operator.add]


def noop(state: B) -> dict[str, Any]:
    return {}


def bare(x: int) -> int:
    return x


def cpu_node(state: B) -> dict[str, Any]:
    end = time.thread_time() + state["n"] / 1000  # n: milliseconds of CPU work
    total = 0
    while time.thread_time() < end:
        for i in range(2000):
            total = (total + i * i) % 1_000_003
    return {"a": total}


def first(state: B) -> dict[str, Any]:
    return {"a": state["n"] * 2}


def second(state: B) -> dict[str, Any]:
    return {"b": state["a"] + 1}


def third(state: B) -> dict[str, Any]:
    return {"log": [f"{state['n']}:{state['b']}"]}


def _cluster() -> Any:
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0")
    return cluster, Client(cluster)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _wfkit_graph(*nodes: Any) -> Any:
    from wfkit import START, StateGraph

    g = StateGraph(B)
    prev = START
    for fn in nodes:
        g.add_node(fn.__name__, fn)
        g.add_edge(prev, fn.__name__)
        prev = fn.__name__
    return g


# ------------------------------------------------------------------ children
def overhead(iterations: int) -> dict[str, Any]:
    from wfkit.distributed import DaskExecutor

    cluster, client = _cluster()
    ex = DaskExecutor(client)
    app = _wfkit_graph(noop).compile(executor=ex, trace="off")
    for i in range(20):  # warm up: functions shipped, connections open
        app.invoke({"n": i})
        client.submit(bare, i, pure=False).result()
    ours, theirs, ours_cpu, theirs_cpu = [], [], [], []
    for i in range(iterations):
        c0, t0 = time.process_time(), time.perf_counter()
        app.invoke({"n": i})
        c1, t1 = time.process_time(), time.perf_counter()
        client.submit(bare, i, pure=False).result()
        c2, t2 = time.process_time(), time.perf_counter()
        ours.append((t1 - t0) * 1e3)
        theirs.append((t2 - t1) * 1e3)
        ours_cpu.append((c1 - c0) * 1e3)
        theirs_cpu.append((c2 - c1) * 1e3)
    diffs = [a - b for a, b in zip(ours, theirs, strict=True)]
    # the driver's CPU (all its threads: Dask's client loop too) per call, less sensitive to a
    # busy machine than wall time
    cpu_diffs = [a - b for a, b in zip(ours_cpu, theirs_cpu, strict=True)]
    client.close()
    cluster.close()
    return {
        "wfkit_p50_ms": _pct(ours, 0.5),
        "wfkit_p99_ms": _pct(ours, 0.99),
        "dask_p50_ms": _pct(theirs, 0.5),
        "dask_p99_ms": _pct(theirs, 0.99),
        "overhead_p50_ms": _pct(diffs, 0.5),
        "overhead_p99_ms": _pct(diffs, 0.99),
        "overhead_mean_ms": statistics.fmean(diffs),
        "driver_cpu_wfkit_ms": statistics.fmean(ours_cpu),
        "driver_cpu_dask_ms": statistics.fmean(theirs_cpu),
        "driver_cpu_overhead_ms": statistics.fmean(cpu_diffs),
        "iterations": iterations,
    }


def cpu(inputs: int, work_ms: int) -> dict[str, Any]:
    from wfkit.distributed import DaskExecutor

    cluster, client = _cluster()
    app = _wfkit_graph(cpu_node).compile(trace="off")
    data = [{"n": work_ms}] * inputs
    with DaskExecutor(client) as ex:
        app.batch(data[:20], executor=ex, progress=False)  # warm up
        t0 = time.perf_counter()
        app.batch(data, executor=ex, progress=False)
        remote = time.perf_counter() - t0
    t0 = time.perf_counter()
    app.batch(data, progress=False)
    local = time.perf_counter() - t0
    client.close()
    cluster.close()
    return {
        "inputs": inputs,
        "work_ms": work_ms,
        "local_runs_per_s": inputs / local,
        "dask_runs_per_s": inputs / remote,
        "speedup": local / remote,
    }


def batch(engine: str, inputs: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp())
    data = [{"n": i} for i in range(inputs)]
    t0 = time.perf_counter()
    if engine == "langgraph":
        import sqlite3

        from langgraph.checkpoint.sqlite import SqliteSaver
        from langgraph.graph import START, StateGraph

        g = StateGraph(B)
        for fn in (first, second, third):
            g.add_node(fn.__name__, fn)
        g.add_edge(START, "first")
        g.add_edge("first", "second")
        g.add_edge("second", "third")
        conn = sqlite3.connect(folder / "lg.sqlite", check_same_thread=False)
        app = g.compile(checkpointer=SqliteSaver(conn))
        configs = [{"configurable": {"thread_id": f"t{i}"}} for i in range(inputs)]
        out = app.batch(data, configs)
    else:
        app = _wfkit_graph(first, second, third).compile(checkpointer=folder / "runs.duckdb")
        if engine == "dask":
            from wfkit.distributed import DaskExecutor

            cluster, client = _cluster()
            t0 = time.perf_counter()
            with DaskExecutor(client) as ex:
                out = app.batch(data, executor=ex)
            seconds = time.perf_counter() - t0
            client.close()
            cluster.close()
        else:
            import asyncio

            out = asyncio.run(app.abatch(data))
    seconds = time.perf_counter() - t0 if engine != "dask" else seconds
    assert out[7]["log"] == ["7:15"], out[7]
    return {"engine": engine, "inputs": inputs, "seconds": seconds, "rss_mb": _rss_mb()}


# ------------------------------------------------------------------ parent
def _child(*args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.dask_scale", "--one", *args],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])  # type: ignore[no-any-return]
    return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}


def report(results: dict[str, Any]) -> str:
    o, c, b = results["overhead"], results["cpu"], results["batch"]
    lines = [
        BEGIN,
        "## Scale-out on Dask (issue 14)",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; command: "
        f"`python -m benchmarks.dask_scale {' '.join(results['argv'])}`",
        f"- Machine: {os.cpu_count()} CPUs, shared with other jobs while this ran (load average "
        f"{os.getloadavg()[0]:.1f} at the end); LocalCluster of 2 worker processes, 1 thread each.",
        "",
        "| measurement | wfkit | compared with | ratio | target | verdict |",
        "|---|---|---|---|---|---|",
    ]
    if "error" in o:
        lines.append(f"| overhead per node call | error: {o['error']} | | | | |")
    else:
        ok = o["overhead_p50_ms"] <= 2 and o["overhead_p99_ms"] <= 5
        lines.append(
            f"| engine overhead per node call through Dask (no-op node, {o['iterations']} calls) | "
            f"p50 {o['overhead_p50_ms']:.2f} ms, p99 {o['overhead_p99_ms']:.2f} ms "
            f"(invoke: p50 {o['wfkit_p50_ms']:.1f} ms) | bare `client.submit().result()`: "
            f"p50 {o['dask_p50_ms']:.1f} ms, p99 {o['dask_p99_ms']:.1f} ms | — | "
            f"p50 ≤ 2 ms, p99 ≤ 5 ms | {'PASS' if ok else 'FAIL'} |"
        )
        if "driver_cpu_overhead_ms" in o:
            lines.append(
                f"| driver CPU per node call (same calls) | {o['driver_cpu_wfkit_ms']:.2f} ms "
                f"(+{o['driver_cpu_overhead_ms']:.2f} ms) | bare submit: "
                f"{o['driver_cpu_dask_ms']:.2f} ms | — | (reported) | — |"
            )
    if "error" in c:
        lines.append(f"| CPU-bound | error: {c['error']} | | | | |")
    else:
        ok = c["speedup"] >= 1.7
        lines.append(
            f"| CPU-bound node ({c['work_ms']} ms of pure Python) × {c['inputs']} inputs | "
            f"{c['dask_runs_per_s']:.1f} runs/s on Dask | local driver: "
            f"{c['local_runs_per_s']:.1f} runs/s | {c['speedup']:.2f}x | ≥ 1.7x | "
            f"{'PASS' if ok else 'FAIL'} |"
        )
    dask = b.get("dask", {})
    for other, label in (("local", "local async driver"), ("langgraph", "LangGraph `batch`")):
        theirs = b.get(other, {})
        if "seconds" in dask and "seconds" in theirs:
            ours_rate = dask["inputs"] / dask["seconds"]
            their_rate = theirs["inputs"] / theirs["seconds"]
            lines.append(
                f"| batch of {dask['inputs']:,} inputs, 3 nodes, checkpoints, progress bar | "
                f"{dask['seconds']:.1f} s ({ours_rate:,.0f} runs/s), driver RSS "
                f"{dask['rss_mb']:.0f} MB | {label}, {theirs['inputs']:,} inputs: "
                f"{theirs['seconds']:.1f} s ({their_rate:,.0f} runs/s), RSS "
                f"{theirs['rss_mb']:.0f} MB | {ours_rate / their_rate:.2f}x runs/s | (reported) | — |"
            )
        else:
            lines.append(f"| batch vs {label} | {dask} | {theirs} | | | |")
    lines += ["", END_]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--one", nargs="+")
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--cpu-inputs", type=int, default=2000)
    parser.add_argument("--work-ms", type=int, default=20)
    parser.add_argument("--batch-inputs", type=int, default=100_000)
    parser.add_argument(
        "--langgraph-inputs", type=int, help="LangGraph's batch size (default: --batch-inputs)"
    )
    parser.add_argument("--skip-langgraph", action="store_true")
    parser.add_argument("--markdown", help="replace this section of that file")
    args = parser.parse_args()
    if args.one:
        kind, *rest = args.one
        if kind == "overhead":
            result = overhead(int(rest[0]))
        elif kind == "cpu":
            result = cpu(int(rest[0]), int(rest[1]))
        else:
            result = batch(rest[0], int(rest[1]))
        print(MARK + json.dumps(result), flush=True)
        return
    results: dict[str, Any] = {"argv": sys.argv[1:]}
    results["overhead"] = _child("overhead", str(args.iterations))
    print("overhead", results["overhead"], flush=True)
    results["cpu"] = _child("cpu", str(args.cpu_inputs), str(args.work_ms))
    print("cpu", results["cpu"], flush=True)
    engines = ["dask", "local"] + ([] if args.skip_langgraph else ["langgraph"])
    results["batch"] = {}
    for engine in engines:
        n = args.langgraph_inputs if engine == "langgraph" and args.langgraph_inputs else None
        results["batch"][engine] = _child("batch", engine, str(n or args.batch_inputs))
        print("batch", engine, results["batch"][engine], flush=True)
    text = report(results)
    print(text)
    if args.markdown:
        path = Path(args.markdown)
        old = path.read_text()
        pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END_), re.S)
        new = (
            pattern.sub(lambda _: text, old)
            if BEGIN in old
            else old.rstrip() + "\n\n" + text + "\n"
        )
        path.write_text(new)


if __name__ == "__main__":
    main()
