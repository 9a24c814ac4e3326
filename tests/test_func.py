"""The functional API (``wfkit.func``): ``@entrypoint`` and ``@task`` on the engine.

Each behaviour of LangGraph's functional API, and what running on the
engine gives it: checkpoints, resuming without re-running finished tasks,
streams, stepping, traces.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wfkit import (
    CheckpointerRequiredError,
    Command,
    GraphValidationError,
    InvalidInputError,
    InvalidUpdateError,
    RetryPolicy,
    StateGraph,
    interrupt,
)
from wfkit.cache.memory import InMemoryCache
from wfkit.checkpoint import MemoryCheckpointer
from wfkit.config import get_config, get_stream_writer
from wfkit.func import FunctionalWorkflow, TaskFuture, entrypoint, task
from wfkit.func import body as body_module
from wfkit.runtime import Runtime
from wfkit.types import START, CachePolicy

CALLS: list[Any] = []


@task
def add_one(x: int) -> int:
    CALLS.append(("add_one", x))
    return x + 1


@task
def double(x: int) -> int:
    CALLS.append(("double", x))
    return x * 2


@task
def slow(x: int) -> int:
    time.sleep(0.2)
    return x


@task
async def aslow(x: int) -> int:
    await asyncio.sleep(0.2)
    return x + 1


@task
def ask(x: int) -> str:
    CALLS.append(("ask", x))
    return f"{x}:{interrupt({'need': x})}"


@pytest.fixture(autouse=True)
def _clear() -> None:
    CALLS.clear()


@pytest.fixture(params=["greenlet", "threads"])
def fibers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with sync bodies of ``invoke()`` on greenlets, and on threads
    (as without the greenlet package)."""
    if request.param == "greenlet":
        pytest.importorskip("greenlet")
    else:
        monkeypatch.setattr(body_module, "_GREENLET", False)
    return str(request.param)


def cfg(thread: str = "t") -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


# ------------------------------------------------------------------ futures and parallel calls
def test_calling_a_task_returns_a_future_and_calls_run_in_parallel(fibers: str) -> None:
    seen: list[Any] = []

    @entrypoint()
    def wf(n: int) -> list[int]:
        futures = [slow(i) for i in range(n)]
        seen.extend(futures)
        return [f.result() for f in futures]

    started = time.perf_counter()
    assert wf.invoke(4) == [0, 1, 2, 3]
    assert time.perf_counter() - started < 0.6  # four calls of 0.2 s, at once
    assert all(isinstance(f, TaskFuture) and f.done() for f in seen)
    assert isinstance(wf, FunctionalWorkflow)


def test_async_entrypoint_awaits_and_gathers() -> None:
    @entrypoint()
    async def wf(xs: list[int]) -> list[int]:
        first = await aslow(xs[0])
        rest = await asyncio.gather(*(aslow(x) for x in xs[1:]))
        return [first, *rest]

    started = time.perf_counter()
    assert asyncio.run(wf.ainvoke([1, 2, 3, 4])) == [2, 3, 4, 5]
    assert time.perf_counter() - started < 0.7  # one, then three at once
    assert wf.invoke([5]) == [6]  # invoke runs an async entrypoint too


def test_result_in_an_async_entrypoint_says_to_await() -> None:
    @entrypoint()
    async def wf(x: int) -> int:
        return aslow(x).result()  # type: ignore[no-any-return]

    with pytest.raises(RuntimeError, match="await future"):
        wf.invoke(1)


def test_a_task_called_outside_a_run_is_refused() -> None:
    with pytest.raises(RuntimeError, match="outside a running workflow"):
        add_one(1)


def test_a_task_in_a_graph_node_runs_at_once() -> None:
    from typing import TypedDict

    class S(TypedDict):
        n: int

    def node(state: S) -> dict[str, int]:
        return {"n": add_one(state["n"]).result()}

    app = StateGraph(S).add_node("a", node).add_edge(START, "a").compile()
    assert app.invoke({"n": 1}) == {"n": 2}


def test_the_entrypoint_needs_an_input_parameter_and_no_generator() -> None:
    with pytest.raises(GraphValidationError, match="one positional parameter"):

        @entrypoint()
        def nothing() -> int:
            return 1

    with pytest.raises(GraphValidationError, match="generator"):

        @entrypoint()
        def gen(x: int) -> Any:
            yield x

    with pytest.raises(InvalidInputError, match="generator"):

        @task
        def tgen(x: int) -> Any:
            yield x


# ------------------------------------------------------------------ checkpoints
def test_a_run_stores_an_input_checkpoint_and_one_after_it() -> None:
    @entrypoint(checkpointer=MemoryCheckpointer())
    def wf(n: int) -> int:
        return add_one(n).result() + double(n).result()

    assert wf.invoke(3, cfg()) == 10
    assert wf.invoke(1, cfg()) == 4
    history = list(wf.get_state_history(cfg()))
    assert [(s.metadata["step"], s.metadata["source"], s.next, s.values) for s in history] == [
        (2, "loop", (), 4),
        (1, "input", ("wf",), 10),
        (0, "loop", (), 10),
        (-1, "input", ("wf",), None),
    ]
    assert [t.result for t in history[1].tasks] == [4]
    assert wf.get_state(cfg()).values == 4
    writes = wf.node_writes(cfg())
    assert sorted(writes["node"].to_list()) == [
        "add_one",
        "add_one",
        "double",
        "double",
        "wf",
        "wf",
    ]


def test_resume_after_interrupt_does_not_rerun_finished_tasks(fibers: str) -> None:
    @entrypoint(checkpointer=MemoryCheckpointer())
    def wf(n: int) -> dict[str, Any]:
        a, b = add_one(n), double(n)
        total = a.result() + b.result()
        answer = interrupt({"total": total})
        return {"total": total, "answer": answer, "more": add_one(total).result()}

    out = wf.invoke(3, cfg())
    assert out["__interrupt__"][0].value == {"total": 10}
    assert CALLS == [("add_one", 3), ("double", 3)]
    snap = wf.get_state(cfg())
    assert snap.next == ("wf",) and snap.values is None
    assert snap.interrupts[0].value == {"total": 10}
    assert wf.invoke(Command(resume="yes"), cfg()) == {"total": 10, "answer": "yes", "more": 11}
    assert CALLS == [("add_one", 3), ("double", 3), ("add_one", 10)]


def test_interrupts_in_turn_each_resume_once(fibers: str) -> None:
    @entrypoint(checkpointer=MemoryCheckpointer())
    def wf(n: int) -> int:
        a = interrupt("first")
        b = interrupt("second")
        return n + a + b

    assert wf.invoke(1, cfg())["__interrupt__"][0].value == "first"
    assert wf.invoke(Command(resume=10), cfg())["__interrupt__"][0].value == "second"
    assert wf.invoke(Command(resume=100), cfg()) == 111


def test_an_interrupt_inside_a_task_reruns_only_that_task(fibers: str) -> None:
    @entrypoint(checkpointer=MemoryCheckpointer())
    def wf(n: int) -> list[Any]:
        p = add_one(n)
        r = ask(n).result()
        return [p.result(), r]

    out = wf.invoke(1, cfg())
    assert [i.value for i in out["__interrupt__"]] == [{"need": 1}]
    assert wf.invoke(Command(resume="A"), cfg()) == [2, "1:A"]
    assert CALLS == [("add_one", 1), ("ask", 1), ("ask", 1)]


def test_answers_by_interrupt_id() -> None:
    @entrypoint(checkpointer=MemoryCheckpointer())
    def wf(n: int) -> list[str]:
        return [f.result() for f in [ask(n), ask(n + 1)]]

    out = wf.invoke(1, cfg())
    ids = {i.value["need"]: i.id for i in out["__interrupt__"]}
    assert sorted(ids) == [1, 2]  # both calls ran and asked
    assert wf.invoke(Command(resume={ids[1]: "x", ids[2]: "y"}), cfg()) == ["1:x", "2:y"]


def test_final_returns_one_value_and_saves_another_for_previous() -> None:
    seen: list[Any] = []

    @entrypoint(checkpointer=MemoryCheckpointer())
    def wf(n: int, *, previous: Any = None) -> entrypoint.final[int, int]:
        seen.append(previous)
        return entrypoint.final(value=previous or 0, save=2 * n)

    assert wf.invoke(3, cfg()) == 0
    assert wf.invoke(1, cfg()) == 6
    assert wf.invoke(5, cfg("other")) == 0
    assert seen == [None, 6, None]
    assert wf.get_state(cfg()).values == 6  # the value returned
    assert wf.get_state_history(cfg()).__next__().values == 6


def test_previous_is_the_last_return_value_and_update_state_sets_it() -> None:
    @entrypoint(checkpointer=MemoryCheckpointer())
    def wf(n: int, previous: int | None = None) -> int:
        return n + (previous or 0)

    assert wf.invoke(1, cfg()) == 1
    assert wf.invoke(2, cfg()) == 3
    new = wf.update_state(cfg(), 40)
    snap = wf.get_state(cfg())
    assert snap.values == 40 and snap.metadata["source"] == "update"
    assert new["configurable"]["checkpoint_id"] == snap.config["configurable"]["checkpoint_id"]
    assert wf.invoke(2, cfg()) == 42
    with pytest.raises(InvalidUpdateError, match="one node"):
        wf.update_state(cfg(), 1, as_node="add_one")


def test_a_failed_run_continues_without_rerunning_finished_tasks(fibers: str) -> None:
    fail = [True]

    @task
    def fragile(x: int) -> int:
        CALLS.append(("fragile", x))
        if fail[0]:
            raise ConnectionError("down")
        return x

    @entrypoint(checkpointer=MemoryCheckpointer())
    def wf(n: int) -> int:
        return add_one(n).result() + fragile(n).result()

    with pytest.raises(ConnectionError):
        wf.invoke(1, cfg())
    fail[0] = False
    assert wf.invoke(None, cfg()) == 3
    assert CALLS == [("add_one", 1), ("fragile", 1), ("fragile", 1)]


def test_replaying_the_input_checkpoint_runs_the_tasks_again_on_a_fork() -> None:
    @entrypoint(checkpointer=MemoryCheckpointer())
    def wf(n: int) -> int:
        return add_one(n).result()

    wf.invoke(1, cfg())
    first = list(wf.get_state_history(cfg()))[-1]
    assert wf.invoke(None, first.config) == 2
    assert CALLS == [("add_one", 1), ("add_one", 1)]
    history = list(wf.get_state_history(cfg()))
    assert [(s.metadata["step"], s.metadata["source"]) for s in history] == [
        (1, "loop"),
        (0, "fork"),
        (0, "loop"),
        (-1, "input"),
    ]


@dataclass
class Report:
    title: str
    words: int


@task
def write(title: str) -> Report:
    CALLS.append(("write", title))
    return Report(title, len(title))


def _report_flow(path: Path) -> FunctionalWorkflow:
    @entrypoint(checkpointer=str(path))
    def report(title: str) -> dict[str, Any]:
        draft = write(title).result()
        verdict = interrupt(f"publish {draft.title}?")
        return {"report": draft, "verdict": verdict}

    return report


def test_a_duckdb_thread_resumes_in_a_fresh_workflow_with_its_stored_results(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs.duckdb"
    first = _report_flow(path)
    assert first.invoke("owls", cfg())["__interrupt__"][0].value == "publish owls?"
    first.checkpointer.close()  # type: ignore[union-attr]
    again = _report_flow(path)  # as a new process would: nothing in memory
    out = again.invoke(Command(resume="ok"), cfg())
    assert out == {"report": Report("owls", 4), "verdict": "ok"}
    assert CALLS == [("write", "owls")]
    again.checkpointer.close()  # type: ignore[union-attr]


# ------------------------------------------------------------------ failures, retries, caches
def test_a_task_error_reaches_the_entrypoint_and_an_unawaited_one_is_ignored(fibers: str) -> None:
    @task
    def boom(x: int) -> int:
        raise ValueError(f"bad {x}")

    @entrypoint()
    def caught(n: int) -> str:
        try:
            return str(boom(n).result())
        except ValueError as exc:
            return f"caught {exc}"

    @entrypoint()
    def ignored(n: int) -> str:
        boom(n)
        return "not awaited"

    @entrypoint()
    def raised(n: int) -> int:
        return boom(n).result()

    assert caught.invoke(1) == "caught bad 1"
    assert ignored.invoke(1) == "not awaited"
    with pytest.raises(ValueError, match="bad 2"):
        raised.invoke(2)


def test_retry_policies_of_tasks_and_of_the_entrypoint(fibers: str) -> None:
    attempts = {"task": 0, "entry": 0}

    @task(retry_policy=RetryPolicy(max_attempts=3, initial_interval=0.001, retry_on=ValueError))
    def flaky(x: int) -> int:
        attempts["task"] += 1
        if attempts["task"] < 3:
            raise ValueError("again")
        return x

    @entrypoint(retry_policy=RetryPolicy(max_attempts=2, initial_interval=0.001, retry_on=KeyError))
    def wf(n: int) -> int:
        attempts["entry"] += 1
        value = flaky(n).result()
        if attempts["entry"] == 1:
            raise KeyError("once")
        return value

    assert wf.invoke(7) == 7
    assert attempts == {"task": 3, "entry": 2}  # the retried entrypoint kept the task's result


def test_a_cache_policy_reuses_a_task_result() -> None:
    @task(cache_policy=CachePolicy(ttl=60))
    def costly(x: int) -> int:
        CALLS.append(("costly", x))
        return x * 3

    @entrypoint(cache=InMemoryCache())
    def wf(n: int) -> int:
        return costly(n).result()

    assert [wf.invoke(2), wf.invoke(2), wf.invoke(3)] == [6, 6, 9]
    assert CALLS == [("costly", 2), ("costly", 3)]


def test_a_cache_policy_key_func_takes_the_task_arguments() -> None:
    @task(cache_policy=CachePolicy(key_func=lambda x, unit="m": f"{x}{unit}"))
    def convert(x: int, unit: str = "m") -> str:
        CALLS.append(("convert", x, unit))
        return f"{x} {unit}"

    @entrypoint(cache=InMemoryCache())
    def wf(n: int) -> list[str]:
        return [convert(n).result(), convert(n, unit="m").result(), convert(n, "km").result()]

    assert wf.invoke(1) == ["1 m", "1 m", "1 km"]
    assert CALLS == [("convert", 1, "m"), ("convert", 1, "km")]


# ------------------------------------------------------------------ what the entrypoint is given
def test_injected_config_runtime_writer_and_store() -> None:
    from wfkit.store import InMemoryStore

    store = InMemoryStore()

    @entrypoint(store=store, context_schema=dict)
    def wf(
        x: int, *, config: dict[str, Any], runtime: Runtime[Any], writer: Any, store: Any
    ) -> dict[str, Any]:
        writer({"x": x})
        return {
            "tag": config["configurable"]["tag"],
            "context": runtime.context,
            "store": store is runtime.store,
            "in_task": add_one(x).result(),
        }

    chunks = list(
        wf.stream(
            1,
            {"configurable": {"tag": "t1"}},
            context={"user": "ada"},
            stream_mode=["custom", "values"],
        )
    )
    assert chunks == [
        ("custom", {"x": 1}),
        ("values", {"tag": "t1", "context": {"user": "ada"}, "store": True, "in_task": 2}),
    ]
    assert wf.store is store


def test_get_config_and_the_stream_writer_inside_tasks() -> None:
    @task
    def probe(x: int) -> str:
        get_stream_writer()(f"task {x}")
        return str(get_config()["configurable"]["tag"])

    @entrypoint()
    def wf(x: int) -> str:
        return probe(x).result()

    chunks = list(wf.stream(1, {"configurable": {"tag": "t9"}}, stream_mode=["custom", "updates"]))
    assert chunks == [("custom", "task 1"), ("updates", {"probe": "t9"}), ("updates", {"wf": "t9"})]


# ------------------------------------------------------------------ streams
def test_stream_modes_in_langgraphs_shapes() -> None:
    @entrypoint(checkpointer=MemoryCheckpointer())
    def wf(n: int) -> dict[str, Any]:
        x = add_one(n).result()
        return {"x": x, "ok": interrupt("ok?")}

    updates = list(wf.stream(1, cfg()))
    assert updates[:1] == [{"add_one": 2}]
    assert [i.value for i in updates[1]["__interrupt__"]] == ["ok?"]
    values = list(wf.stream(Command(resume="y"), cfg(), stream_mode="values"))
    assert values == [None, {"x": 2, "ok": "y"}]  # the thread's value, then the new one
    tasks = list(wf.stream(5, cfg("t2"), stream_mode="tasks"))
    assert [(c["name"], "input" in c) for c in tasks] == [
        ("wf", True),
        ("add_one", True),
        ("add_one", False),
        ("wf", False),
    ]
    assert tasks[1]["input"] == ((5,), {}) and tasks[2]["result"] == {"__return__": 6}
    checkpoints = list(wf.stream(Command(resume="z"), cfg("t2"), stream_mode="checkpoints"))
    assert [(c["metadata"]["source"], c["next"], c["values"]) for c in checkpoints] == [
        ("input", ["wf"], None),
        ("loop", [], {"x": 6, "ok": "z"}),
    ]


def test_a_paused_dict_value_carries_the_interrupt() -> None:
    @entrypoint(checkpointer=MemoryCheckpointer())
    def wf(n: int) -> dict[str, int]:
        if n < 0:
            return {"n": interrupt("negative?")}
        return {"n": n}

    assert wf.invoke(1, cfg()) == {"n": 1}
    assert list(wf.stream(-1, cfg(), stream_mode="values")) == [
        {"n": 1, "__interrupt__": wf.get_state(cfg()).interrupts}
    ]


# ------------------------------------------------------------------ stepping, traces
def test_iter_steps_the_entrypoint_then_the_tasks_it_waits_for() -> None:
    @entrypoint()
    def wf(n: int) -> int:
        a, b = add_one(n), double(n)
        return add_one(a.result() + b.result()).result()

    run = wf.iter(2)
    seen = [run.next]
    while run.step() is not None:
        seen.append(run.next)
    assert seen == [
        ("wf",),
        ("add_one", "double"),
        ("wf",),
        ("add_one",),
        ("wf",),
        (),
    ]
    assert run.done and run.output() == 8


def test_spans_of_the_entrypoint_and_each_task() -> None:
    @entrypoint()
    def wf(n: int) -> int:
        time.sleep(0.05)
        return add_one(n).result() + double(n).result()

    wf.invoke(1)
    spans = wf.traces()
    nodes = spans.filter(spans["kind"] == "node")
    assert sorted(nodes["node"].to_list()) == ["add_one", "double", "wf"]
    entry = nodes.filter(nodes["node"] == "wf").row(0, named=True)
    calls = nodes.filter(nodes["node"] != "wf")
    # the entrypoint's span covers its whole body, calls included
    assert entry["wall_ms"] >= 50
    assert entry["start_ns"] <= calls["start_ns"].min()
    assert entry["end_ns"] >= calls["end_ns"].max()
    assert len(set(nodes["task_id"].to_list())) == 3


def test_where_a_sync_body_runs() -> None:
    seen: list[str] = []

    @entrypoint()
    def wf(n: int) -> int:
        seen.append(threading.current_thread().name)
        return add_one(n).result()

    assert wf.invoke(1) == 2  # inline: on a greenlet of the calling thread
    assert list(wf.stream(1, stream_mode="values")) == [2]  # stepped: on a body thread
    expected = threading.current_thread().name if body_module.greenlets() else "wfkit-entrypoint"
    assert seen == [expected, "wfkit-entrypoint"]


def test_a_dropped_run_ends_its_waiting_body() -> None:
    finished = threading.Event()

    @entrypoint()
    def wf(n: int) -> int:
        try:
            return add_one(n).result()
        finally:
            finished.set()

    run = wf.iter(1)
    run.step()  # the body now waits for add_one, on its own thread
    assert run.next == ("add_one",) and not finished.is_set()
    body = run.machine.body
    del run
    gc.collect()
    assert finished.wait(2) and body.cancelled


def test_errors_name_the_entrypoint_and_the_fix() -> None:
    @entrypoint(checkpointer=MemoryCheckpointer())
    def wf(n: int) -> int:
        return interrupt("q")  # type: ignore[no-any-return]

    with pytest.raises(CheckpointerRequiredError, match="entrypoint '_plain'"):
        entrypoint()(_plain).invoke(Command(resume=1))
    wf.invoke(1, cfg())
    with pytest.raises(InvalidInputError, match="resume"):
        wf.invoke(Command(update={"x": 1}), cfg())
    with pytest.raises(InvalidInputError, match="interrupt_before"):
        wf.invoke(1, cfg("b"), interrupt_before=["wf"])


def _plain(n: int) -> int:
    return n


# ------------------------------------------------------------------ the debugger, Dask
def test_the_debugger_steps_task_by_task_and_hot_swaps_a_task() -> None:
    from wfkit import Debugger

    broken = [True]

    @task
    def check(x: int) -> int:
        if broken[0]:
            raise ValueError("check failed")
        return x

    @entrypoint(checkpointer=MemoryCheckpointer())
    def wf(n: int) -> dict[str, Any]:
        a, b = add_one(n), double(n)
        ok = interrupt("ok?")
        return {"sum": check(a.result() + b.result()).result(), "ok": ok}

    d = Debugger(wf, 2)
    assert d.next == ("wf",)
    assert d.step().nodes == ("wf",)  # the body ran to interrupt(); its calls are next
    assert d.next == ("add_one", "double")
    assert d.step_node().kind == "task" and CALLS == [("add_one", 2)]
    event = d.step_node()
    assert event.kind == "interrupt" and [i.value for i in d.interrupts] == ["ok?"]
    d.add_breakpoint("check")
    event = d.resume("yes")  # the body runs again: add_one and double are not called again
    assert d.next == ("check",) and CALLS == [("add_one", 2), ("double", 2)]
    event = d.step()
    assert event.kind == "step"
    event = d.step()
    assert event.kind == "error" and d.failed_node == "check"
    assert "ValueError" in (d.traceback or "")

    def fixed(x: int) -> int:
        return -x

    event = d.reload("check", fixed)  # back to the input checkpoint: the entrypoint replays
    assert event.kind == "reload" and d.next == ("wf",)
    assert d.continue_().kind == "interrupt"  # a replay calls every task again
    assert CALLS == [("add_one", 2), ("double", 2)] * 2
    d.resume("again")
    assert d.continue_().kind == "breakpoint" and d.next == ("check",)
    assert d.continue_().kind == "done"
    assert d.snapshot().values == {"sum": -7, "ok": "again"}
    assert d.diff() == {"value": (None, {"sum": -7, "ok": "again"})}  # the input had none


def test_task_calls_run_on_a_dask_cluster_and_the_body_here() -> None:
    distributed = pytest.importorskip("distributed")
    from wfkit.distributed import DaskExecutor

    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
    )
    client = distributed.Client(cluster)
    try:
        with DaskExecutor(client) as executor:

            @entrypoint(executor=executor, checkpointer=MemoryCheckpointer())
            def wf(n: int) -> list[int]:
                futures = [slow(i) for i in range(n)]
                extra = add_one(n)
                return [f.result() + extra.result() for f in futures]

            started = time.perf_counter()
            assert wf.invoke(3, cfg()) == [4, 5, 6]
            assert time.perf_counter() - started < 2
            assert executor.calls_sent == 4  # three slow calls, one add_one: not the body
            spans = wf.traces(thread="t")
            workers = spans.filter(spans["kind"] == "node").select("node", "worker").rows()
            assert {node for node, w in workers if w} == {"slow", "add_one"}
    finally:
        client.close()
        cluster.close()


def test_a_body_left_waiting_by_an_escaping_error_is_ended(fibers: str) -> None:
    finished = threading.Event()

    @task
    def stop(x: int) -> int:
        raise KeyboardInterrupt  # not a node error: it leaves the run at once

    @entrypoint()
    def wf(n: int) -> int:
        try:
            return stop(n).result()
        finally:
            finished.set()

    with pytest.raises(KeyboardInterrupt) as caught:
        wf.invoke(1)
    assert finished.wait(2)  # at once: the traceback still holds the run
    assert caught.traceback
