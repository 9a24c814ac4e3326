"""LangGraph compatibility: the functional API (``langgraph.func``).

Ported from LangGraph's functional-API docs (use the functional API,
durable execution, human-in-the-loop, persistence) and its tests
(``test_pregel.py``'s entrypoint cases): parallel tasks, interrupts and
resuming without re-running finished tasks, ``entrypoint.final`` and
``previous``, the stream modes, ``get_state`` and history, async
entrypoints, retries and caches. Interrupts are compared by their values
(each library has its own ids).

The checkpointed cases also run on the wfkit side with ``InMemorySaver``
made a DuckDB file (``[duckdb]``).
"""

import asyncio
import functools
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from tests.compat.harness import case, ported


def stores(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A compat case, plus a wfkit-side run with ``InMemorySaver`` made a DuckDB file."""
    test = case(fn)

    @functools.wraps(fn)
    def on_duckdb(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        import wfkit.checkpoint.memory as memory
        from wfkit.checkpoint.duckdb import DuckDBCheckpointer

        opened: list[DuckDBCheckpointer] = []

        def saver(**kwargs: Any) -> DuckDBCheckpointer:
            opened.append(DuckDBCheckpointer(tmp_path / f"s{len(opened)}.duckdb", **kwargs))
            return opened[-1]

        monkeypatch.setattr(memory, "InMemorySaver", saver)
        try:
            result = ported(fn)()
            if inspect.iscoroutine(result):
                asyncio.run(result)
        finally:
            for store in opened:
                store.close()

    del on_duckdb.__wrapped__
    on_duckdb.__name__ = fn.__name__ + "_duckdb"
    globals()[on_duckdb.__name__] = on_duckdb
    return test


def _plain(value: Any) -> Any:
    """An output with its interrupts reduced to their values."""
    if isinstance(value, dict) and "__interrupt__" in value:
        return {**value, "__interrupt__": [i.value for i in value["__interrupt__"]]}
    return value


# ----------------------------------------------------------------- tasks and futures
@case
def test_tasks_return_futures_and_run_in_parallel():
    import time

    from langgraph.func import entrypoint, task

    @task
    def slow_square(x: int) -> int:
        time.sleep(0.2)
        return x * x

    @entrypoint()
    def squares(numbers: list[int]) -> list[int]:
        futures = [slow_square(n) for n in numbers]
        return [f.result() for f in futures]

    started = time.perf_counter()
    out = squares.invoke([1, 2, 3, 4])
    assert time.perf_counter() - started < 0.7
    return out


@case
def test_tasks_chain_and_the_updates_stream_shows_each():
    from langgraph.func import entrypoint, task

    @task
    def add_one(x: int) -> int:
        return x + 1

    @task
    def double(x: int) -> int:
        return x * 2

    @entrypoint()
    def wf(n: int) -> int:
        return double(add_one(n).result()).result()

    return wf.invoke(3), list(wf.stream(3))


@case
def test_an_entrypoint_takes_a_dict_for_several_inputs():
    from langgraph.func import entrypoint, task

    @task
    def join(a: str, b: str, sep: str = " ") -> str:
        return f"{a}{sep}{b}"

    @entrypoint()
    def wf(inputs: dict) -> str:
        return join(inputs["a"], inputs["b"], sep="-").result()

    return wf.invoke({"a": "x", "b": "y"})


@case
def test_a_task_error_is_raised_by_result_and_an_unawaited_one_is_ignored():
    from langgraph.func import entrypoint, task

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

    try:
        raised.invoke(2)
        failure = None
    except ValueError as exc:
        failure = str(exc)
    return caught.invoke(1), ignored.invoke(1), failure


@case
def test_a_retry_policy_retries_a_task():
    from langgraph.func import entrypoint, task
    from langgraph.types import RetryPolicy

    attempts = []

    @task(retry_policy=RetryPolicy(max_attempts=3, initial_interval=0.01, retry_on=ValueError))
    def flaky(x: int) -> int:
        attempts.append(x)
        if len(attempts) < 3:
            raise ValueError("not yet")
        return x * 10

    @entrypoint()
    def wf(n: int) -> int:
        return flaky(n).result()

    return wf.invoke(4), attempts


@case
def test_a_cache_policy_keeps_a_task_result():
    from langgraph.cache.memory import InMemoryCache
    from langgraph.func import entrypoint, task
    from langgraph.types import CachePolicy

    calls = []

    @task(cache_policy=CachePolicy(ttl=120))
    def costly(x: int) -> int:
        calls.append(x)
        return x * 3

    @entrypoint(cache=InMemoryCache())
    def wf(n: int) -> int:
        return costly(n).result()

    return [wf.invoke(2), wf.invoke(2), wf.invoke(5)], calls


@case
async def test_an_async_entrypoint_gathers_async_tasks():
    import asyncio
    import time

    from langgraph.func import entrypoint, task

    @task
    async def fetch(x: int) -> int:
        await asyncio.sleep(0.2)
        return x + 100

    @entrypoint()
    async def wf(xs: list[int]) -> list[int]:
        first = await fetch(xs[0])
        rest = await asyncio.gather(*[fetch(x) for x in xs[1:]])
        return [first, *rest]

    started = time.perf_counter()
    out = await wf.ainvoke([1, 2, 3, 4])
    assert time.perf_counter() - started < 0.7
    chunks = [c async for c in wf.astream([5, 6], stream_mode="values")]
    return out, chunks


@case
def test_batch_runs_an_entrypoint_per_input():
    from langgraph.func import entrypoint, task

    @task
    def shout(s: str) -> str:
        return s.upper()

    @entrypoint()
    def wf(s: str) -> str:
        return shout(s).result() + "!"

    return wf.batch(["a", "b", "c"])


# ----------------------------------------------------------------- interrupts
@stores
def test_resuming_does_not_rerun_finished_tasks():
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.func import entrypoint, task
    from langgraph.types import Command, interrupt

    calls = []

    @task
    def compose_essay(topic: str) -> str:
        calls.append(topic)
        return f"An essay about {topic}"

    @entrypoint(checkpointer=InMemorySaver())
    def review(topic: str) -> dict:
        essay = compose_essay(topic).result()
        verdict = interrupt({"question": "Please review", "essay": essay})
        return {"essay": essay, "review": verdict}

    config = {"configurable": {"thread_id": "1"}}
    paused = _plain(review.invoke("cats", config))
    state = review.get_state(config)
    pending = (state.values, state.next, [i.value for i in state.interrupts])
    done = review.invoke(Command(resume="great"), config)
    assert calls == ["cats"]
    return paused, pending, done, calls


@stores
def test_an_interrupt_inside_a_task_pauses_the_entrypoint():
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.func import entrypoint, task
    from langgraph.types import Command, interrupt

    calls = []

    @task
    def plain(x: int) -> int:
        calls.append(("plain", x))
        return x

    @task
    def ask(x: int) -> str:
        calls.append(("ask", x))
        return f"{x}:{interrupt({'need': x})}"

    @entrypoint(checkpointer=InMemorySaver())
    def wf(n: int) -> list:
        p = plain(n)
        answer = ask(n).result()
        return [p.result(), answer]

    config = {"configurable": {"thread_id": "1"}}
    paused = _plain(wf.invoke(1, config))
    state = wf.get_state(config)
    done = wf.invoke(Command(resume="A"), config)
    return paused, state.next, [i.value for i in state.interrupts], done, calls


@stores
def test_interrupts_in_turn_are_answered_in_turn():
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.func import entrypoint
    from langgraph.types import Command, interrupt

    @entrypoint(checkpointer=InMemorySaver())
    def wf(n: int) -> int:
        a = interrupt("first")
        b = interrupt("second")
        return n + a + b

    config = {"configurable": {"thread_id": "1"}}
    return [
        _plain(wf.invoke(1, config)),
        _plain(wf.invoke(Command(resume=10), config)),
        wf.invoke(Command(resume=100), config),
    ]


@stores
def test_a_failed_run_continues_from_its_checkpoint():
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.func import entrypoint, task

    calls = []
    down = [True]

    @task
    def first(x: int) -> int:
        calls.append("first")
        return x + 1

    @task
    def second(x: int) -> int:
        calls.append("second")
        if down[0]:
            raise ConnectionError("service down")
        return x * 2

    @entrypoint(checkpointer=InMemorySaver())
    def wf(n: int) -> int:
        return second(first(n).result()).result()

    config = {"configurable": {"thread_id": "1"}}
    try:
        wf.invoke(1, config)
    except ConnectionError as exc:
        failure = str(exc)
    down[0] = False
    return failure, wf.invoke(None, config), calls


# ----------------------------------------------------------------- state across runs
@stores
def test_previous_is_the_last_return_value_of_the_thread():
    from typing import Any

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.func import entrypoint

    @entrypoint(checkpointer=InMemorySaver())
    def accumulate(n: int, *, previous: Any = None) -> int:
        return n + (previous or 0)

    config = {"configurable": {"thread_id": "1"}}
    other = {"configurable": {"thread_id": "2"}}
    return [
        accumulate.invoke(1, config),
        accumulate.invoke(2, config),
        accumulate.invoke(3, other),
        accumulate.invoke(4, config),
    ]


@stores
def test_final_returns_one_value_and_saves_another():
    from typing import Any

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.func import entrypoint

    @entrypoint(checkpointer=InMemorySaver())
    def my_workflow(number: int, *, previous: Any = None) -> entrypoint.final[int, int]:
        previous = previous or 0
        return entrypoint.final(value=previous, save=2 * number)

    config = {"configurable": {"thread_id": "1"}}
    outs = [my_workflow.invoke(3, config), my_workflow.invoke(1, config)]
    return outs, my_workflow.get_state(config).values


@stores
def test_get_state_and_history_of_a_thread():
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.func import entrypoint, task

    @task
    def add_one(x: int) -> int:
        return x + 1

    @entrypoint(checkpointer=InMemorySaver())
    def wf(n: int) -> dict:
        return {"n": add_one(n).result()}

    config = {"configurable": {"thread_id": "1"}}
    wf.invoke(1, config)
    wf.invoke(5, config)
    state = wf.get_state(config)
    history = [
        (
            s.metadata["step"],
            s.metadata["source"],
            s.next,
            s.values,
            [(t.name, t.result) for t in s.tasks],
            s.parent_config is None,
        )
        for s in wf.get_state_history(config)
    ]
    return state.values, state.next, state.metadata["step"], history


@stores
def test_update_state_stores_a_value_for_the_next_run():
    from typing import Any

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.func import entrypoint

    @entrypoint(checkpointer=InMemorySaver())
    def wf(n: int, *, previous: Any = None) -> int:
        return n + (previous or 0)

    config = {"configurable": {"thread_id": "1"}}
    wf.invoke(1, config)
    wf.update_state(config, 40)
    state = wf.get_state(config)
    return state.values, state.metadata["source"], state.metadata["step"], wf.invoke(2, config)


@stores
def test_replaying_the_input_checkpoint_runs_the_tasks_again():
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.func import entrypoint, task

    calls = []

    @task
    def add_one(x: int) -> int:
        calls.append(x)
        return x + 1

    @entrypoint(checkpointer=InMemorySaver())
    def wf(n: int) -> int:
        return add_one(n).result()

    config = {"configurable": {"thread_id": "1"}}
    wf.invoke(1, config)
    first = list(wf.get_state_history(config))[-1]
    again = wf.invoke(None, first.config)
    history = [
        (s.metadata["step"], s.metadata["source"], s.next, s.values)
        for s in wf.get_state_history(config)
    ]
    return again, calls, history


# ----------------------------------------------------------------- streams
@stores
def test_stream_modes_of_a_paused_and_resumed_entrypoint():
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.config import get_stream_writer
    from langgraph.func import entrypoint, task
    from langgraph.types import Command, interrupt

    @task
    def step(x: int) -> int:
        get_stream_writer()({"step": x})
        return x * 10

    @entrypoint(checkpointer=InMemorySaver())
    def wf(n: int, *, writer) -> dict:
        writer(("entry", n))
        first = step(n).result()
        second = step(first).result()
        ok = interrupt("ok?")
        return {"total": first + second, "ok": ok}

    config = {"configurable": {"thread_id": "1"}}
    modes = ["updates", "custom", "values"]

    def shown(chunks):
        out = []
        for mode, chunk in chunks:
            if isinstance(chunk, dict) and "__interrupt__" in chunk:
                chunk = _plain(chunk)
            out.append((mode, chunk))
        return out

    first_run = shown(wf.stream(1, config, stream_mode=modes))
    resumed = shown(wf.stream(Command(resume="yes"), config, stream_mode=modes))
    values = [_plain(c) for c in wf.stream(3, config, stream_mode="values")]
    return first_run, resumed, values


@stores
def test_the_checkpoints_and_tasks_streams():
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.func import entrypoint, task

    @task
    def add_one(x: int) -> int:
        return x + 1

    @entrypoint(checkpointer=InMemorySaver())
    def wf(n: int) -> int:
        return add_one(add_one(n).result()).result()

    config = {"configurable": {"thread_id": "1"}}
    checkpoints = [
        (c["metadata"]["source"], c["metadata"]["step"], c["next"], c["values"])
        for c in wf.stream(1, config, stream_mode="checkpoints")
    ]
    tasks = [
        (c["name"], c.get("input"), c.get("triggers"), c.get("result"))
        for c in wf.stream(1, {"configurable": {"thread_id": "2"}}, stream_mode="tasks")
    ]
    return checkpoints, tasks


@case
def test_config_and_the_writer_are_given_to_the_entrypoint():
    from langgraph.func import entrypoint

    @entrypoint()
    def wf(x: int, *, config, writer) -> str:
        writer({"progress": 0.5})
        return f"{x}:{config['configurable']['user']}"

    return list(wf.stream(7, {"configurable": {"user": "ada"}}, stream_mode=["custom", "updates"]))


@case
def test_a_task_called_in_a_graph_node():
    from typing import TypedDict

    from langgraph.func import task
    from langgraph.graph import START, StateGraph

    @task
    def add_one(x: int) -> int:
        return x + 1

    class State(TypedDict):
        n: int

    def node(state: State) -> dict:
        return {"n": add_one(state["n"]).result()}

    app = StateGraph(State).add_node("node", node).add_edge(START, "node").compile()
    return app.invoke({"n": 1})
