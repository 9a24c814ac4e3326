"""The scenario registry: what is measured, three ways.

Each :class:`Scenario` maps implementation names to callables
``(repeat) -> Measurement``.  The standard implementations are

* ``wfkit`` and ``langgraph`` - the *same* graph code from
  :mod:`benchmarks.graphs`, parametrised by the engine whose verbs it
  uses (the porting promise), and
* ``floor`` - the same work as bare Python / bare asyncio, no engine.

Adding a scenario means writing its implementations and adding one entry
to :data:`SCENARIOS`.  Variants (checkpointed or traced runs, say
``ckpt_seed1000`` or ``seed1000_traced``) are simply further scenario ids;
an implementation can be absent (``ckpt_write`` only has ``wfkit``) and a
target may refer to other scenarios' rows (see ``chain1000x10``).
Implementation names beyond the standard three are run and reported too:
either as a :class:`Variant` - a further table row showing that
implementation in the wfkit column against the scenario's own LangGraph and
floor figures, with a target of its own (``ckpt_seed1000_sync``) - or, if
no variant names them, under "Other implementations".

Every implementation imports its engine lazily (via
:func:`benchmarks.engines.load_engine`) so its subprocess holds only that
engine, builds its graph once (build time is reported as ``build_s``, not
as the headline), warms up, times ``repeat`` repetitions keeping the best,
and verifies its results.

Tracing: the ``wfkit`` implementations compile with ``trace="timing"``
(wfkit's default, spelled out by :func:`~benchmarks.engines.load_engine`),
so the headline rows measure what users get; ``wfkit_untraced``
implementations compile with ``trace="off"``.  After the clock, every wfkit
implementation checks that spans were recorded if and only if its tracing
is on (:func:`_check_spans`), so a trace option that silently did nothing
cannot post a time.  A scenario's ``interleave`` implementations (traced
and untraced ``chain100x100``) share one subprocess and alternate their
repetitions (:func:`benchmarks.measure.interleave`).
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import functional, graphs, store_search, threads
from benchmarks.engines import STORE_SUFFIX, load_engine, open_store
from benchmarks.measure import (
    Measurement,
    Session,
    SteppedImpl,
    best_of,
    check,
    peak_rss_mb,
    timed,
)
from benchmarks.targets import (
    ExtraAtLeast,
    ExtraAtMostOf,
    FasterThan,
    RssAtMost,
    RssBelowMb,
    Target,
    TimeAtMost,
)

Impl = Callable[[int], Measurement]

#: The implementations shown as the table's main columns, in order.
STANDARD_IMPLS = ("wfkit", "langgraph", "floor")

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Variant:
    """A further table row of a scenario, e.g. ``ckpt_seed1000_sync``.

    It shows implementation ``impl`` (e.g. ``wfkit_sync``) in the wfkit
    column, next to the *same* LangGraph and floor results as the
    scenario's main row (they are run once), with its own target.  Its
    criteria name the implementation (``FasterThan(1, impl="wfkit_sync")``)
    and are evaluated on the scenario's results.  ``target=None`` makes an
    extra row, shown for information.
    """

    id: str
    impl: str
    what: str
    target: Target | None = None


@dataclass(frozen=True)
class Scenario:
    """One benchmark row (plus one per :class:`Variant`).

    ``detail`` renders scenario-specific extras (e.g. µs per superstep)
    next to the time; ``timeout`` bounds each implementation's subprocess.

    ``interleave`` names implementations (each a :class:`SteppedImpl`)
    that run in *one* subprocess, their repetitions alternated
    (:func:`benchmarks.measure.interleave`: A B, B A, A B, best of
    ``repeat`` each), so that a ratio between them (traced vs untraced) is
    not skewed by the machine's speed changing between two subprocesses.
    """

    id: str
    what: str
    impls: dict[str, Impl]
    target: Target | None = None
    detail: Callable[[dict[str, Any]], str] | None = None
    timeout: float = 900.0
    extra_row: bool = False
    notes: Sequence[str] = field(default_factory=tuple)
    variants: Sequence[Variant] = field(default_factory=tuple)
    interleave: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for v in self.variants:
            if v.impl not in self.impls:
                raise ValueError(
                    f"{self.id}: variant {v.id} names unknown implementation {v.impl!r}"
                )
        for impl in self.interleave:
            if not isinstance(self.impls.get(impl), SteppedImpl):
                raise ValueError(
                    f"{self.id}: interleave names {impl!r}, which is not a SteppedImpl of it"
                )


# --------------------------------------------------------------------------
# Tracing: spans recorded if and only if wfkit's tracing is on
# --------------------------------------------------------------------------


def _check_spans(e: Any, app: Any, nodes: Collection[str]) -> None:
    """After the clock, for wfkit: ``app`` recorded node spans for ``nodes``
    if its tracing is on, and no spans at all if it is off.  (Nothing for
    LangGraph.)

    Reads the workflow's in-memory span buffer through ``app.traces()``,
    which builds a Polars frame: it imports polars, so callers take the
    peak RSS *before* calling this.
    """
    if e.name != "wfkit":
        return
    got = getattr(app, "trace", None)
    check(got == e.trace, f"compile(trace={e.trace!r}) gave a workflow with trace={got!r}")
    spans = app.traces()
    if e.trace == "off":
        check(spans.height == 0, f"trace='off' recorded {spans.height} spans")
        return
    kinds, names = spans.get_column("kind").to_list(), spans.get_column("node").to_list()
    seen = {n for k, n in zip(kinds, names, strict=True) if k == "node"}
    missing = sorted(set(nodes) - seen)
    check(
        "run" in kinds and not missing,
        f"trace={e.trace!r}: {spans.height} spans recorded, no node span for {missing[:5]}"
        + ("" if "run" in kinds else ", no run span"),
    )


def _trace_extra(e: Any) -> dict[str, Any]:
    return {"trace": e.trace} if e.trace is not None else {}


# --------------------------------------------------------------------------
# Generic sync runner: build once, warm up, time `runs` invokes per repetition
# --------------------------------------------------------------------------


def _sync_engine(
    engine: str,
    build: Callable[[Any], Any],
    inputs: Callable[[], list[Any]],
    verify: Callable[[Any, Any], None],
    config: dict[str, Any] | None = None,
    steps: int | None = None,
    *,
    nodes: Collection[str] = (),
    trace: str | None = None,
) -> Impl:
    """Time ``app.invoke(inp, config)`` for every input, sequentially.

    ``steps`` is the total number of supersteps per repetition; when given
    the result carries ``us_per_step``.  ``trace`` is wfkit's tracing level
    (``None``: the default, ``"timing"``); ``nodes`` are the node names whose
    spans a traced run must have recorded.  The implementation is a
    :class:`SteppedImpl`, so it can be interleaved with another one.
    """

    def prepare() -> Session:
        e = load_engine(engine, trace=trace)
        build_s, app = timed(lambda: build(e))
        inps = inputs()
        verify(inps[0], app.invoke(inps[0], config))  # warm-up

        def once() -> float:
            t0 = time.perf_counter()
            outs = [app.invoke(inp, config) for inp in inps]
            elapsed = time.perf_counter() - t0
            for inp, out in zip(inps, outs, strict=True):
                verify(inp, out)
            return elapsed

        def finish(best: float, times: list[float], rss: float) -> Measurement:
            _check_spans(e, app, nodes)  # imports polars: rss was taken before
            extra = _extras(best, times, build_s, len(inps), steps) | _trace_extra(e)
            return Measurement(best, extra, rss_mb=rss)

        return Session(once, finish)

    return SteppedImpl(prepare)


def _sync_floor(
    run_one: Callable[[Any], Any],
    inputs: Callable[[], list[Any]],
    verify: Callable[[Any, Any], None],
    steps: int | None = None,
) -> Impl:
    """The bare-Python counterpart of :func:`_sync_engine`."""

    def run(repeat: int) -> Measurement:
        inps = inputs()
        verify(inps[0], run_one(inps[0]))

        def once() -> float:
            t0 = time.perf_counter()
            outs = [run_one(inp) for inp in inps]
            elapsed = time.perf_counter() - t0
            for inp, out in zip(inps, outs, strict=True):
                verify(inp, out)
            return elapsed

        best, times = best_of(repeat, once)
        return Measurement(best, _extras(best, times, None, len(inps), steps))

    return run


def _extras(
    best: float, times: list[float], build_s: float | None, runs: int, steps: int | None
) -> dict[str, Any]:
    extra: dict[str, Any] = {"times": times, "runs": runs, "us_per_run": best / runs * 1e6}
    if build_s is not None:
        extra["build_s"] = build_s
    if steps:
        extra["supersteps"] = steps
        extra["us_per_step"] = best / steps * 1e6
    return extra


# --------------------------------------------------------------------------
# seed1000
# --------------------------------------------------------------------------

SEED_RUNS = 1000


def _seed_verify(inp: Any, out: Any) -> None:
    check(
        out.get("translation") == graphs.seed_expected(inp),
        f"seed: expected translation {graphs.seed_expected(inp)!r}, got {out!r}",
    )


def _seed_floor_one(inp: graphs.SeedState) -> dict[str, Any]:
    state: dict[str, Any] = dict(inp)
    state.update(graphs.summarizer(state))  # type: ignore[arg-type]
    state.update(graphs.translator(state))  # type: ignore[arg-type]
    return state


def _seed_impls() -> dict[str, Impl]:
    def inputs() -> list[Any]:
        return list(graphs.seed_inputs(SEED_RUNS))

    nodes = ("summarizer", "translator")
    impls: dict[str, Impl] = {
        name: _sync_engine(name, graphs.build_seed, inputs, _seed_verify, nodes=nodes)
        for name in ("wfkit", "langgraph")
    }
    impls["floor"] = _sync_floor(_seed_floor_one, inputs, _seed_verify)
    impls["wfkit_untraced"] = _sync_engine(
        "wfkit", graphs.build_seed, inputs, _seed_verify, nodes=nodes, trace="off"
    )
    return impls


# --------------------------------------------------------------------------
# chainNxM
# --------------------------------------------------------------------------


def _chain_impls(length: int, runs: int, untraced: bool = False) -> dict[str, Impl]:
    """wfkit (traced), LangGraph and the floor; with ``untraced`` also
    ``wfkit_untraced`` (``trace="off"``)."""

    def inputs() -> list[Any]:
        return [{"n": 0} for _ in range(runs)]

    def verify(inp: Any, out: Any) -> None:
        check(out.get("n") == length, f"chain{length}: expected n == {length}, got {out!r}")

    def build(e: Any) -> Any:
        return graphs.build_chain(e, length)

    def floor_one(inp: graphs.ChainState) -> dict[str, Any]:
        state: dict[str, Any] = dict(inp)
        for _ in range(length):
            state.update(graphs.step(state))  # type: ignore[arg-type]
        return state

    steps = length * runs
    config = graphs.chain_config(length)
    nodes = [f"s{i}" for i in range(length)]
    impls: dict[str, Impl] = {
        name: _sync_engine(name, build, inputs, verify, config, steps, nodes=nodes)
        for name in ("wfkit", "langgraph")
    }
    impls["floor"] = _sync_floor(floor_one, inputs, verify, steps)
    if untraced:
        impls["wfkit_untraced"] = _sync_engine(
            "wfkit", build, inputs, verify, config, steps, nodes=nodes, trace="off"
        )
    return impls


def _per_step(extra: dict[str, Any]) -> str:
    return f"{extra['us_per_step']:.2f} µs/step" if "us_per_step" in extra else ""


# --------------------------------------------------------------------------
# fanout1000
# --------------------------------------------------------------------------

FANOUT = 1000


def _fanout_verify(n: int, out: Any) -> None:
    results = out.get("results") if isinstance(out, dict) else None
    check(
        isinstance(results, list) and len(results) == n,
        f"fanout: expected {n} results, got {len(results) if isinstance(results, list) else results!r}",
    )
    check(sorted(results or []) == [i * 2 for i in range(n)], "fanout: wrong result values")


def _fanout_engine(engine: str) -> Impl:
    def run(repeat: int) -> Measurement:
        e = load_engine(engine)  # wfkit: trace="timing", the default
        build_s, app = timed(lambda: graphs.build_fanout(e))
        _fanout_verify(10, app.invoke({"n": 10, "results": []}))  # warm-up

        def once() -> float:
            elapsed, out = timed(lambda: app.invoke({"n": FANOUT, "results": []}))
            _fanout_verify(FANOUT, out)
            return elapsed

        best, times = best_of(repeat, once)
        rss = peak_rss_mb()  # before _check_spans imports polars
        _check_spans(e, app, ["worker"])
        extra = {"times": times, "build_s": build_s, "branches": FANOUT} | _trace_extra(e)
        return Measurement(best, extra, rss_mb=rss)

    return run


def _fanout_floor(repeat: int) -> Measurement:
    def run_one(n: int) -> dict[str, Any]:
        state: dict[str, Any] = {"n": n, "results": []}
        updates = [graphs.worker({"i": i}) for i in range(state["n"])]
        for update in updates:
            state["results"].extend(update["results"])
        return state

    _fanout_verify(10, run_one(10))

    def once() -> float:
        elapsed, out = timed(lambda: run_one(FANOUT))
        _fanout_verify(FANOUT, out)
        return elapsed

    best, times = best_of(repeat, once)
    return Measurement(best, {"times": times, "branches": FANOUT})


# --------------------------------------------------------------------------
# concurrentN
# --------------------------------------------------------------------------


def _io_verify(outs: list[Any], n: int) -> None:
    check(len(outs) == n, f"concurrent: expected {n} outputs, got {len(outs)}")
    for i, out in enumerate(outs):
        check(
            isinstance(out, dict) and out.get("y") == i + 1,
            f"concurrent: run {i} expected y == {i + 1}, got {out!r}",
        )


def _gather_timed(make: Callable[[int], Any], n: int) -> tuple[float, list[Any]]:
    """Time ``asyncio.gather`` of ``make(i)`` for ``i < n`` on a fresh event loop."""

    async def main() -> tuple[float, list[Any]]:
        t0 = time.perf_counter()
        outs = await asyncio.gather(*(make(i) for i in range(n)))
        return time.perf_counter() - t0, list(outs)

    return asyncio.run(main())


def _concurrent_engine(engine: str, n: int, trace: str | None = None) -> Impl:
    def run(repeat: int) -> Measurement:
        e = load_engine(engine, trace=trace)
        build_s, app = timed(lambda: graphs.build_io(e))
        _io_verify([asyncio.run(app.ainvoke({"x": 0}))], 1)  # warm-up

        def once() -> float:
            elapsed, outs = _gather_timed(lambda i: app.ainvoke({"x": i}), n)
            _io_verify(outs, n)
            return elapsed

        best, times = best_of(repeat, once)
        rss = peak_rss_mb()  # before _check_spans imports polars
        _check_spans(e, app, ["io"])
        extra = {"times": times, "build_s": build_s, "runs": n} | _trace_extra(e)
        return Measurement(best, extra, rss_mb=rss)

    return run


def _concurrent_floor(n: int) -> Impl:
    async def run_one(inp: graphs.IOState) -> dict[str, Any]:
        state: dict[str, Any] = dict(inp)
        state.update(await graphs.io_node(state))  # type: ignore[arg-type]
        return state

    def run(repeat: int) -> Measurement:
        _io_verify([asyncio.run(run_one({"x": 0}))], 1)

        def once() -> float:
            elapsed, outs = _gather_timed(lambda i: run_one({"x": i}), n)
            _io_verify(outs, n)
            return elapsed

        best, times = best_of(repeat, once)
        return Measurement(best, {"times": times, "runs": n})

    return run


def _concurrent_impls(n: int, untraced: bool = False) -> dict[str, Impl]:
    impls: dict[str, Impl] = {name: _concurrent_engine(name, n) for name in ("wfkit", "langgraph")}
    impls["floor"] = _concurrent_floor(n)
    if untraced:
        impls["wfkit_untraced"] = _concurrent_engine("wfkit", n, trace="off")
    return impls


# --------------------------------------------------------------------------
# ckpt_seed1000: seed1000 with every run checkpointed to a file
# --------------------------------------------------------------------------


def _file_mb(path: Path) -> float:
    """Size of a store file plus any WAL / journal files next to it."""
    total = 0
    for suffix in ("", ".wal", "-wal", "-shm", "-journal"):
        f = Path(str(path) + suffix)
        if f.exists():
            total += f.stat().st_size
    return total / 1e6


def _ckpt_thread(i: int) -> dict[str, Any]:
    return {"configurable": {"thread_id": f"t{i}"}}


def _ckpt_seed_engine(engine: str, durability: str | None = None) -> Impl:
    """1000 seed runs, run ``i`` on thread ``t{i}``, into a fresh file per repetition.

    The clock covers the 1000 invokes and the store's ``close()`` (so every
    row is on disk when it stops); opening the store and compiling are
    outside it.  Afterwards the file is reopened and checked: thread
    ``t999``'s state holds its translation and all 1000 threads are there.
    """

    def run(repeat: int) -> Measurement:
        e = load_engine(engine)  # wfkit: trace="timing", the default (spans go to the file)
        inps = list(graphs.seed_inputs(SEED_RUNS))
        configs = [_ckpt_thread(i) for i in range(SEED_RUNS)]
        suffix = STORE_SUFFIX[engine]
        with tempfile.TemporaryDirectory(prefix="wfkit-bench-") as tmp:
            # warm-up on a file of its own: imports, schema creation, first commit
            store = open_store(engine, Path(tmp, "warmup" + suffix), durability)
            build_s, app = timed(lambda: graphs.build_seed(e, store.saver))
            _seed_verify(inps[0], app.invoke(inps[0], {"configurable": {"thread_id": "warm-up"}}))
            store.close()
            sizes: list[float] = []

            def once() -> float:
                path = Path(tmp, f"rep{len(sizes)}{suffix}")
                store = open_store(engine, path, durability)
                app = graphs.build_seed(e, store.saver)
                t0 = time.perf_counter()
                outs = [app.invoke(inp, cfg) for inp, cfg in zip(inps, configs, strict=True)]
                store.close()
                elapsed = time.perf_counter() - t0
                for inp, out in zip(inps, outs, strict=True):
                    _seed_verify(inp, out)
                _ckpt_seed_reopen(engine, e, path, inps)
                sizes.append(_file_mb(path))
                path.unlink()
                return elapsed

            best, times = best_of(repeat, once)
        extra = _extras(best, times, build_s, len(inps), None)
        extra["ms_per_run"] = best / len(inps) * 1e3
        extra["file_mb"] = sizes[-1]
        extra["durability"] = durability or "default"
        return Measurement(best, extra | _trace_extra(e))

    return run


def _ckpt_seed_reopen(engine: str, e: Any, path: Path, inps: list[Any]) -> None:
    """Reopen the file: the last thread's state and every thread must be
    there, and (wfkit, traced) the last thread's node spans."""
    store = open_store(engine, path)
    try:
        app = graphs.build_seed(e, store.saver)
        last = SEED_RUNS - 1
        values = app.get_state(_ckpt_thread(last)).values
        want = graphs.seed_expected(inps[last])
        check(
            values.get("translation") == want,
            f"ckpt_seed1000: reopened file, thread t{last}: expected translation {want!r}, got {values!r}",
        )
        threads = store.threads()
        expected = {f"t{i}" for i in range(SEED_RUNS)}
        missing = expected - set(threads)
        check(
            len(set(threads)) == SEED_RUNS and not missing,
            f"ckpt_seed1000: reopened file has {len(set(threads))} threads, expected {SEED_RUNS}"
            + (f" (missing e.g. {sorted(missing)[:3]})" if missing else ""),
        )
        if e.name == "wfkit":
            _check_file_spans(e, store.saver, f"t{last}", ("summarizer", "translator"))
    finally:
        store.close()


def _check_file_spans(e: Any, saver: Any, thread: str, nodes: Collection[str]) -> None:
    """A wfkit checkpoint file holds ``thread``'s node spans iff tracing is on
    (through the store's ``get_spans``: rows, no Polars)."""
    from wfkit.trace.record import SPAN_COLUMNS

    rows = saver.get_spans(thread_id=thread)
    if e.trace == "off":
        check(not rows, f"trace='off' wrote {len(rows)} spans of thread {thread!r}")
        return
    k, n = SPAN_COLUMNS.index("kind"), SPAN_COLUMNS.index("node")
    seen = {r[n] for r in rows if r[k] == "node"}
    missing = sorted(set(nodes) - seen)
    check(
        not missing,
        f"trace={e.trace!r}: the file has {len(rows)} spans of thread {thread!r}, "
        f"no node span for {missing}",
    )


def _ckpt_seed_impls() -> dict[str, Impl]:
    return {
        "wfkit": _ckpt_seed_engine("wfkit"),  # the default durability ("async")
        "langgraph": _ckpt_seed_engine("langgraph"),
        "wfkit_sync": _ckpt_seed_engine("wfkit", "sync"),
        "wfkit_exit": _ckpt_seed_engine("wfkit", "exit"),
    }


def _ckpt_seed_detail(extra: dict[str, Any]) -> str:
    if "ms_per_run" not in extra:
        return ""
    return f"{extra['ms_per_run']:.2f} ms/run, file {extra['file_mb']:.1f} MB"


# --------------------------------------------------------------------------
# ckpt_write: raw store throughput (wfkit only)
# --------------------------------------------------------------------------

WRITE_ROWS = 500_000
WRITE_THREADS = 1000
WRITE_BATCH = 1000
#: Per thread: alternating summarizer / translator tasks, one per superstep.
_WRITE_NODES = ("summarizer", "translator")


def _write_batches(n: int, threads: int, per_put: int) -> Iterator[list[tuple[Any, ...]]]:
    """``n`` realistic node-write rows over ``threads`` threads, in the
    column order of ``wfkit.checkpoint.base.WRITE_COLUMNS``, ``per_put`` at a
    time, each batch made when asked for (as a program writing rows makes
    them: nothing but the store holds a row once it is put).

    Row ``i`` belongs to thread ``t{i % threads}`` (runs interleaved, as
    concurrent runs would be) and is that thread's ``j = i // threads``-th
    task: superstep ``j``, node summarizer/translator alternately, input the
    state it read, result a ~80-character summary.
    """
    from wfkit.checkpoint.base import WRITE_COLUMNS

    names = (
        "thread_id", "checkpoint_id", "run_id", "step", "task_id", "task_index", "node",
        "attempt", "input", "result", "status", "error_type", "error", "interrupts", "resume",
        "started_at", "ended_at", "written_at",
    )  # fmt: skip
    check(
        tuple(WRITE_COLUMNS) == names,
        f"ckpt_write: WRITE_COLUMNS changed: {WRITE_COLUMNS!r}; update benchmarks/scenarios.py",
    )
    thread_ids = [f"t{k}" for k in range(threads)]
    run_ids = [f"{k * 0x9E3779B1 & 0xFFFFFFFF:08x}-run" for k in range(threads)]
    texts = [
        json.dumps({"text": f"task {k}: a fairly long input text to be summarised by the node"})
        for k in range(threads)
    ]
    t_base = time.time() - 3600.0
    mask = 2**128 - 1
    for first in range(0, n, per_put):
        batch = []
        for i in range(first, min(first + per_put, n)):
            k, j = i % threads, i // threads
            started = t_base + i * 0.001
            batch.append(
                (
                    thread_ids[k],
                    f"{1_700_000_000_000_000_000 + j * 1_000_000 + k:016x}-0001-{j:06x}",
                    run_ids[k],
                    j,
                    f"{(i * 0x9E3779B97F4A7C15) & mask:032x}",
                    0,
                    _WRITE_NODES[j % 2],
                    1,
                    texts[k],
                    # json.dumps({"summary": ...}) of this ASCII text, without its cost
                    f'{{"summary": "step {j} of thread {k}: the quick brown fox jumps over '
                    f'the lazy dog #{i:07d}"}}',
                    "done",
                    None,
                    None,
                    None,
                    None,
                    started,
                    started + 0.0004,
                    started + 0.0005,
                )
            )
        yield batch


def _ckpt_write_impl(rows_per_put: int) -> Impl:
    """Time making :data:`WRITE_ROWS` rows ``rows_per_put`` at a time and
    ``put([], [], batch)`` each, then ``flush()``, into a fresh DuckDB file
    per repetition. The clock includes making the rows (``gen_s``, timed
    alone in the same process, says how much of it that is)."""

    def run(repeat: int) -> Measurement:
        def batches() -> Iterator[list[tuple[Any, ...]]]:
            return _write_batches(WRITE_ROWS, WRITE_THREADS, rows_per_put)

        with tempfile.TemporaryDirectory(prefix="wfkit-bench-") as tmp:
            warm = open_store("wfkit", Path(tmp, "warmup.duckdb"))  # imports duckdb, pyarrow
            warm.saver.put([], [], next(_write_batches(WRITE_BATCH, WRITE_THREADS, WRITE_BATCH)))
            warm.saver.flush()
            warm.close()
            info: dict[str, float] = {}
            gens: list[float] = []

            def once() -> float:
                gens.append(timed(lambda: sum(len(b) for b in batches()))[0])
                path = Path(tmp, "rep.duckdb")
                store = open_store("wfkit", path).saver
                t0 = time.perf_counter()
                for batch in batches():
                    store.put([], [], batch)
                store.flush()
                elapsed = time.perf_counter() - t0
                _ckpt_write_probe(store)
                info["close_s"], _ = timed(store.close)
                _ckpt_write_count(path)
                info["file_mb"] = _file_mb(path)
                path.unlink()
                return elapsed

            best, times = best_of(repeat, once)
        return Measurement(
            best,
            {
                "times": times,
                "rows": WRITE_ROWS,
                "rows_per_put": rows_per_put,
                "puts": -(-WRITE_ROWS // rows_per_put),
                "rows_per_s": WRITE_ROWS / best,
                "gen_s": min(gens),
                "file_mb": info["file_mb"],
                "close_s": info["close_s"],
            },
        )

    return run


def _ckpt_write_probe(store: Any) -> None:
    """One thread's rows read back through the store's own reader."""
    from wfkit.checkpoint.base import WRITE_COLUMNS

    t, r = WRITE_COLUMNS.index("thread_id"), WRITE_COLUMNS.index("result")
    probe = "t7"
    want = sorted(
        row[r]
        for batch in _write_batches(WRITE_ROWS, WRITE_THREADS, WRITE_BATCH)
        for row in batch
        if row[t] == probe
    )
    got = sorted(row[r] for row in store.get_writes(probe))
    check(
        len(want) == WRITE_ROWS // WRITE_THREADS and got == want,
        f"ckpt_write: get_writes({probe!r}) returned {len(got)} rows, expected {len(want)}",
    )


def _ckpt_write_count(path: Path) -> None:
    """After close: the file, opened read-only with plain DuckDB, holds every row.

    (Plain DuckDB rather than ``DuckDBCheckpointer.sql``, which does not
    work with duckdb 2.0: its cursor has no ``.pl()``.)
    """
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute("SELECT count(*), count(DISTINCT thread_id) FROM wf_writes").fetchone()
    finally:
        con.close()
    check(
        row is not None and tuple(row) == (WRITE_ROWS, WRITE_THREADS),
        f"ckpt_write: file holds {row and row[0]} rows over {row and row[1]} threads, "
        f"expected {WRITE_ROWS} over {WRITE_THREADS}",
    )


def _ckpt_write_detail(extra: dict[str, Any]) -> str:
    if "rows_per_s" not in extra:
        return ""
    gen = f", making rows {extra['gen_s']:.2f} s" if "gen_s" in extra else ""
    return f"{extra['rows_per_s']:,.0f} rows/s, file {extra['file_mb']:.0f} MB{gen}"


# --------------------------------------------------------------------------
# import
# --------------------------------------------------------------------------

IMPORT_RUNS = 5
#: Modules wfkit should import lazily; reported if ``import X`` pulls them in.
HEAVY_MODULES = (
    "duckdb",
    "polars",
    "pyarrow",
    "pandas",
    "numpy",
    "ipywidgets",
    "IPython",
    "graphviz",
    "pydantic",
    "langchain_core",
)

_CENSUS = """
import json, sys
before = set(sys.modules)
import {module}
print(json.dumps({{
    "modules": len(set(sys.modules) - before),
    "heavy": sorted(m for m in {heavy!r} if m in sys.modules),
}}))
"""


def _python(code: str, check_rc: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=check_rc,
    )


def _import_impl(module: str, verbs: str) -> Impl:
    """Median wall time of ``python -c "import <module>"`` in fresh processes."""

    def run(repeat: int) -> Measurement:
        probe = _python(verbs, check_rc=False)  # the engine's verbs really are there
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        check(probe.returncode == 0, f"import: {verbs!r} failed: {last}")
        _python(f"import {module}")  # warm-up: byte-compile, file cache

        def wall(code: str) -> float:
            return timed(lambda: _python(code))[0]

        runs = max(IMPORT_RUNS, repeat)
        times = [wall(f"import {module}") for _ in range(runs)]
        startup = statistics.median(wall("pass") for _ in range(runs))
        census = json.loads(_python(_CENSUS.format(module=module, heavy=HEAVY_MODULES)).stdout)
        return Measurement(
            statistics.median(times),
            {
                "times": times,
                "python_startup_s": startup,
                "modules": census["modules"],
                "heavy": census["heavy"],
            },
            rss_mb=peak_rss_mb(resource.RUSAGE_CHILDREN),  # the imports' peak
        )

    return run


def _import_detail(extra: dict[str, Any]) -> str:
    if "modules" not in extra:
        return ""
    heavy = extra.get("heavy") or []
    text = f"{extra['modules']} modules"
    return text + (f", heavy: {','.join(heavy)}" if heavy else "")


# --------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------

SCENARIOS: dict[str, Scenario] = {
    s.id: s
    for s in [
        Scenario(
            "seed1000",
            "1000 sequential runs of summarizer -> translator",
            _seed_impls(),
            Target([FasterThan(10), RssAtMost(0.6)]),
            variants=(
                Variant(
                    "seed1000_untraced",
                    "wfkit_untraced",
                    "seed1000 with wfkit compiled with trace='off'",
                ),
            ),
        ),
        Scenario(
            "chain100x100",
            "100-node chain, 100 runs (10,000 supersteps); wfkit traced (trace='timing')",
            _chain_impls(100, 100, untraced=True),
            Target(
                [
                    FasterThan(25),
                    FasterThan(15),  # "with timing on ... stays >= 15x faster"
                    ExtraAtMostOf(
                        "us_per_step", "chain100x100", 1.5, reference_impl="wfkit_untraced"
                    ),
                ]
            ),
            detail=_per_step,
            variants=(
                Variant(
                    "chain100x100_untraced",
                    "wfkit_untraced",
                    "chain100x100 with wfkit compiled with trace='off'",
                ),
            ),
            interleave=("wfkit", "wfkit_untraced"),
        ),
        Scenario(
            "chain1000x10",
            "1000-node chain, 10 runs (10,000 supersteps)",
            _chain_impls(1000, 10),
            Target([ExtraAtMostOf("us_per_step", "chain100x100", 1.2)]),
            detail=_per_step,
        ),
        Scenario(
            "fanout1000",
            "one run, 1000 Send branches reduced into a list",
            {
                "wfkit": _fanout_engine("wfkit"),
                "langgraph": _fanout_engine("langgraph"),
                "floor": _fanout_floor,
            },
            Target([FasterThan(10)]),
        ),
        Scenario(
            "concurrent1000",
            "1000 concurrent ainvoke, one node awaiting 50 ms",
            _concurrent_impls(1000),
            extra_row=True,
        ),
        Scenario(
            "concurrent10000",
            "10,000 concurrent ainvoke, one node awaiting 50 ms",
            _concurrent_impls(10_000, untraced=True),
            Target([FasterThan(25), TimeAtMost(3), RssAtMost(0.3)]),
            variants=(
                Variant(
                    "concurrent10000_untraced",
                    "wfkit_untraced",
                    "concurrent10000 with wfkit compiled with trace='off'",
                ),
            ),
        ),
        Scenario(
            "ckpt_seed1000",
            "seed1000, each run on its own thread, checkpointed to a file "
            "(wfkit: DuckDB, default durability; LangGraph: SqliteSaver); clock includes close()",
            _ckpt_seed_impls(),
            Target([FasterThan(5)]),
            detail=_ckpt_seed_detail,
            timeout=1800.0,
            variants=(
                Variant(
                    "ckpt_seed1000_sync",
                    "wfkit_sync",
                    "ckpt_seed1000 with durability='sync' (wfkit's strictest)",
                    Target([FasterThan(1, impl="wfkit_sync")]),
                ),
                Variant(
                    "ckpt_seed1000_exit",
                    "wfkit_exit",
                    "ckpt_seed1000 with durability='exit'",
                ),
            ),
        ),
        Scenario(
            "chat500",
            f"one thread, {threads.CHAT_TURNS} turns (1 KB message in, 1 KB reply appended), "
            f"then {threads.CHAT_GETS} get_state; checkpointed to a file (wfkit: DuckDB; "
            f"LangGraph: SqliteSaver); interleaved in one process; clock includes close()",
            {"wfkit": threads._chat("wfkit"), "langgraph": threads._chat("langgraph")},
            Target([FasterThan(5)]),
            detail=threads._chat_detail,
            timeout=3600.0,
            interleave=("wfkit", "langgraph"),
        ),
        Scenario(
            "getstate1000",
            f"get_state on a thread of ~{threads.HISTORY_CHECKPOINTS} checkpoints: median of "
            f"{threads.WARM_GETS} on the open store (warm); extras: the first read after "
            f"opening the file again (cold), the whole get_state_history; interleaved",
            {"wfkit": threads._getstate("wfkit"), "langgraph": threads._getstate("langgraph")},
            Target(
                [
                    FasterThan(2),  # warm: <= 0.5x LangGraph's latency
                    ExtraAtMostOf("cold_ms", "getstate1000", 2, reference_impl="langgraph"),
                    ExtraAtMostOf("history_s", "getstate1000", 0.2, reference_impl="langgraph"),
                ]
            ),
            detail=threads._getstate_detail,
            timeout=3600.0,
            interleave=("wfkit", "langgraph"),
        ),
        Scenario(
            "ckpt_concurrent2000",
            f"{threads.CONCURRENT} concurrent ainvoke, each its own thread, 3 nodes awaiting "
            f"{threads.IO_SLEEP * 1e3:.0f} ms, checkpointed (wfkit: DuckDB; LangGraph: "
            f"AsyncSqliteSaver); interleaved in one process; clock includes close()",
            {
                "wfkit": threads._concurrent("wfkit"),
                "langgraph": threads._concurrent("langgraph"),
                "wfkit_nockpt": threads._concurrent("wfkit", checkpointed=False),
            },
            Target([FasterThan(25), TimeAtMost(3, other="wfkit_nockpt")]),
            timeout=3600.0,
            interleave=("wfkit", "langgraph", "wfkit_nockpt"),
            variants=(
                Variant(
                    "ckpt_concurrent2000_nockpt",
                    "wfkit_nockpt",
                    "the same runs without a checkpointer",
                ),
            ),
        ),
        Scenario(
            "store_search",
            f"long-term store: {store_search.ITEMS:,} items, {store_search.SEARCHES} filtered "
            f"searches (headline) and {store_search.SEARCHES} vector searches "
            f"({store_search.DIMS} numbers; vector_s); wfkit InMemoryStore vs LangGraph's, "
            f"floor: a hand-written loop and NumPy brute force; interleaved in one process",
            store_search.IMPLS,
            Target(
                [
                    FasterThan(5),
                    ExtraAtMostOf("vector_s", "store_search", 10, reference_impl="floor"),
                ]
            ),
            detail=store_search.detail,
            timeout=3600.0,
            interleave=("wfkit", "langgraph", "floor", "wfkit_duckdb"),
            variants=(
                Variant(
                    "store_search_duckdb",
                    "wfkit_duckdb",
                    "store_search on DuckDBStore (a file: filters in SQL over JSON, "
                    "array_cosine_similarity)",
                ),
            ),
        ),
        Scenario(
            "functional1000",
            f"{functional.RUNS} runs, each its own thread, of an @entrypoint calling 3 @tasks "
            f"(two at once, then one on both), checkpointed to a file (wfkit: DuckDB; LangGraph: "
            f"SqliteSaver); interleaved in one process; clock includes close()",
            functional.impls("file"),
            Target([FasterThan(10)]),
            detail=functional.detail,
            timeout=3600.0,
            interleave=("wfkit", "langgraph"),
        ),
        Scenario(
            "functional1000_memory",
            "functional1000 checkpointed in memory (both engines' InMemorySaver); interleaved",
            functional.impls("memory"),
            Target([FasterThan(10)]),
            detail=functional.detail,
            timeout=3600.0,
            interleave=("wfkit", "langgraph"),
        ),
        Scenario(
            "ckpt_write",
            f"{WRITE_ROWS:,} node-write rows ({WRITE_THREADS} threads) put in batches of "
            f"{WRITE_BATCH:,} into a DuckDB file, then flush()",
            {
                "wfkit": _ckpt_write_impl(WRITE_BATCH),
                "wfkit_1row": _ckpt_write_impl(1),
            },
            Target([ExtraAtLeast("rows_per_s", 200_000), RssBelowMb(300)]),
            detail=_ckpt_write_detail,
            variants=(
                Variant(
                    "ckpt_write_1row",
                    "wfkit_1row",
                    "ckpt_write with one row per put() call (the engine's per-task pattern)",
                ),
            ),
        ),
        Scenario(
            "import",
            'python -c "import wfkit" vs "import langgraph.graph" (median of fresh processes)',
            {
                "wfkit": _import_impl("wfkit", "from wfkit import StateGraph, START, END, Send"),
                "langgraph": _import_impl(
                    "langgraph.graph", "from langgraph.graph import StateGraph, START, END"
                ),
            },
            Target([TimeAtMost(0.5, other="langgraph")]),
            detail=_import_detail,
        ),
    ]
}
