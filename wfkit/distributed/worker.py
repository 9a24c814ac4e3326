"""What runs on a Dask worker: a packet of node calls, and the pre-flight probe.

A *call* is ``(digest, function, arg, config, resume, wants_config,
is_async)``: the node's function as cloudpickle bytes (unpickled once per
worker process, kept by its digest), its input (the state or a ``Send``'s
argument), its config (``None`` unless the node takes one; wfkit's own
keys removed), and the answers its ``interrupt()`` calls read. An
*outcome* is ``(kind, value, started_ns, ended_ns, cpu_ns)``: ``OK`` with
the node's update, ``INTERRUPT`` with its interrupts, or ``ERROR`` with the
exception (made picklable if it is not). Times are the worker's wall clock
(``time.time_ns``), so the driver can place them against its own.

Nothing here opens a checkpoint file or imports DuckDB: workers only call
node functions.
"""

from __future__ import annotations

import asyncio
import threading
import time
import traceback
from collections import OrderedDict
from typing import Any, Final

from wfkit import _context
from wfkit.errors import GraphInterrupt

__all__ = ["ERROR", "INTERRUPT", "OK", "Call", "Outcome", "probe", "run_packet"]

OK: Final = 0
INTERRUPT: Final = 1
ERROR: Final = 2

Call = tuple[str, bytes, Any, Any, tuple[Any, ...], bool, bool]
Outcome = tuple[int, Any, int, int, int]

#: unpickled node functions of this worker process, by digest (newest last)
_functions: OrderedDict[str, Any] = OrderedDict()
_functions_lock = threading.Lock()
MAX_FUNCTIONS: Final = 512
_local = threading.local()


def _function(digest: str, blob: bytes) -> Any:
    fn = _functions.get(digest)
    if fn is None:
        import cloudpickle

        fn = cloudpickle.loads(blob)
        with _functions_lock:
            _functions[digest] = fn
            while len(_functions) > MAX_FUNCTIONS:
                _functions.popitem(last=False)
    return fn


def _run_coroutine(coro: Any) -> Any:
    """An async node's coroutine, run to its end on a loop of its own (a
    loop kept per worker thread would outlive the thread unclosed)."""
    return asyncio.run(coro)


def _worker_name() -> str:
    name = getattr(_local, "worker", None)
    if name is None:
        try:
            from distributed import get_worker

            name = str(get_worker().address)
        except ValueError:  # not on a worker (a test calling run_packet directly)
            name = "local"
        _local.worker = name
    return name


def _portable(exc: Exception, worker: str) -> Exception:
    """``exc`` with a note of where it was raised, or a stand-in if it cannot be pickled."""
    frames = traceback.format_exception(exc)
    exc.add_note(f"wfkit: on Dask worker {worker}:\n{''.join(frames[-3:]).rstrip()}")
    try:
        import cloudpickle

        cloudpickle.loads(cloudpickle.dumps(exc))
    except Exception:
        stand_in = RuntimeError(f"{type(exc).__name__}: {exc} (the exception could not be pickled)")
        for line in getattr(exc, "__notes__", ()):
            stand_in.add_note(line)
        return stand_in
    return exc


def _call(call: Call, worker: str) -> Outcome:
    digest, blob, arg, config, resume, wants_config, is_async = call
    started = time.time_ns()
    cpu0 = time.thread_time_ns()
    token = _context.current_task.set(_context.TaskScratch(list(resume))) if resume else None
    try:
        fn = _function(digest, blob)
        out = fn(arg, config=config) if wants_config else fn(arg)
        if is_async:
            out = _run_coroutine(out)
        kind, value = OK, out
    except GraphInterrupt as exc:
        kind, value = INTERRUPT, exc.interrupts
    except Exception as exc:
        kind, value = ERROR, _portable(exc, worker)
    finally:
        if token is not None:
            _context.current_task.reset(token)
    return kind, value, started, time.time_ns(), time.thread_time_ns() - cpu0


def run_packet(calls: list[Call]) -> tuple[str, list[Outcome]]:
    """Run a packet's calls in order; returns the worker's address and their outcomes."""
    worker = _worker_name()
    return worker, [_call(call, worker) for call in calls]


def probe(functions: dict[str, bytes]) -> dict[str, tuple[str, str | None]]:
    """Unpickle each node's function here; returns, per node that fails,
    the error text and the missing module's name (if that is the cause)."""
    import cloudpickle

    failures: dict[str, tuple[str, str | None]] = {}
    for node, blob in functions.items():
        try:
            cloudpickle.loads(blob)
        except ModuleNotFoundError as exc:
            failures[node] = (f"{type(exc).__name__}: {exc}", exc.name)
        except Exception as exc:
            failures[node] = (f"{type(exc).__name__}: {exc}", None)
    return failures
