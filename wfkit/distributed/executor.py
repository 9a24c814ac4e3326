"""``DaskExecutor``: node calls on a Dask cluster, the loop in the driver.

The interpreters of :mod:`wfkit.engine.interpret` hand each superstep's
pending tasks to :meth:`DaskExecutor.arun_tasks` (``run_tasks`` from sync
code). Each task's attempts are the engine's own
(:func:`wfkit.engine.attempts.attempt_flow`: retries, backoff, timing); only
the answer to its ``CALL`` is remote:

1. the call (function digest and bytes, input, config, resume answers) is
   queued here, in the driver;
2. a dispatcher thread packs queued calls into *packets* (up to
   ``batch_size`` calls; by default the queue split evenly over the free
   slots, at most 64 a packet) and submits each as one Dask task with a
   unique key (``pure=False``: Dask never deduplicates a side-effecting
   node), at most ``max_in_flight`` packets at once;
3. a worker runs the packet (:func:`wfkit.distributed.worker.run_packet`)
   and returns each call's outcome and timings; a callback resolves the
   calls' futures, which the runs await.

An input of about ``SCATTER_BYTES`` or more (a big state) is sent to the
cluster once per superstep with ``client.scatter``, and every call of that
superstep that reads it refers to the copy there instead of carrying it.

A worker that dies with a packet on it costs one re-run of that packet:
Dask reschedules it on another worker (the scheduler's
``allowed_failures``, which this executor sets to
``retries_on_worker_loss``); that is not an attempt of the node's
``RetryPolicy``. Past that, the calls fail with ``WorkerLostError``.
Timeouts are the driver's: a call of a node with a ``timeout`` travels
alone, and when its time is up the driver stops waiting, cancels the Dask
task and ignores a late result. Cancelling a run (its asyncio task) drops
its queued calls and cancels packets no other run waits for.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import sys
import threading
import time
import uuid
from collections import deque
from typing import Any, Final

from wfkit._loop import run_sync
from wfkit.distributed.shipping import Shipped, node_specs
from wfkit.distributed.worker import ERROR, INTERRUPT, OK, Call, run_packet
from wfkit.engine.attempts import CALL, FINISHED, TRACE_LEVEL, Failed, attempt_flow
from wfkit.engine.inject import task_config
from wfkit.engine.interpret import arun_task
from wfkit.engine.machine import PENDING, Task
from wfkit.errors import (
    DependencyMissingError,
    GraphInterrupt,
    InvalidInputError,
    NodeTimeoutError,
    WorkerLostError,
)

__all__ = ["DaskExecutor"]

INSTALL: Final = "pip install 'wfkit[dask]'"
MAX_PACKET: Final = 64  # calls in a packet when batch_size is not given
LINGER_S: Final = 0.0005  # while packets are in flight, wait this long for more calls to pack
SCATTER_BYTES: Final = 1 << 20  # inputs about this big go to the cluster once, by client.scatter


def approx_bytes(value: Any, depth: int = 3) -> int:
    """A cheap estimate of ``value``'s size (a few microseconds for a small
    state): strings and buffers by length, containers by their first items."""
    kind = type(value)
    if kind is str or kind is bytes or kind is bytearray:
        return len(value)
    if depth and kind is dict:
        return 64 * len(value) + sum(approx_bytes(v, depth - 1) for v in value.values())
    if depth and (kind is list or kind is tuple):
        n = len(value)
        head = value[:8]
        return 8 * n + (sum(approx_bytes(v, depth - 1) for v in head) * n) // max(1, len(head))
    nbytes = getattr(value, "nbytes", None)  # arrays, frames
    if type(nbytes) is int:
        return nbytes
    return sys.getsizeof(value)


def _require_distributed() -> Any:
    try:
        import cloudpickle  # noqa: F401
        import distributed
    except ImportError as exc:
        raise DependencyMissingError(
            f"DaskExecutor needs Dask distributed and cloudpickle, which are not installed "
            f"({exc}); install them with: {INSTALL}"
        ) from exc
    return distributed


def _set_allowed_failures(dask_scheduler: Any, n: int) -> None:
    dask_scheduler.allowed_failures = n


def _positive(name: str, value: Any) -> int | None:
    if value is not None and (type(value) is not int or value < 1):
        raise InvalidInputError(
            f"DaskExecutor({name}={value!r}): {name} must be a positive int or None"
        )
    return value


def _lost(calls: list[_Call], exc: BaseException) -> BaseException:
    """What a packet's calls fail with when Dask gives back neither their
    outcomes nor an error of theirs: a cancellation (``CancelledError``, a
    ``BaseException`` that would end the whole batch, not these calls)
    becomes a :class:`WorkerLostError`; any other exception is kept."""
    if isinstance(exc, Exception) and not isinstance(exc, asyncio.CancelledError):
        return exc
    nodes = sorted({c.node for c in calls})
    return WorkerLostError(
        f"the Dask task running node(s) {', '.join(map(repr, nodes))} was cancelled by the "
        f"cluster ({type(exc).__name__}: {exc}); run again once the cluster is back "
        f"(invoke(None, config) continues a checkpointed run)"
    )


class _Call:
    """One node call, queued in the driver until its packet returns."""

    __slots__ = ("alone", "enqueued", "future", "label", "node", "packet", "payload", "received")

    def __init__(self, payload: Call, node: str, label: str, alone: bool) -> None:
        self.payload = payload
        self.node = node
        self.label = label
        self.alone = alone  # travels in a packet of its own (a node with a timeout)
        # (worker, outcome), or (None, exception) when the packet itself failed
        self.future: cf.Future[tuple[str | None, Any]] = cf.Future()
        self.enqueued = 0  # driver wall ns
        self.received = 0
        # the Dask future it travels in, and the calls travelling with it
        self.packet: tuple[Any, list[_Call]] | None = None


def _ship_config(config: dict[str, Any]) -> dict[str, Any]:
    """The config a node gets on a worker: LangGraph's keys, none of wfkit's."""
    return {k: v for k, v in config.items() if not k.startswith("wfkit_")}


class DaskExecutor:
    """Runs node calls on a Dask cluster (``client``: a ``distributed.Client``).

    ``graph.compile(executor=DaskExecutor(client))``, or ``executor=`` on a
    run verb or ``batch``. ``batch_size`` caps the calls packed into one
    Dask task (``None``: as many as keep every slot busy, at most 64);
    ``max_in_flight`` caps the Dask tasks submitted and not yet returned
    (``None``: twice the cluster's threads, at least 4);
    ``retries_on_worker_loss`` is how often a call is re-run because its
    worker died (set on the scheduler as ``allowed_failures``, so it applies
    to the whole cluster).
    """

    def __init__(
        self,
        client: Any,
        *,
        batch_size: int | None = None,
        max_in_flight: int | None = None,
        retries_on_worker_loss: int = 1,
    ) -> None:
        distributed = _require_distributed()
        if not isinstance(client, distributed.Client):
            raise InvalidInputError(
                f"DaskExecutor needs a distributed.Client, got {type(client).__name__}; e.g. "
                f"DaskExecutor(Client(LocalCluster(n_workers=2)))"
            )
        if client.asynchronous:
            raise InvalidInputError(
                "DaskExecutor needs a synchronous distributed.Client (Client(...), not "
                "Client(..., asynchronous=True)); wfkit awaits its calls itself"
            )
        if type(retries_on_worker_loss) is not int or retries_on_worker_loss < 0:
            raise InvalidInputError(
                f"DaskExecutor(retries_on_worker_loss={retries_on_worker_loss!r}): an int >= 0"
            )
        self.client = client
        self.batch_size = _positive("batch_size", batch_size)
        threads = sum(client.nthreads().values()) or 1
        self.max_in_flight = _positive("max_in_flight", max_in_flight) or max(4, 2 * threads)
        self.retries_on_worker_loss = retries_on_worker_loss
        client.run_on_scheduler(_set_allowed_failures, n=retries_on_worker_loss)
        self.shipped = Shipped(client)
        self.packets_sent = 0
        self.calls_sent = 0
        self.scattered = 0  # inputs sent to the cluster once for several calls
        self._cond = threading.Condition()
        self._queue: deque[_Call] = deque()
        self._in_flight = 0
        self._thread: threading.Thread | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"<DaskExecutor {self.client.scheduler.address} max_in_flight={self.max_in_flight}>"

    def __reduce__(self) -> Any:  # a config holding the executor must never travel with a call
        raise TypeError("a DaskExecutor stays in the driver; it cannot be pickled")

    @property
    def concurrency(self) -> int:
        """Runs a batch keeps going at once by default: enough queued calls to fill every packet."""
        return max(256, self.max_in_flight * (self.batch_size or MAX_PACKET) // 2)

    # ------------------------------------------------------------ the NodeExecutor protocol
    def prepare(self, topology: Any) -> None:
        """Check that every node of ``topology`` can run on the workers
        (``NodeShippingError`` naming the node and the fix, if not)."""
        self.shipped.check(node_specs(topology))

    def run_tasks(self, tasks: list[Task], config: dict[str, Any]) -> None:
        run_sync(self.arun_tasks(tasks, config))

    async def arun_tasks(self, tasks: list[Task], config: dict[str, Any]) -> None:
        pending = [t for t in tasks if t.status is PENDING]
        if not pending:
            return
        shipped = config if any(t.node.wants_config for t in pending) else None
        big = await self._scatter(pending)
        if len(pending) == 1:
            await self._arun_task(pending[0], config, shipped, big)
        else:
            await asyncio.gather(*(self._arun_task(t, config, shipped, big) for t in pending))

    async def _scatter(self, tasks: list[Task]) -> dict[int, Any]:
        """The big inputs of a superstep, each sent to the cluster once: id(arg) -> its future."""
        big: dict[int, Any] = {}
        seen: set[int] = set()
        for task in tasks:
            arg = task.arg
            if id(arg) in seen:
                continue
            seen.add(id(arg))
            if approx_bytes(arg) >= SCATTER_BYTES:
                big[id(arg)] = await asyncio.to_thread(self.client.scatter, arg, hash=False)
                self.scattered += 1
        return big

    async def _arun_task(
        self,
        task: Task,
        config: dict[str, Any],
        shipped: dict[str, Any] | None,
        big: dict[int, Any],
    ) -> None:
        node = task.node
        if node.subgraph is not None or node.local:
            # a subgraph's loop, an entrypoint's body: run here; their calls come back here
            await arun_task(task, config)
            return
        found = self.shipped.cached(node)
        if found is None:  # the first call checks the function on the workers: off the loop
            found = await asyncio.to_thread(self.shipped.get, node)
        digest, blob = found
        flow = attempt_flow(task, config.get(TRACE_LEVEL, 0))
        attempt = 0
        try:
            ask = next(flow)
            while ask is not FINISHED:
                if ask is CALL:
                    attempt += 1
                    payload: Call = (
                        digest,
                        blob,
                        big.get(id(task.arg), task.arg) if big else task.arg,
                        _ship_config(task_config(task, config))
                        if shipped is not None and node.wants_config
                        else None,
                        tuple(task.resume or ()),
                        bool(node.wants_config),
                        node.is_async,
                    )
                    ask = flow.send(await self._acall(task, payload, attempt))
                else:
                    await asyncio.sleep(ask)  # type: ignore[arg-type]
                    ask = flow.send(None)
        finally:
            flow.close()

    async def _acall(self, task: Task, payload: Call, attempt: int) -> Any:
        """One attempt on the cluster: the node's output, or :class:`Failed`."""
        node = task.node
        timeout = node.timeout
        label = f"{node.name}-{task.step}-{task.index}-a{attempt}"
        call = _Call(payload, node.name, label, timeout is not None)
        self._enqueue(call)
        waiting = asyncio.wrap_future(call.future)
        try:
            if timeout is None:
                worker, outcome = await waiting
            else:
                try:
                    async with asyncio.timeout(timeout):
                        worker, outcome = await waiting
                except TimeoutError:
                    self._abandon(call)
                    return Failed(NodeTimeoutError(node.name, timeout))
        except BaseException:
            self._abandon(call)
            raise
        if worker is None:  # the packet itself failed: ``outcome`` is the exception
            return Failed(outcome)
        kind, value, started, ended, cpu = outcome
        task.cpu = cpu
        task.remote = (
            worker,
            max(0, started - call.enqueued),
            max(0, ended - started),
            max(0, call.received - ended),
        )
        if kind == OK:
            return value
        if kind == INTERRUPT:
            return Failed(GraphInterrupt(value))
        assert kind == ERROR
        return Failed(value)

    # ------------------------------------------------------------ the queue and the packets
    def _enqueue(self, call: _Call) -> None:
        call.enqueued = time.time_ns()
        with self._cond:
            if self._closed:
                raise RuntimeError("this DaskExecutor is closed")
            self._queue.append(call)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._dispatch, name="wfkit-dask-dispatch", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _abandon(self, call: _Call) -> None:
        """Nobody waits for ``call`` any more (timeout, cancelled run)."""
        with self._cond:
            call.future.cancel()
            with contextlib.suppress(ValueError):
                self._queue.remove(call)
            packet = call.packet
        if packet is not None and all(c.future.done() for c in packet[1]):
            packet[0].cancel()

    def _take(self) -> list[list[_Call]]:
        """Packets to submit now (called with the lock held)."""
        free = self.max_in_flight - self._in_flight
        queue = self._queue
        cap = self.batch_size or max(1, min(MAX_PACKET, -(-len(queue) // free)))
        packets: list[list[_Call]] = []
        current: list[_Call] = []
        while queue and len(packets) < free:
            call = queue.popleft()
            if call.future.done():  # abandoned while queued
                continue
            if call.alone:
                packets.append([call])
                continue
            current.append(call)
            if len(current) >= cap:
                packets.append(current)
                current = []
        if current:
            if len(packets) < free:
                packets.append(current)
            else:
                queue.extendleft(reversed(current))
        self._in_flight += len(packets)
        return packets

    def _dispatch(self) -> None:
        cond = self._cond
        while True:
            with cond:
                while not self._closed and (
                    not self._queue or self._in_flight >= self.max_in_flight
                ):
                    cond.wait()
                if self._closed:
                    return
                busy = self._in_flight > 0
            if busy:  # throughput mode: let the runs queue more calls to pack
                time.sleep(LINGER_S)
            with cond:
                packets = self._take()
            for calls in packets:
                self._submit(calls)

    def _submit(self, calls: list[_Call]) -> None:
        key = f"wfkit-{calls[0].label}-{uuid.uuid4().hex}"
        try:
            packet = self.client.submit(
                run_packet, [c.payload for c in calls], key=key, pure=False, retries=0
            )
        except Exception as exc:  # the client is closed or the scheduler gone
            self._packet_done(calls, None, exc)
            return
        for call in calls:
            call.packet = (packet, calls)
        self.packets_sent += 1
        self.calls_sent += len(calls)
        packet.add_done_callback(lambda fut: self._on_packet(calls, fut))

    def _on_packet(self, calls: list[_Call], packet: Any) -> None:
        received = time.time_ns()
        status = packet.status
        if status == "finished":
            try:
                worker, outcomes = packet.result()
            except BaseException as exc:  # a CancelledError too: the call fails, never the batch
                self._packet_done(calls, None, _lost(calls, exc))
                return
            for call, outcome in zip(calls, outcomes, strict=True):
                call.received = received
                if not call.future.done():
                    with contextlib.suppress(cf.InvalidStateError):
                        call.future.set_result((worker, outcome))
            self._release(calls)
            return
        if status == "cancelled":  # by _abandon (nobody waits), or by Dask: then it is an error
            nodes = sorted({c.node for c in calls})
            self._packet_done(
                calls,
                None,
                WorkerLostError(
                    f"the Dask task running node(s) {', '.join(map(repr, nodes))} was cancelled "
                    f"by the cluster (the client closed, or the scheduler lost it); run again "
                    f"once the cluster is back (invoke(None, config) continues a checkpointed run)"
                ),
            )
            return
        try:
            error = packet.exception()
        except BaseException as exc:  # cancelled by Dask meanwhile (FutureCancelledError)
            error = _lost(calls, exc)
        if error is None:  # no result and no error (lost): never a cancelled call future
            error = _lost(calls, asyncio.CancelledError(f"it ended {status!r}, with no error"))
        from distributed.scheduler import KilledWorker

        if isinstance(error, KilledWorker):
            nodes = sorted({c.node for c in calls})
            error = WorkerLostError(
                f"the Dask workers running node(s) {', '.join(map(repr, nodes))} died "
                f"{self.retries_on_worker_loss + 1} time(s) with the call on them; a call that "
                f"kills its worker (e.g. out of memory) fails this way. Give the workers more "
                f"memory, or raise DaskExecutor(retries_on_worker_loss=...)"
            )
        self._packet_done(calls, None, error)

    def _packet_done(self, calls: list[_Call], worker: None, exc: BaseException | None) -> None:
        for call in calls:
            if call.future.done():
                continue
            with contextlib.suppress(cf.InvalidStateError):
                if exc is None:
                    call.future.cancel()
                else:
                    call.future.set_result((worker, exc))
        self._release(calls)

    def _release(self, calls: list[_Call]) -> None:
        for call in calls:
            call.packet = None  # let Dask forget the result
        with self._cond:
            self._in_flight -= 1
            self._cond.notify()

    # ------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Stop the dispatcher (queued calls are cancelled); the client stays open."""
        with self._cond:
            self._closed = True
            queued = list(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        for call in queued:
            call.future.cancel()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
