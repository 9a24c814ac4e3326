"""Chat messages, as LangGraph's docs and tests use them: ``add_messages``
(ids, replacing by id, ``RemoveMessage``, ``REMOVE_ALL_MESSAGES``, dicts,
tuples and strings coerced) and ``MessagesState`` in a graph."""

from tests.compat.harness import case


def _shape(messages):
    return [(type(m).__name__, m.content, m.id) for m in messages]


@case
def test_add_messages_appends():
    from langchain_core.messages import AIMessage, HumanMessage
    from langgraph.graph.message import add_messages

    msgs1 = [HumanMessage(content="Hello", id="1")]
    msgs2 = [AIMessage(content="Hi there!", id="2")]
    return _shape(add_messages(msgs1, msgs2))


@case
def test_add_messages_replaces_by_id():
    from langchain_core.messages import HumanMessage
    from langgraph.graph.message import add_messages

    msgs1 = [HumanMessage(content="Hello", id="1")]
    msgs2 = [HumanMessage(content="Hello again", id="1")]
    return _shape(add_messages(msgs1, msgs2))


@case
def test_add_messages_single_message_on_the_right():
    from langchain_core.messages import AIMessage, HumanMessage
    from langgraph.graph import add_messages

    return _shape(add_messages([HumanMessage("a", id="1")], AIMessage("b", id="2")))


@case
def test_add_messages_assigns_missing_ids():
    from langchain_core.messages import AIMessage, HumanMessage
    from langgraph.graph.message import add_messages

    merged = add_messages([HumanMessage("a")], [AIMessage("b")])
    return [isinstance(m.id, str) and len(m.id) == 36 for m in merged]


@case
def test_add_messages_remove_message():
    from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage
    from langgraph.graph.message import add_messages

    left = [HumanMessage("a", id="1"), AIMessage("b", id="2"), HumanMessage("c", id="3")]
    return _shape(add_messages(left, [RemoveMessage(id="2")]))


@case
def test_add_messages_remove_unknown_id_raises():
    from langchain_core.messages import HumanMessage, RemoveMessage
    from langgraph.graph.message import add_messages

    try:
        add_messages([HumanMessage("a", id="1")], [RemoveMessage(id="nope")])
    except ValueError as exc:
        return "ValueError", "nope" in str(exc)
    return "no error"


@case
def test_add_messages_remove_all():
    from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage
    from langgraph.graph.message import REMOVE_ALL_MESSAGES, add_messages

    left = [HumanMessage("a", id="1"), AIMessage("b", id="2")]
    right = [RemoveMessage(id=REMOVE_ALL_MESSAGES), HumanMessage("fresh", id="3")]
    return _shape(add_messages(left, right))


@case
def test_add_messages_coerces_dicts_tuples_and_strings():
    from langgraph.graph.message import add_messages

    merged = add_messages(
        [{"role": "user", "content": "hi", "id": "1"}],
        [
            (
                "assistant",
                "hello",
            ),
            "plain string",
            {"role": "system", "content": "be brief"},
        ],
    )
    return [(type(m).__name__, m.content) for m in merged]


@case
def test_add_messages_remove_then_readd_same_id():
    from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage
    from langgraph.graph.message import add_messages

    left = [HumanMessage("a", id="1"), AIMessage("b", id="2")]
    return _shape(add_messages(left, [RemoveMessage(id="2"), AIMessage("b2", id="2")]))


@case
def test_add_messages_with_only_one_side_raises():
    from langgraph.graph.message import add_messages

    try:
        add_messages([("user", "hi")], None)
    except ValueError as exc:
        return "ValueError", str(exc).startswith("Must specify non-null arguments")
    return "no error"


@case
def test_messages_state_in_a_graph():
    from langchain_core.messages import AIMessage, HumanMessage
    from langgraph.graph import END, START, MessagesState, StateGraph

    def chatbot(state: MessagesState):
        last = state["messages"][-1].content
        return {"messages": [AIMessage(content=f"echo: {last}", id="a1")]}

    graph = (
        StateGraph(MessagesState)
        .add_node("chatbot", chatbot)
        .add_edge(START, "chatbot")
        .add_edge("chatbot", END)
        .compile()
    )
    out = graph.invoke({"messages": [HumanMessage("hi", id="h1")]})
    return _shape(out["messages"])


@case
def test_node_returning_tuples_in_a_messages_graph():
    from langgraph.graph import START, MessagesState, StateGraph

    graph = (
        StateGraph(MessagesState)
        .add_node("chatbot", lambda state: {"messages": [("assistant", "Hello")]})
        .add_edge(START, "chatbot")
        .compile()
    )
    out = graph.invoke({"messages": [{"role": "user", "content": "hi"}]})
    return [(type(m).__name__, m.content) for m in out["messages"]]


@case
def test_subclassed_messages_state_and_removal_in_a_node():
    from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage
    from langgraph.graph import START, MessagesState, StateGraph

    class State(MessagesState):
        summary: str

    def trim(state: State):
        keep = state["messages"][-1]
        return {
            "messages": [RemoveMessage(id=m.id) for m in state["messages"] if m.id != keep.id],
            "summary": f"dropped {len(state['messages']) - 1}",
        }

    graph = StateGraph(State).add_node(trim).add_edge(START, "trim").compile()
    out = graph.invoke(
        {
            "messages": [
                HumanMessage("a", id="1"),
                AIMessage("b", id="2"),
                HumanMessage("c", id="3"),
            ],
            "summary": "",
        }
    )
    return _shape(out["messages"]), out["summary"]


@case
def test_messages_state_with_a_checkpointer_over_turns():
    from langchain_core.messages import AIMessage
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, MessagesState, StateGraph

    def reply(state: MessagesState):
        return {"messages": [AIMessage(f"turn {len(state['messages'])}")]}

    graph = (
        StateGraph(MessagesState)
        .add_node(reply)
        .add_edge(START, "reply")
        .compile(checkpointer=InMemorySaver())
    )
    config = {"configurable": {"thread_id": "chat"}}
    graph.invoke({"messages": [("user", "one")]}, config)
    out = graph.invoke({"messages": [("user", "two")]}, config)
    return [(type(m).__name__, m.content) for m in out["messages"]]
