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
Implementation names beyond the standard three are run and reported too.

Every implementation imports its engine lazily (via
:func:`benchmarks.engines.load_engine`) so its subprocess holds only that
engine, builds its graph once (build time is reported as ``build_s``, not
as the headline), warms up, times ``repeat`` repetitions keeping the best,
and verifies its results.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import graphs
from benchmarks.engines import load_engine
from benchmarks.measure import Measurement, best_of, check, peak_rss_mb, timed
from benchmarks.targets import (
    ExtraAtMostOf,
    FasterThan,
    RssAtMost,
    Target,
    TimeAtMost,
)

Impl = Callable[[int], Measurement]

#: The implementations shown as the table's main columns, in order.
STANDARD_IMPLS = ("wfkit", "langgraph", "floor")

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Scenario:
    """One benchmark row.

    ``detail`` renders scenario-specific extras (e.g. µs per superstep)
    next to the time; ``timeout`` bounds each implementation's subprocess.
    """

    id: str
    what: str
    impls: dict[str, Impl]
    target: Target | None = None
    detail: Callable[[dict[str, Any]], str] | None = None
    timeout: float = 900.0
    extra_row: bool = False
    notes: Sequence[str] = field(default_factory=tuple)


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
) -> Impl:
    """Time ``app.invoke(inp, config)`` for every input, sequentially.

    ``steps`` is the total number of supersteps per repetition; when given
    the result carries ``us_per_step``.
    """

    def run(repeat: int) -> Measurement:
        e = load_engine(engine)
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

        best, times = best_of(repeat, once)
        return Measurement(best, _extras(best, times, build_s, len(inps), steps))

    return run


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

    impls: dict[str, Impl] = {
        name: _sync_engine(name, graphs.build_seed, inputs, _seed_verify)
        for name in ("wfkit", "langgraph")
    }
    impls["floor"] = _sync_floor(_seed_floor_one, inputs, _seed_verify)
    return impls


# --------------------------------------------------------------------------
# chainNxM
# --------------------------------------------------------------------------


def _chain_impls(length: int, runs: int) -> dict[str, Impl]:
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
    impls: dict[str, Impl] = {
        name: _sync_engine(name, build, inputs, verify, graphs.chain_config(length), steps)
        for name in ("wfkit", "langgraph")
    }
    impls["floor"] = _sync_floor(floor_one, inputs, verify, steps)
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
        e = load_engine(engine)
        build_s, app = timed(lambda: graphs.build_fanout(e))
        _fanout_verify(10, app.invoke({"n": 10, "results": []}))  # warm-up

        def once() -> float:
            elapsed, out = timed(lambda: app.invoke({"n": FANOUT, "results": []}))
            _fanout_verify(FANOUT, out)
            return elapsed

        best, times = best_of(repeat, once)
        return Measurement(best, {"times": times, "build_s": build_s, "branches": FANOUT})

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


def _concurrent_engine(engine: str, n: int) -> Impl:
    def run(repeat: int) -> Measurement:
        e = load_engine(engine)
        build_s, app = timed(lambda: graphs.build_io(e))
        _io_verify([asyncio.run(app.ainvoke({"x": 0}))], 1)  # warm-up

        def once() -> float:
            elapsed, outs = _gather_timed(lambda i: app.ainvoke({"x": i}), n)
            _io_verify(outs, n)
            return elapsed

        best, times = best_of(repeat, once)
        return Measurement(best, {"times": times, "build_s": build_s, "runs": n})

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


def _concurrent_impls(n: int) -> dict[str, Impl]:
    impls: dict[str, Impl] = {name: _concurrent_engine(name, n) for name in ("wfkit", "langgraph")}
    impls["floor"] = _concurrent_floor(n)
    return impls


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
        ),
        Scenario(
            "chain100x100",
            "100-node chain, 100 runs (10,000 supersteps)",
            _chain_impls(100, 100),
            Target([FasterThan(25)]),
            detail=_per_step,
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
            _concurrent_impls(10_000),
            Target([FasterThan(25), TimeAtMost(3), RssAtMost(0.3)]),
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
