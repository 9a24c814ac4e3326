"""Living threads: one conversation continued turn after turn, read back,
and many checkpointed runs at once (issue 11).

Every scenario here runs wfkit and LangGraph in *one* subprocess, their
repetitions alternated (``Scenario.interleave``), so their ratio is not
skewed by the machine's speed changing between processes; the peak RSS
reported is therefore that of both together (see the notes in
``RESULTS.md``).

- ``chat500``: one thread, 500 turns: each turn's input appends a 1 KB user
  message to an ``operator.add`` list and the node appends a 1 KB reply;
  then 50 ``get_state`` calls. Clock: the turns, the reads and ``close()``.
- ``getstate1000``: a thread of about 1000 checkpoints built before the
  clock (as many turns as that takes with each engine); the headline is the
  median of 200 ``get_state`` calls on the open store (warm); extras:
  ``cold_ms``, the first ``get_state`` after opening the file again (median
  of 5 reopenings), and ``history_s``, the whole ``get_state_history``.
- ``ckpt_concurrent2000``: 2000 concurrent ``ainvoke`` runs, each on its own
  thread, three nodes each awaiting 20 ms, checkpointed (wfkit: DuckDB,
  default durability; LangGraph: ``AsyncSqliteSaver``); ``wfkit_nockpt`` is
  the same runs without a checkpointer.
"""

from __future__ import annotations

import asyncio
import operator
import statistics
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

from benchmarks.engines import STORE_SUFFIX, load_engine, open_store
from benchmarks.measure import Measurement, Session, SteppedImpl, check, timed

CHAT_TURNS = 500
CHAT_GETS = 50
MESSAGE = 1000  # characters per message
HISTORY_CHECKPOINTS = 1000
WARM_GETS = 200
COLD_OPENS = 5
CONCURRENT = 2000
IO_SLEEP = 0.02


class ChatState(TypedDict, total=False):
    messages: Annotated[list[str], operator.add]


def _user(i: int) -> str:
    head = f"user {i}: "
    return head + "u" * (MESSAGE - len(head))


def reply(state: ChatState) -> dict[str, Any]:
    head = f"reply to {len(state['messages'])}: "
    return {"messages": [head + "r" * (MESSAGE - len(head))]}


def build_chat(e: Any, checkpointer: Any) -> Any:
    g = e.StateGraph(ChatState)
    g.add_node("reply", reply)
    g.add_edge(e.START, "reply")
    g.add_edge("reply", e.END)
    return g.compile(checkpointer=checkpointer, **e.compile_options)


CHAT = {"configurable": {"thread_id": "chat"}}


def _check_chat(values: dict[str, Any], turns: int) -> None:
    messages = values.get("messages", [])
    check(
        len(messages) == 2 * turns
        and messages[-2] == _user(turns - 1)
        and messages[-1].startswith(f"reply to {2 * turns - 1}: "),
        f"chat: expected {2 * turns} messages ending with turn {turns - 1}, got {len(messages)}",
    )


def _chat(engine: str) -> SteppedImpl:
    def prepare() -> Session:
        e = load_engine(engine)
        tmp = tempfile.mkdtemp(prefix="wfkit-bench-")
        reps: list[int] = []
        warm = open_store(engine, Path(tmp, "warmup" + STORE_SUFFIX[engine]))
        app = build_chat(e, warm.saver)
        for i in range(3):
            app.invoke({"messages": [_user(i)]}, CHAT)
        _check_chat(app.get_state(CHAT).values, 3)
        warm.close()

        def once() -> float:
            path = Path(tmp, f"rep{len(reps)}{STORE_SUFFIX[engine]}")
            reps.append(1)
            store = open_store(engine, path)
            app = build_chat(e, store.saver)
            t0 = time.perf_counter()
            for i in range(CHAT_TURNS):
                app.invoke({"messages": [_user(i)]}, CHAT)
            snaps = [app.get_state(CHAT) for _ in range(CHAT_GETS)]
            store.close()
            elapsed = time.perf_counter() - t0
            _check_chat(snaps[-1].values, CHAT_TURNS)
            path.unlink()
            return elapsed

        def finish(best: float, times: list[float], rss: float) -> Measurement:
            extra = {"times": times, "ms_per_turn": best / CHAT_TURNS * 1e3}
            return Measurement(best, extra, rss_mb=rss)

        return Session(once, finish)

    return SteppedImpl(prepare)


def _chat_detail(extra: dict[str, Any]) -> str:
    return f"{extra['ms_per_turn']:.2f} ms/turn" if "ms_per_turn" in extra else ""


def _getstate(engine: str) -> SteppedImpl:
    def prepare() -> Session:
        e = load_engine(engine)
        tmp = tempfile.mkdtemp(prefix="wfkit-bench-")
        path = Path(tmp, "thread" + STORE_SUFFIX[engine])
        store = open_store(engine, path)
        app = build_chat(e, store.saver)
        app.invoke({"messages": [_user(0)]}, CHAT)
        per_turn = len(list(app.get_state_history(CHAT)))  # checkpoints one turn writes
        turns = max(1, HISTORY_CHECKPOINTS // per_turn)
        build_s, _ = timed(
            lambda: [app.invoke({"messages": [_user(i)]}, CHAT) for i in range(1, turns)]
        )
        checkpoints = len(list(app.get_state_history(CHAT)))
        figures: dict[str, list[float]] = {"cold_ms": [], "history_s": []}
        held = {"store": store, "app": app}

        def once() -> float:
            app = held["app"]
            laps = []
            for _ in range(WARM_GETS):
                t0 = time.perf_counter()
                snap = app.get_state(CHAT)
                laps.append(time.perf_counter() - t0)
            _check_chat(snap.values, turns)
            t0 = time.perf_counter()
            history = list(app.get_state_history(CHAT))
            figures["history_s"].append(time.perf_counter() - t0)
            check(len(history) == checkpoints, f"history: {len(history)} of {checkpoints}")
            _check_chat(history[0].values, turns)
            colds = []
            for _ in range(COLD_OPENS):  # open the file again: nothing of it in memory
                held["store"].close()
                store = open_store(engine, path)
                app = build_chat(e, store.saver)
                t0 = time.perf_counter()
                snap = app.get_state(CHAT)
                colds.append(time.perf_counter() - t0)
                _check_chat(snap.values, turns)
                held["store"], held["app"] = store, app
            figures["cold_ms"].append(statistics.median(colds) * 1e3)
            return statistics.median(laps)

        def finish(best: float, times: list[float], rss: float) -> Measurement:
            held["store"].close()
            extra = {
                "times": times,
                "turns": turns,
                "checkpoints": checkpoints,
                "build_s": build_s,
                "warm_ms": best * 1e3,
                "cold_ms": min(figures["cold_ms"]),
                "history_s": min(figures["history_s"]),
            }
            return Measurement(best, extra, rss_mb=rss)

        return Session(once, finish)

    return SteppedImpl(prepare)


def _getstate_detail(extra: dict[str, Any]) -> str:
    if "warm_ms" not in extra:
        return ""
    return (
        f"{extra['checkpoints']} checkpoints: warm {extra['warm_ms']:.3f} ms, cold "
        f"{extra['cold_ms']:.1f} ms, history {extra['history_s']:.3f} s"
    )


class IOState(TypedDict, total=False):
    x: int
    steps: int


async def _io(state: IOState) -> dict[str, Any]:
    await asyncio.sleep(IO_SLEEP)
    return {"steps": state.get("steps", 0) + 1}


def build_io3(e: Any, checkpointer: Any) -> Any:
    g = e.StateGraph(IOState)
    for name in ("a", "b", "c"):
        g.add_node(name, _io)
    g.add_edge(e.START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", "c")
    g.add_edge("c", e.END)
    if checkpointer is None:
        return g.compile(**e.compile_options)
    return g.compile(checkpointer=checkpointer, **e.compile_options)


def _concurrent(engine: str, checkpointed: bool = True) -> SteppedImpl:
    def prepare() -> Session:
        e = load_engine(engine)
        tmp = tempfile.mkdtemp(prefix="wfkit-bench-")
        reps: list[int] = []

        async def runs(path: Path | None, n: int) -> list[Any]:
            if path is None:
                app = build_io3(e, None)
                return await asyncio.gather(*(app.ainvoke({"x": i}) for i in range(n)))
            if engine == "langgraph":
                from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

                async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
                    app = build_io3(e, saver)
                    return await _gather(app, n)
            from wfkit.checkpoint import DuckDBCheckpointer

            with DuckDBCheckpointer(path) as store:  # the clock includes close()
                return await _gather(build_io3(e, store), n)

        def one(n: int) -> float:
            path = Path(tmp, f"rep{len(reps)}{STORE_SUFFIX[engine]}") if checkpointed else None
            reps.append(1)
            t0 = time.perf_counter()
            outs = asyncio.run(runs(path, n))
            elapsed = time.perf_counter() - t0
            check(
                len(outs) == n and all(o.get("steps") == 3 for o in outs),
                f"ckpt_concurrent: {sum(o.get('steps') == 3 for o in outs)} of {n} runs ran 3 steps",
            )
            if path is not None:
                path.unlink()
            return elapsed

        one(10)  # warm-up: imports, schema

        def finish(best: float, times: list[float], rss: float) -> Measurement:
            return Measurement(best, {"times": times, "runs": CONCURRENT}, rss_mb=rss)

        return Session(lambda: one(CONCURRENT), finish)

    return SteppedImpl(prepare)


async def _gather(app: Any, n: int) -> list[Any]:
    return list(
        await asyncio.gather(
            *(app.ainvoke({"x": i}, {"configurable": {"thread_id": f"t{i}"}}) for i in range(n))
        )
    )
