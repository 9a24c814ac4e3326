"""The child process of the crash tests: runs threads of one graph shape into
a DuckDB file until it is killed.

    python crashee.py DB LOG SHAPE DURABILITY THREADS [--point POINT:N] [--migrate S]

It runs threads ``t0``, ``t1``, ... and keeps starting new ones until it is
killed (at most ``LIMIT`` seconds), so a kill never comes too late to land
in a run. With ``--point POINT:N`` it SIGKILLs itself the ``N``-th time the
store's flusher passes ``POINT`` (``wfkit.checkpoint.base.fault_hook``);
without, the test kills it from outside. ``--migrate`` sets how often the
flusher moves journaled rows into the tables (``migrate_interval``; 1 s by
default, longer than most runs here). Each finished thread is logged as
``<thread> done``, each pass of ``POINT`` as ``- POINT <size of the WAL>``.
"""

from __future__ import annotations

import argparse
import os
import signal
import time

from shapes import _say, build, run_thread

from wfkit.checkpoint import base
from wfkit.checkpoint.duckdb import DuckDBCheckpointer

LIMIT = 30.0  # seconds: a point never passed is a failed test, not a hang


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("db")
    p.add_argument("log")
    p.add_argument("shape")
    p.add_argument("durability")
    p.add_argument("threads", type=int)
    p.add_argument("--point")
    p.add_argument("--migrate", type=float)
    args = p.parse_args()
    if args.point:
        point, _, nth = args.point.partition(":")
        seen = 0

        def hook(where: str) -> None:
            nonlocal seen
            if where == point:
                seen += 1
                _say(args.log, f"- {where} {_size(args.db + '.wal')}")  # where each commit ends
                if seen == int(nth):
                    os.kill(os.getpid(), signal.SIGKILL)

        base.fault_hook = hook
    store = DuckDBCheckpointer(args.db, durability=args.durability)
    if args.migrate is not None:
        store.migrate_interval = args.migrate
    app = build(args.shape, args.log).compile(checkpointer=store)
    _say(args.log, "- started")
    deadline = time.monotonic() + LIMIT
    i = 0
    while i < args.threads or time.monotonic() < deadline:
        run_thread(app, f"t{i}")
        _say(args.log, f"t{i} done")
        i += 1
    _say(args.log, "- finished")
    os._exit(0)  # no close(): what is not durable by now is lost, as in a crash


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


if __name__ == "__main__":
    main()
