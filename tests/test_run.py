"""Drivers: sync and async nodes, retries, timeouts, error notes, event loops."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from tests.conftest import LogState, appender
from wfkit import END, START, InvalidUpdateError, NodeTimeoutError, RetryPolicy, StateGraph
from wfkit.types import default_retry_on


def single(fn: Any, **kw: Any) -> Any:
    g = StateGraph(LogState)
    g.add_node("node", fn, **kw).add_edge(START, "node").add_edge("node", END)
    return g.compile()


def flaky(failures: int, exc: type[Exception] = ConnectionError) -> tuple[Any, list[int]]:
    calls: list[int] = []

    def node(state: Any) -> dict[str, Any]:
        calls.append(1)
        if len(calls) <= failures:
            raise exc(f"attempt {len(calls)} failed")
        return {"n": len(calls)}

    return node, calls


FAST = RetryPolicy(max_attempts=3, initial_interval=0.001, jitter=False)


def test_retry_until_success() -> None:
    node, calls = flaky(2)
    assert single(node, retry=FAST).invoke({}) == {"n": 3, "log": []}
    assert len(calls) == 3


def test_retry_gives_up_after_max_attempts_with_note() -> None:
    node, calls = flaky(5)
    with pytest.raises(ConnectionError, match="attempt 3 failed") as info:
        single(node, retry_policy=FAST).invoke({})
    assert len(calls) == 3
    assert info.value.__notes__ == ["wfkit: raised in node 'node', superstep 0, attempt 3 of 3"]


def test_programming_errors_are_not_retried_by_default() -> None:
    node, calls = flaky(1, KeyError)
    with pytest.raises(KeyError):
        single(node, retry=FAST).invoke({})
    assert len(calls) == 1


def test_retry_on_class_and_predicate() -> None:
    node, _ = flaky(1, KeyError)
    policy = RetryPolicy(initial_interval=0, retry_on=KeyError)
    assert single(node, retry=policy).invoke({})["n"] == 2
    node, _calls = flaky(1, ValueError)
    policy = RetryPolicy(initial_interval=0, retry_on=lambda e: "attempt 1" in str(e))
    assert single(node, retry=policy).invoke({})["n"] == 2


def test_default_retry_on_http_status() -> None:
    class Response:
        def __init__(self, status: int) -> None:
            self.status_code = status

    class HTTPError(Exception):
        def __init__(self, status: int) -> None:
            self.response = Response(status)

    assert default_retry_on(HTTPError(503))
    assert not default_retry_on(HTTPError(404))
    assert default_retry_on(NodeTimeoutError("x", 1.0))
    assert not default_retry_on(TypeError())


def test_retry_on_list_of_classes_and_bad_rule() -> None:
    node, _ = flaky(1, KeyError)
    assert (
        single(node, retry=RetryPolicy(initial_interval=0, retry_on=[KeyError, OSError])).invoke(
            {}
        )["n"]
        == 2
    )
    with pytest.raises(ValueError, match="retry_on must be an exception class"):
        RetryPolicy(retry_on=["KeyError"])  # type: ignore[list-item]


def test_retry_policy_backoff_and_alias() -> None:
    policy = RetryPolicy(initial_interval=1, backoff_factor=3, max_interval=5, jitter=False)
    assert [policy.delay(n) for n in (1, 2, 3)] == [1, 3, 5]
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


def test_async_retry() -> None:
    calls: list[int] = []

    async def node(state: Any) -> dict[str, Any]:
        calls.append(1)
        if len(calls) < 2:
            raise TimeoutError("slow backend")
        return {"n": len(calls)}

    assert asyncio.run(single(node, retry=FAST).ainvoke({}))["n"] == 2


def test_sync_timeout_raises_and_abandons_the_node() -> None:
    finished = threading.Event()

    def slow(state: Any) -> dict[str, Any]:
        time.sleep(0.3)
        finished.set()
        return {"n": 1}

    started = time.monotonic()
    with pytest.raises(
        NodeTimeoutError, match=r"node 'node' did not finish within its timeout of 0.05 s"
    ) as info:
        single(slow, timeout=0.05).invoke({})
    assert time.monotonic() - started < 0.25
    assert info.value.node == "node"
    assert finished.wait(2)  # the abandoned thread ran to completion


def test_async_timeout_cancels_the_node() -> None:
    cancelled = asyncio.Event()

    async def slow(state: Any) -> dict[str, Any]:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return {"n": 1}

    async def main() -> None:
        with pytest.raises(NodeTimeoutError):
            await single(slow, timeout=0.05).ainvoke({})
        assert cancelled.is_set()

    asyncio.run(main())


def test_timeout_then_retry_succeeds() -> None:
    calls: list[int] = []

    def sometimes_slow(state: Any) -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.2)
        return {"n": len(calls)}

    assert single(sometimes_slow, timeout=0.05, retry=FAST).invoke({})["n"] == 2


def test_exception_propagates_with_its_own_type_and_note() -> None:
    class Boom(Exception):
        pass

    def node(state: Any) -> None:
        raise Boom("bad")

    g = StateGraph(LogState)
    g.add_node(appender("first")).add_node("node", node)
    g.add_edge(START, "first").add_edge("first", "node")
    with pytest.raises(Boom) as info:
        g.compile().invoke({})
    assert info.value.__notes__ == ["wfkit: raised in node 'node', superstep 1, attempt 1"]


def test_first_failure_in_task_order_is_raised() -> None:
    def fail(msg: str, delay: float) -> Any:
        def node(state: Any) -> None:
            time.sleep(delay)
            raise RuntimeError(msg)

        return node

    g = StateGraph(LogState)
    g.add_node("a", fail("a", 0.05)).add_node("b", fail("b", 0.0))
    g.add_edge(START, "a").add_edge(START, "b")
    with pytest.raises(RuntimeError) as info:
        g.compile().invoke({})
    assert str(info.value) == "a"


def test_sync_graph_needs_no_event_loop() -> None:
    seen: list[bool] = []

    def node(state: Any) -> None:
        try:
            asyncio.get_running_loop()
            seen.append(True)
        except RuntimeError:
            seen.append(False)

    single(node).invoke({})
    assert seen == [False]


def test_sync_node_returning_coroutine_is_an_error() -> None:
    async def inner() -> dict[str, Any]:
        return {}

    app = single(lambda s: inner())
    with pytest.raises(
        InvalidUpdateError, match=r"node 'node' is a plain function but returned a coroutine"
    ):
        app.invoke({})
    with pytest.raises(
        InvalidUpdateError, match=r"node 'node' is a plain function but returned a coroutine"
    ):
        asyncio.run(app.ainvoke({}))


def mixed_graph() -> Any:
    async def fetch(state: Any) -> dict[str, Any]:
        await asyncio.sleep(0.001)
        return {"log": ["fetch"]}

    g = StateGraph(LogState)
    g.add_node(appender("plan")).add_node("fetch", fetch).add_node(appender("write"))
    g.add_edge(START, "plan").add_edge("plan", "fetch").add_edge("fetch", "write")
    return g.compile()


def test_mixed_sync_async_graph_with_invoke_and_ainvoke() -> None:
    app = mixed_graph()
    expected = {"log": ["plan", "fetch", "write"]}
    assert app.invoke({}) == expected
    assert asyncio.run(app.ainvoke({})) == expected


async def test_invoke_inside_a_running_loop() -> None:
    """As in a Jupyter cell: the loop is running in this thread."""
    app = mixed_graph()
    assert app.invoke({}) == {"log": ["plan", "fetch", "write"]}
    sync_app = StateGraph(LogState).add_node(appender("a")).add_edge(START, "a").compile()
    assert sync_app.invoke({}) == {"log": ["a"]}
    results = await asyncio.gather(*(app.ainvoke({}) for _ in range(20)))
    assert all(r == {"log": ["plan", "fetch", "write"]} for r in results)


def test_invoke_inside_a_running_loop_with_ipykernel_style_loop() -> None:
    async def cell() -> dict[str, Any]:
        return mixed_graph().invoke({})

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(cell()) == {"log": ["plan", "fetch", "write"]}
    finally:
        loop.close()


async def test_async_driver_runs_sync_nodes_off_the_loop() -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def node(state: Any) -> None:
        seen.append(threading.get_ident())

    await single(node).ainvoke({})
    assert seen and seen[0] != loop_thread


async def test_concurrent_async_runs_overlap() -> None:
    async def wait(state: Any) -> dict[str, Any]:
        await asyncio.sleep(0.05)
        return {"n": state["n"] * 2}

    app = single(wait)
    started = time.monotonic()
    results = await asyncio.gather(*(app.ainvoke({"n": i}) for i in range(200)))
    assert [r["n"] for r in results] == [i * 2 for i in range(200)]
    assert time.monotonic() - started < 2.0  # 200 x 50 ms in sequence would be 10 s


def test_a_list_of_retry_policies_uses_the_first_that_matches() -> None:
    errors = [ValueError("a"), KeyError("b"), KeyError("c")]
    calls: list[int] = []

    def node(state: Any) -> dict[str, Any]:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return {"n": len(calls)}

    policies = [
        RetryPolicy(retry_on=ValueError, max_attempts=9, initial_interval=0, jitter=False),
        RetryPolicy(retry_on=KeyError, max_attempts=3, initial_interval=0, jitter=False),
    ]
    # attempts count across policies; the matching one's max_attempts decides
    with pytest.raises(KeyError) as info:
        single(node, retry_policy=policies).invoke({})
    assert len(calls) == 3
    assert info.value.__notes__ == ["wfkit: raised in node 'node', superstep 0, attempt 3 of 3"]
    calls.clear()
    errors[:] = [ValueError("a"), KeyError("b")]
    assert single(node, retry=policies).invoke({}) == {"n": 3, "log": []}


def test_an_error_no_policy_matches_is_not_retried() -> None:
    node, calls = flaky(3, TypeError)
    with pytest.raises(TypeError):
        single(node, retry_policy=[RetryPolicy(retry_on=KeyError, initial_interval=0)]).invoke({})
    assert len(calls) == 1


def test_retry_policy_must_be_a_policy_or_a_list_of_them() -> None:
    with pytest.raises(
        ValueError, match="node 'node': retry_policy must be a RetryPolicy or a list"
    ):
        single(lambda s: None, retry_policy=[FAST, "fast"])
    with pytest.raises(ValueError, match="pass retry or retry_policy, not both"):
        single(lambda s: None, retry=FAST, retry_policy=FAST)
