"""wfkit.distributed.DaskExecutor: node calls on a Dask cluster, the loop here.

The logic runs on a cluster of threads (``LocalCluster(processes=False)``:
one process, so a test can count calls in a global); what needs real
processes (a killed worker, functions shipped by value, a module the
workers lack, interrupts across the cluster, the property test) uses the
shared two-process cluster of ``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import operator
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

distributed = pytest.importorskip("distributed")

import test_properties as props  # noqa: E402  (the random graphs of the property test)
from hypothesis import HealthCheck, given, settings  # noqa: E402

from wfkit import (  # noqa: E402
    END,
    START,
    Command,
    DependencyMissingError,
    InvalidInputError,
    NodeShippingError,
    NodeTimeoutError,
    RetryPolicy,
    Send,
    StateGraph,
    WorkerLostError,
    interrupt,
)
from wfkit.checkpoint import MemoryCheckpointer  # noqa: E402
from wfkit.distributed import DaskExecutor  # noqa: E402


class S(TypedDict, total=False):
    n: int
    out: Annotated[list[int], operator.add]
    seen: str


CALLS: dict[str, int] = {}
_calls_lock = threading.Lock()


def count(name: str) -> int:
    """Count a call of ``name`` (node functions defined in a test are sent by
    value, with copies of the globals they use: they call this, which is not)."""
    with _calls_lock:
        CALLS[name] = CALLS.get(name, 0) + 1
        return CALLS[name]


def start(state: S) -> dict[str, Any]:
    count("start")
    return {"n": state["n"] + 1}


def fan(state: S) -> list[Send]:
    return [Send("square", i) for i in range(state["n"])]


def square(i: int) -> dict[str, Any]:
    count("square")
    return {"out": [i * i]}


async def anode(state: S, config: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"seen": str(config.get("configurable", {}).get("tag"))}


def fan_graph() -> StateGraph:
    g = StateGraph(S)
    g.add_node("start", start)
    g.add_node("square", square)
    g.add_node("tag", anode)
    g.add_edge(START, "start")
    g.add_conditional_edges("start", fan, ["square"])
    g.add_edge("square", "tag")
    g.add_edge("tag", END)
    return g


@pytest.fixture(scope="module")
def client() -> Any:
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=2, processes=False, dashboard_address=":0"
    )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture
def executor(client: Any) -> Any:
    with DaskExecutor(client) as ex:
        yield ex


# ------------------------------------------------------------------ the same runs, elsewhere
def test_a_run_on_the_cluster_gives_the_local_result(executor: DaskExecutor) -> None:
    local = fan_graph().compile()
    remote = fan_graph().compile(executor=executor)
    cfg = {"configurable": {"tag": "x"}}
    CALLS.clear()
    expected = local.invoke({"n": 3}, cfg)
    assert remote.invoke({"n": 3}, cfg) == expected == {"n": 4, "out": [0, 1, 4, 9], "seen": "x"}
    assert asyncio.run(remote.ainvoke({"n": 3}, cfg)) == expected
    assert [c for c in remote.stream({"n": 3}, cfg, stream_mode="updates")] == list(
        local.stream({"n": 3}, cfg, stream_mode="updates")
    )
    assert CALLS == {"start": 5, "square": 20}  # five runs, each node once per run
    assert executor.calls_sent == 3 * (1 + 4 + 1)  # every node call went to the cluster


def test_executor_per_call_overrides_the_compiled_one(executor: DaskExecutor) -> None:
    app = fan_graph().compile()
    before = executor.calls_sent
    app.invoke({"n": 1}, executor=executor)
    assert executor.calls_sent == before + 4  # start, two squares, tag
    remote = fan_graph().compile(executor=executor)
    remote.invoke({"n": 1}, executor="local")  # runs here
    assert executor.calls_sent == before + 4  # nothing more went to the cluster
    with pytest.raises(InvalidInputError, match=r"not a node executor.*DaskExecutor"):
        app.invoke({"n": 1}, executor=object())


def test_identical_calls_are_never_deduplicated(executor: DaskExecutor) -> None:
    app = fan_graph().compile(executor=executor)
    CALLS.clear()
    app.batch([{"n": 0}] * 30, progress=False)
    assert CALLS["start"] == 30  # pure=False, a key per call: Dask ran every one


def test_small_calls_are_packed(client: Any) -> None:
    with DaskExecutor(client, batch_size=8) as ex:
        app = fan_graph().compile(executor=ex)
        results = app.batch([{"n": i % 4} for i in range(120)], progress=False)
        assert results[5] == {"n": 2, "out": [0, 1], "seen": "None"}
        assert ex.calls_sent > ex.packets_sent  # several calls travelled in one Dask task
        assert ex.calls_sent <= 8 * ex.packets_sent


def test_node_errors_keep_their_type_and_follow_the_retry_policy(executor: DaskExecutor) -> None:
    CALLS.clear()

    def flaky(state: S) -> dict[str, Any]:  # sent by value; count() is this module's
        if count("flaky") < 3:
            raise ConnectionError("try again")
        return {"n": 7}

    def broken(state: S) -> dict[str, Any]:
        raise KeyError("missing")

    g = StateGraph(S)
    g.add_node("flaky", flaky, retry_policy=RetryPolicy(max_attempts=3, initial_interval=0.01))
    g.add_edge(START, "flaky")
    assert g.compile(executor=executor).invoke({"n": 0}) == {"n": 7, "out": []}
    assert CALLS["flaky"] == 3

    g = StateGraph(S)
    g.add_node("broken", broken)
    g.add_edge(START, "broken")
    with pytest.raises(KeyError) as info:
        g.compile(executor=executor).invoke({"n": 0})
    notes = "\n".join(info.value.__notes__)
    assert "raised in node 'broken', superstep 0, attempt 1" in notes
    assert "on Dask worker" in notes


def test_timeouts_are_enforced_by_the_driver(executor: DaskExecutor) -> None:
    CALLS.clear()

    def slow(state: S) -> dict[str, Any]:
        time.sleep(1.0)
        count("slow")
        return {"n": 1}

    g = StateGraph(S)
    g.add_node("slow", slow, timeout=0.1)
    g.add_edge(START, "slow")
    with pytest.raises(NodeTimeoutError, match="'slow' did not finish within its timeout"):
        g.compile(executor=executor).invoke({"n": 0})
    assert "slow" not in CALLS  # the driver did not wait for it


def test_cancelling_a_batch_cancels_its_queued_calls(client: Any) -> None:
    CALLS.clear()

    def wait(state: S) -> dict[str, Any]:
        count("wait")
        time.sleep(0.3)
        return {"n": 1}

    g = StateGraph(S)
    g.add_node("wait", wait)
    g.add_edge(START, "wait")

    async def main(ex: DaskExecutor) -> None:
        app = g.compile(executor=ex)
        job = asyncio.ensure_future(app.abatch([{"n": i} for i in range(200)], progress=False))
        await asyncio.sleep(0.5)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job

    with DaskExecutor(client, batch_size=1, max_in_flight=2) as ex:
        asyncio.run(main(ex))
        assert not ex._queue  # nothing left waiting in the driver
        time.sleep(0.7)  # what was running finishes; nothing more starts
        ran = CALLS["wait"]
        time.sleep(0.7)
        assert CALLS["wait"] == ran < 20


def test_a_function_that_does_not_pickle_fails_before_the_batch(executor: DaskExecutor) -> None:
    lock = threading.Lock()
    CALLS.clear()

    def guarded(state: S) -> dict[str, Any]:
        with lock:
            return {"n": 1}

    def first(state: S) -> dict[str, Any]:
        count("first")
        return {}

    g = StateGraph(S)
    g.add_node("first", first)
    g.add_node("guarded", guarded)
    g.add_edge(START, "first")
    g.add_edge("first", "guarded")
    with pytest.raises(NodeShippingError, match=r"node 'guarded' cannot be sent.*open them inside"):
        g.compile(executor=executor).batch([{"n": 0}] * 5, progress=False)
    assert CALLS == {}  # found before any run started


def test_spans_record_where_and_how_long(executor: DaskExecutor) -> None:
    app = fan_graph().compile(executor=executor)
    app.invoke({"n": 2})
    spans = app.traces().filter(kind="node")
    assert spans.height == 5  # start, three squares, tag
    assert spans["worker"].str.starts_with("inproc://").all()
    for column in ("queue_ms", "run_ms", "transfer_ms"):
        assert (spans[column] >= 0).all(), column
    # queue, run and transfer are parts of the call's wall time as the driver saw it (which
    # also holds the event loop's wake-up after the result came back)
    parts = spans["queue_ms"] + spans["run_ms"] + spans["transfer_ms"]
    assert (parts <= spans["wall_ms"] + 1).all()
    assert (spans["run_ms"] > 0).all()
    local = fan_graph().compile()
    local.invoke({"n": 2})
    assert local.traces().filter(kind="node")["worker"].is_null().all()


def test_batch_results_threads_and_failures(executor: DaskExecutor, capsys: Any) -> None:
    def maybe(state: S) -> dict[str, Any]:
        if state["n"] == 3:
            raise ValueError("three")
        return {"n": state["n"] * 2}

    g = StateGraph(S)
    g.add_node("maybe", maybe)
    g.add_edge(START, "maybe")
    app = g.compile(checkpointer=MemoryCheckpointer(), executor=executor)
    out = app.batch([{"n": i} for i in range(6)], return_exceptions=True)
    assert [r["n"] if isinstance(r, dict) else type(r).__name__ for r in out] == [
        0, 2, 4, "ValueError", 8, 10,
    ]  # fmt: skip
    assert out.failed == [3]
    assert len(set(out.threads)) == 6 and all(t.startswith("batch-") for t in out.threads)
    assert app.get_state({"configurable": {"thread_id": out.threads[4]}}).values["n"] == 8
    assert "failed=1" in capsys.readouterr().err  # the bar shows the failure
    with pytest.raises(ValueError, match="three"):
        app.batch([{"n": i} for i in range(6)], progress=False)
    # LangGraph's form: a list of configs
    configs = [{"configurable": {"thread_id": f"lg-{i}"}} for i in range(3)]
    assert [r["n"] for r in app.batch([{"n": 1}] * 3, configs, progress=False)] == [2, 2, 2]
    assert app.get_state(configs[2]).values["n"] == 2
    with pytest.raises(InvalidInputError, match="3 inputs but 2 configs"):
        app.batch([{"n": 1}] * 3, configs[:2])


def test_the_local_batch_matches() -> None:
    app = fan_graph().compile(checkpointer=MemoryCheckpointer())
    out = app.batch([{"n": i} for i in range(5)], threads=[f"t{i}" for i in range(5)])
    assert out.threads == [f"t{i}" for i in range(5)]
    assert [r["out"] for r in out] == [[0], [0, 1], [0, 1, 4], [0, 1, 4, 9], [0, 1, 4, 9, 16]]
    assert asyncio.run(app.abatch([{"n": 1}], threads=["u"], progress=False))[0]["n"] == 2


def test_without_dask_the_executor_says_how_to_install() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["distributed"] = None
        import wfkit, wfkit.distributed
        from wfkit.distributed import DaskExecutor
        try:
            DaskExecutor(object())
        except wfkit.DependencyMissingError as exc:
            print(exc)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'wfkit[dask]'" in out.stdout
    assert issubclass(DependencyMissingError, ImportError)


def test_bad_arguments_are_named(client: Any) -> None:
    with pytest.raises(InvalidInputError, match=r"needs a distributed\.Client"):
        DaskExecutor("tcp://127.0.0.1:8786")
    with pytest.raises(InvalidInputError, match="batch_size must be a positive int"):
        DaskExecutor(client, batch_size=0)


# ------------------------------------------------------------------ real processes
# (node functions here are self-contained: this module cannot be imported on the workers)
def test_a_killed_worker_costs_one_rerun(process_client: Any, tmp_path: Path) -> None:
    folder = str(tmp_path)

    def work(state: S) -> dict[str, Any]:
        with open(os.path.join(folder, "calls.log"), "a") as log:
            log.write(f"n{state['n']}\n")
        marker = os.path.join(folder, "killed")
        if state["n"] == 13 and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the worker process dies with this packet on it
        return {"n": state["n"] * 10}

    g = StateGraph(S)
    g.add_node("work", work)
    g.add_edge(START, "work")
    with DaskExecutor(process_client, batch_size=4) as ex:
        app = g.compile(checkpointer=MemoryCheckpointer(), executor=ex)
        out = app.batch([{"n": i} for i in range(40)], progress=False)
        on_worker = ex.max_in_flight * 4  # at most this many calls can be on one worker
    assert [r["n"] for r in out] == [i * 10 for i in range(40)]
    ran = (tmp_path / "calls.log").read_text().split()
    counts = {name: ran.count(name) for name in set(ran)}
    assert set(counts) == {f"n{i}" for i in range(40)}
    assert counts["n13"] == 2  # killed once, then run again elsewhere
    # the calls on the dead worker (running, queued, or finished and not yet fetched)
    # ran again, once; the rest once
    twice = [name for name, k in counts.items() if k == 2]
    assert max(counts.values()) == 2 and len(twice) <= on_worker < 40
    process_client.wait_for_workers(2, timeout=60)  # the nanny restarted it


def test_a_module_missing_on_the_workers_is_named_with_the_fix(
    process_client: Any, tmp_path: Path
) -> None:
    module = tmp_path / "wfkit_test_helpers_xyz.py"
    module.write_text("def triple(state):\n    return {'n': state['n'] * 3}\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import wfkit_test_helpers_xyz as helpers

        g = StateGraph(S)
        g.add_node("triple", helpers.triple)
        g.add_edge(START, "triple")
        with DaskExecutor(process_client) as ex:
            app = g.compile(executor=ex)
            with pytest.raises(
                NodeShippingError,
                match=r"node 'triple' needs the module 'wfkit_test_helpers_xyz'.*"
                r"client.upload_file\('wfkit_test_helpers_xyz.py'\)",
            ):
                app.batch([{"n": 1}], progress=False)
            process_client.upload_file(str(module))  # the fix the message names
            assert app.batch([{"n": 2}], progress=False)[0]["n"] == 6
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("wfkit_test_helpers_xyz", None)


def test_interrupts_pause_each_run_and_resume_across_the_cluster(process_client: Any) -> None:
    def ask(state: S) -> dict[str, Any]:
        answer = interrupt(f"approve {state['n']}?")
        return {"seen": f"{state['n']}:{answer}"}

    g = StateGraph(S)
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    with DaskExecutor(process_client) as ex:
        app = g.compile(checkpointer=MemoryCheckpointer(), executor=ex)
        threads = [f"ask-{i}" for i in range(4)]
        paused = app.batch([{"n": i} for i in range(4)], threads=threads, progress=False)
        assert paused.interrupted == [0, 1, 2, 3]
        assert paused[2]["__interrupt__"][0].value == "approve 2?"
        resumed = app.batch([Command(resume=f"ok{i}") for i in range(4)], threads=threads)
        assert [r["seen"] for r in resumed] == [f"{i}:ok{i}" for i in range(4)]
        # the checkpoint file is the driver's: no worker ever imported DuckDB
        assert not any(process_client.run(lambda: "duckdb" in sys.modules).values())


def _history(app: Any, thread: str) -> list[Any]:
    cfg = {"configurable": {"thread_id": thread}}
    states = [(s.values, s.next, s.metadata.get("step")) for s in app.get_state_history(cfg)]
    writes = app.node_writes(cfg)
    writes = writes.drop(  # ids made per run and times aside, every column must agree
        ["thread_id", "checkpoint_id", "run_id", *(c for c in writes.columns if c.endswith("_at"))]
    )
    return [states, sorted(writes.rows(), key=str)]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=props.specs())
def test_random_graphs_give_the_same_state_and_rows_on_the_cluster(
    process_client: Any, spec: Any
) -> None:
    start_state = {"log": ["x"]}
    local = props.build(spec, checkpointer=MemoryCheckpointer())
    expected = local.invoke(start_state, thread="t")
    with DaskExecutor(process_client) as ex:
        remote = props.build(spec, checkpointer=MemoryCheckpointer())
        assert remote.invoke(start_state, thread="t", executor=ex) == expected
    assert _history(remote, "t") == _history(local, "t")


def test_a_big_input_is_scattered_once_per_superstep(executor: DaskExecutor) -> None:
    class Big(TypedDict, total=False):
        blob: str
        sizes: Annotated[list[int], operator.add]

    def measure(state: Big) -> dict[str, Any]:
        return {"sizes": [len(state["blob"])]}

    g = StateGraph(Big)
    for name in ("a", "b", "c"):
        g.add_node(name, measure)
        g.add_edge(START, name)
    app = g.compile(executor=executor)
    before = executor.scattered
    out = app.invoke({"blob": "x" * 3_000_000})
    assert out["sizes"] == [3_000_000] * 3
    assert executor.scattered == before + 1  # one copy on the cluster for the three calls
    app.invoke({"blob": "small"})
    assert executor.scattered == before + 1  # small inputs travel with their calls


def test_a_call_the_cluster_cancels_fails_its_run(executor: DaskExecutor, client: Any) -> None:
    def sleepy(state: S) -> dict[str, Any]:
        time.sleep(0.6)
        return {"n": 1}

    g = StateGraph(S)
    g.add_node("sleepy", sleepy)
    g.add_edge(START, "sleepy")
    app = g.compile(executor=executor)

    async def main() -> None:
        job = asyncio.ensure_future(app.ainvoke({"n": 0}))
        keys: list[Any] = []
        while not keys:  # its packet is on the cluster
            await asyncio.sleep(0.02)
            keys = [k for k in client.futures if str(k).startswith("wfkit-sleepy")]
        client.cancel([distributed.Future(k, client) for k in keys])  # as a closing client does
        with pytest.raises(WorkerLostError, match="'sleepy' was cancelled by the cluster"):
            await job

    asyncio.run(main())


def test_a_node_taking_the_runs_stream_writer_is_refused_before_it_runs(
    executor: DaskExecutor,
) -> None:
    def talk(state: S, writer: Any) -> dict[str, Any]:
        writer("hello")
        return {"n": 1}

    g = StateGraph(S)
    g.add_node("talk", talk)
    g.add_edge(START, "talk")
    with pytest.raises(NodeShippingError, match=r"node 'talk' takes 'writer', which stay"):
        g.compile(executor=executor).batch([{"n": 0}], progress=False)
    assert g.compile().invoke({"n": 0})["n"] == 1  # fine here


class _EndedPacket:
    """A Dask future as its done-callback sees it when the cluster gave
    back no outcome: ``status``, and ``result``/``exception`` that raise
    ``raises`` (a cancellation: a BaseException) or give ``error``."""

    def __init__(self, status: str, raises: BaseException | None, error: Any = None) -> None:
        self.status, self.raises, self.error = status, raises, error

    def result(self) -> Any:
        raise self.raises if self.raises is not None else RuntimeError("no result")

    def exception(self) -> Any:
        if self.raises is not None:
            raise self.raises
        return self.error


@pytest.mark.parametrize(
    "packet",
    [
        _EndedPacket("finished", asyncio.CancelledError("cancelled meanwhile")),
        _EndedPacket("error", asyncio.CancelledError("cancelled meanwhile")),
        _EndedPacket("lost", None, None),
    ],
    ids=["result-cancelled", "exception-cancelled", "no-error"],
)
def test_a_packet_ended_without_outcome_fails_its_calls_not_the_batch(
    executor: DaskExecutor, packet: _EndedPacket
) -> None:
    """A cancellation Dask raises from its future (FutureCancelledError is a
    CancelledError) becomes each call's WorkerLostError: it must not reach
    the batch's tasks as a cancellation of theirs."""
    from wfkit.distributed.executor import _Call

    calls = [_Call(None, "square", "square-0-0-a1", False) for _ in range(2)]  # type: ignore[arg-type]
    with executor._cond:
        executor._in_flight += 1  # as _submit counts a packet
    executor._on_packet(calls, packet)
    for call in calls:
        worker, outcome = call.future.result(timeout=1)
        assert worker is None
        assert isinstance(outcome, WorkerLostError)
        assert "'square'" in str(outcome)
