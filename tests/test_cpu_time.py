"""CPU time per node (issue 12, defect 4): a node that spins is charged about
its wall time, one that sleeps about nothing, on the first run of a fresh
process too, and each node its own figure even in one run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from typing import TypedDict
    import polars as pl
    from wfkit import START, Send, StateGraph

    class S(TypedDict, total=False):
        n: int

    def spin(ms):
        end = time.thread_time() + ms / 1000
        while time.thread_time() < end:
            pass

    def crunch(state):
        spin(30)
        return {"n": 1}

    def wait(state):
        time.sleep(0.03)
        return {"n": 2}

    def tiny_sleep(state):  # shorter than a CPU window
        time.sleep(0.0001)
        return {}

    def fan(state):
        return [Send("work", 20), Send("work", 0)]

    def work(ms):
        spin(ms)
        time.sleep(0.02)
        return {}

    order = sys.argv[1].split(",")
    g = StateGraph(S)
    g.add_node(crunch).add_node(wait).add_node(tiny_sleep).add_node(work)
    g.add_edge(START, order[0]).add_edge(order[0], order[1]).add_edge(order[1], "tiny_sleep")
    g.add_conditional_edges("tiny_sleep", fan, ["work"])
    app = g.compile()
    app.invoke({})  # the first run of this process
    rows = app.traces().filter(pl.col("kind") == "node").select("node", "task_id", "wall_ms", "cpu_ms")
    print(json.dumps(rows.to_dicts()))
    """
)


def _first_run(order: str) -> dict[str, dict[str, float]]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, order],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    return {r["task_id"]: r for r in json.loads(out.stdout.strip().splitlines()[-1])}


@pytest.mark.parametrize("order", ["crunch,wait", "wait,crunch"])
def test_spinning_and_sleeping_nodes_get_their_own_cpu_on_a_first_run(order: str) -> None:
    rows = _first_run(order)
    # "2:0:crunch" -> "crunch"; the fan-out's "4:1:work" -> "work1"
    by_node = {
        (n if n != "work" else f"work{i}"): r
        for tid, r in rows.items()
        for _, i, n in [tid.split(":")]
    }
    crunch, wait = by_node["crunch"], by_node["wait"]
    # spinning 30 ms of CPU: about that (its wall time can be longer on a busy
    # machine); sleeping: about nothing (a window's worth at most)
    assert 29 <= crunch["cpu_ms"] <= crunch["wall_ms"], crunch
    assert wait["cpu_ms"] <= 1.0, wait
    assert by_node["tiny_sleep"]["cpu_ms"] <= by_node["tiny_sleep"]["wall_ms"]
    # fan-out tasks, measured on the threads that ran them
    assert 19 <= by_node["work0"]["cpu_ms"] <= by_node["work0"]["wall_ms"], by_node["work0"]
    assert by_node["work1"]["cpu_ms"] <= 1.0, by_node["work1"]
