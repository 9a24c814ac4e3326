"""Drivers: short loops that run a :class:`~wfkit.machine.Machine`'s tasks.

- :class:`Run` is the sync stepping API (``workflow.iter(...)``): each
  ``step()`` runs one superstep. A superstep with one task calls the node
  inline; several tasks run on a thread pool (``max_concurrency`` workers,
  the calling thread among them). A graph of sync nodes needs no event loop.
- :class:`AsyncRun` is the async stepping API (``workflow.aiter(...)``): one
  task is awaited inline, several run as asyncio tasks; sync nodes run in a
  worker thread so they never block the event loop.

Both wrap node calls the same way: retries with backoff
(:class:`~wfkit.types.RetryPolicy`), per-attempt timeouts, and a note on the
node's own exception naming node, superstep and attempt. Sync nodes cannot
be cancelled: a sync node that times out is abandoned (its thread runs to
completion in the background and its result is dropped) and
``NodeTimeoutError`` is raised at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from wfkit import _context
from wfkit._clock import cpu_ns, mono_ns
from wfkit._loop import run_sync
from wfkit.errors import GraphInterrupt, InvalidUpdateError, NodeTimeoutError
from wfkit.machine import DONE, FAILED, INTERRUPTED, PENDING, Machine, Task
from wfkit.types import Interrupt

if TYPE_CHECKING:
    from wfkit.checkpoint.saver import RunSaver
    from wfkit.graph import Branch, NodeSpec
    from wfkit.trace.record import SpanRecorder
    from wfkit.workflow import Workflow

__all__ = ["AsyncRun", "Run"]

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
DEFAULT_MAX_CONCURRENCY = min(32, (os.cpu_count() or 1) + 4)
TRACE_LEVEL = "wfkit_trace_level"  # config key: 0 off, 1 timing, 2 memory


def _thread_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(DEFAULT_MAX_CONCURRENCY, thread_name_prefix="wfkit-node")
    return _pool


def _note(exc: BaseException, task: Task, attempt: int) -> None:
    retry = task.node.retry
    of = f" of {retry.max_attempts}" if retry is not None else ""
    exc.add_note(
        f"wfkit: raised in node {task.node.name!r}, superstep {task.step}, attempt {attempt}{of}"
    )


def _record_error(task: Task, exc: Exception, attempt: int) -> None:
    task.attempt = attempt
    if isinstance(exc, GraphInterrupt):
        task.status = INTERRUPTED
        task.interrupts = exc.interrupts
        return
    _note(exc, task, attempt)
    task.status = FAILED
    task.error = exc


def _not_awaited(name: str, out: Any) -> None:
    close = getattr(out, "close", None)
    if close is not None:
        close()
    raise InvalidUpdateError(
        f"node {name!r} is a plain function but returned a coroutine; declare it with "
        f"'async def' so wfkit knows to await it"
    )


# --------------------------------------------------------------------- sync calls
def _call_sync(node: NodeSpec, arg: Any, config: dict[str, Any], task_id: str = "") -> Any:
    if node.subgraph is not None:
        return node.subgraph._run_as_node(arg, config, task_id)
    if node.wants_config:
        return node.fn(arg, config=config)
    return node.fn(arg)


def _call_sync_timeout(
    node: NodeSpec, arg: Any, config: dict[str, Any], timeout: float, task_id: str = ""
) -> Any:
    box: list[Any] = []
    ctx = contextvars.copy_context()

    def target() -> None:
        try:
            box.append((True, ctx.run(_call_sync, node, arg, config, task_id)))
        except BaseException as exc:  # handed to the caller below
            box.append((False, exc))

    worker = threading.Thread(target=target, name=f"wfkit-timeout-{node.name}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not box:
        raise NodeTimeoutError(node.name, timeout)
    ok, value = box[0]
    if ok:
        return value
    raise value


def _begin(task: Task, level: int) -> None:
    task.started = mono_ns()
    if level > 1:
        tracemalloc.reset_peak()
        task.memory = tracemalloc.get_traced_memory()[0]  # the baseline, until _end


def _end(task: Task, level: int) -> None:
    task.ended = mono_ns()
    if level > 1:
        # the peak above what was allocated when the task started
        task.memory = max(0, tracemalloc.get_traced_memory()[1] - task.memory)


def _charge_cpu(task: Task, mark: int) -> int:
    """Thread CPU used since ``mark`` (the previous reading on this thread),
    capped at the task's wall time: one clock read per task instead of two
    (reading a thread's CPU clock is a system call). Returns the new mark."""
    now = cpu_ns()
    task.cpu = min(now - mark, task.ended - task.started)
    return now


def _failed_attempt(task: Task, level: int, attempt: int, exc: BaseException) -> None:
    """Keep a retried attempt's timing for its span."""
    if level:
        _end(task, level)
        if task.retried is None:
            task.retried = []
        task.retried.append((attempt, task.started, task.ended, None, task.memory, exc))


def _exec_sync(task: Task, config: dict[str, Any]) -> None:
    """Run one task to completion, recording its update or error on it."""
    node = task.node
    level: int = config.get(TRACE_LEVEL, 0)
    token = _context.current_task.set(_context.TaskScratch(task.resume)) if task.resume else None
    attempt = 1
    _begin(task, level)
    try:
        while True:
            try:
                if node.plain:
                    out = node.fn(task.arg)
                elif node.timeout is not None:
                    out = _call_sync_timeout(node, task.arg, config, node.timeout, task.id)
                else:
                    out = _call_sync(node, task.arg, config, task.id)
                if type(out) is not dict and hasattr(out, "__await__"):
                    _not_awaited(node.name, out)
                task.update = out
                task.status = DONE
                task.attempt = attempt
                return
            except Exception as exc:
                policy = node.retry
                if (
                    policy is not None
                    and attempt < policy.max_attempts
                    and not isinstance(exc, GraphInterrupt)
                    and policy.should_retry(exc)
                ):
                    _failed_attempt(task, level, attempt, exc)
                    time.sleep(policy.delay(attempt))
                    attempt += 1
                    _begin(task, level)
                    if token is not None:
                        _context.current_task.set(_context.TaskScratch(task.resume))  # type: ignore[arg-type]
                    continue
                _record_error(task, exc, attempt)
                return
    finally:
        _end(task, level)
        if token is not None:
            _context.current_task.reset(token)


def _exec_many_sync(tasks: list[Task], config: dict[str, Any], max_workers: int) -> None:
    """Run several tasks on the pool; the calling thread works too, so nested
    parallel steps (subgraphs) cannot starve the pool into a deadlock."""
    todo = [t for t in tasks if t.status == PENDING]
    level: int = config.get(TRACE_LEVEL, 0)
    if len(todo) <= 1 or max_workers <= 1:
        mark = cpu_ns() if level else 0
        for t in todo:
            _exec_sync(t, config)
            if level:
                mark = _charge_cpu(t, mark)
        return
    it = iter(todo)
    lock = threading.Lock()
    finished = threading.Event()
    remaining = [len(todo)]

    def worker() -> None:
        mark = cpu_ns() if level else 0
        for t in it:
            try:
                _exec_sync(t, config)
                if level:
                    mark = _charge_cpu(t, mark)
            finally:
                with lock:
                    remaining[0] -= 1
                    if remaining[0] == 0:
                        finished.set()

    pool = _thread_pool()
    for _ in range(min(len(todo), max_workers) - 1):
        pool.submit(contextvars.copy_context().run, worker)
    worker()
    finished.wait()


# --------------------------------------------------------------------- async calls
def _call_sync_cpu(
    node: NodeSpec, arg: Any, config: dict[str, Any], task_id: str
) -> tuple[Any, int]:
    cpu0 = cpu_ns()
    out = _call_sync(node, arg, config, task_id)
    return out, cpu_ns() - cpu0


async def _call_async(
    node: NodeSpec, arg: Any, config: dict[str, Any], task_id: str = "", task: Task | None = None
) -> Any:
    if node.subgraph is not None:
        return await node.subgraph._arun_as_node(arg, config, task_id)
    if node.is_async:
        if node.wants_config:
            return await node.fn(arg, config=config)
        return await node.fn(arg)
    ctx = contextvars.copy_context()
    out, cpu = await asyncio.get_running_loop().run_in_executor(
        _thread_pool(), ctx.run, _call_sync_cpu, node, arg, config, task_id
    )
    if task is not None:
        task.cpu = cpu  # measured on the worker thread that ran it
    if type(out) is not dict and hasattr(out, "__await__"):
        _not_awaited(node.name, out)
    return out


async def _exec_async(task: Task, config: dict[str, Any]) -> None:
    level: int = config.get(TRACE_LEVEL, 0)
    cpu0 = cpu_ns() if level else 0
    task.cpu = -1
    await _exec_async_timed(task, config, level)
    if (
        level and task.cpu < 0
    ):  # the loop thread's CPU over the node's lifetime (see wfkit.trace.record)
        task.cpu = min(cpu_ns() - cpu0, task.ended - task.started)


async def _exec_async_timed(task: Task, config: dict[str, Any], level: int) -> None:
    node = task.node
    token = _context.current_task.set(_context.TaskScratch(task.resume)) if task.resume else None
    attempt = 1
    _begin(task, level)
    try:
        while True:
            try:
                if node.plain and node.is_async:
                    out = await node.fn(task.arg)
                elif node.timeout is not None:
                    try:
                        async with asyncio.timeout(node.timeout):
                            out = await _call_async(node, task.arg, config, task.id, task)
                    except TimeoutError as exc:
                        raise NodeTimeoutError(node.name, node.timeout) from exc
                else:
                    out = await _call_async(node, task.arg, config, task.id, task)
                task.update = out
                task.status = DONE
                task.attempt = attempt
                return
            except Exception as exc:
                policy = node.retry
                if (
                    policy is not None
                    and attempt < policy.max_attempts
                    and not isinstance(exc, GraphInterrupt)
                    and policy.should_retry(exc)
                ):
                    _failed_attempt(task, level, attempt, exc)
                    await asyncio.sleep(policy.delay(attempt))
                    attempt += 1
                    _begin(task, level)
                    if token is not None:
                        _context.current_task.set(_context.TaskScratch(task.resume))  # type: ignore[arg-type]
                    continue
                _record_error(task, exc, attempt)
                return
    finally:
        _end(task, level)
        if token is not None:
            _context.current_task.reset(token)


async def _exec_many_async(tasks: list[Task], config: dict[str, Any], limit: int | None) -> None:
    todo = [t for t in tasks if t.status == PENDING]
    if limit is None or limit >= len(todo):
        await asyncio.gather(*(_exec_async(t, config) for t in todo))
        return
    gate = asyncio.Semaphore(limit)

    async def gated(t: Task) -> None:
        async with gate:
            await _exec_async(t, config)

    await asyncio.gather(*(gated(t) for t in todo))


# --------------------------------------------------------------------- routers
def _route_error(br: Branch, exc: Exception) -> None:
    exc.add_note(f"wfkit: raised in router {br.name!r} after {br.source!r}")


def _route_sync(
    machine: Machine, routes: list[tuple[Branch, Task | None]], config: dict[str, Any]
) -> None:
    for br, _task in routes:
        arg = machine.router_input()
        try:
            value = br.router(arg, config=config) if br.wants_config else br.router(arg)
            if hasattr(value, "__await__"):
                value = run_sync(_awaited(value))
        except Exception as exc:
            _route_error(br, exc)
            raise
        machine.route(br, value)


async def _route_async(
    machine: Machine, routes: list[tuple[Branch, Task | None]], config: dict[str, Any]
) -> None:
    for br, _task in routes:
        arg = machine.router_input()
        try:
            value = br.router(arg, config=config) if br.wants_config else br.router(arg)
            if hasattr(value, "__await__"):
                value = await value
        except Exception as exc:
            _route_error(br, exc)
            raise
        machine.route(br, value)


async def _awaited(aw: Any) -> Any:
    return await aw


def _outcome(tasks: list[Task]) -> tuple[BaseException | None, bool]:
    """After a step's tasks ran: the first failure in task order, and
    whether any task interrupted."""
    interrupted = False
    for task in tasks:
        if task.status == FAILED:
            return task.error, interrupted
        if task.status == INTERRUPTED:
            interrupted = True
    return None, interrupted


def _close_step(
    machine: Machine,
    tasks: list[Task],
    ok: bool,
    saver: RunSaver | None,
    recorder: SpanRecorder | None,
) -> bool:
    """After a step's tasks ran: record them, raise the first failure (task
    order), or pause on interrupts. True when the barrier may run."""
    if recorder is not None:
        recorder.add(tasks)
    if saver is not None:
        saver.step_writes(tasks)
    if ok:
        return True
    error, interrupted = _outcome(tasks)
    if error is not None:
        raise error
    if interrupted:
        machine.pause(machine.collect_interrupts())
        return False
    return True


# --------------------------------------------------------------------- drivers
def begin(
    machine: Machine,
    updates: dict[str, Any],
    config: dict[str, Any],
    base: dict[str, Any] | None = None,
) -> None:
    """Apply the input and plan the first superstep (sync routers)."""
    routes = machine.start(updates, base)
    if routes:
        _route_sync(machine, routes, config)
    machine.plan()


async def abegin(
    machine: Machine,
    updates: dict[str, Any],
    config: dict[str, Any],
    base: dict[str, Any] | None = None,
) -> None:
    routes = machine.start(updates, base)
    if routes:
        await _route_async(machine, routes, config)
    machine.plan()


def drive(
    machine: Machine,
    config: dict[str, Any],
    max_steps: int = -1,
    saver: RunSaver | None = None,
    recorder: SpanRecorder | None = None,
) -> list[Task] | None:
    """Run supersteps (all, or ``max_steps``) until the run ends or pauses.

    Returns the tasks of the last superstep run, or ``None`` if none ran.
    With a ``saver``, each superstep's node writes and checkpoint are stored.
    """
    last: list[Task] | None = None
    workers = config.get("max_concurrency") or DEFAULT_MAX_CONCURRENCY
    while max_steps and machine.status == "running" and machine.tasks:
        max_steps -= 1
        tasks = machine.tasks
        if len(tasks) == 1:
            task = tasks[0]
            if task.status == PENDING:
                _exec_sync(task, config)  # CPU: apportioned by the recorder
            ok = task.status == DONE
        else:
            _exec_many_sync(tasks, config, workers)
            ok = False
        if not _close_step(machine, tasks, ok, saver, recorder):
            return tasks
        routes = machine.barrier()
        if routes:
            _route_sync(machine, routes, config)
        machine.advance()
        if saver is not None:
            saver.checkpoint(machine, "loop")
        last = tasks
    return last


async def adrive(
    machine: Machine,
    config: dict[str, Any],
    max_steps: int = -1,
    saver: RunSaver | None = None,
    recorder: SpanRecorder | None = None,
) -> list[Task] | None:
    """Async :func:`drive`: one task is awaited inline, several concurrently."""
    last: list[Task] | None = None
    limit = config.get("max_concurrency")
    level: int = config.get(TRACE_LEVEL, 0)
    while max_steps and machine.status == "running" and machine.tasks:
        max_steps -= 1
        tasks = machine.tasks
        if len(tasks) == 1:
            task = tasks[0]
            if task.status == PENDING:
                node = task.node
                if node.plain and node.is_async and task.resume is None and level < 2:
                    # the hot path of I/O-bound agents: no extra frame, no CPU clock
                    # read (the recorder apportions the loop thread's CPU)
                    task.started = mono_ns()
                    try:
                        task.update = await node.fn(task.arg)
                        task.status = DONE
                    except Exception as exc:
                        _record_error(task, exc, 1)
                    task.ended = mono_ns()
                else:
                    await _exec_async(task, config)
            ok = task.status == DONE
        else:
            await _exec_many_async(tasks, config, limit)
            ok = False
        if not _close_step(machine, tasks, ok, saver, recorder):
            return tasks
        routes = machine.barrier()
        if routes:
            await _route_async(machine, routes, config)
        machine.advance()
        if saver is not None:
            await saver.acheckpoint(machine, "loop")
        last = tasks
    return last


# --------------------------------------------------------------------- runs
class _RunBase:
    """What the sync and async stepping runs share."""

    def __init__(
        self, workflow: Workflow, machine: Machine, config: dict[str, Any], saver: RunSaver | None
    ) -> None:
        self.workflow = workflow
        self.machine = machine
        self.config = config
        self.saver = saver
        self.recorder = workflow._recorder(config, saver)

    def _close(self, error: BaseException | None) -> None:
        """The run ended, failed or paused: store what it wrote and its spans."""
        if self.saver is not None:
            self.saver.end()
        if self.recorder is not None:
            self.recorder.finish(self.machine, error)

    async def _aclose(self, error: BaseException | None) -> None:
        if self.saver is not None:
            await self.saver.aend()
        if self.recorder is not None:
            self.recorder.finish(self.machine, error)

    @property
    def state(self) -> dict[str, Any]:
        """The state after the last superstep (never mutated afterwards)."""
        return self.machine.state

    @property
    def step_number(self) -> int:
        """How many supersteps have completed."""
        return self.machine.step

    @property
    def tasks(self) -> list[Task]:
        """The tasks of the next superstep (empty when the run is over)."""
        return self.machine.tasks

    @property
    def next(self) -> tuple[str, ...]:
        """Names of the nodes the next superstep runs."""
        return tuple(t.node.name for t in self.machine.tasks)

    @property
    def done(self) -> bool:
        """The run reached its end."""
        return self.machine.status == "done"

    @property
    def paused(self) -> bool:
        """The run stopped at an interrupt (see :attr:`interrupts`)."""
        return self.machine.status == "interrupted"

    @property
    def interrupts(self) -> tuple[Interrupt, ...]:
        """The pending ``interrupt()`` questions while paused."""
        return self.machine.interrupts

    @property
    def config_for_resume(self) -> dict[str, Any]:
        """The config naming this run's thread (and its latest checkpoint)."""
        configurable = dict(self.config.get("configurable") or {})
        if self.saver is not None and self.saver.checkpoint_id:
            configurable["checkpoint_id"] = self.saver.checkpoint_id
        return {**self.config, "configurable": configurable}

    def output(self) -> dict[str, Any]:
        """The final state (with ``__interrupt__`` when paused)."""
        return self.machine.output()

    def resume(self, answer: Any = None) -> None:
        """Continue a paused run: answer the pending interrupts (one answer
        for all, or a dict of interrupt id to answer); the next step re-runs
        the interrupted tasks. Tasks of the step that had finished keep
        their results and do not run again."""
        self.machine.answer(answer)

    def _ended(self) -> bool:
        m = self.machine
        return m.status != "running" or not m.tasks


class Run(_RunBase):
    """A run you advance one superstep at a time (sync)::

    run = workflow.iter({"n": 0})
    while run.step():
        print(run.step_number, run.state, run.next)
    result = run.output()
    """

    def __init__(
        self,
        workflow: Workflow,
        machine: Machine,
        config: dict[str, Any],
        *,
        start: dict[str, Any] | None,
        base: dict[str, Any] | None = None,
        saver: RunSaver | None = None,
    ) -> None:
        super().__init__(workflow, machine, config, saver)
        self._needs_async = workflow.topology.needs_async
        if start is not None:
            if self._needs_async:
                run_sync(abegin(machine, start, config, base))
            else:
                begin(machine, start, config, base)
            if saver is not None:
                saver.checkpoint(machine, "input")
            if self._ended():
                self._close(None)

    def step(self) -> list[Task] | None:
        """Run one superstep; returns its tasks, or ``None`` if the run is over
        or paused (see :attr:`done`, :attr:`paused`)."""
        try:
            if self._needs_async:
                tasks = run_sync(adrive(self.machine, self.config, 1, self.saver, self.recorder))
            else:
                tasks = drive(self.machine, self.config, 1, self.saver, self.recorder)
        except BaseException as exc:
            self._close(exc)
            raise
        if tasks is not None and self._ended():
            self._close(None)
        return tasks

    def __iter__(self) -> Iterator[list[Task]]:
        while (tasks := self.step()) is not None:
            yield tasks

    def run_to_end(self) -> dict[str, Any]:
        """Step until the run ends or pauses; returns :meth:`output`."""
        while self.step() is not None:
            pass
        return self.output()

    def run_task(self, index: int) -> Task:
        """Run one task of the next superstep (the debugger's "step node");
        the superstep completes once every task has run."""
        m = self.machine
        task = m.tasks[index]
        if task.status == PENDING:
            if task.node.is_async:
                run_sync(_exec_async(task, self.config))
            else:
                _exec_sync(task, self.config)
        if task.status == FAILED:
            if self.saver is not None:
                self.saver.step_writes([task])
            assert task.error is not None
            raise task.error
        if all(t.status != PENDING for t in m.tasks):
            self.step()
        return task


class AsyncRun(_RunBase):
    """A run you advance one superstep at a time (async)::

    run = workflow.aiter({"n": 0})
    async for tasks in run:
        print(run.state)
    """

    def __init__(
        self,
        workflow: Workflow,
        machine: Machine,
        config: dict[str, Any],
        *,
        start: dict[str, Any] | None = None,
        base: dict[str, Any] | None = None,
        saver: RunSaver | None = None,
    ) -> None:
        super().__init__(workflow, machine, config, saver)
        self._pending_start = start
        self._base = base

    async def start(self) -> None:
        """Apply the input and plan the first superstep (the first astep() does
        this if you don't)."""
        start, self._pending_start = self._pending_start, None
        if start is not None:
            await abegin(self.machine, start, self.config, self._base)
            if self.saver is not None:
                await self.saver.acheckpoint(self.machine, "input")
            if self._ended():
                await self._aclose(None)

    async def astep(self) -> list[Task] | None:
        """Run one superstep; ``None`` when the run is over or paused."""
        if self._pending_start is not None:
            await self.start()
        try:
            tasks = await adrive(self.machine, self.config, 1, self.saver, self.recorder)
        except BaseException as exc:
            await self._aclose(exc)
            raise
        if tasks is not None and self._ended():
            await self._aclose(None)
        return tasks

    async def run_to_end(self) -> dict[str, Any]:
        while await self.astep() is not None:
            pass
        return self.output()

    async def arun_task(self, index: int) -> Task:
        """Run one task of the next superstep (the debugger's "step node");
        the superstep completes once every task has run."""
        if self._pending_start is not None:
            await self.start()
        m = self.machine
        task = m.tasks[index]
        if task.status == PENDING:
            await _exec_async(task, self.config)
        if task.status == FAILED:
            if self.saver is not None:
                self.saver.step_writes([task])
            assert task.error is not None
            raise task.error
        if all(t.status != PENDING for t in m.tasks):
            await self.astep()
        return task

    async def __aiter__(self) -> AsyncIterator[list[Task]]:
        while (tasks := await self.astep()) is not None:
            yield tasks
