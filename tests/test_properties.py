"""Property: any graph reaches the same final state under the sync driver,
the async driver and a small reference interpreter written for this test.

Random graphs are DAGs over n0..nk with static edges, joins, routers (one
target, several, END, or a Send fan-out to ``worker``), sync and async
nodes, and reducer keys. Each node records what it saw (``total`` adds the
length of the log it was given), so a driver that leaked writes between
tasks of one superstep, or applied them out of order, would disagree.
"""

from __future__ import annotations

import asyncio
import operator
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfkit import END, START, Send, StateGraph
from wfkit.checkpoint import MemoryCheckpointer
from wfkit.checkpoint.serde import Serde
from wfkit.engine.interpret import route_sync, run_task
from wfkit.engine.loop import Route
from wfkit.engine.runs import Stepping
from wfkit.types import TaskStatus


class S(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    total: Annotated[int, operator.add]


@dataclass
class Spec:
    n: int
    is_async: list[bool]
    edges: list[tuple[int, int]]  # -1 is START
    joins: list[tuple[tuple[int, ...], int]]
    routers: dict[int, tuple[str, list[int]]] = field(
        default_factory=dict
    )  # src -> (mode, targets); -2 = END


def body(name: str, state: Any) -> dict[str, Any]:
    return {"log": [name], "total": len(state["log"])}


def make_node(name: str, is_async: bool) -> Any:
    if is_async:

        async def anode(state: Any) -> dict[str, Any]:
            await asyncio.sleep(0)
            return body(name, state)

        return anode
    return lambda state: body(name, state)


def worker(arg: int) -> dict[str, Any]:
    return {"log": [f"w{arg}"]}


def router_value(mode: str, targets: list[int], state: Any) -> Any:
    k = len(state["log"])
    names = [END if t == -2 else f"n{t}" for t in targets]
    if mode == "one":
        return names[k % len(names)]
    if mode == "all":
        return names
    return [Send("worker", k * 10 + i) for i in range(1 + k % 3)]


def build(spec: Spec, checkpointer: Any = None) -> Any:
    g = StateGraph(S)
    for i in range(spec.n):
        g.add_node(f"n{i}", make_node(f"n{i}", spec.is_async[i]))
    if any(mode == "send" for mode, _ in spec.routers.values()):
        g.add_node("worker", worker)
    for a, b in spec.edges:
        g.add_edge(START if a == -1 else f"n{a}", f"n{b}")
    for sources, target in spec.joins:
        g.add_edge([f"n{s}" for s in sources], f"n{target}")
    for src, (mode, targets) in spec.routers.items():
        names = [END if t == -2 else f"n{t}" for t in targets]
        if mode == "send":
            names.append("worker")  # declares where its Sends go
        g.add_conditional_edges(
            START if src == -1 else f"n{src}",
            lambda state, mode=mode, targets=targets: router_value(mode, targets, state),
            names,
        )
    return g.compile(checkpointer=checkpointer)


def reference(spec: Spec, start: dict[str, Any]) -> dict[str, Any]:
    """The documented semantics, written as plainly as possible."""
    state: dict[str, Any] = {"log": list(start.get("log", [])), "total": start.get("total", 0)}
    join_seen: list[set[int]] = [set() for _ in spec.joins]

    def call(task: tuple[str, Any], snapshot: dict[str, Any]) -> dict[str, Any]:
        kind, value = task
        if kind == "send":
            return worker(value)
        fn = make_node(f"n{value}", spec.is_async[value])
        out = fn(snapshot)
        return asyncio.run(out) if asyncio.iscoroutine(out) else out

    def triggered(
        src: int, snapshot: dict[str, Any]
    ) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
        static = [("node", b) for a, b in spec.edges if a == src]
        routed: list[tuple[str, Any]] = []
        if src in spec.routers:
            mode, targets = spec.routers[src]
            value = router_value(mode, targets, snapshot)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, Send):
                    routed.append(("send", item.arg))
                elif item != END:
                    routed.append(("node", int(item[1:])))
        return static, routed

    static, routed = triggered(-1, state)
    planned = static + routed
    steps = 0
    while planned:
        steps += 1
        tasks: list[tuple[str, Any]] = []
        for t in planned:
            if t[0] == "send" or t not in tasks:
                tasks.append(t)
        updates = [call(t, state) for t in tasks]
        new = {"log": list(state["log"]), "total": state["total"]}
        for u in updates:
            new["log"] += u.get("log", [])
            new["total"] += u.get("total", 0)
        state = new
        statics: list[tuple[str, Any]] = []
        routes: list[tuple[str, Any]] = []
        for kind, value in tasks:
            if kind == "send":
                continue
            s, r = triggered(value, state)
            statics += s
            for j, (sources, target) in enumerate(spec.joins):
                if value in sources:
                    join_seen[j].add(value)
                    if join_seen[j] >= set(sources):
                        join_seen[j].clear()
                        statics.append(("node", target))
            routes += r
        planned = statics + routes
    return state


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    n = draw(st.integers(2, 7))
    is_async = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    edges = [(-1, 0)]
    for b in range(1, n):
        preds = draw(st.lists(st.integers(-1, b - 1), min_size=1, max_size=2, unique=True))
        edges += [(a, b) for a in preds]
    joins = []
    for target in range(2, n):
        if draw(st.booleans()):
            sources = draw(
                st.lists(st.integers(0, target - 1), min_size=2, max_size=3, unique=True)
            )
            joins.append((tuple(sorted(sources)), target))
    routers: dict[int, tuple[str, list[int]]] = {}
    for src in range(-1, n - 1):
        if draw(st.integers(0, 3)) == 0:
            mode = draw(st.sampled_from(["one", "all", "send"]))
            targets = draw(
                st.lists(
                    st.integers(max(src + 1, 0), n - 1) | st.just(-2),
                    min_size=1,
                    max_size=3,
                    unique=True,
                )
            )
            routers[src] = (mode, targets)
    return Spec(n, is_async, edges, joins, routers)


def one_by_one(app: Any, start: dict[str, Any]) -> dict[str, Any]:
    """A third interpreter of the effect loop, as a debugger or a remote
    executor would be: each task on its own, last task first."""
    run = app._open(Stepping, start, None, {})
    flow = run.step_flow(-1)
    try:
        effect = next(flow)
        while True:
            if type(effect) is list:
                for task in reversed(effect):
                    if task.status is TaskStatus.PENDING:
                        run_task(task, run.config)
            elif type(effect) is Route:
                route_sync(effect, run.config)
            effect = next(flow)
    except StopIteration:
        pass
    return run.output()  # type: ignore[no-any-return]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs(), seed_log=st.lists(st.sampled_from(["x", "y"]), max_size=3))
def test_sync_async_and_reference_agree(spec: Spec, seed_log: list[str]) -> None:
    app = build(spec)
    start = {"log": seed_log}
    expected = reference(spec, start)
    assert app.invoke(start) == expected
    assert asyncio.run(app.ainvoke(start)) == expected
    assert one_by_one(app, start) == expected
    run = app.iter(start)
    for _ in run:
        pass
    assert run.output() == expected
    durable = build(spec, checkpointer=MemoryCheckpointer())
    assert durable.invoke(start, thread="t") == expected
    assert durable.get_state({"configurable": {"thread_id": "t"}}).values == expected


json_leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(
    json_leaves | st.binary() | st.tuples(st.integers(), st.text()) | st.frozensets(st.integers()),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text() | st.integers(), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(value=values)
def test_stored_values_round_trip(value: Any) -> None:
    serde = Serde()
    assert serde.loads(serde.dumps(value)) == value
