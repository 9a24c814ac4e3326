"""Many runs in one process: ``python tests/faults/longrun.py FILE RUNS``.

Each run is a three-node chain on its own thread (a message appended per
node, so the file grows like a chat's), written to one DuckDB store under
the default durability. Every 1,000 runs it records the process's RSS, the
file's size and the store's per-thread bookkeeping; at the end it prints
them as one JSON object (tests/faults/test_long_runs.py reads it).
"""

from __future__ import annotations

import json
import operator
import os
import sys
import time
from pathlib import Path
from typing import Annotated, TypedDict

import psutil

from wfkit import END, START, StateGraph
from wfkit.checkpoint import DuckDBCheckpointer


class Chat(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    n: int


def main(path: str, runs: int) -> None:
    graph = StateGraph(Chat)
    for name in ("a", "b", "c"):
        graph.add_node(name, lambda s, name=name: {"log": [name * 20], "n": s.get("n", 0) + 1})
    graph.add_edge(START, "a").add_edge("a", "b").add_edge("b", "c").add_edge("c", END)
    proc = psutil.Process()
    samples = []
    started = time.perf_counter()
    with DuckDBCheckpointer(path) as store:
        app = graph.compile(checkpointer=store)
        for i in range(1, runs + 1):
            out = app.invoke({"log": ["hi"]}, thread=f"t{i}")
            assert out["n"] == 3, out
            if i % 1000 == 0:
                store.flush()
                samples.append(
                    {
                        "runs": i,
                        "seconds": round(time.perf_counter() - started, 2),
                        "rss_mb": round(proc.memory_info().rss / 2**20, 2),
                        "file_mb": round(_size(path) / 2**20, 3),
                        "written_bytes": sys.getsizeof(store.written_threads.bits),
                        "dirty": len(store._dirty),
                    }
                )
        last = app.get_state({"configurable": {"thread_id": "t1"}}).values
        assert last["log"] == ["hi", "a" * 20, "b" * 20, "c" * 20], last
    print(json.dumps({"samples": samples, "file_mb": round(_size(path) / 2**20, 3)}))


def _size(path: str) -> int:
    """The file and its write-ahead log (DuckDB checkpoints the log into the file)."""
    wal = Path(path + ".wal")
    return os.path.getsize(path) + (wal.stat().st_size if wal.exists() else 0)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
