"""Running a coroutine from sync code, inside or outside an event loop.

``invoke()`` on a graph with async nodes must work in a plain script (no
loop running: a per-thread ``asyncio.Runner`` is reused) and in a Jupyter
cell, whose thread already runs the kernel's loop. There the coroutine runs
on a private event loop in a daemon thread and the caller blocks on its
result, with no process-wide patching of asyncio (which ``nest_asyncio2``
would need, and which has broken task detection in other libraries).
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_sync"]

T = TypeVar("T")

_local = threading.local()
_bg_lock = threading.Lock()
_bg_loop: asyncio.AbstractEventLoop | None = None


def _runner() -> asyncio.Runner:
    runner: asyncio.Runner | None = getattr(_local, "runner", None)
    if runner is None:
        runner = asyncio.Runner()
        _local.runner = runner
        atexit.register(runner.close)
    return runner


def _background_loop() -> asyncio.AbstractEventLoop:
    global _bg_loop
    with _bg_lock:
        if _bg_loop is None or _bg_loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="wfkit-loop", daemon=True)
            thread.start()
            _bg_loop = loop
        return _bg_loop


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion and return its result, from sync code."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is None:
        # the caller's context, not the one the reused runner copied when it was made
        return _runner().run(coro, context=contextvars.copy_context())
    loop = _background_loop()
    if running is loop:
        # called from a node already running on the private loop: use a
        # fresh thread so the outer run is not blocked waiting on itself
        box: list[Any] = []
        ctx = contextvars.copy_context()  # a new thread starts with an empty context

        def target() -> None:
            try:
                box.append((True, ctx.run(asyncio.run, coro)))
            except BaseException as exc:
                box.append((False, exc))

        worker = threading.Thread(target=target, name="wfkit-nested-loop", daemon=True)
        worker.start()
        worker.join()
        ok, value = box[0]
        if ok:
            return value  # type: ignore[no-any-return]
        raise value
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        return future.result()
    except BaseException:
        future.cancel()  # e.g. KeyboardInterrupt in the cell: stop the run too
        raise
