"""The child process of the crash tests: runs threads of one graph shape into
a DuckDB file until it is killed.

    python crashee.py DB LOG SHAPE DURABILITY THREADS [POINT:N]

With ``POINT:N`` it SIGKILLs itself the ``N``-th time the store's flusher
passes ``POINT`` (``wfkit.checkpoint.base.fault_hook``); without, the test
kills it from outside at a random moment. Each finished thread is logged as
``<thread> done``.
"""

from __future__ import annotations

import os
import signal
import sys

from shapes import _say, build, run_thread

from wfkit.checkpoint import base
from wfkit.checkpoint.duckdb import DuckDBCheckpointer


def main() -> None:
    db, log, shape, durability, threads = sys.argv[1:6]
    if len(sys.argv) > 6:
        point, _, nth = sys.argv[6].partition(":")
        seen = 0

        def hook(where: str) -> None:
            nonlocal seen
            if where == point:
                seen += 1
                if seen == int(nth):
                    os.kill(os.getpid(), signal.SIGKILL)

        base.fault_hook = hook
    store = DuckDBCheckpointer(db, durability=durability)  # type: ignore[arg-type]
    app = build(shape, log).compile(checkpointer=store)
    _say(log, "- ready")
    for i in range(int(threads)):
        run_thread(app, f"t{i}")
        _say(log, f"t{i} done")
    _say(log, "- finished")
    os._exit(0)  # no close(): what is not durable by now is lost, as in a crash


if __name__ == "__main__":
    main()
