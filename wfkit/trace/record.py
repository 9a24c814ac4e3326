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

from wfkit._clock import mono_ns, wall_ns, windows
from wfkit._ids import run_id_of
from wfkit._ids import task_id as format_task_id
from wfkit.errors import InvalidInputError
from wfkit.types import TaskStatus

DONE: Final = TaskStatus.DONE

if TYPE_CHECKING:
    from wfkit.engine.machine import Machine, Task

__all__ = [
    "HEAD",
    "LEVELS",
    "SPAN_COLUMNS",
    "TASK_FIELDS",
    "MemorySpans",
    "SpanRecorder",
    "trace_level",
]

LEVELS: Final = {"off": 0, "timing": 1, "memory": 2}

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
    "worker",
    "queue_ms",
    "run_ms",
    "transfer_ms",
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
SPAN_FLOAT_COLUMNS: Final = frozenset({"wall_ms", "cpu_ms", "queue_ms", "run_ms", "transfer_ms"})
#: the columns a node call run by a remote executor fills (None for a call run here)
REMOTE_COLUMNS: Final = ("worker", "queue_ms", "run_ms", "transfer_ms")
_NOT_REMOTE: Final = (None, None, None, None)

#: a task's status as kept in a record: its label, a str, never the enum
#: member (an object the garbage collector tracks, so every record holding
#: one would be traversed by every full collection for as long as it is kept)
_LABEL: Final = {s: s.label for s in TaskStatus}
#: a task record's status label -> the span's (status, status_code)
_STATUS: Final = {
    "done": ("ok", "OK"),
    "failed": ("error", "ERROR"),
    "interrupted": ("interrupted", "UNSET"),
}


def trace_level(value: Any) -> int:
    if value not in LEVELS:
        raise InvalidInputError(f"trace must be one of {', '.join(LEVELS)}, got {value!r}")
    return LEVELS[value]


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


#: what a run and a task cost in memory, kept compactly (measured with
#: tracemalloc: a 2-node run's record 580 bytes, a 100-node run's 15.5 KB,
#: the ints included), and what a message adds
RUN_BYTES: Final = 280
TASK_BYTES: Final = 155


class MemorySpans:
    """Spans kept in memory (a workflow without a checkpoint file): the
    newest runs, about ``max_bytes`` of them (oldest runs dropped first;
    ``None``: no bound), stored compactly and expanded into rows when read.

    The size of a run is estimated (``RUN_BYTES`` plus ``TASK_BYTES`` a
    task plus the text of its error messages), not measured. ``put_run``
    takes no lock (a deque's append is atomic); the bound is enforced every
    ``TRIM_EVERY`` runs and on every read, so it can be exceeded by at most
    that many runs.
    """

    TRIM_EVERY: Final = 64

    def __init__(self, max_bytes: int | None = 32 * 2**20, *, forward: Any = None) -> None:
        self._runs: deque[RunRecord] = deque()
        self._sizes: deque[int] = deque()  # of the runs accounted for, oldest first
        self.bytes = 0  # of the runs accounted for
        self.max_bytes = max_bytes
        self._lock = threading.Lock()  # accounting and trimming only
        self._unsized = 0  # runs put since the last accounting (racy: a hint)
        self.forward = forward  # another sink that gets every run too

    def put_run(self, record: RunRecord) -> None:
        self._runs.append(record)
        self._unsized += 1
        if self._unsized >= self.TRIM_EVERY:
            self._account()
        if self.forward is not None:
            self.forward.put_run(record)

    def _account(self) -> None:
        """Size the runs put since last time, then drop the oldest over the bound."""
        with self._lock:
            runs, sizes = self._runs, self._sizes
            self._unsized = 0
            added = 0
            for i in range(len(sizes), len(runs)):  # the newest runs, not yet sized
                record = runs[i]  # (from the left: appends meanwhile move nothing)
                size = RUN_BYTES + TASK_BYTES * ((len(record) - HEAD) // TASK_FIELDS)
                if record[9] == "error" or record[10] is not None:
                    size += _text_bytes(record)
                sizes.append(size)
                added += size
            self.bytes += added
            limit = self.max_bytes
            if limit is not None:
                while self.bytes > limit and len(sizes) > 1:
                    self.bytes -= sizes.popleft()
                    runs.popleft()

    def __len__(self) -> int:
        """How many run records are kept."""
        return len(self._runs)

    def rows(self) -> list[tuple[Any, ...]]:
        self._account()
        with self._lock:
            runs = list(self._runs)
        out: list[tuple[Any, ...]] = []
        for record in runs:
            out.extend(expand(record))
        return out

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()
            self._sizes.clear()
            self.bytes = 0
            self._unsized = 0


def _text_bytes(record: RunRecord) -> int:
    size = sum(len(e[1]) + 64 for e in (record[10],) if e is not None)
    for i in range(HEAD, len(record), TASK_FIELDS):
        node = record[i]
        if type(node) is str:
            continue
        error, retried = node[5], node[6]
        if error is not None:
            size += len(error[1]) + 64
        for retry in retried or ():
            size += len(retry[4][1]) + 64 + TASK_BYTES
    return size


#: a run's compact record (RunRecord), one flat tuple of atomic values
#: (str, int, float, None and tuples of them), so the garbage collector
#: untracks it at its first collection and never traverses the spans a
#: process keeps (a tuple of tuples takes one collection a level, and the
#: older generations are collected rarely). Its first ``HEAD`` fields:
#: (trace_id, parent_span, workflow, thread_id, level, run_id, started,
#: ended, step, status, error, ratio); then ``TASK_FIELDS`` fields a task:
#: (node, step, index, started, ended). trace_id None means the run's own
#: id; run_id is a number of ``wfkit._ids.run_numbers`` or the id; status
#: "ok", "error", "interrupted", or None for a partial record of a run that
#: goes on; an error is (type name, message) or None; ratio is the CPU/wall
#: ratio at which a task whose cpu is -1 (a short one, not measured) is
#: charged. ``node`` is the node's name for the common task (``PLAIN``:
#: done at its first attempt, here, short, no memory figure), which every
#: traced run pays for field by field, else a tuple (name, cpu, attempt,
#: memory, status, error, retried, remote): its status label ("done", ...),
#: error as above, retried a tuple of its failed attempts' (attempt,
#: started, ended, memory, error) or None, remote where an executor ran it,
#: (worker, queue_ns, run_ns, transfer_ns), or None
RunRecord = tuple[Any, ...]
HEAD: Final = 12
TASK_FIELDS: Final = 5
#: (status, cpu, attempt, remote, memory) of a task kept as its name alone
PLAIN: Final = (TaskStatus.DONE, -1, 1, None, 0)

_STATUS_CODE: Final = {"ok": "OK", "error": "ERROR", "interrupted": "UNSET"}


def error_info(exc: BaseException | None) -> tuple[str, str] | None:
    """What a span keeps of an exception: its type's name and its message
    (never the exception, whose traceback would keep every frame alive)."""
    return None if exc is None else (type(exc).__name__, str(exc))


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
    status, status_code, exception_type, exception_message, and the
    ``REMOTE_COLUMNS``)."""
    trace_id, run_id, workflow, thread_id = head
    step, task_id, node, attempt = task
    return (
        trace_id, span_id, run_id, node, "node", workflow, thread_id, run_id, step, task_id, node,
        attempt, wall_ns(t0), wall_ns(t1), t0, t1, (t1 - t0) / 1e6, *tail,
    )  # fmt: skip


def expand(record: RunRecord) -> list[tuple[Any, ...]]:
    """A run's compact record as span rows in ``SPAN_COLUMNS`` order."""
    (
        trace_id,
        parent,
        workflow,
        thread_id,
        level,
        run_id,
        started,
        ended,
        step,
        status,
        error,
        ratio,
    ) = record[:HEAD]
    if type(run_id) is int:
        run_id = run_id_of(run_id)
    if trace_id is None:
        trace_id = run_id
    head = (trace_id, run_id, workflow, thread_id)
    rows: list[tuple[Any, ...]] = []
    cpu_total = 0
    for i in range(HEAD, len(record), TASK_FIELDS):
        node, tstep, index, t0, t1 = record[i : i + TASK_FIELDS]
        if type(node) is str:
            cpu, attempt, memory, tstatus, terr, retried, remote = (
                -1,
                1,
                0,
                "done",
                None,
                None,
                None,
            )
        else:
            node, cpu, attempt, memory, tstatus, terr, retried, remote = node
        task_id = format_task_id(tstep, index, node)
        for r_attempt, r0, r1, rmem, rerr in retried or ():
            tail: tuple[Any, ...] = (
                None, rmem if level > 1 else None, "error", "ERROR", *rerr, *_NOT_REMOTE
            )  # fmt: skip
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
        if cpu < 0 and t1:  # a short task, not measured: its wall time at the run's ratio
            cpu = int(ratio * (t1 - t0))
        measured = level and cpu >= 0
        if measured:
            cpu_total += cpu
        tail = (
            cpu / 1e6 if measured else None,
            memory if level > 1 else None,
            name,
            code,
            *(terr or (None, None)),
            *(_NOT_REMOTE if remote is None else _remote_columns(remote)),
        )
        rows.append(
            _node_row(
                head, f"{run_id}/{task_id}", (tstep, task_id, node, attempt), t0, t1 or t0, tail
            )
        )
    if status is None:  # a partial record: the run goes on
        return rows
    rows.append(
        (trace_id, run_id, parent, workflow, "run", workflow, thread_id, run_id, step, None, None, None,
         wall_ns(started), wall_ns(ended), started, ended, (ended - started) / 1e6, cpu_total / 1e6,
         None, status, _STATUS_CODE[status], *(error or (None, None)), *_NOT_REMOTE)
    )  # fmt: skip
    return rows


def _remote_columns(remote: tuple[str, int, int, int]) -> tuple[Any, ...]:
    worker, queue, run, transfer = remote
    return worker, queue / 1e6, run / 1e6, transfer / 1e6


class SpanRecorder:
    """Collects one run's tasks and hands a compact record of them to a
    sink when the run ends, fails or pauses.

    ``put`` is the sink's ``put_run``; ``head`` the record's first fields:
    (trace_id, parent_span, workflow, thread_id, level) (see ``RunRecord``);
    ``run_id`` a number of ``wfkit._ids.run_numbers`` (made text when the
    spans are read) or an id. The loop appends every task it runs to
    :attr:`ran` (no call per step) and calls :meth:`end` (a
    :class:`wfkit.engine.loop.SpanHook`); each task carries its own timing,
    measured where it ran, and the CPU time of a long one; a short one is
    charged at the ratio of the thread's CPU window when the run ends (see
    :class:`wfkit._clock.CpuWindow`).
    """

    __slots__ = ("head", "memory", "put", "ran", "run_id", "started")

    def __init__(self, put: Any, head: tuple[Any, ...], run_id: str | int) -> None:
        self.put = put
        self.head = head
        self.run_id = run_id
        self.ran: list[Task] = []  # extended by the loop (RunState.ran)
        self.memory = head[4] > 1  # tracemalloc is on for this run (until it ends)
        if self.memory:
            _memory_runs(+1)
        self.started = started = mono_ns()
        window = windows.window  # the run's thread's
        if started >= window.stale:
            window.open_for(started)

    def end(self, machine: Machine, error: BaseException | None) -> None:
        """The run ended (or failed, or paused): hand its spans to the sink."""
        ended = mono_ns()
        window = windows.window
        if ended >= window.stale:
            window.close_for_run(self.started, ended)
        if error is None:
            status = "interrupted" if machine.status == "interrupted" else "ok"
            failure: tuple[str, str] | None = None
        else:
            status = "error"
            failure = (type(error).__name__, str(error))
        if self.memory:  # once (a resumed stepping run ends again)
            _memory_runs(-1)
            self.memory = False
        if self.ran:
            record = [*self.head, self.run_id, self.started, ended]
            record += (machine.step, status, failure, window.ratio)
            _add_tasks(record, self.ran)
            self.put(tuple(record))
        else:
            self.put(
                (
                    *self.head,
                    self.run_id,
                    self.started,
                    ended,
                    machine.step,
                    status,
                    failure,
                    window.ratio,
                )
            )

    def flush(self) -> None:
        """Hand over the node spans recorded so far (a stepping run that goes
        on, e.g. in the debugger); the run's own span comes at :meth:`end`."""
        if self.ran:
            record = [*self.head, self.run_id, self.started, mono_ns(), None, None, None]
            record.append(windows.window.ratio)
            _add_tasks(record, self.ran)
            self.put(tuple(record))


def _add_tasks(record: list[Any], ran: list[Task]) -> None:
    """Add the tasks run so far to a record (``TASK_FIELDS`` each) and
    empty the list in place (the loop keeps it)."""
    for t in ran:
        if t.span is not None:
            record += t.span
        elif t.started:
            record += (_node(t), t.step, t.index, t.started, t.ended)
    ran.clear()


def _node(t: Task) -> tuple[Any, ...]:
    """The record's node field for a task that is not ``PLAIN`` (see ``RunRecord``)."""
    return (
        t.node.name,
        t.cpu,
        t.attempt,
        t.memory,
        _LABEL[t.status],
        None if t.error is None else (type(t.error).__name__, str(t.error)),
        None if t.retried is None else _retried(t.retried),
        t.remote,
    )


def _retried(attempts: list[tuple[Any, ...]]) -> tuple[tuple[Any, ...], ...]:
    """A task's failed attempts as kept in a span record."""
    return tuple(
        (attempt, t0, t1, memory, error_info(exc))
        for attempt, t0, t1, _cpu, memory, exc in attempts
    )
