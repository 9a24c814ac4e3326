"""The functional API (issue 13): ``@entrypoint`` calling ``@task``\\ s.

- ``functional1000``: 1000 runs, each on its own thread, of an entrypoint
  that calls three tasks (two at once, then one on both results),
  checkpointed to a file (wfkit: DuckDB, default durability; LangGraph:
  ``SqliteSaver``); the clock covers the runs and ``close()``.
- ``functional1000_memory``: the same runs checkpointed in memory (wfkit's
  and LangGraph's ``InMemorySaver``): the engines' own cost, with the
  least store work.

wfkit and LangGraph run in one subprocess, their repetitions alternated
(``Scenario.interleave``), so their ratio is not skewed by the machine's
speed changing between processes; both use the same program, written once
against each engine's ``entrypoint`` and ``task``
(:func:`benchmarks.engines.functional_api`). Afterwards each checks a
reopened file (or the saver): the last thread's value and its two
checkpoints (the input and the return), and, for traced wfkit, the spans of
the entrypoint and of every task.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.engines import STORE_SUFFIX, functional_api, load_engine, open_store
from benchmarks.measure import Measurement, Session, SteppedImpl, check, timed

RUNS = 1000
NODES = ("pipeline", "summarize", "count", "report")


def text(i: int) -> str:
    return f"run {i}: the quick brown fox jumps over the lazy dog " * 2


def expected(i: int) -> dict[str, Any]:
    t = text(i)
    return {"summary": t[:24].upper(), "words": len(t.split()), "run": i}


def build(engine: str, checkpointer: Any) -> Any:
    """The program: ``pipeline`` calls ``summarize`` and ``count`` at once,
    then ``report`` on both results."""
    api = functional_api(engine)
    options = load_engine(engine).compile_options  # wfkit: the trace level, spelled out

    @api.task
    def summarize(text: str) -> str:
        return text[:24].upper()

    @api.task
    def count(text: str) -> int:
        return len(text.split())

    @api.task
    def report(summary: str, words: int, run: int) -> dict[str, Any]:
        return {"summary": summary, "words": words, "run": run}

    @api.entrypoint(checkpointer=checkpointer, **options)
    def pipeline(inputs: dict[str, Any]) -> dict[str, Any]:
        summary, words = summarize(inputs["text"]), count(inputs["text"])
        return report(summary.result(), words.result(), inputs["run"]).result()

    return pipeline


def _config(i: int) -> dict[str, Any]:
    return {"configurable": {"thread_id": f"t{i}"}}


def floor_one(inp: dict[str, Any]) -> dict[str, Any]:
    """The same work as plain calls (no engine, no checkpoint)."""
    t = inp["text"]
    return {"summary": t[:24].upper(), "words": len(t.split()), "run": inp["run"]}


def _check_thread(engine: str, app: Any, last: int) -> None:
    cfg = _config(last)
    check(
        app.get_state(cfg).values == expected(last),
        f"functional: thread t{last} holds {app.get_state(cfg).values!r}",
    )
    history = [(s.metadata["source"], tuple(s.next)) for s in app.get_state_history(cfg)]
    check(
        history == [("loop", ()), ("input", ("pipeline",))],
        f"functional: thread t{last} has checkpoints {history}, expected the input and the end",
    )


def _check_spans(engine: str, spans: list[str]) -> None:
    if engine != "wfkit":
        return
    missing = sorted(set(NODES) - set(spans))
    check(not missing, f"functional: wfkit recorded no span for {missing}")


def _file(engine: str) -> SteppedImpl:
    """``functional1000``: a fresh file per repetition; close() inside the clock."""

    def prepare() -> Session:
        tmp = tempfile.mkdtemp(prefix="wfkit-bench-")
        suffix = STORE_SUFFIX[engine]
        inputs = [{"text": text(i), "run": i} for i in range(RUNS)]
        configs = [_config(i) for i in range(RUNS)]
        warm = open_store(engine, Path(tmp, "warmup" + suffix))
        build_s, app = timed(lambda: build(engine, warm.saver))
        check(app.invoke(inputs[0], _config(0)) == expected(0), "functional: warm-up run")
        warm.close()
        reps: list[float] = []

        def once() -> float:
            path = Path(tmp, f"rep{len(reps)}{suffix}")
            store = open_store(engine, path)
            app = build(engine, store.saver)
            t0 = time.perf_counter()
            outs = [app.invoke(inp, cfg) for inp, cfg in zip(inputs, configs, strict=True)]
            store.close()
            elapsed = time.perf_counter() - t0
            reps.append(elapsed)
            for i, out in enumerate(outs):
                check(out == expected(i), f"functional: run {i} returned {out!r}")
            again = open_store(engine, path)  # what the file holds
            try:
                reopened = build(engine, again.saver)
                _check_thread(engine, reopened, RUNS - 1)
                if engine == "wfkit":
                    from wfkit.trace.record import SPAN_COLUMNS

                    node = SPAN_COLUMNS.index("node")
                    rows = again.saver.get_spans(thread_id=f"t{RUNS - 1}")
                    _check_spans(engine, [r[node] for r in rows])
            finally:
                again.close()
            path.unlink()
            return elapsed

        def finish(best: float, times: list[float], rss: float) -> Measurement:
            extra = {
                "times": times,
                "runs": RUNS,
                "build_s": build_s,
                "us_per_run": best / RUNS * 1e6,
                "store": "DuckDB" if engine == "wfkit" else "SqliteSaver",
            }
            return Measurement(best, extra, rss_mb=rss)

        return Session(once, finish)

    return SteppedImpl(prepare)


def _memory(engine: str) -> SteppedImpl:
    """``functional1000_memory``: a fresh in-memory saver per repetition."""

    def prepare() -> Session:
        api = functional_api(engine)
        inputs = [{"text": text(i), "run": i} for i in range(RUNS)]
        configs = [_config(i) for i in range(RUNS)]
        build_s, app = timed(lambda: build(engine, api.InMemorySaver()))
        check(app.invoke(inputs[0], _config(0)) == expected(0), "functional: warm-up run")

        def once() -> float:
            app = build(engine, api.InMemorySaver())
            t0 = time.perf_counter()
            outs = [app.invoke(inp, cfg) for inp, cfg in zip(inputs, configs, strict=True)]
            elapsed = time.perf_counter() - t0
            for i, out in enumerate(outs):
                check(out == expected(i), f"functional: run {i} returned {out!r}")
            _check_thread(engine, app, RUNS - 1)
            if engine == "wfkit":
                spans = app.traces(thread=f"t{RUNS - 1}")
                _check_spans(engine, spans.get_column("node").to_list())
            return elapsed

        def finish(best: float, times: list[float], rss: float) -> Measurement:
            extra = {
                "times": times,
                "runs": RUNS,
                "build_s": build_s,
                "us_per_run": best / RUNS * 1e6,
                "store": "InMemorySaver",
            }
            return Measurement(best, extra, rss_mb=rss)

        return Session(once, finish)

    return SteppedImpl(prepare)


def _floor(repeat: int) -> Measurement:
    inputs = [{"text": text(i), "run": i} for i in range(RUNS)]
    times = []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        outs = [floor_one(inp) for inp in inputs]
        times.append(time.perf_counter() - t0)
        for i, out in enumerate(outs):
            check(out == expected(i), f"functional floor: run {i} returned {out!r}")
    best = min(times)
    return Measurement(best, {"times": times, "runs": RUNS, "us_per_run": best / RUNS * 1e6})


def impls(kind: str) -> dict[str, Any]:
    make = _file if kind == "file" else _memory
    return {"wfkit": make("wfkit"), "langgraph": make("langgraph"), "floor": _floor}


def detail(extra: dict[str, Any]) -> str:
    if "us_per_run" not in extra:
        return ""
    store = extra.get("store")
    return f"{extra['us_per_run']:.0f} µs/run" + (f", {store}" if store else "")
