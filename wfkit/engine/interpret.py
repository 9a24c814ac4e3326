"""The interpreters of the effect loop (:mod:`wfkit.engine.loop`).

- sync (:func:`drive`): a superstep with one task calls the node inline;
  several run on a thread pool (``max_concurrency`` workers, the calling
  thread among them). A graph of sync nodes needs no event loop.
- async (:func:`adrive`): one task is awaited inline, several run as
  asyncio tasks; sync nodes run in a worker thread so they never block the
  event loop.

A run whose config holds a :class:`NodeExecutor` (``config[EXECUTOR]``,
e.g. :class:`wfkit.distributed.DaskExecutor`) hands each superstep's tasks
to it instead; routers, checkpoints and the loop itself stay here.

Both call nodes the same way (:func:`wfkit.engine.attempts.attempt_flow`:
retries, timing, resume answers); they differ only in how they wait. Sync
nodes cannot be cancelled: a sync node that times out is abandoned (its
thread runs to completion in the background and its result is dropped) and
``NodeTimeoutError`` is raised at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import queue
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, Protocol, TypeVar

from wfkit._clock import CPU_WINDOW_NS, CpuWindow, close_stale_window, cpu_ns, mono_ns, windows
from wfkit._context import current_config
from wfkit._loop import run_sync
from wfkit.engine.attempts import (
    CACHE,
    CALL,
    FINISHED,
    TRACE_LEVEL,
    Failed,
    attempt_flow,
    check_not_coroutine,
    record_error,
)
from wfkit.engine.events import Sink
from wfkit.engine.inject import enter, leave, node_kwargs, task_config
from wfkit.engine.loop import Effect, Emit, Flow, Route, Wait
from wfkit.engine.machine import DONE, PENDING, Task
from wfkit.errors import NodeTimeoutError

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "EXECUTOR",
    "TASK_CONTEXT",
    "TIMED",
    "NodeExecutor",
    "adrive",
    "adrive_stream",
    "drive",
    "drive_stream",
    "route_sync",
]

T = TypeVar("T")
DEFAULT_MAX_CONCURRENCY: Final = min(32, (os.cpu_count() or 1) + 4)
TIMED: Final = "wfkit_timed"  # config key: 0 no clock reads, 1 timed, 2 memory traced, 3:
TASK_CONTEXT: Final = (
    3  # every task runs off the hot path, in its own context (wfkit.engine.inject)
)
EXECUTOR: Final = "wfkit_executor"  # config key: the NodeExecutor that runs node calls


class NodeExecutor(Protocol):
    """Runs a superstep's pending tasks somewhere else (another process, a
    cluster), recording each outcome on its task as the local interpreters
    do. The loop, the routers and the checkpoints stay with the caller."""

    def run_tasks(self, tasks: list[Task], config: dict[str, Any]) -> None:
        """Run the pending ones among ``tasks``, blocking until all are settled."""

    async def arun_tasks(self, tasks: list[Task], config: dict[str, Any]) -> None:
        """Async :meth:`run_tasks`."""


_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _thread_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(DEFAULT_MAX_CONCURRENCY, thread_name_prefix="wfkit-node")
    return _pool


# --------------------------------------------------------------------- calling a node
def _invoke(task: Task, config: dict[str, Any]) -> Any:
    """Call a sync node (or a subgraph, run synchronously) once, in the task's context."""
    node = task.node
    cfg = task_config(task, config)
    token = enter(cfg)
    try:
        if node.subgraph is not None:
            return node.subgraph.run_as_node(task.arg, cfg, task.id)
        if node.wants_config:
            out = node.fn(task.arg, **node_kwargs(node.wants_config, cfg))
        else:
            out = node.fn(task.arg)
        check_not_coroutine(node.name, out)
        return out
    finally:
        leave(token)


def _invoke_timeout(task: Task, config: dict[str, Any], timeout: float) -> Any:
    box: list[Any] = []
    ctx = contextvars.copy_context()

    def target() -> None:
        try:
            box.append((True, ctx.run(_invoke, task, config)))
        except BaseException as exc:  # handed to the caller below
            box.append((False, exc))

    worker = threading.Thread(target=target, name=f"wfkit-timeout-{task.node.name}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not box:
        raise NodeTimeoutError(task.node.name, timeout)
    ok, value = box[0]
    if ok:
        return value
    raise value


def _call(task: Task, config: dict[str, Any]) -> Any:
    """One attempt, sync: the output, or :class:`Failed`."""
    timeout = task.node.timeout
    try:
        return _invoke(task, config) if timeout is None else _invoke_timeout(task, config, timeout)
    except Exception as exc:
        return Failed(exc)


def _invoke_measured(task: Task, config: dict[str, Any]) -> tuple[Any, int]:
    cpu0 = cpu_ns()
    out = _invoke(task, config)
    return out, cpu_ns() - cpu0


async def _ainvoke(task: Task, config: dict[str, Any]) -> Any:
    node = task.node
    if node.subgraph is not None or node.is_async:
        cfg = task_config(task, config)
        token = enter(cfg)
        try:
            if node.subgraph is not None:
                return await node.subgraph.arun_as_node(task.arg, cfg, task.id)
            if node.wants_config:
                return await node.fn(task.arg, **node_kwargs(node.wants_config, cfg))
            return await node.fn(task.arg)
        finally:
            leave(token)
    out, cpu = await asyncio.get_running_loop().run_in_executor(
        _thread_pool(), contextvars.copy_context().run, _invoke_measured, task, config
    )
    task.cpu = cpu  # measured on the worker thread that ran it
    return out


async def _acall(task: Task, config: dict[str, Any]) -> Any:
    """One attempt, async: the output, or :class:`Failed`."""
    timeout = task.node.timeout
    try:
        if timeout is None:
            return await _ainvoke(task, config)
        try:
            async with asyncio.timeout(timeout):
                return await _ainvoke(task, config)
        except TimeoutError as exc:
            raise NodeTimeoutError(task.node.name, timeout) from exc
    except Exception as exc:
        return Failed(exc)


# --------------------------------------------------------------------- running tasks
def run_task(task: Task, config: dict[str, Any], window: CpuWindow | None = None) -> None:
    """Run one task to completion (sync), recording its outcome on it;
    ``window`` is this thread's CPU window, if the caller has it at hand."""
    node = task.node
    timed = config.get(TIMED, 0)
    if node.plain and timed < 2 and not node.is_async and task.resume is None:  # the hot path
        if timed:  # two wall-clock reads; the CPU clock only after a long node (see _clock)
            task.started = started = mono_ns()
            if window is None:
                window = windows.window
            if started >= window.stale:  # what came before is not this node's
                window.open_for(started)
        try:
            out = node.fn(task.arg)
            if type(out) is not dict:
                check_not_coroutine(node.name, out)
            task.update = out
            task.status = DONE
        except Exception as exc:
            record_error(task, exc, 1)
        if timed:
            task.ended = ended = mono_ns()
            if ended - started < CPU_WINDOW_NS and task.status is DONE:
                # the common task (short: cpu -1, estimated later): its span
                # record made here, from what is at hand (wfkit.trace.record)
                task.span = (node.name, task.step, task.index, started, ended)
            else:
                task.span = None
                if ended - started >= CPU_WINDOW_NS:
                    task.cpu = window.charge(started, ended)  # type: ignore[union-attr]
        return
    if node.is_async:
        run_sync(arun_task(task, config))
        return
    level: int = config.get(TRACE_LEVEL, 0)
    if level:
        close_stale_window()
    flow = attempt_flow(task, level, config.get(CACHE))
    ask = next(flow)
    while ask is not FINISHED:
        if ask is CALL:
            ask = flow.send(_call(task, config))
        else:
            time.sleep(ask)  # type: ignore[arg-type]
            windows.window.restart(mono_ns())  # the thread slept: that is not CPU
            ask = flow.send(None)
    if level and task.ended - task.started >= CPU_WINDOW_NS:
        task.cpu = windows.window.charge(task.started, task.ended)


async def _arun_one(task: Task, config: dict[str, Any]) -> BaseException | None:
    """The one task of a superstep, awaited inline; a failure of the engine
    itself (not the node's, which is recorded on the task) is returned."""
    try:
        if task.status is PENDING:
            await arun_task(task, config)
    except BaseException as exc:
        return exc
    return None


async def arun_task(task: Task, config: dict[str, Any]) -> None:
    """Run one task to completion (async), recording its outcome on it."""
    node = task.node
    level: int = config.get(TRACE_LEVEL, 0)
    if node.plain and node.is_async and task.resume is None and config.get(TIMED, 0) < 2:
        # the hot path of I/O-bound agents: no extra frame, no CPU clock read
        # after a short node (wfkit._clock.CpuWindow)
        task.started = started = mono_ns()
        window = windows.window
        if started >= window.stale:
            window.open_for(started)
        try:
            task.update = await node.fn(task.arg)
            task.status = DONE
        except Exception as exc:
            record_error(task, exc, 1)
        task.ended = ended = mono_ns()
        if ended - started < CPU_WINDOW_NS and task.status is DONE:
            task.span = (node.name, task.step, task.index, started, ended)
        else:
            task.span = None
            # the loop thread's CPU, which other coroutines share: see docs/traces.md
            if ended - started >= CPU_WINDOW_NS:
                task.cpu = window.charge(started, ended)
        return
    cpu0 = cpu_ns() if level else 0
    task.cpu = -1
    flow = attempt_flow(task, level, config.get(CACHE))
    ask = next(flow)
    while ask is not FINISHED:
        if ask is CALL:
            ask = flow.send(await _acall(task, config))
        else:
            await asyncio.sleep(ask)  # type: ignore[arg-type]
            ask = flow.send(None)
    if level and task.cpu < 0:  # the loop thread's CPU over the node's lifetime
        task.cpu = min(cpu_ns() - cpu0, task.ended - task.started)


def _run_tasks(tasks: list[Task], config: dict[str, Any]) -> None:
    """Run a step's pending tasks: inline when one, else on the pool; the
    calling thread works too, so nested parallel steps (subgraphs) cannot
    starve the pool into a deadlock."""
    executor: NodeExecutor | None = config.get(EXECUTOR)
    if executor is not None:
        executor.run_tasks(tasks, config)
        return
    if len(tasks) == 1:
        if tasks[0].status is PENDING:
            run_task(tasks[0], config)
        return
    todo = [t for t in tasks if t.status is PENDING]
    workers: int = config.get("max_concurrency") or DEFAULT_MAX_CONCURRENCY
    if len(todo) <= 1 or workers <= 1:
        for t in todo:
            run_task(t, config)
        return
    it = iter(todo)
    lock = threading.Lock()
    finished = threading.Event()
    remaining = [len(todo)]

    timed = config.get(TIMED, 0)

    def worker() -> None:
        window = windows.window  # this thread's: it estimates the short tasks run here
        if timed and (now := mono_ns()) >= window.stale:
            window.open_for(now)
        for t in it:
            try:
                run_task(t, config, window)
                if timed and t.cpu < 0 and t.ended:  # this thread's ratio, not the run's
                    t.cpu = int(window.ratio * (t.ended - t.started))
                    t.span = None
            finally:
                with lock:
                    remaining[0] -= 1
                    if remaining[0] == 0:
                        finished.set()

    pool = _thread_pool()
    for _ in range(min(len(todo), workers) - 1):
        pool.submit(contextvars.copy_context().run, worker)
    worker()
    finished.wait()


async def _arun_tasks(tasks: list[Task], config: dict[str, Any]) -> None:
    executor: NodeExecutor | None = config.get(EXECUTOR)
    if executor is not None:
        await executor.arun_tasks(tasks, config)
        return
    todo = [t for t in tasks if t.status is PENDING]
    if len(todo) == 1:
        await arun_task(todo[0], config)
        return
    limit = config.get("max_concurrency")
    if limit is None or limit >= len(todo):
        await asyncio.gather(*(arun_task(t, config) for t in todo))
        return
    gate = asyncio.Semaphore(limit)

    async def gated(t: Task) -> None:
        async with gate:
            await arun_task(t, config)

    await asyncio.gather(*(gated(t) for t in todo))


# --------------------------------------------------------------------- routers
def _call_router(effect: Route, index: int, config: dict[str, Any]) -> Any:
    """Call one router of ``effect``: its answer, or an awaitable of it."""
    br = effect.routes[index][0]
    arg = effect.machine.router_input()
    try:
        if br.wants_config:
            return br.router(arg, **node_kwargs(br.wants_config, config))
        return br.router(arg)
    except Exception as exc:
        exc.add_note(f"wfkit: raised in router {br.name!r} after {br.source!r}")
        raise


async def _settle_router(effect: Route, index: int, value: Awaitable[Any]) -> None:
    br = effect.routes[index][0]
    try:
        answer = await value
    except Exception as exc:
        exc.add_note(f"wfkit: raised in router {br.name!r} after {br.source!r}")
        raise
    effect.machine.route(br, answer)


def route_sync(effect: Route, config: dict[str, Any]) -> None:
    """Call the routers in order; an async router runs on the private loop."""
    for i, (br, _task) in enumerate(effect.routes):
        value = _call_router(effect, i, config)
        if hasattr(value, "__await__"):
            run_sync(_settle_router(effect, i, value))
        else:
            effect.machine.route(br, value)


async def _aroute(effect: Route, config: dict[str, Any]) -> None:
    for i, (br, _task) in enumerate(effect.routes):
        value = _call_router(effect, i, config)
        if hasattr(value, "__await__"):
            await _settle_router(effect, i, value)
        else:
            effect.machine.route(br, value)


# --------------------------------------------------------------------- interpreters
def _answer(effect: Effect, config: dict[str, Any]) -> BaseException | None:
    """Answer one effect in this thread; a failure is returned, to be thrown
    into the flow (so the flow's own clean-up sees it)."""
    kind = type(effect)
    token = current_config.set(config)
    try:
        if kind is list:
            _run_tasks(effect, config)  # type: ignore[arg-type]
        elif kind is Route:
            route_sync(effect, config)  # type: ignore[arg-type]
        elif kind is Wait:
            effect.hook.wait(effect.ticket)  # type: ignore[union-attr]
            windows.window.restart(mono_ns())  # the thread waited: that is not CPU
    except BaseException as exc:
        return exc
    finally:
        current_config.reset(token)
    return None


async def _aanswer(effect: Effect, config: dict[str, Any]) -> BaseException | None:
    kind = type(effect)
    token = current_config.set(config)
    try:
        if kind is list:
            await _arun_tasks(effect, config)  # type: ignore[arg-type]
        elif kind is Route:
            await _aroute(effect, config)  # type: ignore[arg-type]
        elif kind is Wait:
            await effect.hook.await_(effect.ticket)  # type: ignore[union-attr]
    except BaseException as exc:
        return exc
    finally:
        current_config.reset(token)
    return None


def _answer_on_loop(effect: Effect, config: dict[str, Any]) -> BaseException | None:
    return run_sync(_aanswer(effect, config))


def _resume(flow: Flow[Any], failure: BaseException | None) -> Effect:
    """The flow's next effect after an answer, or after throwing its failure in."""
    return next(flow) if failure is None else flow.throw(failure)


_DONE: Final = object()  # a live stream's marker: the step's tasks are done


def _answer_into(
    ctx: contextvars.Context,
    answer: Any,
    effect: Effect,
    config: dict[str, Any],
    box: list[BaseException | None],
    chunks: queue.SimpleQueue[Any],
) -> None:
    """A live stream's helper thread: answer one effect, then mark the step done."""
    try:
        box.append(ctx.run(answer, effect, config))
    finally:
        chunks.put(_DONE)


_CHUNK, _ANSWER, _RELAY = 0, 1, 2  # what a stream interpreter does next


def _stream_steps(
    flow: Flow[Any], live: bool
) -> Generator[tuple[int, Any], BaseException | None, None]:
    """The loop of both stream interpreters, written once: for each of the
    flow's effects, what to do — give out a chunk (``_CHUNK``), answer the
    effect (``_ANSWER``), or answer a step's tasks while relaying the chunks
    they make (``_RELAY``, with a ``live`` sink) — and the answer's failure
    sent back in."""
    try:
        effect = next(flow)
        while True:
            if type(effect) is Emit:
                yield _CHUNK, effect.chunk
                close_stale_window()
                effect = next(flow)
            else:
                failure = yield (_RELAY if live and type(effect) is list else _ANSWER), effect
                effect = _resume(flow, failure)
    except StopIteration:
        pass
    finally:
        flow.close()


def _interpret(
    flow: Flow[Any], config: dict[str, Any], answer: Any, sink: Sink | None
) -> Iterator[Any]:
    """Answer a flow's effects, yielding its chunks. With a live ``sink``
    (chunks made inside tasks) a step's tasks run on a helper thread while
    this generator relays what they put, as it comes."""
    chunks: queue.SimpleQueue[Any] | None = None
    if sink is not None and sink.live:
        chunks = queue.SimpleQueue()
        sink.put = chunks.put
    steps = _stream_steps(flow, chunks is not None)
    runner: threading.Thread | None = None
    try:
        what, item = next(steps)
        while True:
            failure = None
            if what == _CHUNK:
                yield item
            elif what == _ANSWER:
                failure = answer(item, config)
            else:
                assert chunks is not None
                box: list[BaseException | None] = []
                runner = threading.Thread(
                    target=_answer_into,
                    args=(contextvars.copy_context(), answer, item, config, box, chunks),
                    name="wfkit-stream",
                    daemon=True,
                )
                runner.start()
                while (chunk := chunks.get()) is not _DONE:
                    yield chunk
                runner.join()
                runner = None
                failure = box[0] if box else None
            what, item = steps.send(failure)
    except StopIteration:
        pass
    finally:
        if runner is not None:  # the caller stopped mid-step: let the step finish first
            runner.join()
        steps.close()


async def _ainterpret(
    flow: Flow[Any], config: dict[str, Any], sink: Sink | None
) -> AsyncIterator[Any]:
    """Async :func:`_interpret`: a step's tasks relay their chunks as a job
    on this loop (sync nodes put them from their threads, handed over)."""
    chunks: asyncio.Queue[Any] | None = None
    if sink is not None and sink.live:
        chunks = asyncio.Queue()
        loop = asyncio.get_running_loop()
        loop_thread = threading.get_ident()
        put_now = chunks.put_nowait

        def put(chunk: Any) -> None:  # from the loop, or a thread running a sync node
            if threading.get_ident() == loop_thread:
                put_now(chunk)
            else:
                loop.call_soon_threadsafe(put_now, chunk)

        sink.put = put
    steps = _stream_steps(flow, chunks is not None)
    try:
        what, item = next(steps)
        while True:
            failure = None
            if what == _CHUNK:
                yield item
            elif what == _ANSWER:
                failure = await _aanswer(item, config)
            else:
                assert chunks is not None
                job = asyncio.ensure_future(_aanswer(item, config))
                job.add_done_callback(lambda _: put_now(_DONE))
                try:
                    while (chunk := await chunks.get()) is not _DONE:
                        yield chunk
                finally:
                    if not job.done():  # the caller stopped mid-step: let the step finish
                        await asyncio.wait([job])
                failure = job.result()
            what, item = steps.send(failure)
    except StopIteration:
        pass
    finally:
        steps.close()


def drive(flow: Flow[T], config: dict[str, Any]) -> T:
    """Run a flow to its end, answering its effects in this thread."""
    inline = config.get(EXECUTOR) is None
    window = windows.window  # this thread's, for the tasks run inline
    token = current_config.set(config)  # what get_config() and get_runtime() read
    try:
        effect = next(flow)
        while True:
            if (
                inline and type(effect) is list and len(effect) == 1
            ):  # the hot path: one task, inline
                task = effect[0]
                if task.status is PENDING:
                    try:
                        run_task(task, config, window)
                    except BaseException as exc:  # the engine's, not the node's (on the task)
                        effect = flow.throw(exc)
                        continue
                effect = next(flow)
            else:
                effect = _resume(flow, _answer(effect, config))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        current_config.reset(token)


def drive_stream(
    flow: Flow[Any], config: dict[str, Any], *, on_loop: bool, sink: Sink | None = None
) -> Iterator[Any]:
    """Run a flow, yielding its :class:`Emit` chunks (and, with a live
    ``sink``, the chunks its tasks make) as they come; with ``on_loop``,
    effects are answered by the async interpreter on wfkit's private loop (a
    graph with async nodes, streamed through the sync API)."""
    return _interpret(flow, config, _answer_on_loop if on_loop else _answer, sink)


async def adrive(flow: Flow[T], config: dict[str, Any]) -> T:
    """Run a flow to its end, awaiting its effects."""
    inline = config.get(EXECUTOR) is None
    token = current_config.set(config)
    try:
        effect = next(flow)
        while True:
            if (
                inline and type(effect) is list and len(effect) == 1
            ):  # the hot path: one task, inline
                failure = await _arun_one(effect[0], config)
            else:
                failure = await _aanswer(effect, config)
            effect = _resume(flow, failure)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        current_config.reset(token)


def adrive_stream(
    flow: Flow[Any], config: dict[str, Any], sink: Sink | None = None
) -> AsyncIterator[Any]:
    """Async :func:`drive_stream`."""
    return _ainterpret(flow, config, sink)
