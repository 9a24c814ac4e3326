"""Streaming, as LangGraph's streaming how-to and its tests use it: the
default mode, each mode's chunks, lists of modes, subgraphs, custom writes,
chat model tokens and where ``__interrupt__`` appears."""

from typing import Any

from tests.compat.harness import case


def _strip_ids(chunks: list[Any]) -> list[Any]:
    """Namespaces without task ids (each library has its own ids)."""
    out = []
    for c in chunks:
        if isinstance(c, tuple) and c and isinstance(c[0], tuple):
            c = (tuple(part.split(":")[0] for part in c[0]), *c[1:])
        out.append(c)
    return out


@case
def test_stream_defaults_to_updates():
    from typing import TypedDict

    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        topic: str
        joke: str

    def refine_topic(state: State):
        return {"topic": state["topic"] + " and cats"}

    def generate_joke(state: State):
        return {"joke": f"This is a joke about {state['topic']}"}

    graph = (
        StateGraph(State)
        .add_node(refine_topic)
        .add_node(generate_joke)
        .add_edge(START, "refine_topic")
        .add_edge("refine_topic", "generate_joke")
        .compile()
    )
    return list(graph.stream({"topic": "ice cream"}))


@case
def test_stream_values_starts_with_the_input():
    from typing import TypedDict

    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        topic: str
        joke: str

    graph = (
        StateGraph(State)
        .add_node("refine", lambda s: {"topic": s["topic"] + "!"})
        .add_node("joke", lambda s: {"joke": "ha " + s["topic"]})
        .add_edge(START, "refine")
        .add_edge("refine", "joke")
        .compile()
    )
    return list(graph.stream({"topic": "ice cream"}, stream_mode="values"))


@case
def test_stream_several_modes_gives_pairs():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    graph = (
        StateGraph(State)
        .add_node("a", lambda s: {"log": ["a"]})
        .add_node("b", lambda s: {"log": ["b"]})
        .add_edge(START, "a")
        .add_edge("a", "b")
        .compile()
    )
    return list(graph.stream({"log": []}, stream_mode=["updates", "values"]))


@case
def test_stream_parallel_updates_one_chunk_per_node():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    g = StateGraph(State)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_node("c", lambda s: {"log": ["c"]})
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("a", "c")
    return list(g.compile().stream({"log": []}))


@case
def test_custom_mode_with_get_stream_writer():
    from typing import TypedDict

    from langgraph.config import get_stream_writer
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        query: str
        answer: str

    def node(state: State):
        writer = get_stream_writer()
        writer({"custom_key": "Generating custom data inside node"})
        return {"answer": "some data"}

    graph = StateGraph(State).add_node(node).add_edge(START, "node").compile()
    return list(graph.stream({"query": "example"}, stream_mode="custom"))


@case
def test_custom_mode_with_a_writer_parameter():
    from typing import TypedDict

    from langgraph.graph import START, StateGraph
    from langgraph.types import StreamWriter

    class State(TypedDict):
        n: int

    def count(state: State, writer: StreamWriter):
        for i in range(state["n"]):
            writer({"progress": i})
        return {"n": 0}

    graph = StateGraph(State).add_node(count).add_edge(START, "count").compile()
    return list(graph.stream({"n": 3}, stream_mode=["custom", "updates"]))


@case
def test_writer_is_a_no_op_when_custom_is_not_streamed():
    from typing import TypedDict

    from langgraph.config import get_stream_writer
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        n: int

    def node(state: State):
        get_stream_writer()("ignored")
        return {"n": state["n"] + 1}

    graph = StateGraph(State).add_node(node).add_edge(START, "node").compile()
    return list(graph.stream({"n": 1}, stream_mode="values")), graph.invoke({"n": 1})


@case
def test_async_custom_mode():
    from typing import TypedDict

    from langgraph.config import get_stream_writer
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        n: int

    async def node(state: State):
        get_stream_writer()({"async": True})
        return {"n": 2}

    graph = StateGraph(State).add_node(node).add_edge(START, "node").compile()

    async def main():
        return [c async for c in graph.astream({"n": 1}, stream_mode=["custom", "values"])]

    import asyncio

    return asyncio.run(main())


@case
def test_subgraphs_true_namespaces_chunks():
    from typing import TypedDict

    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        foo: str

    def subgraph_node_1(state: State):
        return {"foo": state["foo"] + "bar"}

    sub = StateGraph(State).add_node(subgraph_node_1).add_edge(START, "subgraph_node_1").compile()

    def node_1(state: State):
        return {"foo": "hi! " + state["foo"]}

    graph = (
        StateGraph(State)
        .add_node("node_1", node_1)
        .add_node("node_2", sub)
        .add_edge(START, "node_1")
        .add_edge("node_1", "node_2")
        .compile()
    )
    chunks = list(graph.stream({"foo": "foo"}, subgraphs=True))
    out = []
    for ns, chunk in chunks:
        out.append((tuple(p.split(":")[0] for p in ns), chunk))
    return out


@case
def test_subgraphs_false_hides_subgraph_chunks():
    from typing import TypedDict

    from langgraph.config import get_stream_writer
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        foo: str

    def inner(state: State):
        get_stream_writer()("from inside")
        return {"foo": state["foo"] + "bar"}

    sub = StateGraph(State).add_node(inner).add_edge(START, "inner").compile()
    graph = StateGraph(State).add_node("sub", sub).add_edge(START, "sub").compile()
    return list(graph.stream({"foo": "x"}, stream_mode=["custom", "updates", "values"]))


@case
def test_subgraphs_with_several_modes_and_custom():
    from typing import TypedDict

    from langgraph.graph import START, StateGraph
    from langgraph.types import StreamWriter

    class State(TypedDict):
        x: int

    def inner_a(state: State, writer: StreamWriter):
        writer({"in": state["x"]})
        return {"x": state["x"] + 1}

    inner = StateGraph(State).add_node(inner_a).add_edge(START, "inner_a").compile()

    def outer_a(state: State):
        return {"x": state["x"] * 10}

    g = StateGraph(State)
    g.add_node(outer_a).add_node("sub", inner)
    g.add_edge(START, "outer_a").add_edge("outer_a", "sub")
    chunks = g.compile().stream(
        {"x": 1}, stream_mode=["updates", "values", "custom"], subgraphs=True
    )
    return _strip_ids(list(chunks))


@case
def test_a_graph_invoked_inside_a_node_streams_as_a_subgraph():
    from typing import TypedDict

    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        x: int

    inner = (
        StateGraph(State)
        .add_node("double", lambda s: {"x": s["x"] * 2})
        .add_edge(START, "double")
        .compile()
    )

    def calls_inner(state: State):
        return inner.invoke(state)

    graph = StateGraph(State).add_node(calls_inner).add_edge(START, "calls_inner").compile()
    return _strip_ids(list(graph.stream({"x": 3}, subgraphs=True)))


@case
def test_interrupt_chunk_in_updates_and_values():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph
    from langgraph.types import Command, interrupt

    class State(TypedDict):
        x: int

    def ask(state: State):
        answer = interrupt("how much?")
        return {"x": state["x"] + answer}

    g = StateGraph(State)
    g.add_node("first", lambda s: {"x": s["x"] + 1}).add_node(ask)
    g.add_edge(START, "first").add_edge("first", "ask")
    graph = g.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    out = []
    for mode, chunk in graph.stream({"x": 1}, config, stream_mode=["updates", "values"]):
        if "__interrupt__" in chunk:
            chunk = {**chunk, "__interrupt__": [i.value for i in chunk["__interrupt__"]]}
        out.append((mode, chunk))
    resumed = list(graph.stream(Command(resume=10), config, stream_mode=["updates", "values"]))
    return out, resumed


@case
def test_interrupt_before_gives_an_empty_interrupt_chunk():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        x: int

    g = StateGraph(State)
    g.add_node("a", lambda s: {"x": s["x"] + 1}).add_node("b", lambda s: {"x": s["x"] * 2})
    g.add_edge(START, "a").add_edge("a", "b")
    graph = g.compile(checkpointer=InMemorySaver(), interrupt_before=["b"])
    config = {"configurable": {"thread_id": "t"}}
    first = list(graph.stream({"x": 1}, config))
    values = list(graph.stream(None, config, stream_mode="values"))
    return first, values


@case
def test_interrupt_after_with_values_and_updates():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        x: int

    g = StateGraph(State)
    g.add_node("a", lambda s: {"x": s["x"] + 1}).add_node("b", lambda s: {"x": s["x"] * 2})
    g.add_edge(START, "a").add_edge("a", "b")
    graph = g.compile(checkpointer=InMemorySaver(), interrupt_after=["a"])
    config = {"configurable": {"thread_id": "t"}}
    return list(graph.stream({"x": 1}, config, stream_mode=["values", "updates"]))


@case
def test_tasks_mode_payloads():
    from typing import TypedDict

    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        x: int

    g = StateGraph(State)
    g.add_node("a", lambda s: {"x": s["x"] + 1}).add_edge(START, "a")
    chunks = list(g.compile().stream({"x": 1}, stream_mode="tasks"))
    return [{k: v for k, v in c.items() if k != "id"} for c in chunks]


@case
def test_messages_mode_streams_tokens_of_a_chat_model():
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, HumanMessage
    from langgraph.graph import START, MessagesState, StateGraph

    model = GenericFakeChatModel(messages=iter([AIMessage(content="hello big world", id="m1")]))

    def call_model(state: MessagesState):
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState).add_node(call_model).add_edge(START, "call_model").compile()
    out = []
    for token, metadata in graph.stream(
        {"messages": [HumanMessage("hi", id="h1")]}, stream_mode="messages"
    ):
        out.append((type(token).__name__, token.content, token.id, metadata["langgraph_node"]))
    return out


@case
def test_messages_mode_emits_messages_nodes_return():
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, HumanMessage
    from langgraph.graph import START, MessagesState, StateGraph

    model = GenericFakeChatModel(messages=iter([AIMessage(content="a b", id="m1")]))

    def call_model(state: MessagesState):
        return {"messages": [model.invoke(state["messages"])]}

    def static(state: MessagesState):
        return {"messages": [AIMessage(content="done", id="s1")]}

    g = StateGraph(MessagesState).add_node(call_model).add_node(static)
    g.add_edge(START, "call_model").add_edge("call_model", "static")
    out = []
    for mode, chunk in g.compile().stream(
        {"messages": [HumanMessage("hi", id="h1")]}, stream_mode=["messages", "updates"]
    ):
        if mode == "messages":
            msg, meta = chunk
            out.append((mode, type(msg).__name__, msg.content, meta["langgraph_node"]))
        else:
            out.append((mode, list(chunk)))
    return out


@case
def test_messages_mode_filters_by_node_with_metadata():
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langgraph.graph import START, MessagesState, StateGraph

    joke_model = GenericFakeChatModel(messages=iter([AIMessage(content="why so", id="j")]))
    poem_model = GenericFakeChatModel(messages=iter([AIMessage(content="roses red", id="p")]))

    def write_joke(state: MessagesState):
        return {"messages": [joke_model.invoke("joke")]}

    def write_poem(state: MessagesState):
        return {"messages": [poem_model.invoke("poem")]}

    g = StateGraph(MessagesState).add_node(write_joke).add_node(write_poem)
    g.add_edge(START, "write_joke").add_edge("write_joke", "write_poem")
    poem = []
    for msg, metadata in g.compile().stream({"messages": []}, stream_mode="messages"):
        if msg.content and metadata["langgraph_node"] == "write_poem":
            poem.append(msg.content)
    return poem
