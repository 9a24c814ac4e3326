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
from typing import Any, Protocol, Unpack

from wfkit._ids import batch_thread_id, new_run_id
from wfkit._loop import run_sync
from wfkit.engine.interpret import DEFAULT_MAX_CONCURRENCY
from wfkit.errors import InvalidInputError
from wfkit.types import BatchOptions


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


class _Outcomes:
    """The runs' results as they finish, and the bar that counts them."""

    def __init__(
        self,
        workflow: Workflow,
        total: int,
        progress: bool,
        on_result: OnResult | None,
        return_exceptions: bool,
    ) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=total, desc=f"batch {workflow.name}", disable=not progress, unit="run"
        )
        self.results: list[Any] = [None] * total
        self.failures: list[int] = []
        self.interrupted: list[int] = []
        self.on_result = on_result
        self.return_exceptions = return_exceptions
        self.lock = threading.Lock()

    def ok(self, i: int, result: Any) -> None:
        self.results[i] = result
        self._count(i, result, None)

    def failed(self, i: int, exc: BaseException) -> bool:
        """Count run ``i``'s failure; True if the batch goes on (``return_exceptions``)."""
        self._count(i, None, exc)
        if self.return_exceptions:
            self.results[i] = exc
        return self.return_exceptions

    def _count(self, i: int, result: Any, error: BaseException | None) -> None:
        with self.lock:
            if error is not None:
                self.failures.append(i)
            elif isinstance(result, dict) and "__interrupt__" in result:
                self.interrupted.append(i)
            if error is not None or self.interrupted:
                postfix: dict[str, int] = {"failed": len(self.failures)}
                if self.interrupted:
                    postfix["interrupted"] = len(self.interrupted)
                self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(1)
        if self.on_result is not None:
            self.on_result(i, result, error)

    def finish(self, configs: list[dict[str, Any]]) -> BatchResult:
        out = BatchResult(self.results)
        out.threads = [(c.get("configurable") or {}).get("thread_id") for c in configs]
        out.failed = sorted(self.failures)
        out.interrupted = sorted(self.interrupted)
        return out


def _start(
    workflow: Workflow,
    inputs: Sequence[Any],
    config: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
    on_result: OnResult | None,
    opts: dict[str, Any],
) -> tuple[list[Any], list[dict[str, Any]], int | None, _Outcomes]:
    """What both drivers start from: the inputs, one config a run, the cap
    on runs at once (None: the driver's default), and the outcomes; the
    batch's own keywords are taken out of ``opts``, the rest go to each run.
    The executor is checked before any run starts: it can run every node."""
    inputs = list(inputs)
    configs = batch_configs(workflow, len(inputs), config, opts.pop("threads", None))
    executor = _resolve_executor(workflow, opts.get("executor"))
    if executor is not None:
        prepare = getattr(executor, "prepare", None)
        if prepare is not None:
            prepare(workflow.topology)
        opts["executor"] = executor
    limit = opts.pop("max_concurrency", None) or _config_limit(configs)
    outcomes = _Outcomes(
        workflow,
        len(inputs),
        opts.pop("progress", True),
        on_result,
        opts.pop("return_exceptions", False),
    )
    return inputs, configs, limit, outcomes


async def abatch(
    workflow: Workflow,
    inputs: Sequence[Any],
    config: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    *,
    on_result: OnResult | None = None,
    **opts: Unpack[BatchOptions],
) -> BatchResult:
    """Run every input on one event loop; see :meth:`wfkit.Workflow.batch`."""
    kw: dict[str, Any] = dict(opts)
    inputs, configs, limit, out = _start(workflow, inputs, config, on_result, kw)
    executor = _resolve_executor(workflow, kw.get("executor"))
    gate = asyncio.Semaphore(limit or _default_limit(executor))

    async def one(i: int) -> None:
        async with gate:
            try:
                result = await workflow.ainvoke(inputs[i], configs[i], **kw)
            except Exception as exc:
                if not out.failed(i, exc):
                    raise
                return
            out.ok(i, result)

    tasks = [asyncio.ensure_future(one(i)) for i in range(len(inputs))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:  # the first failure ends the batch: cancel the queued runs
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        out.bar.close()
    return out.finish(configs)


def batch(
    workflow: Workflow,
    inputs: Sequence[Any],
    config: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    *,
    on_result: OnResult | None = None,
    **opts: Unpack[BatchOptions],
) -> BatchResult:
    """Blocking :func:`abatch`; a local graph of sync nodes runs on threads."""
    local = _resolve_executor(workflow, opts.get("executor")) is None
    if not local or workflow.topology.needs_async:
        return run_sync(abatch(workflow, inputs, config, on_result=on_result, **opts))
    kw: dict[str, Any] = dict(opts)
    inputs, configs, limit, out = _start(workflow, inputs, config, on_result, kw)
    kw["executor"] = "local" if opts.get("executor") == "local" else None
    stop = threading.Event()

    def one(i: int) -> None:
        if stop.is_set():
            return
        try:
            result = workflow.invoke(inputs[i], configs[i], **kw)
        except Exception as exc:
            if not out.failed(i, exc):
                stop.set()
                raise
            return
        out.ok(i, result)

    try:
        workers = min(limit or DEFAULT_MAX_CONCURRENCY, len(inputs) or 1)
        with ThreadPoolExecutor(workers, thread_name_prefix="wfkit-batch") as pool:
            for future in [pool.submit(one, i) for i in range(len(inputs))]:
                future.result()
    finally:
        out.bar.close()
    return out.finish(configs)


def _config_limit(configs: list[dict[str, Any]]) -> int | None:
    """LangGraph's way: ``max_concurrency`` in the (first) config caps the runs at once."""
    return configs[0].get("max_concurrency") if configs else None


def _default_limit(executor: Any) -> int:
    if executor is None:  # runs on one event loop: awaiting costs no thread
        return ASYNC_CONCURRENCY
    hint = getattr(executor, "concurrency", None)
    return int(hint) if hint else EXECUTOR_CONCURRENCY
