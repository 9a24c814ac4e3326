"""The runtime, as LangGraph's runtime/context docs use it: ``Runtime`` and
``context_schema``, ``get_runtime()``, ``get_config()``, a node's ``config``
parameter, and the names users import (savers, errors, constants)."""

from tests.compat.harness import case


@case
def test_runtime_context_from_a_dataclass_schema():
    from dataclasses import dataclass
    from typing import TypedDict

    from langgraph.graph import START, StateGraph
    from langgraph.runtime import Runtime

    @dataclass
    class Context:
        user_id: str

    class State(TypedDict, total=False):
        response: str

    def greet(state: State, runtime: Runtime[Context]) -> State:
        return {"response": f"Hello {runtime.context.user_id}!"}

    graph = (
        StateGraph(State, context_schema=Context)
        .add_node("greet", greet)
        .add_edge(START, "greet")
        .compile()
    )
    return graph.invoke({}, context=Context(user_id="user_123")), graph.invoke(
        {}, context={"user_id": "from a dict"}
    )


@case
def test_get_runtime_inside_a_node():
    from typing import TypedDict

    from langgraph.graph import START, StateGraph
    from langgraph.runtime import get_runtime

    class Context(TypedDict):
        model: str

    class State(TypedDict):
        answer: str

    def node(state: State):
        runtime = get_runtime(Context)
        return {"answer": runtime.context["model"]}

    graph = StateGraph(State, context_schema=Context).add_node(node).add_edge(START, "node")
    return graph.compile().invoke({"answer": ""}, context={"model": "gpt"})


@case
def test_runtime_without_context_is_none():
    from typing import TypedDict

    from langgraph.graph import START, StateGraph
    from langgraph.runtime import Runtime

    class State(TypedDict):
        seen: str

    def node(state: State, runtime: Runtime):
        return {"seen": repr(runtime.context)}

    graph = StateGraph(State).add_node(node).add_edge(START, "node").compile()
    return graph.invoke({"seen": ""})


@case
def test_runtime_stream_writer():
    from typing import TypedDict

    from langgraph.graph import START, StateGraph
    from langgraph.runtime import Runtime

    class State(TypedDict):
        n: int

    def node(state: State, runtime: Runtime):
        runtime.stream_writer({"n": state["n"]})
        return {"n": state["n"] + 1}

    graph = StateGraph(State).add_node(node).add_edge(START, "node").compile()
    return list(graph.stream({"n": 1}, stream_mode=["custom", "updates"]))


@case
def test_config_parameter_sees_configurable():
    from typing import TypedDict

    from langchain_core.runnables import RunnableConfig
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        user: str
        node: str

    def node(state: State, config: RunnableConfig):
        return {
            "user": config["configurable"]["user_id"],
            "node": config["metadata"]["langgraph_node"],
        }

    graph = StateGraph(State).add_node("who", node).add_edge(START, "who").compile()
    return graph.invoke({"user": "", "node": ""}, {"configurable": {"user_id": "ada"}})


@case
def test_get_config_inside_a_node():
    from typing import TypedDict

    from langgraph.config import get_config
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        limit: int
        tag: str

    def node(state: State):
        config = get_config()
        return {"limit": config["recursion_limit"], "tag": config["configurable"]["tag"]}

    graph = StateGraph(State).add_node(node).add_edge(START, "node").compile()
    return graph.invoke(
        {"limit": 0, "tag": ""}, {"configurable": {"tag": "x"}, "recursion_limit": 7}
    )


@case
def test_get_config_outside_a_graph_raises():
    from langgraph.config import get_config

    try:
        get_config()
    except RuntimeError:
        return "RuntimeError"
    return "no error"


@case
def test_router_takes_config_too():
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        path: str

    def route(state: State, config):
        return config["configurable"]["go"]

    g = StateGraph(State)
    g.add_node("left", lambda s: {"path": "left"}).add_node("right", lambda s: {"path": "right"})
    g.add_conditional_edges(START, route, ["left", "right"])
    g.add_edge("left", END).add_edge("right", END)
    return g.compile().invoke({"path": ""}, {"configurable": {"go": "right"}})


@case
def test_in_memory_saver_names():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver, MemorySaver
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        n: int

    g = StateGraph(State).add_node("inc", lambda s: {"n": s["n"] + 1}).add_edge(START, "inc")
    out = []
    for saver in (InMemorySaver(), MemorySaver()):
        app = g.compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "1"}}
        app.invoke({"n": 1}, config)
        out.append(app.get_state(config).values)
    return out


@case
def test_errors_users_catch():
    import operator  # noqa: F401
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.errors import EmptyInputError, GraphRecursionError, InvalidUpdateError
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        x: int

    out = []
    loop = StateGraph(State).add_node("a", lambda s: {"x": s["x"] + 1}).add_edge(START, "a")
    loop.add_edge("a", "a")
    try:
        loop.compile().invoke({"x": 0}, {"recursion_limit": 5})
    except GraphRecursionError as exc:
        out.append(("recursion", isinstance(exc, RecursionError)))

    two = StateGraph(State)
    two.add_node("a", lambda s: {"x": 1}).add_node("b", lambda s: {"x": 2})
    two.add_edge(START, "a").add_edge(START, "b")
    try:
        two.compile().invoke({"x": 0})
    except InvalidUpdateError:
        out.append(("two writers", True))

    app = loop.compile(checkpointer=InMemorySaver())
    try:
        app.invoke(None, {"configurable": {"thread_id": "fresh"}})
    except EmptyInputError:
        out.append(("empty input", True))
    try:
        loop.compile().invoke(None)
    except EmptyInputError:
        out.append(("empty input, no saver", True))
    return out


@case
def test_graph_interrupt_is_a_bubble_up():
    from langgraph.errors import GraphBubbleUp, GraphInterrupt

    return issubclass(GraphInterrupt, GraphBubbleUp)


@case
def test_node_interrupt_pauses_the_run():
    import warnings
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.errors import NodeInterrupt
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        x: int

    def guard(state: State):
        if state["x"] > 5:
            raise NodeInterrupt(f"x is too big: {state['x']}")
        return {"x": state["x"]}

    graph = StateGraph(State).add_node(guard).add_edge(START, "guard")
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app.invoke({"x": 10}, config)
    snapshot = app.get_state(config)
    return snapshot.next, [i.value for t in snapshot.tasks for i in t.interrupts]


@case
def test_constants_module():
    from langgraph.constants import END, START, TAG_HIDDEN, TAG_NOSTREAM

    return START, END, TAG_NOSTREAM, TAG_HIDDEN


@case
def test_remaining_steps_managed_value():
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph
    from langgraph.managed import IsLastStep, RemainingSteps

    class State(TypedDict):
        x: int
        remaining_steps: RemainingSteps
        last: IsLastStep

    seen = []

    def agent(state: State):
        seen.append((state["remaining_steps"], state["last"], sorted(state)))
        return {"x": state["x"] + 1}

    def route(state: State):
        return END if state["remaining_steps"] <= 2 else "agent"

    g = StateGraph(State).add_node(agent).add_edge(START, "agent")
    g.add_conditional_edges("agent", route, ["agent", END])
    out = g.compile().invoke({"x": 0}, {"recursion_limit": 6})
    values = list(g.compile().stream({"x": 0}, {"recursion_limit": 4}, stream_mode="values"))
    return out, seen, values


@case
def test_remaining_steps_given_in_the_input_is_ignored():
    from typing import TypedDict

    from langgraph.graph import START, StateGraph
    from langgraph.managed import RemainingSteps

    class State(TypedDict):
        x: int
        remaining_steps: RemainingSteps

    def node(state: State):
        return {"x": state["remaining_steps"]}

    graph = StateGraph(State).add_node(node).add_edge(START, "node").compile()
    return graph.invoke({"x": 0, "remaining_steps": 3}, {"recursion_limit": 10})
