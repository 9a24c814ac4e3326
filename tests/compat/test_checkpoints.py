"""LangGraph compatibility: checkpoints and history.

Ported from LangGraph's docs (persistence, time travel, human-in-the-loop,
breakpoints) and its tests (``test_pregel.py``, ``test_interruption.py``,
``test_time_travel.py``): the input checkpoint at step -1, step numbers,
checkpoints per durability mode, snapshot fields and metadata,
``update_state`` (``as_node`` for any node, ``START`` and ``END``),
``Command`` as input, breakpoints at run time, ``get_state_history``'s
``limit``/``before``/``filter``, replays and forks.

Every case uses ``InMemorySaver`` (``langgraph.checkpoint.memory``); on the
wfkit side each also runs with the saver replaced by a DuckDB file
(``[duckdb]``), so both stores give what LangGraph gives.
"""

import itertools

from tests.compat.harness import stores

# ----------------------------------------------------------------- checkpoints of a run


@stores
def test_input_checkpoint_at_step_minus_one():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    graph.add_node("a", lambda s: {"log": ["a"]})
    graph.add_node("b", lambda s: {"log": ["b"]})
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    graph.add_edge("b", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"log": ["x"]}, config)
    history = list(app.get_state_history(config))
    first = history[-1]
    assert first.next == ("__start__",)
    assert first.metadata["step"] == -1 and first.metadata["source"] == "input"
    assert first.parent_config is None
    return [(s.metadata["step"], s.metadata["source"], s.next, s.values) for s in history]


@stores
def test_input_checkpoint_task_holds_the_input():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        topic: str

    graph = StateGraph(State)
    graph.add_node("a", lambda s: {"topic": s["topic"] + "!"})
    graph.add_edge(START, "a")
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"topic": "owls"}, config)
    first = list(app.get_state_history(config))[-1]
    (task,) = first.tasks
    return task.name, task.result, first.values


@stores
def test_step_numbers_continue_across_runs():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    graph.add_node("a", lambda s: {"log": ["a"]})
    graph.add_edge(START, "a")
    graph.add_edge("a", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"log": ["x"]}, config)
    app.invoke({"log": ["y"]}, config)
    return [
        (s.metadata["step"], s.metadata["source"], s.next, s.values)
        for s in app.get_state_history(config)
    ]


@stores
def test_durability_sync_stores_every_step():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    for name in ("a", "b", "c"):
        graph.add_node(name, lambda s, name=name: {"log": [name]})
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    graph.add_edge("b", "c")
    graph.add_edge("c", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "sync"}}
    app.invoke({"log": []}, config, durability="sync")
    history = list(app.get_state_history(config))
    assert len(history) == 5
    return [(s.metadata["step"], s.metadata["source"], s.next) for s in history]


@stores
def test_durability_async_stores_every_step():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    for name in ("a", "b", "c"):
        graph.add_node(name, lambda s, name=name: {"log": [name]})
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    graph.add_edge("b", "c")
    graph.add_edge("c", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "async"}}
    app.invoke({"log": []}, config, durability="async")
    history = list(app.get_state_history(config))
    assert len(history) == 5
    return [(s.metadata["step"], s.metadata["source"], s.next) for s in history]


@stores
def test_durability_exit_stores_the_last_checkpoint_only():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    for name in ("a", "b", "c"):
        graph.add_node(name, lambda s, name=name: {"log": [name]})
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    graph.add_edge("b", "c")
    graph.add_edge("c", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "exit"}}
    app.invoke({"log": []}, config, durability="exit")
    app.invoke({"log": ["again"]}, config, durability="exit")
    history = list(app.get_state_history(config))
    assert len(history) == 2
    return [(s.metadata["step"], s.metadata["source"], s.next, s.values) for s in history]


@stores
def test_durability_exit_keeps_an_interrupt_to_resume():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command, interrupt

    class State(TypedDict):
        draft: str
        ok: str

    graph = StateGraph(State)
    graph.add_node("write", lambda s: {"draft": "text"})
    graph.add_node("ask", lambda s: {"ok": interrupt("send?")})
    graph.add_edge(START, "write")
    graph.add_edge("write", "ask")
    graph.add_edge("ask", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    first = app.invoke({"draft": ""}, config, durability="exit")
    paused = app.get_state(config)
    done = app.invoke(Command(resume="yes"), config, durability="exit")
    steps = [(s.metadata["step"], s.next) for s in app.get_state_history(config)]
    return [i.value for i in first["__interrupt__"]], paused.next, done, steps


# ----------------------------------------------------------------- snapshots


@stores
def test_snapshot_config_names_thread_namespace_and_checkpoint():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        n: int

    graph = StateGraph(State)
    graph.add_node("inc", lambda s: {"n": s["n"] + 1})
    graph.add_edge(START, "inc")
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"n": 1}, config)
    snap = app.get_state(config)
    configurable = snap.config["configurable"]
    parent = snap.parent_config["configurable"]
    assert configurable["checkpoint_id"] != parent["checkpoint_id"]
    assert isinstance(configurable["checkpoint_id"], str)
    return (
        sorted(configurable),
        configurable["checkpoint_ns"],
        sorted(parent),
        parent["checkpoint_ns"],
    )


@stores
def test_snapshot_fields():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        n: int

    graph = StateGraph(State)
    graph.add_node("inc", lambda s: {"n": s["n"] + 1})
    graph.add_node("double", lambda s: {"n": s["n"] * 2})
    graph.add_edge(START, "inc")
    graph.add_edge("inc", "double")
    app = graph.compile(checkpointer=InMemorySaver(), interrupt_before=["double"])
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"n": 1}, config)
    snap = app.get_state(config)
    assert isinstance(snap.created_at, str)
    (task,) = snap.tasks
    return (
        snap.values,
        snap.next,
        snap.metadata,
        task.name,
        task.error,
        task.interrupts,
        snap.interrupts,
    )


@stores
def test_metadata_of_every_checkpoint():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        n: int

    graph = StateGraph(State)
    graph.add_node("inc", lambda s: {"n": s["n"] + 1})
    graph.add_edge(START, "inc")
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"n": 1}, config)
    return [s.metadata for s in app.get_state_history(config)]


@stores
def test_get_state_of_a_thread_that_never_ran():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        n: int

    graph = StateGraph(State)
    graph.add_node("inc", lambda s: {"n": s["n"] + 1})
    graph.add_edge(START, "inc")
    app = graph.compile(checkpointer=InMemorySaver())
    snap = app.get_state({"configurable": {"thread_id": "nobody"}})
    return (
        snap.values,
        snap.next,
        snap.tasks,
        list(app.get_state_history({"configurable": {"thread_id": "nobody"}})),
    )


@stores
def test_get_state_of_a_named_checkpoint():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    graph.add_node("a", lambda s: {"log": ["a"]})
    graph.add_node("b", lambda s: {"log": ["b"]})
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"log": []}, config)
    before_b = next(s for s in app.get_state_history(config) if s.next == ("b",))
    snap = app.get_state(before_b.config)
    assert snap.config == before_b.config
    return snap.values, snap.next, snap.metadata, [(t.name, t.result) for t in snap.tasks]


# ----------------------------------------------------------------- get_state_history


@stores
def test_history_limit():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    graph.add_node("a", lambda s: {"log": ["a"]})
    graph.add_node("b", lambda s: {"log": ["b"]})
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"log": []}, config)
    return [s.metadata["step"] for s in app.get_state_history(config, limit=2)]


@stores
def test_history_before():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    graph.add_node("a", lambda s: {"log": ["a"]})
    graph.add_node("b", lambda s: {"log": ["b"]})
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"log": []}, config)
    newest = list(app.get_state_history(config, limit=2))[-1]
    older = app.get_state_history(config, before=newest.config)
    return [s.metadata["step"] for s in older]


@stores
def test_history_filter_on_source_and_step():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    graph.add_node("a", lambda s: {"log": ["a"]})
    graph.add_edge(START, "a")
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"log": []}, config)
    app.invoke({"log": []}, config)
    inputs = [s.metadata["step"] for s in app.get_state_history(config, filter={"source": "input"})]
    step1 = [s.next for s in app.get_state_history(config, filter={"step": 1})]
    both = list(app.get_state_history(config, filter={"source": "loop", "step": 0}))
    return inputs, step1, [s.values for s in both]


@stores
def test_history_parent_configs_chain_the_checkpoints():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    graph.add_node("a", lambda s: {"log": ["a"]})
    graph.add_node("b", lambda s: {"log": ["b"]})
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"log": []}, config)
    history = list(app.get_state_history(config))
    for newer, older in itertools.pairwise(history):
        assert newer.parent_config == older.config
    return len(history), history[-1].parent_config


# ----------------------------------------------------------------- update_state


@stores
def test_update_state_as_node_plans_its_successors():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    for name in ("a", "b", "c"):
        graph.add_node(name, lambda s, name=name: {"log": [name]})
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    graph.add_edge("b", "c")
    graph.add_edge("c", END)
    app = graph.compile(checkpointer=InMemorySaver(), interrupt_before=["b"])
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"log": []}, config)
    before = app.get_state(config)
    new_config = app.update_state(config, {"log": ["by hand"]}, as_node="b")
    after = app.get_state(config)
    assert after.config == app.get_state(new_config).config
    out = app.invoke(None, config)
    return before.next, after.next, after.values, after.metadata, out


@stores
def test_update_state_without_as_node_acts_as_the_last_node():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    for name in ("a", "b", "c"):
        graph.add_node(name, lambda s, name=name: {"log": [name]})
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    graph.add_edge("b", "c")
    graph.add_edge("c", END)
    app = graph.compile(checkpointer=InMemorySaver(), interrupt_after=["a"])
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"log": []}, config)
    app.update_state(config, {"log": ["edited"]})
    paused = app.get_state(config)
    out = app.invoke(None, config)
    return paused.next, paused.values, paused.metadata, out


@stores
def test_update_state_on_a_finished_thread_plans_nothing():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        n: int

    graph = StateGraph(State)
    graph.add_node("a", lambda s: {"n": s["n"] + 1})
    graph.add_node("b", lambda s: {"n": s["n"] * 10})
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    graph.add_edge("b", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"n": 1}, config)
    app.update_state(config, {"n": 5})
    snap = app.get_state(config)
    return snap.values, snap.next, snap.metadata, app.invoke(None, config)


@stores
def test_update_state_as_end_clears_the_planned_tasks():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        n: int

    graph = StateGraph(State)
    graph.add_node("a", lambda s: {"n": s["n"] + 1})
    graph.add_node("b", lambda s: {"n": s["n"] * 10})
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    graph.add_edge("b", END)
    app = graph.compile(checkpointer=InMemorySaver(), interrupt_before=["b"])
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"n": 1}, config)
    app.update_state(config, None, as_node=END)
    snap = app.get_state(config)
    return snap.values, snap.next, snap.metadata, app.invoke(None, config)


@stores
def test_update_state_as_start_acts_as_the_input():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        n: int

    graph = StateGraph(State)
    graph.add_node("a", lambda s: {"n": s["n"] + 1})
    graph.add_edge(START, "a")
    graph.add_edge("a", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"n": 1}, config)
    app.update_state(config, {"n": 10}, as_node=START)
    snap = app.get_state(config)
    return snap.values, snap.next, snap.metadata, app.invoke(None, config)


@stores
def test_update_state_with_a_router_after_the_node():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        n: int

    graph = StateGraph(State)
    graph.add_node("check", lambda s: {})
    graph.add_node("big", lambda s: {"n": -1})
    graph.add_node("small", lambda s: {"n": 0})
    graph.add_edge(START, "check")
    graph.add_conditional_edges(
        "check", lambda s: "big" if s["n"] > 10 else "small", ["big", "small"]
    )
    graph.add_edge("big", END)
    graph.add_edge("small", END)
    app = graph.compile(checkpointer=InMemorySaver(), interrupt_after=["check"])
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"n": 1}, config)
    first = app.get_state(config).next
    app.update_state(config, {"n": 50}, as_node="check")
    return first, app.get_state(config).next, app.invoke(None, config)


# ----------------------------------------------------------------- Command as input, breakpoints


@stores
def test_resume_command_at_a_static_breakpoint():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    for name in ("plan", "act"):
        graph.add_node(name, lambda s, name=name: {"log": [name]})
    graph.add_edge(START, "plan")
    graph.add_edge("plan", "act")
    graph.add_edge("act", END)
    app = graph.compile(checkpointer=InMemorySaver(), interrupt_before=["act"])
    config = {"configurable": {"thread_id": "1"}}
    paused = app.invoke({"log": []}, config)
    out = app.invoke(Command(resume="go"), config)
    return paused, out, app.get_state(config).next


@stores
def test_command_goto_as_input():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    for name in ("a", "b"):
        graph.add_node(name, lambda s, name=name: {"log": [name]})
    graph.add_conditional_edges(START, lambda s: "a", ["a", "b"])
    graph.add_edge("a", END)
    graph.add_edge("b", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"log": []}, config)
    out = app.invoke(Command(goto="b"), config)
    return out, [
        (s.metadata["step"], s.metadata["source"], s.next) for s in app.get_state_history(config)
    ]


@stores
def test_command_update_and_goto_as_input():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command

    class State(TypedDict):
        log: Annotated[list[str], operator.add]
        topic: str

    graph = StateGraph(State)
    for name in ("a", "b"):
        graph.add_node(name, lambda s, name=name: {"log": [f"{name} {s['topic']}"]})
    graph.add_conditional_edges(START, lambda s: "a", ["a", "b"])
    graph.add_edge("a", END)
    graph.add_edge("b", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"log": [], "topic": "owls"}, config)
    out = app.invoke(Command(update={"topic": "bats"}, goto="b"), config)
    return out, app.get_state(config).next


@stores
def test_interrupt_before_given_at_run_time():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    for name in ("a", "b", "c"):
        graph.add_node(name, lambda s, name=name: {"log": [name]})
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    graph.add_edge("b", "c")
    graph.add_edge("c", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    first = app.invoke({"log": []}, config, interrupt_before=["b"])
    paused = app.get_state(config).next
    rest = app.invoke(None, config)
    return first, paused, rest


@stores
def test_interrupt_after_given_at_run_time():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    for name in ("a", "b", "c"):
        graph.add_node(name, lambda s, name=name: {"log": [name]})
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    graph.add_edge("b", "c")
    graph.add_edge("c", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    first = app.invoke({"log": []}, config, interrupt_after=["a"])
    paused = app.get_state(config).next
    second = app.invoke(None, config, interrupt_after=["b"])
    rest = app.invoke(None, config)
    return first, paused, second, rest


@stores
def test_breakpoint_edit_and_continue():
    # the human-in-the-loop docs: stop before a tool, edit the state, go on
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        query: str
        result: str

    graph = StateGraph(State)
    graph.add_node("draft", lambda s: {"query": s["query"].upper()})
    graph.add_node("tool", lambda s: {"result": f"searched {s['query']}"})
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "tool")
    graph.add_edge("tool", END)
    app = graph.compile(checkpointer=InMemorySaver(), interrupt_before=["tool"])
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"query": "owls"}, config)
    app.update_state(config, {"query": "bats"})
    return app.get_state(config).next, app.invoke(None, config)


@stores
def test_dynamic_interrupt_snapshot_and_resume():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command, interrupt

    class State(TypedDict):
        answer: str

    graph = StateGraph(State)
    graph.add_node("ask", lambda s: {"answer": interrupt({"question": "name?"})})
    graph.add_edge(START, "ask")
    graph.add_edge("ask", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    out = app.invoke({"answer": ""}, config)
    snap = app.get_state(config)
    (task,) = snap.tasks
    done = app.invoke(Command(resume="Ada"), config)
    history = [
        (s.metadata["step"], s.metadata["source"], s.next) for s in app.get_state_history(config)
    ]
    return (
        [i.value for i in out["__interrupt__"]],
        snap.next,
        task.name,
        [i.value for i in task.interrupts],
        done,
        history,
    )


# ----------------------------------------------------------------- time travel


@stores
def test_replay_reruns_the_nodes_after_the_checkpoint():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    calls = []

    def node(name):
        def run(state):
            calls.append(name)
            return {"log": [name]}

        return run

    graph = StateGraph(State)
    for name in ("a", "b", "c"):
        graph.add_node(name, node(name))
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    graph.add_edge("b", "c")
    graph.add_edge("c", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"log": []}, config)
    before_b = next(s for s in app.get_state_history(config) if s.next == ("b",))
    calls.clear()
    out = app.invoke(None, before_b.config)
    history = list(app.get_state_history(config))
    newest = history[0]
    return calls, out, len(history), newest.metadata, newest.values


@stores
def test_replay_makes_a_new_branch_and_keeps_the_old_one():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    for name in ("a", "b"):
        graph.add_node(name, lambda s, name=name: {"log": [name]})
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    graph.add_edge("b", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"log": []}, config)
    old = list(app.get_state_history(config))
    before_b = next(s for s in old if s.next == ("b",))
    app.invoke(None, before_b.config)
    new = list(app.get_state_history(config))
    replayed = new[0]
    # the new branch starts with a fork copy of the replayed checkpoint
    fork = new[1]
    assert fork.parent_config == before_b.config
    assert replayed.parent_config == fork.config
    assert all(any(n.config == o.config for n in new) for o in old)
    return len(old), len(new), fork.metadata, fork.next, replayed.metadata, replayed.values


@stores
def test_fork_with_update_state_on_an_old_checkpoint():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        topic: str
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    graph.add_node("research", lambda s: {"log": [f"research {s['topic']}"]})
    graph.add_node("write", lambda s: {"log": [f"write {s['topic']}"]})
    graph.add_edge(START, "research")
    graph.add_edge("research", "write")
    graph.add_edge("write", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"topic": "owls", "log": []}, config)
    before_write = next(s for s in app.get_state_history(config) if s.next == ("write",))
    fork = app.update_state(before_write.config, {"topic": "bats"})
    forked = app.get_state(fork)
    assert forked.parent_config == before_write.config
    out = app.invoke(None, fork)
    unchanged = app.get_state(before_write.config)
    return forked.next, forked.values, forked.metadata, out, unchanged.values


@stores
def test_replay_from_the_input_checkpoint():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    graph.add_node("a", lambda s: {"log": ["a"]})
    graph.add_edge(START, "a")
    graph.add_edge("a", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"log": ["x"]}, config)
    first = list(app.get_state_history(config))[-1]
    out = app.invoke(None, first.config)
    return out, [
        (s.metadata["step"], s.metadata["source"], s.next) for s in app.get_state_history(config)
    ]


@stores
def test_update_state_is_the_result_of_the_task_it_stands_for():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    for name in ("a", "b", "c"):
        graph.add_node(name, lambda s, name=name: {"log": [name]})
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    graph.add_edge("b", "c")
    graph.add_edge("c", END)
    app = graph.compile(checkpointer=InMemorySaver(), interrupt_before=["b"])
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"log": []}, config)
    paused = app.get_state(config)
    app.update_state(config, {"log": ["by hand"]}, as_node="b")
    again = app.get_state(paused.config)
    return [(t.name, t.result) for t in paused.tasks], [(t.name, t.result) for t in again.tasks]


@stores
def test_static_breakpoint_checkpoints():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    for name in ("a", "b"):
        graph.add_node(name, lambda s, name=name: {"log": [name]})
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    graph.add_edge("b", END)
    app = graph.compile(checkpointer=InMemorySaver(), interrupt_after=["a"])
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"log": []}, config)
    paused = [
        (s.metadata["step"], s.metadata["source"], s.next) for s in app.get_state_history(config)
    ]
    app.invoke(None, config)
    done = [
        (s.metadata["step"], s.metadata["source"], s.next) for s in app.get_state_history(config)
    ]
    return paused, done


@stores
async def test_async_state_verbs():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    async def a(state):
        return {"log": ["a"]}

    graph = StateGraph(State)
    graph.add_node("a", a)
    graph.add_edge(START, "a")
    graph.add_edge("a", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    await app.ainvoke({"log": ["x"]}, config)
    snap = await app.aget_state(config)
    steps = [s.metadata["step"] async for s in app.aget_state_history(config)]
    limited = [s.metadata["step"] async for s in app.aget_state_history(config, limit=1)]
    new = await app.aupdate_state(config, {"log": ["u"]}, as_node="a")
    after = await app.aget_state(new)
    return snap.values, steps, limited, after.values, after.metadata


# ported from LangGraph's tests/test_time_travel.py


@stores
def test_replay_from_the_final_checkpoint_is_a_no_op():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        value: Annotated[list[str], operator.add]

    called = []

    def node_a(state):
        called.append("node_a")
        return {"value": ["a"]}

    graph = StateGraph(State).add_node("node_a", node_a).add_edge(START, "node_a")
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"value": []}, config)
    state = app.get_state(config)
    called.clear()
    return app.invoke(None, state.config), called, len(list(app.get_state_history(config)))


@stores
def test_two_forks_from_one_checkpoint_are_independent():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        value: Annotated[list[str], operator.add]

    graph = (
        StateGraph(State)
        .add_node("node_a", lambda s: {"value": ["a"]})
        .add_node("node_b", lambda s: {"value": ["b"]})
        .add_edge(START, "node_a")
        .add_edge("node_a", "node_b")
    )
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"value": []}, config)
    before_b = next(s for s in app.get_state_history(config) if s.next == ("node_b",))
    first = app.invoke(None, app.update_state(before_b.config, {"value": ["fork1"]}))
    second = app.invoke(None, app.update_state(before_b.config, {"value": ["fork2"]}))
    return first, second


@stores
def test_copy_makes_a_sibling_fork():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        value: Annotated[list[str], operator.add]

    graph = (
        StateGraph(State)
        .add_node("node_a", lambda s: {"value": ["a"]})
        .add_node("node_b", lambda s: {"value": ["b"]})
        .add_edge(START, "node_a")
        .add_edge("node_a", "node_b")
    )
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"value": []}, config)
    before_b = next(s for s in app.get_state_history(config) if s.next == ("node_b",))
    copy = app.get_state(app.update_state(before_b.config, None, as_node="__copy__"))
    assert copy.parent_config == before_b.parent_config
    out = app.invoke(None, copy.config)
    return copy.metadata, copy.next, copy.values, out


@stores
def test_update_state_with_none_values_fires_the_interrupt_again():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph
    from langgraph.types import Command, interrupt

    class State(TypedDict):
        value: Annotated[list[str], operator.add]

    def ask_human(state):
        return {"value": [f"human:{interrupt('What is your input?')}"]}

    graph = (
        StateGraph(State)
        .add_node("node_a", lambda s: {"value": ["a"]})
        .add_node("ask_human", ask_human)
        .add_node("node_b", lambda s: {"value": ["b"]})
        .add_edge(START, "node_a")
        .add_edge("node_a", "ask_human")
        .add_edge("ask_human", "node_b")
    )
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"value": []}, config)
    app.invoke(Command(resume="hello"), config)
    before_ask = [s for s in app.get_state_history(config) if s.next == ("ask_human",)][-1]
    fork = app.update_state(before_ask.config, None)
    out = app.invoke(None, fork)
    return [i.value for i in out["__interrupt__"]], out["value"], app.get_state(fork).metadata


@stores
def test_replay_from_before_an_interrupt_fires_it_again_then_resumes():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph
    from langgraph.types import Command, interrupt

    class State(TypedDict):
        value: Annotated[list[str], operator.add]

    calls = {"node_a": 0, "ask_human": 0, "node_b": 0}

    def node(name, fn):
        def run(state):
            calls[name] += 1
            return fn(state)

        return run

    graph = (
        StateGraph(State)
        .add_node("node_a", node("node_a", lambda s: {"value": ["a"]}))
        .add_node(
            "ask_human", node("ask_human", lambda s: {"value": [f"human:{interrupt('input?')}"]})
        )
        .add_node("node_b", node("node_b", lambda s: {"value": ["b"]}))
        .add_edge(START, "node_a")
        .add_edge("node_a", "ask_human")
        .add_edge("ask_human", "node_b")
    )
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"value": []}, config)
    first = app.invoke(Command(resume="hello"), config)
    old = [(s.config, s.values, s.next) for s in app.get_state_history(config)]
    before_ask = [s for s in app.get_state_history(config) if s.next == ("ask_human",)][-1]
    replay = app.invoke(None, before_ask.config)
    again = app.invoke(Command(resume="world"), config)
    for cfg, values, nxt in old:  # the first branch never changes
        snap = app.get_state(cfg)
        assert (snap.values, snap.next) == (values, nxt)
    return first, [i.value for i in replay["__interrupt__"]], replay["value"], again, calls


@stores
def test_checkpoints_stream_mode_shows_every_checkpoint_written():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = StateGraph(State)
    graph.add_node("a", lambda s: {"log": ["a"]})
    graph.add_edge(START, "a")
    graph.add_edge("a", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    first = [
        (c["metadata"], c["next"], c["values"])
        for c in app.stream({"log": ["x"]}, config, stream_mode="checkpoints")
    ]
    debug = [
        (c["type"], c["step"]) for c in app.stream({"log": ["y"]}, config, stream_mode="debug")
    ]
    return first, debug
