"""SIGKILL a process whose store answers from memory (a long thread continued
turn after turn, read between turns, the file let go and opened again while
it runs), then reopen the file: nothing committed is lost, and the thread
reads back whole and in order."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from wfkit.checkpoint.duckdb import DuckDBCheckpointer
from wfkit.checkpoint.serde import Serde
from wfkit.threads.saver import load

ROOT = Path(__file__).resolve().parent.parent.parent

CHILD = """
import operator, sys, time, random
from typing import Annotated, TypedDict
from wfkit import END, START, StateGraph
from wfkit.checkpoint import DuckDBCheckpointer

class Chat(TypedDict, total=False):
    messages: Annotated[list, operator.add]

def reply(state):
    return {"messages": ["re:" + state["messages"][-1]]}

db, log, durability, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rng = random.Random(seed)
store = DuckDBCheckpointer(db, durability=durability, idle_release=0.05, cache_bytes=200_000)
g = StateGraph(Chat)
g.add_node("reply", reply)
g.add_edge(START, "reply")
g.add_edge("reply", END)
app = g.compile(checkpointer=store)
with open(log, "a", buffering=1) as out:
    out.write("ready\\n")
    for i in range(100_000):
        thread = f"t{i % 3}"
        cfg = {"configurable": {"thread_id": thread}}
        before = app.get_state(cfg).values.get("messages", [])
        got = app.invoke({"messages": [f"{thread}-{i}"]}, cfg)["messages"]
        assert got == before + [f"{thread}-{i}", f"re:{thread}-{i}"], (before, got)
        out.write(f"{thread} {i}\\n")  # under sync: committed before this line
        if rng.random() < 0.05:
            time.sleep(0.1)  # long enough for the store to let the file go
"""


def run_and_kill(tmp: Path, durability: str, seed: int, delay: float) -> dict[str, list[int]]:
    db, log = tmp / "runs.duckdb", tmp / "child.log"
    script = tmp / "child.py"
    script.write_text(textwrap.dedent(CHILD))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(db), str(log), durability, str(seed)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not (log.exists() and len(log.read_text().splitlines()) >= 3):  # ready, 2 turns
        assert proc.poll() is None, proc.communicate()[1].decode()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err.decode()
    logged: dict[str, list[int]] = {}
    for line in log.read_text().splitlines()[1:]:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():  # a line cut by the kill is not counted
            logged.setdefault(parts[0], []).append(int(parts[1]))
    return logged


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
@pytest.mark.parametrize("seed", [1, 2])
def test_killed_with_a_warm_cache(tmp_path: Path, durability: str, seed: int) -> None:
    delay = random.Random(seed).uniform(0.3, 1.5)
    logged = run_and_kill(tmp_path, durability, seed, delay)
    assert logged, "the child finished no turn before it was killed"
    with DuckDBCheckpointer(tmp_path / "runs.duckdb", cache_bytes=0) as store:
        for thread, turns in logged.items():
            loaded = load(store, Serde(), thread)
            if loaded is None:  # async: a thread whose turns all fell in the last moments
                assert durability == "async", (thread, turns)
                continue
            messages = list(loaded.values["messages"])
            if len(messages) % 2:  # the kill fell inside a turn: its input is stored, not its reply
                cut = int(messages.pop().split("-")[1])  # (a checkpoint per step, as LangGraph)
                assert all(int(m.split("-")[1]) < cut for m in messages[0::2]), (thread, messages)
            stored = [int(m.split("-")[1]) for m in messages[0::2]]
            assert messages[1::2] == [f"re:{m}" for m in messages[0::2]]  # whole turns
            assert stored == sorted(stored)  # in order, none twice
            if durability in ("sync", "exit"):  # a finished turn is committed
                assert stored[: len(turns)] == turns, (thread, stored, turns)
            else:  # async: at most the last moments may be lost, never a middle turn
                assert stored == turns[: len(stored)], (thread, stored, turns)
