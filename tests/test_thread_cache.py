"""The DuckDB store's threads in memory (``wfkit.checkpoint.cache``): every
answer read from memory is the answer the file gives, under concurrent runs,
updates, forks and eviction; values handed out are copies."""

from __future__ import annotations

import contextlib
import operator
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfkit import END, START, StateGraph
from wfkit.checkpoint import DuckDBCheckpointer, StoreError
from wfkit.checkpoint.cache import stored_time


class Chat(TypedDict, total=False):
    messages: Annotated[list[Any], operator.add]
    turns: int
    note: dict[str, Any]


def reply(state: Chat) -> dict[str, Any]:
    last = state["messages"][-1]
    return {"messages": [{"reply_to": last}], "turns": state.get("turns", 0) + 1}


def build(store: Any) -> Any:
    g = StateGraph(Chat)
    g.add_node("reply", reply)
    g.add_edge(START, "reply")
    g.add_edge("reply", END)
    return g.compile(checkpointer=store)


def cfg(thread: str, checkpoint: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"thread_id": thread}
    if checkpoint is not None:
        c["checkpoint_id"] = checkpoint
    return {"configurable": c}


class FromFile:
    """The same store read without its memory: every read fetches the
    thread's rows from the file and the buffers (``thread_rows(fresh=True)``)."""

    def __init__(self, store: DuckDBCheckpointer) -> None:
        self._store = store

    def thread_rows(self, thread_id: str) -> Any:
        return self._store.thread_rows(thread_id, fresh=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def same_answers(app: Any, plain: Any, store: DuckDBCheckpointer, threads: set[str]) -> None:
    for thread in sorted(threads):
        cached = store.thread_rows(thread)
        cached.complete()
        fresh = store.thread_rows(thread, fresh=True)
        assert cached.checkpoints == fresh.checkpoints, thread
        assert cached.values == fresh.values, thread
        assert sorted(cached.get_writes(thread)) == sorted(fresh.get_writes(thread)), thread
        assert app.get_state(cfg(thread)) == plain.get_state(cfg(thread))
        history = list(app.get_state_history(cfg(thread)))
        assert history == list(plain.get_state_history(cfg(thread)))
        for snap in history[:: max(1, len(history) // 3)]:  # a few older checkpoints
            assert app.get_state(snap.config) == plain.get_state(snap.config)


ops = st.lists(
    st.tuples(
        st.sampled_from(["run", "run", "update", "fork", "read", "together"]),
        st.integers(0, 3),  # thread
        st.integers(0, 5),  # which checkpoint a fork starts from / how many together
    ),
    min_size=1,
    max_size=14,
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=ops, cache_bytes=st.sampled_from([0, 6_000, 64 * 2**20]))
def test_memory_answers_what_the_file_answers(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int, int]], cache_bytes: int
) -> None:
    path = tmp_path_factory.mktemp("coherence") / "runs.duckdb"
    with DuckDBCheckpointer(path, cache_bytes=cache_bytes) as store:
        app = build(store)
        plain = build(FromFile(store))
        touched: set[str] = set()
        for n, (kind, t, k) in enumerate(ops):
            thread = f"t{t}"
            started = thread in touched
            if kind == "run" or (not started and kind != "together"):
                app.invoke({"messages": [f"m{n}"]}, cfg(thread))
            elif kind == "update":
                app.update_state(cfg(thread), {"note": {"n": n}})
            elif kind == "fork":
                history = list(app.get_state_history(cfg(thread)))
                old = history[min(k, len(history) - 1)]
                app.update_state(old.config, {"messages": [f"fork{n}"]})
            elif kind == "together":  # concurrent runs: on one thread and on several
                names = [thread] * 2 + [f"t{(t + i) % 4}" for i in range(k)]
                with ThreadPoolExecutor(4) as pool:
                    list(
                        pool.map(
                            lambda th, i=n: app.invoke({"messages": [f"c{i}"]}, cfg(th)), names
                        )
                    )
                touched.update(names)
            touched.add(thread)
            same_answers(app, plain, store, touched)
        if cache_bytes and cache_bytes < 64 * 2**20:
            assert store.cache.nbytes <= store.cache.limit
        answers = {t: list(app.get_state_history(cfg(t))) for t in touched}
    with DuckDBCheckpointer(path, cache_bytes=0) as reopened:  # and the file says the same
        again = build(reopened)
        for thread, history in answers.items():
            assert list(again.get_state_history(cfg(thread))) == history


def test_a_continued_thread_is_read_from_memory(tmp_path: Path) -> None:
    with DuckDBCheckpointer(tmp_path / "runs.duckdb") as store:
        app = build(store)
        for i in range(5):
            app.invoke({"messages": [f"m{i}"]}, cfg("chat"))
        entry = store.thread_rows("chat")
        assert "chat" in store.cache
        assert "messages" in entry.decoded  # the value read last, to fold the next turn onto
        app.invoke({"messages": ["m5"]}, cfg("chat"))
        assert store.thread_rows("chat") is entry  # written through, not fetched again
        assert len(app.get_state(cfg("chat")).values["messages"]) == 12


def test_values_handed_out_are_copies(tmp_path: Path) -> None:
    with DuckDBCheckpointer(tmp_path / "runs.duckdb") as store:
        app = build(store)
        app.invoke({"messages": ["hello"]}, cfg("c"))
        snap = app.get_state(cfg("c"))
        snap.values["messages"].append("mine")
        snap.values["messages"][1]["reply_to"] = "changed"
        history = list(app.get_state_history(cfg("c")))
        history[0].values["messages"].clear()
        again = app.get_state(cfg("c"))
        assert again.values["messages"] == ["hello", {"reply_to": "hello"}]
        assert next(iter(app.get_state_history(cfg("c")))) == again
        app.invoke({"messages": ["more"]}, cfg("c"))  # the run's base is a copy too
        assert app.get_state(cfg("c")).values["messages"][:2] == ["hello", {"reply_to": "hello"}]


def test_least_recently_used_threads_leave_memory_within_the_budget(tmp_path: Path) -> None:
    with DuckDBCheckpointer(tmp_path / "runs.duckdb", cache_bytes=20_000) as store:
        app = build(store)
        for i in range(40):
            app.invoke({"messages": ["x" * 200]}, cfg(f"t{i}"))
            assert store.cache.nbytes <= 20_000
        assert 0 < len(store.cache) < 40
        assert "t39" in store.cache and "t0" not in store.cache  # the oldest went first
        app.get_state(cfg("t0"))  # read back from the file, kept again
        assert "t0" in store.cache
        for i in range(40):
            snap = app.get_state(cfg(f"t{i}"))
            assert snap.values["messages"] == ["x" * 200, {"reply_to": "x" * 200}]


def test_a_thread_larger_than_the_budget_is_read_whole_and_not_kept(tmp_path: Path) -> None:
    with DuckDBCheckpointer(tmp_path / "runs.duckdb", cache_bytes=3_000) as store:
        app = build(store)
        for _i in range(10):
            app.invoke({"messages": ["y" * 500]}, cfg("big"))
        assert "big" not in store.cache
        snap = app.get_state(cfg("big"))
        assert len(snap.values["messages"]) == 20 and snap.values["turns"] == 10
        assert len(list(app.get_state_history(cfg("big")))) == 30  # three checkpoints a run


def test_cache_off_keeps_nothing(tmp_path: Path) -> None:
    with DuckDBCheckpointer(tmp_path / "runs.duckdb", cache_bytes=0) as store:
        app = build(store)
        app.invoke({"messages": ["a"]}, cfg("t"))
        assert app.get_state(cfg("t")).values["turns"] == 1
        assert len(store.cache) == 0 and store.cache.nbytes == 0


def test_a_failed_write_drops_the_thread_from_memory(tmp_path: Path) -> None:
    with DuckDBCheckpointer(tmp_path / "runs.duckdb") as store:
        app = build(store)
        app.invoke({"messages": ["a"]}, cfg("t"))
        store.flush()
        assert "t" in store.cache
        # a row the file refuses (its metadata is not JSON), put as a store user could
        row = store.get_checkpoint("t")
        assert row is not None
        bad = (row[0], "z" + row[1][1:], row[1], *row[3:11], "{not json", row[12])
        store.put([bad], [], [])
        store.flush()
        assert "t" not in store.cache  # what memory held is not what the file holds
        with pytest.raises(StoreError, match="background write of thread 't' failed"):
            store.get_checkpoint("t")
        assert store.get_checkpoint("t") == row  # the file's newest, as before the bad put


def test_runs_of_one_thread_at_once_never_share_a_version(tmp_path: Path) -> None:
    for cache_bytes in (0, 64 * 2**20):  # handed out by the store, kept in memory or not
        with DuckDBCheckpointer(tmp_path / f"v{cache_bytes}.duckdb", cache_bytes=cache_bytes) as s:
            app = build(s)
            app.invoke({"messages": ["a"]}, cfg("t"))
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda i, a=app: a.invoke({"messages": [i]}, cfg("t")), range(8)))
            rows = s.thread_rows("t", fresh=True)
            versions = [(r[2], r[3]) for part in rows.by_key.values() for r in part]
            assert len(versions) == len(set(versions))


def test_stored_time_is_what_duckdb_gives_back() -> None:
    import random

    import duckdb

    xs = [random.uniform(0, 4e9) for _ in range(2000)] + [1796295857.7252445, 0.0]
    con = duckdb.connect()
    got = con.execute(
        "SELECT epoch(to_timestamp(x)) FROM (SELECT unnest(?::DOUBLE[]) AS x)", [xs]
    ).fetchall()
    assert [stored_time(x) for x in xs] == [g[0] for g in got]


def test_reads_and_runs_on_many_threads_at_once(tmp_path: Path) -> None:
    # a budget small enough to drop threads all the time: threads are read cold
    # while runs of them go on (see test_a_thread_being_read_cold_is_not_read_half_filled)
    with DuckDBCheckpointer(tmp_path / "runs.duckdb", cache_bytes=30_000) as store:
        app = build(store)
        errors: list[BaseException] = []

        def worker(w: int) -> None:
            try:
                for i in range(15):
                    thread = f"t{(w * 7 + i) % 6}"
                    app.invoke({"messages": [f"w{w}-{i}"]}, cfg(thread))
                    snap = app.get_state(cfg(thread))
                    replies = [m for m in snap.values["messages"] if isinstance(m, dict)]
                    assert snap.values["turns"] == len(replies)  # each reply counted once
            except BaseException as exc:  # reported below
                errors.append(exc)

        workers = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert not errors, errors
        plain = build(FromFile(store))
        same_answers(app, plain, store, {f"t{i}" for i in range(6)})


def test_rows_of_a_thread_read_cold_are_all_there(tmp_path: Path) -> None:
    from wfkit.checkpoint.testing import write_row

    path = tmp_path / "runs.duckdb"
    with DuckDBCheckpointer(path) as store:
        app = build(store)
        for i in range(4):
            app.invoke({"messages": [f"m{i}"]}, cfg("chat"))
        store.put([], [], [write_row("loose", "c1", 0, 1_700_000_000.5)])  # no checkpoint row
        want = {t: store.thread_rows(t, fresh=True) for t in ("chat", "loose")}
        history = list(app.get_state_history(cfg("chat")))
    with DuckDBCheckpointer(path) as store:  # nothing in memory: read cold, a part at a time
        app = build(store)
        assert app.get_state(cfg("chat")) == history[0]
        assert store.get_writes("loose") == want["loose"].get_writes("loose")
        assert sorted(store.get_writes("chat")) == sorted(want["chat"].get_writes("chat"))
        assert app.get_state(history[-1].config) == history[-1]
        assert store.list_checkpoints("chat") == want["chat"].list_checkpoints("chat")
        assert list(app.get_state_history(cfg("chat"))) == history


def test_the_budget_counts_about_the_memory_taken(tmp_path: Path) -> None:
    import tracemalloc

    with DuckDBCheckpointer(tmp_path / "runs.duckdb") as store:
        app = build(store)
        for i in range(40):  # a flush big enough for the bulk path: its imports are not counted
            app.invoke({"messages": ["warm"]}, cfg(f"warm{i}"))
        store.flush()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for i in range(200):
                app.invoke({"messages": ["hello there"]}, cfg(f"t{i}"))
            store.flush()
            taken = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        counted = store.cache.nbytes
        assert len(store.cache) == 240
        assert 1 / 3 < taken / counted < 3, (taken, counted)  # the budget is not a fiction


def test_a_thread_being_read_cold_is_not_read_half_filled(tmp_path: Path) -> None:
    # A cold read keeps its entry in memory before its rows from the file are
    # in it (so that rows put meanwhile are written through to it); another
    # reader of the thread must not take that entry until it is filled: it
    # once saw only rows written through (version 19 of 'messages', not 17).
    with DuckDBCheckpointer(tmp_path / "runs.duckdb") as store:
        app = build(store)
        for i in range(3):
            app.invoke({"messages": [f"m{i}"]}, cfg("t"))
        want = app.get_state(cfg("t"))
        store.flush()
        store.cache.drop({"t"})  # as eviction does
        reading, release = threading.Event(), threading.Event()
        real = store._reading

        @contextlib.contextmanager
        def slow() -> Any:
            if threading.current_thread() is not threading.main_thread():
                reading.set()
                release.wait(5)  # bounds the wait: never a timed assertion
            with real() as cur:
                yield cur

        store._reading = slow  # type: ignore[method-assign]
        cold = threading.Thread(target=store.thread_rows, args=("t",))
        cold.start()
        assert reading.wait(30)  # the cold read has its entry in memory, not yet filled
        try:
            got = app.get_state(cfg("t"))  # waits for the cold read, then reads its entry
            app.invoke({"messages": ["more"]}, cfg("t"))  # continues the thread, not a new one
        finally:
            release.set()
            cold.join()
        assert got == want
        assert app.get_state(cfg("t")).values["turns"] == 4


def counting_queries(store: DuckDBCheckpointer) -> list[str]:
    """The statements the store's reads run from now on."""
    seen: list[str] = []
    real = store._reading

    class Counted:
        def __init__(self, cur: Any) -> None:
            self._cur = cur

        def execute(self, sql: str, params: Any = ()) -> Any:
            seen.append(sql)
            return self._cur.execute(sql, params)

    @contextlib.contextmanager
    def reading() -> Any:
        with real() as cur:
            yield Counted(cur)

    store._reading = reading  # type: ignore[method-assign]
    return seen


def test_a_cold_get_state_fetches_the_writes_only_of_a_checkpoint_that_plans_tasks(
    tmp_path: Path,
) -> None:
    from wfkit import interrupt

    def ask(state: Chat) -> dict[str, Any]:
        return {"messages": [interrupt("name?")]}

    g = StateGraph(Chat)
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    g.add_edge("ask", END)
    path = tmp_path / "runs.duckdb"
    with DuckDBCheckpointer(path) as store:
        app, asking = build(store), g.compile(checkpointer=store)
        for i in range(3):
            app.invoke({"messages": [f"m{i}"]}, cfg("done"))
        asking.invoke({"messages": ["hi"]}, cfg("paused"))
        want = {t: (app.get_state(cfg(t)), store.get_writes(t)) for t in ("done", "paused")}
    with DuckDBCheckpointer(path) as store:
        app, asking = build(store), g.compile(checkpointer=store)
        seen = counting_queries(store)
        assert app.get_state(cfg("done")) == want["done"][0]
        assert len(seen) == 2 and "wf_writes" not in " ".join(seen)  # checkpoint, values
        seen.clear()
        paused = asking.get_state(cfg("paused"))
        assert paused == want["paused"][0] and paused.interrupts[0].value == "name?"
        assert len(seen) == 3 and "wf_writes" in seen[2]  # and the paused task's write
        assert sorted(store.get_writes("done")) == sorted(want["done"][1])  # fetched when asked
        app.invoke({"messages": ["m3"]}, cfg("done"))  # going on from a thread read cold
        assert app.get_state(cfg("done")).values["turns"] == 4


def test_a_kept_thread_leaves_the_garbage_collector_little_to_follow(tmp_path: Path) -> None:
    # A store keeps thousands of threads; every container the collector must
    # follow costs each collection (2000 concurrent runs: 105,000 tracked
    # objects with sets and lists here, 61,000 without). Dicts of strings and
    # tuples of atomic values are untracked once the collector has seen them.
    import gc

    with DuckDBCheckpointer(tmp_path / "runs.duckdb") as store:
        app = build(store)
        for i in range(3):
            app.invoke({"messages": [f"m{i}"]}, cfg("t"))
        store.flush()
        entry = store.cache.get("t")
        assert entry is not None and entry.writes and entry.parents and entry.writes_known
        gc.collect()
        gc.collect()  # (a tuple is untracked after the tuples inside it)
        assert not gc.is_tracked(entry.parents)
        assert not gc.is_tracked(entry.writes_known)
        assert not any(map(gc.is_tracked, entry.writes.values()))
        assert not any(map(gc.is_tracked, entry.checkpoints.values()))
        assert not any(map(gc.is_tracked, entry.values.values()))
