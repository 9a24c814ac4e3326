"""Kill a child running a graph into a DuckDB file, reopen the file, finish
its threads, and check what the durability mode promises.

Checked after every kill:

- the file opens;
- ``sync``: every superstep before the deepest one the child had started is
  in the file (a node starting at depth ``d`` means depth ``d - 1``
  committed); ``exit``: every thread the child finished is in the file,
  finished;
- no node whose write was in the file at reopen runs again;
- finishing every thread gives the state of an uninterrupted run.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shapes import build, run_thread

from wfkit.checkpoint import MemoryCheckpointer
from wfkit.checkpoint.duckdb import DuckDBCheckpointer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
_KEY = re.compile(r'"([a-z]+[0-9]*:[0-9]+)(?:=yes)?"')

FIGURES: dict[str, int] = defaultdict(int)  # printed at the end of the session (conftest)
REPORTS: list[str] = []  # measured lines printed with them (long runs)


@dataclass
class Events:
    starts: dict[str, list[tuple[str, int]]] = field(default_factory=lambda: defaultdict(list))
    ends: dict[str, list[tuple[str, int]]] = field(default_factory=lambda: defaultdict(list))
    done: set[str] = field(default_factory=set)


def read_log(path: Path) -> Events:
    ev = Events()
    if not path.exists():
        return ev
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] == "done":
            ev.done.add(parts[0])
        elif len(parts) == 4:
            thread, what, key, depth = parts
            (ev.starts if what == "start" else ev.ends)[thread].append((key, int(depth)))
    return ev


def _plain(key: str) -> str:
    return key.split("=", 1)[0]


def expected(shape: str, tmp: Path) -> list[str]:
    app = build(shape, str(tmp / "expected.log")).compile(checkpointer=MemoryCheckpointer())
    return list(run_thread(app, "x")["log"])


def lines_per_thread(shape: str, tmp: Path) -> int:
    """How many node lines (start and end) one thread of ``shape`` logs."""
    log = tmp / "count.log"
    app = build(shape, str(log)).compile(checkpointer=MemoryCheckpointer())
    run_thread(app, "x")
    return len(log.read_text().splitlines())


def spawn(
    db: Path,
    log: Path,
    shape: str,
    durability: str,
    threads: int,
    point: str | None = None,
    *,
    migrate: float | None = None,
) -> subprocess.Popen[bytes]:
    args = [sys.executable, str(HERE / "crashee.py"), str(db), str(log), shape, durability]
    args.append(str(threads))
    if point:
        args += ["--point", point]
    if migrate is not None:
        args += ["--migrate", str(migrate)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)])}
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _node_lines(log: Path) -> int:
    try:
        text = log.read_bytes()
    except FileNotFoundError:
        return 0
    return text.count(b" start ") + text.count(b" end ")


def crash(
    tmp: Path,
    shape: str,
    durability: str,
    *,
    point: str | None = None,
    at: float | None = None,
    jitter: float = 0.0,
    threads: int = 3,
    migrate: float | None = None,
    check_after: bool = True,
) -> None:
    """Run the child until it is killed, then check the file.

    With ``point`` (``"journal-written:2"``) the child kills itself there;
    with ``at`` (a fraction of the node lines ``threads`` threads log) the
    test kills it once that many node lines are in its log, ``jitter``
    seconds (at most) later. The child keeps starting threads until it is
    killed, so it always is: a child that ends on its own fails the test."""
    db, log = tmp / "runs.duckdb", tmp / "child.log"
    proc = spawn(db, log, shape, durability, threads, point, migrate=migrate)
    if at is not None:
        total = lines_per_thread(shape, tmp) * threads
        wanted = max(1, min(total - 1, round(at * total)))
        deadline = time.monotonic() + 60
        while _node_lines(log) < wanted and proc.poll() is None:
            assert time.monotonic() < deadline, "the child logged too little"
            time.sleep(0.0005)
        time.sleep(jitter)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == -signal.SIGKILL, (
        f"the child was not killed (exit {proc.returncode}): {err.decode()[-3000:]}"
    )
    if check_after:
        check(tmp, shape, durability, read_log(log))
        FIGURES["kills survived"] += 1


def _keys(text: Any) -> set[str]:
    return set(_KEY.findall(text or ""))


def check(tmp: Path, shape: str, durability: str, ev: Events) -> None:
    db = tmp / "runs.duckdb"
    want = expected(shape, tmp)
    parent_log = tmp / "parent.log"
    store = DuckDBCheckpointer(db, durability="async")  # the file must open (no waits: faster)
    try:
        app = build(shape, str(parent_log)).compile(checkpointer=store)
        committed: dict[str, set[str]] = {}
        for thread in sorted(set(ev.starts) | ev.done):
            config = {"configurable": {"thread_id": thread}}
            snap = app.get_state(config)
            state_keys = {_plain(k) for k in snap.values.get("log", [])}
            done_writes = set()
            for row in store.get_writes(thread):
                if row[10] == "done":  # status
                    done_writes |= _keys(row[9])  # result
            committed[thread] = state_keys | done_writes
            if durability == "sync" and ev.starts[thread]:
                deepest = max(d for _, d in ev.starts[thread])
                lost = {_plain(k) for k, d in ev.ends[thread] if d < deepest} - state_keys
                assert not lost, f"{shape}/{durability}: thread {thread} lost committed {lost}"
            if durability in ("sync", "exit") and thread in ev.done:
                assert not snap.next and snap.values.get("log") == want, (
                    f"{shape}/{durability}: finished thread {thread} is not in the file whole: "
                    f"{snap.values} next={snap.next}"
                )
            FIGURES["writes checked"] += len(state_keys | done_writes)
            out = run_thread(app, thread)
            assert out["log"] == want, f"{shape}/{durability}: thread {thread} ended {out}"
        rerun = read_log(parent_log)
        for thread, starts in rerun.starts.items():
            again = {_plain(k) for k, _ in starts} & committed.get(thread, set())
            assert not again, f"{shape}/{durability}: {thread} re-ran finished nodes {again}"
    finally:
        store.close()


def random_moments(seed: int, n: int) -> list[tuple[float, float]]:
    """``n`` seeded kill moments: (fraction of the node lines, jitter in s)."""
    rng = random.Random(seed)
    return [(rng.random(), rng.uniform(0, 0.003)) for _ in range(n)]
