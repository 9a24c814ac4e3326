"""Many runs of one workflow: ``Workflow.batch`` / ``abatch``.

One run per input, results in input order, a tqdm progress bar
(``tqdm.auto``: a widget in a notebook, text in a terminal) counting
finished runs and showing failures and interrupts. LangGraph's signatures
are accepted too: ``batch(inputs, config)`` with one config for every run or
a list of configs, and ``return_exceptions``.

Runs go through the ordinary verbs: ``ainvoke`` on one event loop when the
graph has async nodes or an executor runs the node calls (the runs then wait
on the cluster, not on threads), else ``invoke`` on worker threads. With a
checkpointer every run needs its own thread: from ``threads``, from each
config, or generated (``batch_thread_id``) and reported on the result.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from wfkit._ids import batch_thread_id, new_run_id
from wfkit._loop import run_sync
from wfkit.engine.interpret import DEFAULT_MAX_CONCURRENCY
from wfkit.errors import InvalidInputError


class Workflow(Protocol):
    """What a batch needs of a workflow (:class:`wfkit.workflow.Workflow` is one)."""

    name: str
    checkpointer: Any
    executor: Any
    topology: Any

    @property
    def invoke(self) -> Callable[..., dict[str, Any]]: ...

    @property
    def ainvoke(self) -> Callable[..., Awaitable[dict[str, Any]]]: ...


__all__ = ["BatchResult", "abatch", "batch", "batch_configs"]

#: runs at once when the node calls go to an executor: enough to keep a
#: small cluster busy while the driver waits on it
EXECUTOR_CONCURRENCY = 256
#: runs at once on the local async driver (``abatch``, or a graph with async nodes)
ASYNC_CONCURRENCY = 64

OnResult = Callable[[int, Any, "BaseException | None"], None]


class BatchResult(list[Any]):
    """The runs' results in input order (a ``list``), with what was generated:

    - ``threads``: each run's thread id (``None`` entries without a checkpointer);
    - ``failed``: the indices of runs that raised (with ``return_exceptions``);
    - ``interrupted``: the indices of runs that paused on an ``interrupt()``.
    """

    threads: list[str | None]
    failed: list[int]
    interrupted: list[int]


def batch_configs(
    workflow: Workflow,
    n: int,
    config: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
    threads: Sequence[str] | None,
) -> list[dict[str, Any]]:
    """One config per run, each with its own thread when the workflow checkpoints."""
    if config is None or isinstance(config, Mapping):
        configs = [dict(config or {}) for _ in range(n)]
    else:
        configs = [dict(c) for c in config]
        if len(configs) != n:
            raise InvalidInputError(
                f"batch() got {n} inputs but {len(configs)} configs; pass one config for all "
                f"runs or one per input"
            )
    if threads is not None:
        threads = list(threads)
        if len(threads) != n:
            raise InvalidInputError(
                f"batch() got {n} inputs but {len(threads)} thread ids; pass one per input"
            )
        if len(set(threads)) != n:
            raise InvalidInputError("batch() thread ids must be distinct: each run is one thread")
        for cfg, thread in zip(configs, threads, strict=True):
            cfg["configurable"] = {**(cfg.get("configurable") or {}), "thread_id": thread}
    elif workflow.checkpointer is not None:
        named = [(c.get("configurable") or {}).get("thread_id") for c in configs]
        if all(t is None for t in named):
            prefix = new_run_id()
            for i, cfg in enumerate(configs):
                configurable = {**(cfg.get("configurable") or {})}
                configurable["thread_id"] = batch_thread_id(prefix, i)
                cfg["configurable"] = configurable
        elif None in named or len(set(named)) != n:
            raise InvalidInputError(
                f"batch() on {workflow.name!r} (which checkpoints) needs a distinct thread per "
                f"run; pass threads=[...], a thread_id in every config, or none to have them "
                f"generated"
            )
    return configs


def _resolve_executor(workflow: Workflow, executor: Any) -> Any:
    chosen = workflow.executor if executor is None else executor
    return None if chosen is None or chosen == "local" else chosen


class _Progress:
    """The bar, and the counts it shows."""

    def __init__(self, workflow: Workflow, total: int, enabled: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=f"batch {workflow.name}", disable=not enabled, unit="run")
        self.failed: list[int] = []
        self.interrupted: list[int] = []
        self.lock = threading.Lock()

    def done(self, i: int, result: Any, error: BaseException | None) -> None:
        with self.lock:
            if error is not None:
                self.failed.append(i)
            elif isinstance(result, dict) and "__interrupt__" in result:
                self.interrupted.append(i)
            if error is not None or self.interrupted:
                postfix: dict[str, int] = {"failed": len(self.failed)}
                if self.interrupted:
                    postfix["interrupted"] = len(self.interrupted)
                self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(1)


def _prepare(workflow: Workflow, executor: Any, opts: dict[str, Any]) -> int | None:
    """Check before any run starts that the executor can run every node."""
    if executor is not None:
        prepare = getattr(executor, "prepare", None)
        if prepare is not None:
            prepare(workflow.topology)
        opts["executor"] = executor
    limit = opts.pop("max_concurrency", None)
    return limit  # type: ignore[no-any-return]


def _finish(results: list[Any], configs: list[dict[str, Any]], progress: _Progress) -> BatchResult:
    out = BatchResult(results)
    out.threads = [(c.get("configurable") or {}).get("thread_id") for c in configs]
    out.failed = sorted(progress.failed)
    out.interrupted = sorted(progress.interrupted)
    return out


async def abatch(
    workflow: Workflow,
    inputs: Sequence[Any],
    config: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    *,
    threads: Sequence[str] | None = None,
    executor: Any = None,
    max_concurrency: int | None = None,
    progress: bool = True,
    return_exceptions: bool = False,
    on_result: OnResult | None = None,
    **opts: Any,
) -> BatchResult:
    """Run every input on one event loop; see :meth:`wfkit.Workflow.batch`."""
    inputs = list(inputs)
    configs = batch_configs(workflow, len(inputs), config, threads)
    executor = _resolve_executor(workflow, executor)
    limit = _prepare(workflow, executor, opts) or max_concurrency
    limit = limit or _config_limit(configs) or _default_limit(executor)
    bar = _Progress(workflow, len(inputs), progress)
    results: list[Any] = [None] * len(inputs)
    gate = asyncio.Semaphore(limit)

    async def one(i: int) -> None:
        async with gate:
            try:
                result = await workflow.ainvoke(inputs[i], configs[i], **opts)
            except Exception as exc:
                bar.done(i, None, exc)
                if on_result is not None:
                    on_result(i, None, exc)
                if not return_exceptions:
                    raise
                results[i] = exc
                return
            results[i] = result
            bar.done(i, result, None)
            if on_result is not None:
                on_result(i, result, None)

    tasks = [asyncio.ensure_future(one(i)) for i in range(len(inputs))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:  # the first failure ends the batch: cancel the queued runs
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        bar.bar.close()
    return _finish(results, configs, bar)


def batch(
    workflow: Workflow,
    inputs: Sequence[Any],
    config: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    *,
    threads: Sequence[str] | None = None,
    executor: Any = None,
    max_concurrency: int | None = None,
    progress: bool = True,
    return_exceptions: bool = False,
    on_result: OnResult | None = None,
    **opts: Any,
) -> BatchResult:
    """Blocking :func:`abatch`; a local graph of sync nodes runs on threads."""
    chosen = _resolve_executor(workflow, executor)
    if chosen is not None or workflow.topology.needs_async:
        return run_sync(
            abatch(
                workflow,
                inputs,
                config,
                threads=threads,
                executor=executor,
                max_concurrency=max_concurrency,
                progress=progress,
                return_exceptions=return_exceptions,
                on_result=on_result,
                **opts,
            )
        )
    inputs = list(inputs)
    configs = batch_configs(workflow, len(inputs), config, threads)
    limit = _prepare(workflow, None, opts) or max_concurrency
    limit = limit or _config_limit(configs) or DEFAULT_MAX_CONCURRENCY
    opts["executor"] = "local" if executor == "local" else None
    bar = _Progress(workflow, len(inputs), progress)
    results: list[Any] = [None] * len(inputs)
    stop = threading.Event()

    def one(i: int) -> None:
        if stop.is_set():
            return
        try:
            result = workflow.invoke(inputs[i], configs[i], **opts)
        except Exception as exc:
            bar.done(i, None, exc)
            if on_result is not None:
                on_result(i, None, exc)
            if not return_exceptions:
                stop.set()
                raise
            results[i] = exc
            return
        results[i] = result
        bar.done(i, result, None)
        if on_result is not None:
            on_result(i, result, None)

    try:
        with ThreadPoolExecutor(
            min(limit, len(inputs) or 1), thread_name_prefix="wfkit-batch"
        ) as pool:
            for future in [pool.submit(one, i) for i in range(len(inputs))]:
                future.result()
    finally:
        bar.bar.close()
    return _finish(results, configs, bar)


def _config_limit(configs: list[dict[str, Any]]) -> int | None:
    """LangGraph's way: ``max_concurrency`` in the (first) config caps the runs at once."""
    return configs[0].get("max_concurrency") if configs else None


def _default_limit(executor: Any) -> int:
    if executor is None:  # runs on one event loop: awaiting costs no thread
        return ASYNC_CONCURRENCY
    hint = getattr(executor, "concurrency", None)
    return int(hint) if hint else EXECUTOR_CONCURRENCY
