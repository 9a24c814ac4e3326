"""One task's attempts, written once: retries with backoff, timing, the
resume answers ``interrupt()`` reads, and the note naming node, superstep
and attempt on a node's own exception.

:func:`attempt_flow` is a generator that asks its interpreter for two
things: ``CALL`` (call the node now; send back its output, or a
:class:`Failed` holding the exception) and a float (sleep that many
seconds before the next attempt). It yields ``FINISHED`` once the task is
done, failed or interrupted, its outcome recorded on the task. The sync and
async interpreters (:mod:`wfkit.engine.interpret`) answer these with a
blocking call and ``time.sleep``, or an ``await`` and ``asyncio.sleep``.

Plain nodes (no retry, no timeout, no ``config`` parameter, not a subgraph)
never come here: the interpreters call them inline, which is the hot path.
"""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Final

from wfkit import _context
from wfkit._clock import mono_ns
from wfkit.engine.machine import DONE, FAILED, INTERRUPTED, Task
from wfkit.errors import GraphInterrupt, InvalidUpdateError

if TYPE_CHECKING:
    from wfkit.cache.base import BaseCache, FullKey
    from wfkit.types import RetryPolicy

__all__ = [
    "CACHE",
    "CALL",
    "FINISHED",
    "TRACE_LEVEL",
    "Failed",
    "attempt_flow",
    "check_not_coroutine",
    "record_error",
]

TRACE_LEVEL: Final = "wfkit_trace_level"  # config key: 0 off, 1 timing, 2 memory
CACHE: Final = "wfkit_cache"  # config key: the cache of compile(cache=...)
CACHE_NS: Final = "__wfkit_node__"  # the namespace of node results in a cache


class _Ask:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


CALL: Final = _Ask("CALL")
FINISHED: Final = _Ask("FINISHED")

AttemptFlow = Generator["_Ask | float", Any, None]


class Failed:
    """The exception an attempt raised, sent back into :func:`attempt_flow`."""

    __slots__ = ("exc",)

    def __init__(self, exc: Exception) -> None:
        self.exc = exc


def _policy_for(task: Task, exc: BaseException) -> RetryPolicy | None:
    """The node's first retry policy whose ``retry_on`` matches ``exc``."""
    for policy in task.node.retry:
        if policy.should_retry(exc):
            return policy
    return None


def note(exc: BaseException, task: Task, attempt: int) -> None:
    """Name node, superstep and attempt on a node's own exception (never wrapped)."""
    retry = _policy_for(task, exc) or (task.node.retry[0] if task.node.retry else None)
    of = f" of {retry.max_attempts}" if retry is not None else ""
    exc.add_note(
        f"wfkit: raised in node {task.node.name!r}, superstep {task.step}, attempt {attempt}{of}"
    )


def record_error(task: Task, exc: Exception, attempt: int) -> None:
    """An attempt ended in ``exc``: the task interrupted, or failed."""
    task.attempt = attempt
    if isinstance(exc, GraphInterrupt):
        task.status = INTERRUPTED
        task.interrupts = exc.interrupts
        return
    note(exc, task, attempt)
    task.status = FAILED
    task.error = exc


def check_not_coroutine(name: str, out: Any) -> None:
    """A plain ``def`` node must not return a coroutine (a forgotten ``async``)."""
    if type(out) is not dict and hasattr(out, "__await__"):
        close = getattr(out, "close", None)
        if close is not None:
            close()
        raise InvalidUpdateError(
            f"node {name!r} is a plain function but returned a coroutine; declare it with "
            f"'async def' so wfkit knows to await it"
        )


def _begin(task: Task, level: int) -> None:
    task.span = None  # its span record is made from all its fields (wfkit.trace.record)
    task.started = mono_ns()
    if level > 1:
        tracemalloc.reset_peak()
        task.memory = tracemalloc.get_traced_memory()[0]  # the baseline, until _end


def _end(task: Task, level: int) -> None:
    task.ended = mono_ns()
    if level > 1:
        # the peak above what was allocated when the task started
        task.memory = max(0, tracemalloc.get_traced_memory()[1] - task.memory)


def _cache_key(task: Task) -> FullKey:
    policy = task.node.cache
    raw = policy.key_func(task.arg)
    digest = hashlib.blake2b(raw.encode() if isinstance(raw, str) else raw, digest_size=16)
    return (CACHE_NS, task.node.name), digest.hexdigest()


def attempt_flow(task: Task, level: int, cache: BaseCache | None = None) -> AttemptFlow:
    """Run ``task`` to completion through its interpreter (module docstring).

    A node with a ``cache_policy``, run with a cache, first looks its input
    up there: a hit is its result, without calling it; a result is stored
    with the policy's ttl."""
    key = None
    if cache is not None and task.node.cache is not None:
        key = _cache_key(task)
        hit = cache.get([key])
        if key in hit:
            task.update = hit[key]
            task.status = DONE
            task.started = task.ended = mono_ns()
            yield FINISHED
            return
    token = _context.current_task.set(_context.TaskScratch(task.resume)) if task.resume else None
    attempt = 1
    _begin(task, level)
    try:
        while True:
            out = yield CALL
            if type(out) is not Failed:
                task.update = out
                task.status = DONE
                task.attempt = attempt
                if key is not None and cache is not None:
                    cache.set({key: (out, task.node.cache.ttl)})
                break
            exc = out.exc
            policy = None if isinstance(exc, GraphInterrupt) else _policy_for(task, exc)
            if policy is None or attempt >= policy.max_attempts:
                record_error(task, exc, attempt)
                break
            if level:  # keep the failed attempt's timing for its span
                _end(task, level)
                if task.retried is None:
                    task.retried = []
                task.retried.append((attempt, task.started, task.ended, None, task.memory, exc))
            yield policy.delay(attempt)
            attempt += 1
            _begin(task, level)
            if token is not None:  # the node starts over: so do its resume answers
                _context.current_task.set(_context.TaskScratch(task.resume))  # type: ignore[arg-type]
    finally:
        _end(task, level)
        if token is not None:
            _context.current_task.reset(token)
    yield FINISHED
