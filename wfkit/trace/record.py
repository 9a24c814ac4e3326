"""Recording spans: one per node execution (each attempt) and one per run.

Field names follow OpenTelemetry's span model where one exists
(``trace_id``, ``span_id``, ``parent_span_id``, ``name``,
``start_time_unix_nano``, ``end_time_unix_nano``, ``status_code``) so spans
can be exported later; the rest are wfkit's (``thread_id``, ``step``,
``node``, ``attempt``, ``wall_ms``, ``cpu_ms``, ``memory_bytes``).

Levels: ``"off"``; ``"timing"`` (the default: wall and thread-CPU time);
``"memory"`` (adds the peak of memory allocated while the node ran, from
``tracemalloc``, which slows Python code several-fold while on: the peak
allocated while the node ran, above what was allocated when it started).
CPU time is the running thread's (see ``SpanRecorder.add``): for an async
node it includes whatever else the event loop ran meanwhile, and for
concurrent nodes the memory peak is the process's, so it covers every task
that ran at the same time.

The recorder keeps a compact tuple per task and hands a run's tuples to a
sink when the run ends, fails or pauses (``flush()`` hands over what a
still-running stepping run has so far); rows are made from them only when
they are written to the checkpoint file's ``wf_spans`` table or read from
the workflow's in-memory span buffer.
"""

from __future__ import annotations

import threading
import tracemalloc
from collections import deque
from typing import TYPE_CHECKING, Any, Final

from wfkit._clock import cpu_ns, mono_ns, wall_ns
from wfkit._ids import task_id as format_task_id
from wfkit.errors import InvalidInputError
from wfkit.types import TaskStatus

if TYPE_CHECKING:
    from wfkit.engine.machine import Machine, Task

__all__ = ["LEVELS", "SPAN_COLUMNS", "MemorySpans", "SpanRecorder", "trace_level"]

LEVELS: Final = {"off": 0, "timing": 1, "memory": 2}
CPU_WINDOW_NS: Final = 200_000  # read the thread's CPU clock at most every 0.2 ms of run time

SPAN_COLUMNS: Final = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "workflow",
    "thread_id",
    "run_id",
    "step",
    "task_id",
    "node",
    "attempt",
    "start_time_unix_nano",
    "end_time_unix_nano",
    "start_ns",
    "end_ns",
    "wall_ms",
    "cpu_ms",
    "memory_bytes",
    "status",
    "status_code",
    "exception_type",
    "exception_message",
)

#: span columns that are integers and floats (the rest are text)
SPAN_INT_COLUMNS: Final = frozenset(
    {
        "step",
        "attempt",
        "start_time_unix_nano",
        "end_time_unix_nano",
        "start_ns",
        "end_ns",
        "memory_bytes",
    }
)
SPAN_FLOAT_COLUMNS: Final = frozenset({"wall_ms", "cpu_ms"})

_STATUS = {
    TaskStatus.DONE: ("ok", "OK"),
    TaskStatus.FAILED: ("error", "ERROR"),
    TaskStatus.INTERRUPTED: ("interrupted", "UNSET"),
}


def trace_level(value: Any) -> int:
    if value not in LEVELS:
        raise InvalidInputError(f"trace must be one of {', '.join(LEVELS)}, got {value!r}")
    return LEVELS[value]


_cpu_local = threading.local()


def _thread_ratio(now_wall: int) -> float:
    """This thread's CPU/wall ratio over its latest window of at least
    ``CPU_WINDOW_NS`` (1.0 before the first window closes). Reading a
    thread's CPU clock is a system call, so it is read once a window."""
    state = getattr(_cpu_local, "state", None)
    if state is None:
        _cpu_local.state = [cpu_ns(), now_wall, 1.0]
        return 1.0
    elapsed = now_wall - state[1]
    if elapsed >= CPU_WINDOW_NS:
        now_cpu = cpu_ns()
        state[2] = min(1.0, (now_cpu - state[0]) / elapsed)
        state[0], state[1] = now_cpu, now_wall
    return float(state[2])


_memory_lock = threading.Lock()
_memory_state = {"runs": 0, "started_by_us": False}


def _memory_runs(delta: int) -> None:
    """Start tracemalloc for the first ``trace="memory"`` run, stop it after
    the last (unless someone else had started it)."""
    with _memory_lock:
        if delta > 0 and _memory_state["runs"] == 0 and not tracemalloc.is_tracing():
            tracemalloc.start()
            _memory_state["started_by_us"] = True
        _memory_state["runs"] += delta
        if _memory_state["runs"] == 0 and _memory_state["started_by_us"]:
            tracemalloc.stop()
            _memory_state["started_by_us"] = False


class MemorySpans:
    """Spans kept in memory (a workflow without a checkpoint file): the
    newest runs, about ``max_spans`` spans in all (oldest runs dropped first),
    stored compactly and expanded into rows when read."""

    def __init__(self, max_spans: int | None = 200_000, *, forward: Any = None) -> None:
        self._runs: deque[RunRecord] = deque()
        self._spans = 0
        self.max_spans = max_spans
        self._lock = threading.Lock()
        self.forward = forward  # another sink that gets every run too

    def put_run(self, record: RunRecord) -> None:
        with self._lock:
            self._runs.append(record)
            self._spans += len(record[1]) + 1
            if self.max_spans is not None:
                while self._spans > self.max_spans and len(self._runs) > 1:
                    self._spans -= len(self._runs.popleft()[1]) + 1
        if self.forward is not None:
            self.forward.put_run(record)

    def rows(self) -> list[tuple[Any, ...]]:
        with self._lock:
            runs = list(self._runs)
        out: list[tuple[Any, ...]] = []
        for record in runs:
            out.extend(expand(record))
        return out

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()
            self._spans = 0


# (trace_id, run_id, parent_span, workflow, thread_id, level, started, ended, cpu_ms, step, status, error)
RunMeta = tuple[Any, ...]
# (node, step, index, attempt, started, ended, cpu, memory, status, error, retried)
TaskRecord = tuple[Any, ...]
RunRecord = tuple[RunMeta, list[TaskRecord]]


def _node_row(
    head: tuple[Any, ...],
    span_id: str,
    task: tuple[Any, ...],
    t0: int,
    t1: int,
    tail: tuple[Any, ...],
) -> tuple[Any, ...]:
    """One node span row: ``head`` is (trace_id, run_id, workflow, thread_id),
    ``task`` (step, task_id, node, attempt), ``tail`` (cpu_ms, memory,
    status, status_code, exception_type, exception_message)."""
    trace_id, run_id, workflow, thread_id = head
    step, task_id, node, attempt = task
    return (
        trace_id, span_id, run_id, node, "node", workflow, thread_id, run_id, step, task_id, node,
        attempt, wall_ns(t0), wall_ns(t1), t0, t1, (t1 - t0) / 1e6, *tail,
    )  # fmt: skip


def expand(record: RunRecord) -> list[tuple[Any, ...]]:
    """A run's compact record as span rows in ``SPAN_COLUMNS`` order."""
    meta, tasks = record
    (
        trace_id,
        run_id,
        parent,
        workflow,
        thread_id,
        level,
        started,
        ended,
        cpu_ms,
        step,
        status,
        error,
    ) = meta
    head = (trace_id, run_id, workflow, thread_id)
    rows: list[tuple[Any, ...]] = []
    for node, tstep, index, attempt, t0, t1, cpu, memory, tstatus, terr, retried in tasks:
        task_id = format_task_id(tstep, index, node)
        for r_attempt, r0, r1, _rcpu, rmem, rexc in retried or ():
            tail: tuple[Any, ...] = (
                None,
                rmem if level > 1 else None,
                "error",
                "ERROR",
                type(rexc).__name__,
                str(rexc),
            )
            rows.append(
                _node_row(
                    head,
                    f"{run_id}/{task_id}#{r_attempt}",
                    (tstep, task_id, node, r_attempt),
                    r0,
                    r1,
                    tail,
                )
            )
        name, code = _STATUS.get(tstatus, ("pending", "UNSET"))
        tail = (
            cpu / 1e6 if level else None,
            memory if level > 1 else None,
            name,
            code,
            type(terr).__name__ if terr is not None else None,
            str(terr) if terr is not None else None,
        )
        rows.append(
            _node_row(
                head, f"{run_id}/{task_id}", (tstep, task_id, node, attempt), t0, t1 or t0, tail
            )
        )
    if status is None:  # a partial record: the run goes on
        return rows
    name, code = status
    rows.append(
        (trace_id, run_id, parent, workflow, "run", workflow, thread_id, run_id, step, None, None, None,
         wall_ns(started), wall_ns(ended), started, ended, (ended - started) / 1e6, cpu_ms, None, name,
         code, type(error).__name__ if error is not None else None, str(error) if error is not None else None)
    )  # fmt: skip
    return rows


class SpanRecorder:
    """Collects one run's tasks and hands a compact record of them to a
    sink when the run ends, fails or pauses."""

    __slots__ = (
        "_tracemalloc",
        "level",
        "parent_span",
        "pending",
        "records",
        "run_id",
        "sink",
        "started",
        "thread_id",
        "trace_id",
        "workflow",
    )

    def __init__(
        self,
        sink: Any,
        level: int,
        workflow: str,
        thread_id: str | None,
        run_id: str,
        trace_id: str | None = None,
        parent_span: str | None = None,
    ) -> None:
        self.sink = sink
        self.level = level
        self.workflow = workflow
        self.thread_id = thread_id
        self.run_id = run_id
        self.trace_id = trace_id or run_id
        self.parent_span = parent_span
        self.records: list[TaskRecord] = []
        self.pending: list[Task] = []  # ran on this thread, CPU not yet apportioned
        self._tracemalloc = False
        if level > 1:
            _memory_runs(+1)
            self._tracemalloc = True
        self.started = mono_ns()

    # the run's hooks (wfkit.engine.loop.RunHooks)
    def after_tasks(self, *, tasks: list[Task], **_: Any) -> None:
        self.add(tasks)

    def after_step(self, **_: Any) -> int:
        return 0

    def after_run(self, *, machine: Machine, error: BaseException | None, **_: Any) -> int:
        self.finish(machine, error)
        return 0

    def finish(self, machine: Machine | None, error: BaseException | None = None) -> None:
        """The run ended (or failed, or paused): hand its spans to the sink."""
        ended = mono_ns()
        if self.pending:
            self._apportion()
        records = tuple(self.records)  # atomic values only: the GC can untrack it
        if error is not None:
            status = ("error", "ERROR")
        elif machine is not None and machine.status == "interrupted":
            status = ("interrupted", "UNSET")
        else:
            status = ("ok", "OK")
        meta = self._meta(
            ended,
            sum(r[6] for r in records) / 1e6,  # the run's CPU: its nodes'
            machine.step if machine is not None else None,
            status,
            error,
        )
        if self._tracemalloc:
            _memory_runs(-1)
            self._tracemalloc = False
        self.records = []
        self.sink.put_run((meta, records))

    def _meta(self, ended: int, cpu_ms: Any, step: Any, status: Any, error: Any) -> RunMeta:
        return (
            self.trace_id,
            self.run_id,
            self.parent_span,
            self.workflow,
            self.thread_id,
            self.level,
            self.started,
            ended,
            cpu_ms,
            step,
            status,
            error,
        )

    def flush(self) -> None:
        """Hand over the node spans recorded so far (a stepping run that goes
        on, e.g. in the debugger); the run's own span comes at ``finish``."""
        if self.pending:
            self._apportion()
        if not self.records:
            return
        meta = self._meta(mono_ns(), None, None, None, None)  # status None: a partial record
        records, self.records = self.records, []
        self.sink.put_run((meta, records))

    def add(self, tasks: list[Task]) -> None:
        """Record a superstep's tasks (those that ran).

        Tasks that ran on the driver's thread get their CPU time from the
        thread's CPU use over a window of at least ``CPU_WINDOW_NS``: a task's
        share is the window's CPU/wall ratio times its wall time. Reading a
        thread's CPU clock is a system call (about a microsecond here), too
        dear to do around every microsecond-long node; the ratio is exact for
        a long node and close to 1 for back-to-back short CPU-bound ones.
        Tasks run on worker threads or awaited were measured where they ran.
        """
        if len(tasks) == 1:  # the common case, kept short
            t = tasks[0]
            if t.cpu < 0 and t.started:
                self.pending.append(t)
                if len(self.pending) >= 64:
                    self._apportion()
                return
        for t in tasks:
            if not t.started:
                continue
            if t.cpu >= 0:
                self.records.append(self._record(t, t.cpu))
            else:
                self.pending.append(t)
        if len(self.pending) >= 64:
            self._apportion()

    def _apportion(self) -> None:
        ratio = _thread_ratio(self.pending[-1].ended)
        self.records.extend(
            [
                (
                    t.node.name,
                    t.step,
                    t.index,
                    t.attempt,
                    t.started,
                    t.ended,
                    int(ratio * (t.ended - t.started)),
                    t.memory,
                    t.status,
                    t.error,
                    t.retried,
                )
                for t in self.pending
            ]
        )  # the fields of _record, inline: this runs once per run
        self.pending = []

    @staticmethod
    def _record(t: Task, cpu: int) -> TaskRecord:
        return (
            t.node.name,
            t.step,
            t.index,
            t.attempt,
            t.started,
            t.ended,
            cpu,
            t.memory,
            t.status,
            t.error,
            t.retried,
        )
