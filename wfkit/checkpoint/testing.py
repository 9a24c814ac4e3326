"""The checkpoint store contract as a test suite a store subclasses.

:class:`CheckpointerContract` checks every method of
:class:`~wfkit.checkpoint.base.Checkpointer` with rows written by hand, then
runs workflows on the store. Both wfkit stores pass it; a third-party store
proves itself the same way, in its own test module::

    from pathlib import Path

    from wfkit.checkpoint.testing import CheckpointerContract

    class TestRedisCheckpointer(CheckpointerContract):
        persistent = True  # rows outlive close(): the reopen tests run too

        def make_store(self, path: Path, *, durability="async"):
            return RedisCheckpointer(url_for(path), durability=durability)

and runs ``pytest`` (pytest-asyncio is not needed). ``make_store(path)``
returns a new store kept under ``path``, a directory the test owns; a
persistent store opened again on the same ``path`` after ``close()`` sees
the rows of the one before. The crash tests make the store in a child
process, so the subclass must be importable by its module name. To mark a
known gap, override the test and decorate it with
``pytest.mark.xfail(strict=True)``. For detailed assertion messages, call
``pytest.register_assert_rewrite("wfkit.checkpoint.testing")`` before
importing this module (in ``conftest.py`` or at the top of the test module).

This module imports pytest, so only test code imports it; ``import wfkit``
does not.
"""

from __future__ import annotations

import abc
import asyncio
import json
import operator
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypedDict

import pytest

from wfkit import START, StateGraph
from wfkit.checkpoint.base import (
    CHECKPOINT_COLUMNS,
    DURABILITY,
    VALUE_COLUMNS,
    WRITE_COLUMNS,
    Checkpointer,
    Durability,
)
from wfkit.checkpoint.serde import Serde
from wfkit.trace.record import SPAN_COLUMNS, expand

__all__ = ["CheckpointerContract", "checkpoint_row", "span_row", "value_row", "write_row"]

Row = tuple[Any, ...]


def _row(columns: tuple[str, ...], fields: dict[str, Any]) -> Row:
    assert set(fields) == set(columns), set(fields) ^ set(columns)
    return tuple(fields[c] for c in columns)


def checkpoint_row(thread: str, cid: str, parent: str | None, step: int) -> Row:
    """A checkpoint row as the engine writes it (JSON columns as JSON text)."""
    return _row(
        CHECKPOINT_COLUMNS,
        {
            "thread_id": thread,
            "checkpoint_id": cid,
            "parent_id": parent,
            "run_id": "run-1",
            "step": step,
            "source": "loop",
            "next": '["n"]',
            "tasks": "[]",
            "interrupts": "[]",
            "versions": json.dumps({"k": step}),
            "joins": "{}",
            "metadata": json.dumps({"source": "loop", "step": step}),
            "created_at": 1_700_000_000.25 + step,
        },
    )


def value_row(
    thread: str, cid: str, key: str, version: int, value: Any, base: int | None = None
) -> Row:
    return _row(
        VALUE_COLUMNS,
        {
            "thread_id": thread,
            "checkpoint_id": cid,
            "key": key,
            "version": version,
            "base_version": base,
            "kind": "set" if base is None else "append",
            "value": json.dumps(value),
        },
    )


def write_row(thread: str, cid: str, index: int, written_at: float) -> Row:
    return _row(
        WRITE_COLUMNS,
        {
            "thread_id": thread,
            "checkpoint_id": cid,
            "run_id": "run-1",
            "step": 1,
            "task_id": f"1:{index}:n",
            "task_index": index,
            "node": "n",
            "attempt": 1,
            "input": None,
            "result": json.dumps({"k": index}),
            "status": "done",
            "error_type": None,
            "error": None,
            "interrupts": None,
            "resume": None,
            "started_at": written_at - 0.5,
            "ended_at": written_at - 0.25,
            "written_at": written_at,
        },
    )


def span_row(thread: str | None, run: str, start_ns: int) -> Row:
    """A node span row (``wfkit.trace.record.SPAN_COLUMNS`` order)."""
    fields: dict[str, Any] = dict.fromkeys(SPAN_COLUMNS)
    fields.update(
        trace_id=run,
        span_id=f"{run}/{start_ns}",
        parent_span_id=run,
        name="n",
        kind="node",
        workflow="wf",
        thread_id=thread,
        run_id=run,
        step=1,
        task_id="1:0:n",
        node="n",
        attempt=1,
        start_time_unix_nano=1_700_000_000_000_000_000 + start_ns,
        end_time_unix_nano=1_700_000_000_000_000_000 + start_ns + 500,
        start_ns=start_ns,
        end_ns=start_ns + 500,
        wall_ms=0.5,
        cpu_ms=0.25,
        status="ok",
        status_code="OK",
    )
    return _row(SPAN_COLUMNS, fields)


class Chat(TypedDict, total=False):
    messages: Annotated[list[str], operator.add]
    turns: int


def _chat_graph() -> StateGraph:
    def reply(state: Any) -> dict[str, Any]:
        return {"messages": [f"echo {state['messages'][-1]}"], "turns": state.get("turns", 0) + 1}

    g = StateGraph(Chat)
    g.add_node("reply", reply).add_edge(START, "reply")
    return g


def _thread(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def _ids(rows: list[Row]) -> list[str]:
    return [r[1] for r in rows]


class CheckpointerContract(abc.ABC):
    """What every checkpoint store must do; subclass it and define
    :meth:`make_store` (see the module docstring)."""

    #: True when rows outlive ``close()`` (a file, a server): runs the reopen
    #: and crash tests.
    persistent: ClassVar[bool] = False

    @abc.abstractmethod
    def make_store(self, path: Path, *, durability: Durability = "async") -> Checkpointer:
        """A new store kept under the directory ``path``."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Checkpointer]:
        store = self.make_store(tmp_path)
        yield store
        store.close()

    def _reopen(self, store: Checkpointer, path: Path) -> Checkpointer:
        if not self.persistent:
            pytest.skip("the store does not outlive close()")
        store.close()
        return self.make_store(path)

    # ------------------------------------------------------------ attributes
    def test_implements_the_protocol(self, store: Checkpointer) -> None:
        assert isinstance(store, Checkpointer)
        assert store.durability in DURABILITY
        Serde(Chat, **store.serde_options)  # what compile() does with them

    @pytest.mark.parametrize("mode", DURABILITY)
    def test_every_durability_mode(self, tmp_path: Path, mode: Durability) -> None:
        store = self.make_store(tmp_path / mode, durability=mode)
        try:
            assert store.durability == mode
            app = _chat_graph().compile(checkpointer=store)
            app.invoke({"messages": ["hi"]}, thread="d")
            if self.persistent:
                store = self._reopen(store, tmp_path / mode)
                app = _chat_graph().compile(checkpointer=store)
            assert app.get_state(_thread("d")).values == {"messages": ["hi", "echo hi"], "turns": 1}
            # the input checkpoint, the first loop one, the one after the node;
            # under "exit", as in LangGraph, the run's last checkpoint only
            assert len(store.list_checkpoints("d")) == (1 if mode == "exit" else 3)
        finally:
            store.close()

    # ------------------------------------------------------------ checkpoints
    def test_checkpoints_round_trip(self, store: Checkpointer) -> None:
        rows = [checkpoint_row("t", f"c{i}", f"c{i - 1}" if i else None, i) for i in range(3)]
        store.wait(store.put(rows, [], []))
        for row in rows:
            assert store.get_checkpoint("t", row[1]) == row
        assert store.get_checkpoint("t", "missing") is None
        assert store.get_checkpoint("nobody") is None
        assert store.get_checkpoint("nobody", "c0") is None

    def test_newest_checkpoint_is_the_greatest_id(self, store: Checkpointer) -> None:
        store.put([checkpoint_row("t", "c2", "c1", 2)], [], [])  # put before older ones
        store.put([checkpoint_row("t", "c0", None, 0), checkpoint_row("t", "c1", "c0", 1)], [], [])
        store.put([checkpoint_row("u", "c9", None, 0)], [], [])
        newest = store.get_checkpoint("t")
        assert newest is not None and newest[1] == "c2"

    def test_list_checkpoints_newest_first_with_limit_and_before(self, store: Checkpointer) -> None:
        ids = [f"c{i}" for i in range(5)]
        store.put([checkpoint_row("t", c, None, i) for i, c in enumerate(ids)][::-1], [], [])
        store.put([checkpoint_row("u", "c7", None, 0)], [], [])
        assert _ids(store.list_checkpoints("t")) == ids[::-1]
        assert store.list_checkpoints("t")[0] == checkpoint_row("t", "c4", None, 4)
        assert _ids(store.list_checkpoints("t", limit=2)) == ["c4", "c3"]
        assert _ids(store.list_checkpoints("t", before="c3")) == ["c2", "c1", "c0"]
        assert _ids(store.list_checkpoints("t", before="c3", limit=1)) == ["c2"]
        assert store.list_checkpoints("t", before="c0") == []
        assert store.list_checkpoints("t", limit=0) == []
        assert store.list_checkpoints("nobody") == []

    def test_has_children(self, store: Checkpointer) -> None:
        store.put(
            [
                checkpoint_row("t", "c0", None, 0),
                checkpoint_row("t", "c1", "c0", 1),
                checkpoint_row("u", "d1", "c1", 1),  # same parent id, other thread
            ],
            [],
            [],
        )
        assert store.has_children("t", "c0")
        assert not store.has_children("t", "c1")
        assert not store.has_children("nobody", "c0")
        store.put([checkpoint_row("t", "c2", "c0", 1)], [], [])  # a fork of c0
        assert store.has_children("t", "c0") and not store.has_children("t", "c2")

    # ------------------------------------------------------------ values
    def test_get_values_by_keys(self, store: Checkpointer) -> None:
        rows = [
            value_row("t", "c0", "a", 1, "x"),
            value_row("t", "c1", "a", 3, ["y"], base=1),
            value_row("t", "c1", "b", 2, {"z": 1}),
            value_row("t", "c1", "c", 4, None),
        ]
        store.put([checkpoint_row("t", "c0", None, 0)], rows[:1], [])
        store.put([checkpoint_row("t", "c1", "c0", 1)], rows[1:], [])
        store.put([], [value_row("u", "d0", "a", 9, "other")], [])
        assert sorted(store.get_values("t", ["a"])) == sorted(rows[:2])
        assert sorted(store.get_values("t", ["a", "b"])) == sorted(rows[:3])
        assert sorted(store.get_values("t", ("c", "b", "missing"))) == sorted(rows[2:])
        assert store.get_values("t", []) == []
        assert store.get_values("nobody", ["a"]) == []

    def test_max_version(self, store: Checkpointer) -> None:
        assert store.max_version("t") == 0
        store.put([], [value_row("t", "c0", "a", 5, 1), value_row("t", "c0", "b", 2, 1)], [])
        store.put([], [value_row("t", "c1", "a", 7, 1, base=5)], [])
        store.put([], [value_row("u", "d0", "a", 40, 1)], [])
        assert store.max_version("t") == 7
        assert store.max_version("u") == 40
        assert store.max_version("nobody") == 0

    # ------------------------------------------------------------ writes
    def test_get_writes_per_checkpoint_oldest_first(self, store: Checkpointer) -> None:
        first, early, late = (
            write_row("t", "c0", 0, 10.0),
            write_row("t", "c1", 0, 20.0),
            write_row("t", "c1", 1, 30.0),
        )
        other = write_row("u", "c1", 0, 15.0)
        store.put([], [], [late, first])
        store.put([], [], [early, other])
        assert store.get_writes("t", "c1") == [early, late]
        assert store.get_writes("t", "c0") == [first]
        assert store.get_writes("t") == [first, early, late]
        assert store.get_writes("t", "missing") == []
        assert store.get_writes("nobody") == []

    # ------------------------------------------------------------ spans
    def test_spans_put_and_filtered(self, store: Checkpointer) -> None:
        a1, a2, b1, free = (
            span_row("a", "r1", 10),
            span_row("a", "r2", 20),
            span_row("b", "r3", 30),
            span_row(None, "r4", 40),
        )
        store.put_spans([a2, b1])
        store.put([checkpoint_row("a", "c0", None, 0)], [], [], [a1])  # spans beside rows
        store.put_spans([free])
        store.put_spans([])
        assert sorted(store.get_spans()) == sorted([a1, a2, b1, free])
        assert sorted(store.get_spans(thread_id="a")) == [a1, a2]
        assert store.get_spans(run_id="r3") == [b1]
        assert store.get_spans(thread_id="a", run_id="r2") == [a2]
        assert store.get_spans(thread_id="b", run_id="r2") == []
        assert store.get_spans(thread_id="nobody") == []

    def test_put_run_stores_its_expanded_spans(self, store: Checkpointer) -> None:
        # the compact record of wfkit.trace.record (RunRecord)
        t0, error = 1_000_000, ("ValueError", "boom")
        remote = ("tcp://10.0.0.7:4100", 1_500_000, 250_000, 125_000)  # a DaskExecutor's timings
        # name, cpu, attempt, memory, status, error, retried, remote
        fields = ("n", 400_000, 1, 0, "failed", error, None, remote)
        task = (fields, 1, 0, t0 + 100, t0 + 900)
        head = ("trace-1", None, "wf", "t", 1, "run-9", t0, t0 + 1000, 1, "error", error, 1.0)
        record = head + task
        store.put_run(record)
        spans = store.get_spans(run_id="run-9")
        assert sorted(spans, key=str) == sorted(expand(record), key=str)
        assert len(spans) == 2 and store.get_spans(thread_id="t") == spans
        node = next(dict(zip(SPAN_COLUMNS, row, strict=True)) for row in spans if row[4] == "node")
        assert (node["worker"], node["queue_ms"], node["run_ms"], node["transfer_ms"]) == (
            "tcp://10.0.0.7:4100",
            1.5,
            0.25,
            0.125,
        )

    def test_workflow_runs_record_spans(self, store: Checkpointer) -> None:
        app = _chat_graph().compile(checkpointer=store)
        app.invoke({"messages": ["a"]}, thread="s")
        app.invoke({"messages": ["b"]}, thread="other")
        kinds = sorted(row[SPAN_COLUMNS.index("kind")] for row in store.get_spans(thread_id="s"))
        assert kinds == ["node", "run"]

    # ------------------------------------------------------------ tickets
    def test_tickets_increase_and_wait_for_them(self, store: Checkpointer) -> None:
        tickets = [store.put([checkpoint_row("t", f"c{i}", None, i)], [], []) for i in range(5)]
        assert all(isinstance(t, int) for t in tickets)
        assert tickets == sorted(set(tickets)), "tickets must increase"
        store.wait(tickets[-1])
        store.wait(tickets[0])  # an older ticket: already durable, returns at once
        assert len(store.list_checkpoints("t")) == 5

    def test_tickets_from_many_threads(self, store: Checkpointer) -> None:
        tickets: list[int] = []

        def writer(n: int) -> None:
            for i in range(25):
                cid = f"c{n:02d}-{i:02d}"
                tickets.append(store.put([checkpoint_row(f"t{n}", cid, None, i)], [], []))

        workers = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert len(set(tickets)) == 200, "every put gets its own ticket"
        store.wait(max(tickets))
        assert store.threads() == [f"t{n}" for n in range(8)]
        assert all(len(store.list_checkpoints(f"t{n}")) == 25 for n in range(8))

    def test_await_tickets(self, store: Checkpointer) -> None:
        async def main() -> list[None]:
            tickets = [store.put([checkpoint_row("t", f"c{i}", None, i)], [], []) for i in range(3)]
            done = await asyncio.gather(*(store.await_(t) for t in tickets))
            await store.await_(tickets[0])  # already durable
            return done

        assert asyncio.run(main()) == [None, None, None]
        assert len(store.list_checkpoints("t")) == 3

    def test_flush(self, store: Checkpointer) -> None:
        store.flush()  # nothing to write
        store.put([checkpoint_row("t", "c0", None, 0)], [value_row("t", "c0", "k", 1, 1)], [])
        store.put_spans([span_row("t", "r", 5)])
        store.flush()
        assert _ids(store.list_checkpoints("t")) == ["c0"]
        assert store.max_version("t") == 1 and len(store.get_spans()) == 1

    # ------------------------------------------------------------ threads
    def test_threads_and_delete_thread(self, store: Checkpointer) -> None:
        for thread in ("b", "a", "c"):
            store.put(
                [checkpoint_row(thread, "c0", None, 0)],
                [value_row(thread, "c0", "k", 3, 1)],
                [write_row(thread, "c0", 0, 1.0)],
                [span_row(thread, f"r-{thread}", 1)],
            )
        assert store.threads() == ["a", "b", "c"]
        store.delete_thread("b")
        store.delete_thread("nobody")
        assert store.threads() == ["a", "c"]
        assert store.get_checkpoint("b") is None and store.list_checkpoints("b") == []
        assert store.get_values("b", ["k"]) == [] and store.max_version("b") == 0
        assert store.get_writes("b") == [] and store.get_spans(thread_id="b") == []
        assert store.max_version("a") == 3 and len(store.get_writes("c")) == 1
        assert len(store.get_spans()) == 2

    def test_delete_thread_removes_spans_put_after_its_rows(self, store: Checkpointer) -> None:
        # what a run does: rows each superstep (read back), then its spans when it ends
        store.put([checkpoint_row("t", "c0", None, 0)], [], [])
        assert store.get_checkpoint("t") is not None
        store.put_spans([span_row("t", "r", 1)])
        store.delete_thread("t")
        assert store.get_spans(thread_id="t") == []

    # ------------------------------------------------------------ closing
    def test_close_is_idempotent(self, store: Checkpointer) -> None:
        store.put([checkpoint_row("t", "c0", None, 0)], [], [])
        store.close()
        store.close()

    def test_rows_outlive_close(self, store: Checkpointer, tmp_path: Path) -> None:
        rows = [checkpoint_row("t", f"c{i}", None, i) for i in range(2)]
        value, write = value_row("t", "c1", "k", 2, 1), write_row("t", "c1", 0, 1.0)
        span = span_row("t", "r", 1)
        store.put(rows, [value], [write])  # nobody waits: close() must write them
        store.put_spans([span])
        store = self._reopen(store, tmp_path)
        try:
            assert store.list_checkpoints("t") == rows[::-1]
            assert store.get_values("t", ["k"]) == [value] and store.max_version("t") == 2
            assert store.get_writes("t") == [write] and store.get_spans() == [span]
            assert store.has_children("t", "c0") is False and store.threads() == ["t"]
        finally:
            store.close()

    @pytest.mark.parametrize("how", ["wait", "await_", "flush"])
    def test_durable_rows_survive_a_crash(self, tmp_path: Path, how: str) -> None:
        """Rows made durable by ``wait``, ``await_`` or ``flush`` are there
        after the process dies without ``close()``. The store is made in a
        child process, so the subclass must be importable by its module name."""
        if not self.persistent:
            pytest.skip("the store does not outlive its process")
        cls = type(self)
        durable = {
            "wait": "store.wait(ticket)",
            "await_": "asyncio.run(store.await_(ticket))",
            "flush": "store.flush()",
        }[how]
        script = (
            "import asyncio, importlib, os, pathlib\n"
            "from wfkit.checkpoint.testing import checkpoint_row\n"
            f"cls = getattr(importlib.import_module({cls.__module__!r}), {cls.__qualname__!r})\n"
            f"store = cls().make_store(pathlib.Path({str(tmp_path)!r}))\n"
            "ticket = store.put([checkpoint_row('t', 'c0', None, 0)], [], [])\n"
            f"{durable}\n"
            "print('durable', flush=True)\n"
            "os._exit(0)  # no close(), no atexit\n"
        )
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        child = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
        )
        assert child.stdout == "durable\n", child.stderr
        store = self.make_store(tmp_path)
        try:
            assert store.get_checkpoint("t") == checkpoint_row("t", "c0", None, 0)
        finally:
            store.close()

    # ------------------------------------------------------------ through workflows
    def test_thread_continues_across_invokes(self, store: Checkpointer) -> None:
        app = _chat_graph().compile(checkpointer=store)
        app.invoke({"messages": ["hi"]}, thread="c1")
        out = app.invoke({"messages": ["again"]}, thread="c1")
        assert out == {"messages": ["hi", "echo hi", "again", "echo again"], "turns": 2}
        assert app.get_state(_thread("c1")).values == out
        assert app.invoke({"messages": ["x"]}, thread="c2")["turns"] == 1

    @pytest.mark.parametrize(
        "thread", ["it's", 'a"b', "x'); DROP TABLE wf_checkpoints; --", "ünï ☃", "%_*"]
    )
    def test_thread_ids_with_sql_metacharacters(self, store: Checkpointer, thread: str) -> None:
        app = _chat_graph().compile(checkpointer=store)
        app.invoke({"messages": ["hi"]}, thread=thread)
        app.invoke({"messages": ["hi"]}, thread="plain")
        assert app.get_state(_thread(thread)).values["messages"] == ["hi", "echo hi"]
        assert len(list(app.get_state_history(_thread(thread)))) == 3
        assert sorted(store.threads()) == sorted([thread, "plain"])

    def test_metadata_filter_keys_with_metacharacters(self, store: Checkpointer) -> None:
        app = _chat_graph().compile(checkpointer=store)
        app.invoke({"messages": ["hi"]}, thread="f")
        history = app.get_state_history(_thread("f"), filter={"source": "input"})
        assert [s.metadata["source"] for s in history] == ["input"]
        assert list(app.get_state_history(_thread("f"), filter={"source'; --": "x"})) == []

    def test_history_is_newest_first_with_limit_and_before(self, store: Checkpointer) -> None:
        app = _chat_graph().compile(checkpointer=store)
        for text in ("a", "b"):
            app.invoke({"messages": [text]}, thread="h")
        history = list(app.get_state_history(_thread("h")))
        assert [s.metadata["source"] for s in history] == ["loop", "loop", "input"] * 2
        assert [s.metadata["step"] for s in history] == [4, 3, 2, 1, 0, -1]
        assert [len(s.values["messages"]) for s in history] == [4, 3, 2, 2, 1, 0]
        assert history[0].parent_config == history[1].config
        assert len(list(app.get_state_history(_thread("h"), limit=2))) == 2
        older = list(app.get_state_history(_thread("h"), before=history[1].config))
        assert [s.config for s in older] == [s.config for s in history[2:]]

    def test_frames(self, store: Checkpointer) -> None:
        app = _chat_graph().compile(checkpointer=store)
        app.invoke({"messages": ["a"]}, thread="p")
        writes = app.node_writes(_thread("p"))
        assert writes.columns == list(WRITE_COLUMNS)
        assert writes.select("node", "status").rows() == [("reply", "done")]
        assert json.loads(writes["result"][0]) == {"messages": ["echo a"], "turns": 1}
        history = app.history_frame(_thread("p"))
        assert history["source"].to_list() == ["loop", "loop", "input"]
        assert json.loads(history["values"][0]) == {"messages": ["a", "echo a"], "turns": 1}

    def test_concurrent_async_runs_on_distinct_threads(self, store: Checkpointer) -> None:
        async def slow(state: Any) -> dict[str, Any]:
            await asyncio.sleep(0.001)
            return {"messages": [state["messages"][0].upper()]}

        g = StateGraph(Chat)
        g.add_node("slow", slow).add_edge(START, "slow")
        app = g.compile(checkpointer=store)

        async def main() -> list[dict[str, Any]]:
            return await asyncio.gather(
                *(app.ainvoke({"messages": [f"m{i}"]}, thread=f"t{i}") for i in range(1000))
            )

        results = asyncio.run(main())
        assert all(r["messages"] == [f"m{i}", f"M{i}"] for i, r in enumerate(results))
        for i in range(0, 1000, 37):
            history = list(app.get_state_history(_thread(f"t{i}")))
            assert [s.values["messages"] for s in history] == [[f"m{i}", f"M{i}"], [f"m{i}"], []]
        assert len(store.threads()) == 1000
