"""``@task``: a function whose calls inside an entrypoint are tasks of the run.

Calling a task returns a :class:`TaskFuture` at once; the call is a task
of the run's superstep, run by the engine (its own span, retries, cache,
checkpointed result) when the entrypoint waits for a result (``.result()``
or ``await``) or returns. See :mod:`wfkit.func.body` for that hand-over
and ``docs/functional.md`` for how it maps to supersteps.

Called anywhere else inside a run (a graph node, another task), a task
is an ordinary call: it runs at once, with its retry policy, and the
future it returns is already resolved.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import Awaitable, Callable, Generator, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Protocol, TypeVar, overload

from wfkit import _context
from wfkit.errors import GraphInterrupt, InvalidInputError
from wfkit.graph.topology import NodeOptions, NodeSpec, _is_async_callable
from wfkit.types import CachePolicy, RetryPolicy

if TYPE_CHECKING:
    from wfkit.state import Schema

__all__ = ["Caller", "TaskFunction", "TaskFuture", "current_caller", "task"]

P = ParamSpec("P")
T = TypeVar("T")

_PENDING = object()


class Caller(Protocol):
    """What a task call and its future need of the entrypoint body that made
    them (:class:`wfkit.func.body.Body` is one)."""

    def call(
        self, fn: TaskFunction[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> TaskFuture[Any]: ...

    def wait_for(self, future: TaskFuture[Any]) -> None: ...

    def awaiting(self, future: TaskFuture[Any]) -> None: ...


#: the entrypoint body running in this context (set inside the body only)
current_caller: ContextVar[Caller | None] = ContextVar("wfkit_entry_body", default=None)


class TaskFuture(Generic[T]):
    """The result of one task call: ``.result()`` in a sync entrypoint,
    ``await`` in an async one (``asyncio.gather(*futures)`` works too).

    Asking for the result of a call that has not run yet hands the calls
    made so far to the engine, which runs them (in parallel) and comes back
    with their results."""

    __slots__ = ("_body", "_error", "_value", "_waiters", "index", "name")

    def __init__(self, body: Caller | None, name: str, index: int) -> None:
        self._body = body
        self.name = name
        self.index = index  # the call's position in its superstep (1 for the first call)
        self._value: Any = _PENDING
        self._error: BaseException | None = None
        self._waiters: list[asyncio.Future[None]] | None = None  # awaits in an async entrypoint

    def __repr__(self) -> str:
        state = "pending" if not self.done() else "failed" if self._error else "done"
        return f"<TaskFuture {self.name}#{self.index} {state}>"

    # ---------------------------------------------------------------- outcome
    def done(self) -> bool:
        return self._value is not _PENDING or self._error is not None

    def set_result(self, value: Any) -> None:
        self._value = value
        self._wake()

    def set_exception(self, error: BaseException) -> None:
        self._error = error
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def _outcome(self) -> T:
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[no-any-return]

    # ---------------------------------------------------------------- waiting
    def result(self, timeout: float | None = None) -> T:
        """The task's return value (or its exception, raised here). In a sync
        entrypoint this waits for the engine to run the call."""
        if not self.done():
            body = self._body
            if body is None:  # pragma: no cover - futures without a body are resolved
                raise RuntimeError(f"task {self.name!r} has no result and nothing will run it")
            body.wait_for(self)
        return self._outcome()

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The task's exception, or None (waits like :meth:`result`)."""
        try:
            self.result(timeout)
        except BaseException as exc:
            return exc
        return None

    def __await__(self) -> Generator[Any, None, T]:
        if not self.done():
            body = self._body
            if body is None:  # pragma: no cover
                raise RuntimeError(f"task {self.name!r} has no result and nothing will run it")
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            body.awaiting(self)
            yield from waiter.__await__()
        return self._outcome()


def _call_key(policy: CachePolicy) -> Callable[[Any], str | bytes]:
    """A task's cache key function over the call's ``(args, kwargs)``: the
    policy's ``key_func`` is called as LangGraph calls it, with the task's
    arguments (the default key hashes them both)."""
    from wfkit.types import default_cache_key

    key_func = policy.key_func
    if key_func is default_cache_key:
        return key_func

    def key(call: tuple[tuple[Any, ...], dict[str, Any]]) -> str | bytes:
        args, kwargs = call
        return key_func(*args, **kwargs)

    return key


class _Apply:
    """A task's function as the engine calls a node: with one argument, the
    call's ``(args, kwargs)``. Picklable when the function is, so a call can
    run on a Dask worker."""

    __slots__ = ("func",)

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func

    def __call__(self, call: tuple[tuple[Any, ...], dict[str, Any]]) -> Any:
        args, kwargs = call
        return self.func(*args, **kwargs)

    def __reduce__(self) -> Any:
        return (_Apply, (self.func,))


class _AsyncApply(_Apply):
    __slots__ = ()

    async def __call__(self, call: tuple[tuple[Any, ...], dict[str, Any]]) -> Any:
        args, kwargs = call
        return await self.func(*args, **kwargs)

    def __reduce__(self) -> Any:
        return (_AsyncApply, (self.func,))


def task_spec(
    name: str,
    func: Callable[..., Any],
    retry: tuple[RetryPolicy, ...],
    cache: CachePolicy | None,
    schema: Schema,
) -> NodeSpec:
    """The engine's node for a task function: what each call of it runs."""
    is_async = _is_async_callable(func)
    fn = _AsyncApply(func) if is_async else _Apply(func)
    policy = None if cache is None else CachePolicy(key_func=_call_key(cache), ttl=cache.ttl)
    spec = NodeSpec(name, -1, NodeOptions(fn=fn, retry=retry, cache=policy), schema)
    spec.is_async = is_async
    spec.wants_config = ()
    spec.command_targets = ()
    spec.plain = not retry and policy is None
    return spec


def _policies(name: str, given: Any) -> tuple[RetryPolicy, ...]:
    if given is None:
        return ()
    policies = (given,) if isinstance(given, RetryPolicy) else given
    if not isinstance(policies, Sequence) or not all(isinstance(p, RetryPolicy) for p in policies):
        raise InvalidInputError(
            f"retry_policy of {name!r} must be a RetryPolicy or a list of them, got {given!r}; "
            f"e.g. retry_policy=RetryPolicy(max_attempts=3)"
        )
    return tuple(policies)


class TaskFunction(Generic[P, T]):
    """A function decorated with ``@task``: calling it returns a :class:`TaskFuture`."""

    def __init__(
        self,
        func: Callable[P, Awaitable[T]] | Callable[P, T],
        *,
        name: str | None = None,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
        cache_policy: CachePolicy | None = None,
    ) -> None:
        if not callable(func):
            raise InvalidInputError(f"@task decorates a function, got {func!r}")
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise InvalidInputError(
                f"@task cannot decorate generator {getattr(func, '__name__', func)!r}; "
                f"return a value (a list, say) instead of yielding"
            )
        label = name or getattr(func, "__name__", None)
        if not isinstance(label, str) or not label:
            raise InvalidInputError(
                f"cannot name task {func!r}: it has no __name__; use @task(name='...')"
            )
        if cache_policy is not None and not isinstance(cache_policy, CachePolicy):
            raise InvalidInputError(
                f"cache_policy of task {label!r} must be a CachePolicy, got {cache_policy!r}"
            )
        self.func = func
        self.name = label
        self.retry_policy = _policies(label, retry_policy)
        self.cache_policy = cache_policy
        self.is_async = _is_async_callable(func)
        self._spec: NodeSpec | None = None
        functools.update_wrapper(self, func)

    def __repr__(self) -> str:
        return f"<task {self.name!r}>"

    def spec(self, schema: Schema) -> NodeSpec:
        """This task's node (made once)."""
        spec = self._spec
        if spec is None:
            spec = self._spec = task_spec(
                self.name, self.func, self.retry_policy, self.cache_policy, schema
            )
        return spec

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> TaskFuture[T]:
        body = current_caller.get()
        if body is not None:
            return body.call(self, args, kwargs)
        return self._call_here(args, kwargs)

    def _call_here(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> TaskFuture[T]:
        """A call outside an entrypoint (a graph node, another task): run it
        now, with its retry policy."""
        if _context.current_config.get() is None:
            raise RuntimeError(
                f"task {self.name!r} was called outside a running workflow; call it inside an "
                f"@entrypoint function (or a node or task of a running graph)"
            )
        if self.is_async:
            return _AsyncCall(self, args, kwargs)  # type: ignore[return-value]
        future: TaskFuture[T] = TaskFuture(None, self.name, 0)
        attempt = 1
        while True:
            try:
                future.set_result(self.func(*args, **kwargs))
                return future
            except GraphInterrupt:
                raise
            except Exception as exc:
                policy = next((p for p in self.retry_policy if p.should_retry(exc)), None)
                if policy is None or attempt >= policy.max_attempts:
                    future.set_exception(exc)
                    return future
                time.sleep(policy.delay(attempt))
                attempt += 1

    def clear_cache(self, cache: Any) -> None:
        """Forget this task's cached results in ``cache``."""
        from wfkit.engine.attempts import CACHE_NS

        cache.clear([(CACHE_NS, self.name)])

    async def aclear_cache(self, cache: Any) -> None:
        self.clear_cache(cache)


class _AsyncCall:
    """An async task called outside an entrypoint: awaiting it runs it."""

    __slots__ = ("args", "kwargs", "task")

    def __init__(self, task: TaskFunction[Any, Any], args: Any, kwargs: Any) -> None:
        self.task = task
        self.args = args
        self.kwargs = kwargs

    def __await__(self) -> Generator[Any, None, Any]:
        return self._run().__await__()

    async def _run(self) -> Any:
        task = self.task
        attempt = 1
        while True:
            try:
                return await task.func(*self.args, **self.kwargs)
            except GraphInterrupt:
                raise
            except Exception as exc:
                policy = next((p for p in task.retry_policy if p.should_retry(exc)), None)
                if policy is None or attempt >= policy.max_attempts:
                    raise
                await asyncio.sleep(policy.delay(attempt))
                attempt += 1


@overload
def task(
    __func: None = None,
    *,
    name: str | None = None,
    retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
    cache_policy: CachePolicy | None = None,
) -> Callable[[Callable[P, Any]], TaskFunction[P, Any]]: ...


@overload
def task(__func: Callable[P, Awaitable[T]]) -> TaskFunction[P, T]: ...


@overload
def task(__func: Callable[P, T]) -> TaskFunction[P, T]: ...


def task(
    __func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
    cache_policy: CachePolicy | None = None,
) -> Any:
    """Make a function a task (LangGraph's ``@task``)::

        @task
        def add_one(x: int) -> int:
            return x + 1

        @task(retry_policy=RetryPolicy(max_attempts=3))
        async def fetch(url: str) -> str: ...

    Inside an ``@entrypoint`` each call returns a future at once; the
    calls an entrypoint makes before it waits for a result run in
    parallel, and a checkpointed run stores each result so that a resumed
    entrypoint gets it back instead of calling the task again.
    """

    def decorate(func: Callable[..., Any]) -> TaskFunction[Any, Any]:
        return TaskFunction(func, name=name, retry_policy=retry_policy, cache_policy=cache_policy)

    return decorate if __func is None else decorate(__func)
