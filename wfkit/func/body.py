"""An entrypoint's body: the user's function, run so that its task calls
become tasks of the engine.

The body runs until it waits for the result of a call that has not run
yet (or returns); then it is *blocked*, and the engine runs the calls it
made so far (one step of tasks, in parallel), and *advances* the body
again with their results. ``advance`` is what the entrypoint's task runs
(:mod:`wfkit.func.machine`), so stepping, retries, interrupts and timing
are the engine's own.

- A sync body runs on a thread of its own (a small pool, reused), so
  that it can stop in the middle of ``future.result()`` while the engine
  runs the calls; the hand-over is a pair of locks, and the body only
  ever runs while an advance waits for it.
- A sync body whose every advance comes from one thread (``invoke()``
  without an executor: the interpreter runs it inline) runs instead on a
  greenlet of that thread when the ``greenlet`` package is installed
  (``Body.inline``): the same hand-over, as a switch of stacks (about a
  microsecond) instead of two thread wake-ups (tens of microseconds).
- An async body is an asyncio task on the run's loop; ``await future``
  blocks it, and the advance awaits until it is blocked or done.

A call whose result the checkpoint holds (a resumed run) is resolved at
once and never handed over: the body goes on without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import importlib
import threading
from collections.abc import Callable
from typing import Any, Final, Protocol

from wfkit._clock import mono_ns
from wfkit.engine.machine import DONE, FAILED, INTERRUPTED, Task
from wfkit.errors import GraphInterrupt
from wfkit.func.tasks import TaskFunction, TaskFuture, current_caller

__all__ = ["BLOCKED", "Body", "Calls", "advance", "aadvance"]


class Calls(Protocol):
    """What a body needs of its machine (``EntryMachine`` is one)."""

    def call(self, fn: TaskFunction[Any, Any], index: int, arg: Any) -> Task:
        """The task of call number ``index``: done already (a stored result), or to run."""
        ...


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


BLOCKED: Final = _Marker("BLOCKED")
"""What an advance returns when the body waits for calls that have not run."""

_NEW, _RUNNING, _BLOCKED, _ENDED = range(4)
IDLE_S: Final = 30.0  # an idle body thread waits this long for another body, then ends


class _Cancelled(BaseException):
    """Ends a blocked sync body whose run was dropped (never caught by user code
    that catches ``Exception``)."""


class _Fiber:
    """A daemon thread that runs one body at a time and waits for the next."""

    __slots__ = ("job", "wake")

    def __init__(self) -> None:
        self.wake = threading.Lock()
        self.wake.acquire()
        self.job: Callable[[], Any] | None = None
        threading.Thread(target=self._loop, name="wfkit-entrypoint", daemon=True).start()

    def _loop(self) -> None:
        while True:
            if not self.wake.acquire(timeout=IDLE_S):
                with _idle_lock:
                    if self in _idle:
                        _idle.remove(self)
                        return
                continue  # a body was handed over as the wait ended
            job, self.job = self.job, None
            assert job is not None
            job()
            del job
            with _idle_lock:
                _idle.append(self)


_idle: list[_Fiber] = []
_idle_lock = threading.Lock()
_GREENLET: Any = None  # the greenlet module once looked for; False: not installed


def greenlets() -> Any:
    """The ``greenlet`` module, or None when it is not installed."""
    global _GREENLET
    if _GREENLET is None:
        try:
            _GREENLET = importlib.import_module("greenlet")
        except ImportError:
            _GREENLET = False
    return _GREENLET or None


def _on_fiber(job: Callable[[], Any]) -> None:
    with _idle_lock:
        fiber = _idle.pop() if _idle else None
    if fiber is None:
        fiber = _Fiber()
    fiber.job = job
    fiber.wake.release()


class Body:
    """One run of an entrypoint function (see the module docstring).

    ``start`` calls the user's function (with its input and injected
    arguments) and returns the entrypoint task's update; the machine gives
    each task call its place and, for a resumed run, its stored result."""

    __slots__ = (
        "_back",
        "_glet",
        "_go",
        "_signal",
        "_task",
        "cancelled",
        "count",
        "error",
        "handed",
        "inline",
        "is_async",
        "machine",
        "pending",
        "reported",
        "start",
        "started",
        "state",
        "thread",
        "update",
    )

    def __init__(self, machine: Calls, start: Callable[[], Any], *, is_async: bool) -> None:
        self.machine = machine
        self.start = start
        self.is_async = is_async
        self.state = _NEW
        self.reported = False  # the end (update or error) was returned by an advance
        self.started = 0  # monotonic ns of the first advance: the entrypoint's span starts there
        self.count = 0  # calls made by this run of the function
        self.pending: list[tuple[TaskFuture[Any], Task]] = []  # made, not yet handed to the engine
        self.handed: list[tuple[TaskFuture[Any], Task]] = []  # handed over, results not delivered
        self.update: Any = None
        self.error: BaseException | None = None
        self.cancelled = False
        self.thread = 0  # the body thread's ident (sync)
        self._go = threading.Lock()
        self._go.acquire()
        self._back = threading.Lock()
        self._back.acquire()
        self._signal: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        # every advance comes from the thread of the first: the body may run on
        # a greenlet of that thread (set by the workflow's invoke())
        self.inline = False
        self._glet: Any = None

    def __repr__(self) -> str:
        state = ("new", "running", "blocked", "ended")[self.state]
        return f"<entrypoint body {state}, {self.count} calls>"

    # ---------------------------------------------------------------- calls
    def call(
        self, fn: TaskFunction[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> TaskFuture[Any]:
        """A task called by the body: its future, resolved now if the
        checkpoint already holds its result."""
        self.count += 1
        future: TaskFuture[Any] = TaskFuture(self, fn.name, self.count)
        task = self.machine.call(fn, self.count, (args, kwargs))
        if task.status is DONE:
            future.set_result(task.update)
        else:
            self.pending.append((future, task))
        return future

    def take_calls(self) -> list[Task]:
        """The calls made since the last hand-over, for the engine to run."""
        pending, self.pending = self.pending, []
        self.handed += pending
        return [task for _, task in pending]

    def _deliver(self) -> None:
        """Resolve the futures of the calls the engine has run."""
        kept = []
        for future, task in self.handed:
            status = task.status
            if status is DONE:
                future.set_result(task.update)
            elif status is FAILED:
                assert task.error is not None
                future.set_exception(task.error)
            elif status is INTERRUPTED:
                future.set_exception(GraphInterrupt(task.pending_interrupts()))
            else:
                kept.append((future, task))
        self.handed = kept

    def _restart(self) -> None:
        """A new run of the function (a retry, or a resumed interrupt): it
        calls its tasks again from the first, and gets the stored results."""
        self.state = _NEW
        self.reported = False
        self.count = 0
        self.pending = []
        self.handed = []
        self.update = self.error = None

    def _end(self) -> Any:
        self.reported = True
        if self.error is not None:
            raise self.error
        return self.update

    def _check(self, future: TaskFuture[Any]) -> None:
        if future._body is not self:
            raise RuntimeError(
                f"the future of task {future.name!r} belongs to another run of the entrypoint; "
                f"use futures only in the run that made them"
            )

    # ---------------------------------------------------------------- sync
    def advance(self) -> Any:
        """Run the (sync) body until it is blocked (``BLOCKED``) or ends (its
        update; or its exception, raised here)."""
        if self.state == _ENDED and self.reported:
            self._restart()
        self._deliver()
        if self._glet is not None or (self.inline and self.state == _NEW and greenlets()):
            return self._switch()
        if self.state == _NEW:
            self.state = _RUNNING
            self.started = self.started or mono_ns()
            _on_fiber(functools.partial(contextvars.copy_context().run, self._main))
        else:
            self.state = _RUNNING
            self._go.release()
        self._back.acquire()
        if self.state == _BLOCKED:
            return BLOCKED
        return self._end()

    def _main(self) -> None:
        current_caller.set(self)
        self.thread = threading.get_ident()
        try:
            self.update = self.start()
        except BaseException as exc:  # handed to the advance that waits
            self.error = exc
        self.state = _ENDED
        self._back.release()

    def _switch(self) -> Any:
        """:meth:`advance` on a greenlet of this thread."""
        if self.state == _NEW:
            self.state = _RUNNING
            self.started = self.started or mono_ns()
            self.thread = threading.get_ident()
            glet = self._glet = greenlets().greenlet(self._main_here)
            glet.gr_context = contextvars.copy_context()
        else:
            self.state = _RUNNING
        self._glet.switch()
        if self.state == _BLOCKED:
            return BLOCKED
        self._glet = None
        return self._end()

    def _main_here(self) -> None:
        current_caller.set(self)
        try:
            self.update = self.start()
        except BaseException as exc:  # handed to the advance that switched here
            self.error = exc
        self.state = _ENDED

    def wait_for(self, future: TaskFuture[Any]) -> None:
        """``future.result()`` in the body, for a call not run yet: block
        until an advance brings its result."""
        self._check(future)
        if self.is_async:
            raise RuntimeError(
                f"future.result() of task {future.name!r} would block the event loop of an async "
                f"entrypoint; use `await future` (or asyncio.gather) instead"
            )
        if threading.get_ident() != self.thread:
            raise RuntimeError(
                f"the result of task {future.name!r} was asked for on another thread than the "
                f"entrypoint's; ask for results in the entrypoint function itself"
            )
        glet = self._glet
        while not future.done():
            self.state = _BLOCKED
            if glet is not None:
                glet.parent.switch()  # back to the advance; it switches here again
            else:
                self._back.release()
                self._go.acquire()
            if self.cancelled:
                raise _Cancelled

    def cancel(self) -> None:
        """The run failed or was dropped while its body waited: end the body
        (its ``finally`` blocks run); once."""
        if self.cancelled:
            return
        glet = self._glet
        if glet is not None:
            self.cancelled = True
            self._glet = None
            if self.state == _BLOCKED and threading.get_ident() == self.thread:
                glet.throw(_Cancelled)  # else greenlet ends it when it is collected
        elif self.state == _BLOCKED and not self.is_async:
            self.cancelled = True
            self._go.release()
        elif self._task is not None and not self._task.done():
            self.cancelled = True
            with contextlib.suppress(RuntimeError):  # its loop is closed: nothing runs it
                self._task.get_loop().call_soon_threadsafe(self._task.cancel)

    # ---------------------------------------------------------------- async
    async def aadvance(self) -> Any:
        """Async :meth:`advance`: the body is an asyncio task on this loop."""
        if self.state == _ENDED and self.reported:
            self._restart()
        self._deliver()
        if self.state == _ENDED:  # it ended while the engine ran its calls
            return self._end()
        if self.state == _BLOCKED and any(f._waiters for f, _ in self.pending):
            return BLOCKED  # still awaiting calls made meanwhile
        self._signal = asyncio.get_running_loop().create_future()
        if self.state == _NEW:
            self.state = _RUNNING
            self.started = self.started or mono_ns()
            self._task = asyncio.ensure_future(self._amain())
        else:
            self.state = _RUNNING
        await self._signal
        if self.state == _BLOCKED:
            return BLOCKED
        return self._end()

    async def _amain(self) -> None:
        current_caller.set(self)
        try:
            self.update = await self.start()
        except BaseException as exc:  # handed to the advance that waits
            self.error = exc
        self.state = _ENDED
        self._notify()

    def _notify(self) -> None:
        signal = self._signal
        if signal is not None and not signal.done():
            signal.set_result(None)

    def awaiting(self, future: TaskFuture[Any]) -> None:
        """``await future`` in the body, for a call not run yet."""
        self._check(future)
        if self.state == _RUNNING:
            self.state = _BLOCKED
            self._notify()


def advance(body: Body) -> Any:
    """The entrypoint task's function (sync entrypoints)."""
    return body.advance()


async def aadvance(body: Body) -> Any:
    """The entrypoint task's function (async entrypoints)."""
    return await body.aadvance()
