"""Prebuilt agents, as LangGraph's docs and tests use them: ``ToolNode``
(parallel calls, errors, ``handle_tool_errors``, injected state, tools
returning ``Command``), ``tools_condition`` in a hand-built loop, and
``create_react_agent`` looping to an answer, with a checkpointer and
``interrupt_before=["tools"]``.

The chat model is langchain_core's offline ``FakeMessagesListChatModel``
with a ``bind_tools`` that returns it (the fake has none); message ids
differ between the libraries' runs, so cases return the messages' other
fields. LangGraph 1.x marks ``create_react_agent`` deprecated (it moved to
``langchain.agents``); the cases silence that warning."""

import warnings
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel

from tests.compat.harness import case


class ToolCallingFake(FakeMessagesListChatModel):
    """Replays ``responses``; tools are bound by returning the model itself."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> "ToolCallingFake":
        return self


def _shape(messages: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (
            type(m).__name__,
            m.content,
            getattr(m, "name", None),
            getattr(m, "tool_call_id", None),
            getattr(m, "status", None),
            [(c["name"], c["args"], c["id"]) for c in getattr(m, "tool_calls", [])],
        )
        for m in messages
    ]


def _quiet(make: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return make(*args, **kwargs)


@case
def test_tool_node_runs_parallel_calls_and_answers_bad_ones():
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_core.tools import tool
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode

    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    calls = [
        {"name": "add", "args": {"a": 1, "b": 2}, "id": "1", "type": "tool_call"},
        {"name": "add", "args": {"a": 3, "b": 4}, "id": "2", "type": "tool_call"},
        {"name": "add", "args": {"a": "x"}, "id": "3", "type": "tool_call"},
        {"name": "multiply", "args": {}, "id": "4", "type": "tool_call"},
    ]
    graph = StateGraph(MessagesState).add_node("tools", ToolNode([add]))
    graph = graph.add_edge(START, "tools").compile()
    out = graph.invoke({"messages": [HumanMessage("sum"), AIMessage("", tool_calls=calls)]})
    return _shape(out["messages"][2:])


@case
def test_tool_node_raises_a_tools_own_error_by_default():
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode

    @tool
    def lookup(key: str) -> str:
        """Look a key up."""
        raise KeyError(key)

    graph = StateGraph(MessagesState).add_node("tools", ToolNode([lookup]))
    graph = graph.add_edge(START, "tools").compile()
    call = {"name": "lookup", "args": {"key": "k"}, "id": "1", "type": "tool_call"}
    try:
        graph.invoke({"messages": [AIMessage("", tool_calls=[call])]})
    except KeyError as exc:
        return "KeyError", str(exc)
    return "no error"


@case
def test_tool_node_handle_tool_errors_forms():
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode

    @tool
    def divide(a: int, b: int) -> float:
        """Divide."""
        return a / b

    def on_zero(e: ZeroDivisionError) -> str:
        return f"cannot divide: {e}"

    def on_key(e: KeyError) -> str:
        return "not this one"

    results = []
    call = {"name": "divide", "args": {"a": 1, "b": 0}, "id": "1", "type": "tool_call"}
    for setting in (
        True,
        "division failed",
        on_zero,
        ZeroDivisionError,
        (KeyError, ArithmeticError),
        on_key,
        False,
    ):
        node = ToolNode([divide], handle_tool_errors=setting)
        graph = StateGraph(MessagesState).add_node("tools", node).add_edge(START, "tools").compile()
        try:
            out = graph.invoke({"messages": [AIMessage("", tool_calls=[call])]})
            results.append(_shape(out["messages"][1:]))
        except ZeroDivisionError as exc:
            results.append(("raised", str(exc)))
    return results


@case
def test_tool_node_injects_state_and_takes_commands_from_tools():
    from typing import Annotated, Any

    from langchain_core.messages import AIMessage, ToolMessage
    from langchain_core.tools import InjectedToolCallId, tool
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import InjectedState, ToolNode
    from langgraph.types import Command

    class State(MessagesState):
        user: str
        booked: str

    @tool
    def book(
        flight: str,
        user: Annotated[str, InjectedState("user")],
        tool_call_id: Annotated[str, InjectedToolCallId],
    ) -> Command:
        """Book a flight for the user."""
        return Command(
            update={
                "booked": f"{flight} for {user}",
                "messages": [ToolMessage("booked", tool_call_id=tool_call_id)],
            }
        )

    @tool
    def count(state: Annotated[Any, InjectedState]) -> int:
        """How many messages there are."""
        return len(state["messages"])

    calls = [
        {
            "name": "book",
            "args": {"flight": "LH1", "user": "mallory"},
            "id": "1",
            "type": "tool_call",
        },
        {"name": "count", "args": {}, "id": "2", "type": "tool_call"},
    ]
    graph = StateGraph(State).add_node("tools", ToolNode([book, count])).add_edge(START, "tools")
    out = graph.compile().invoke({"messages": [AIMessage("", tool_calls=calls)], "user": "ada"})
    return out["booked"], _shape(out["messages"][1:])


@case
def test_tools_condition_in_a_hand_built_loop():
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    @tool
    def weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    model = ToolCallingFake(
        responses=[
            AIMessage("", tool_calls=[{"name": "weather", "args": {"city": "Oslo"}, "id": "c1"}]),
            AIMessage("It is sunny."),
        ]
    ).bind_tools([weather])

    def agent(state: MessagesState):
        return {"messages": [model.invoke(state["messages"])]}

    builder = (
        StateGraph(MessagesState).add_node("agent", agent).add_node("tools", ToolNode([weather]))
    )
    builder.add_edge(START, "agent").add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    graph = builder.compile()
    out = graph.invoke({"messages": [("user", "weather in Oslo?")]})
    updates = [
        list(chunk)
        for chunk in graph.stream({"messages": [("user", "again?")]}, stream_mode="updates")
    ]
    return _shape(out["messages"]), updates, tools_condition({"messages": out["messages"][:2]})


@case
def test_create_react_agent_loops_to_an_answer():
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool
    from langgraph.prebuilt import create_react_agent

    @tool
    def weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    @tool
    def time_in(city: str) -> str:
        """The time in a city."""
        return f"noon in {city}"

    model = ToolCallingFake(
        responses=[
            AIMessage(
                "",
                tool_calls=[
                    {"name": "weather", "args": {"city": "Paris"}, "id": "c1"},
                    {"name": "time_in", "args": {"city": "Paris"}, "id": "c2"},
                ],
            ),
            AIMessage("Sunny, and it is noon."),
        ]
    )
    agent = _quiet(create_react_agent, model, [weather, time_in], prompt="Be brief.", name="travel")
    out = agent.invoke({"messages": [("user", "weather and time in Paris?")]})
    steps = [
        list(chunk)
        for chunk in _quiet(create_react_agent, model, [weather, time_in]).stream(
            {"messages": [("user", "again")]}, stream_mode="updates"
        )
    ]
    return _shape(out["messages"]), steps


@case
def test_create_react_agent_with_a_checkpointer_pauses_before_tools_and_resumes():
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.prebuilt import create_react_agent

    @tool
    def transfer(amount: int) -> str:
        """Transfer money."""
        return f"sent {amount}"

    model = ToolCallingFake(
        responses=[
            AIMessage("", tool_calls=[{"name": "transfer", "args": {"amount": 5}, "id": "t1"}]),
            AIMessage("Done: sent 5."),
            AIMessage("", tool_calls=[{"name": "transfer", "args": {"amount": 500}, "id": "t2"}]),
            AIMessage("I did not send it."),
        ]
    )
    agent = _quiet(
        create_react_agent,
        model,
        [transfer],
        checkpointer=InMemorySaver(),
        interrupt_before=["tools"],
    )
    config = {"configurable": {"thread_id": "bank"}}
    first = agent.invoke({"messages": [("user", "send 5")]}, config)
    paused = agent.get_state(config)
    seen = [_shape(first["messages"]), paused.next, len(paused.tasks), paused.interrupts]
    approved = agent.invoke(None, config)  # approve: run the tools
    seen.append(_shape(approved["messages"][-2:]))
    agent.invoke({"messages": [("user", "send 500")]}, config)
    call = agent.get_state(config).values["messages"][-1].tool_calls[0]
    from langchain_core.messages import ToolMessage

    # reject: answer the call in the tools' place, then let the model go on
    agent.update_state(
        config,
        {"messages": [ToolMessage("refused by a human", tool_call_id=call["id"], name="transfer")]},
        as_node="tools",
    )
    rejected = agent.invoke(None, config)
    seen.append(_shape(rejected["messages"][-2:]))
    seen.append(
        [
            (s.metadata["step"], s.metadata["source"], s.next)
            for s in agent.get_state_history(config)
        ]
    )
    return seen


@case
def test_create_react_agent_stops_short_of_the_recursion_limit():
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool
    from langgraph.prebuilt import create_react_agent

    @tool
    def search(query: str) -> str:
        """Search."""
        return "nothing yet"

    model = ToolCallingFake(
        responses=[
            AIMessage("", tool_calls=[{"name": "search", "args": {"query": "q"}, "id": f"s{i}"}])
            for i in range(10)
        ]
    )
    agent = _quiet(create_react_agent, model, [search])
    return [
        _shape(
            agent.invoke({"messages": [("user", "find it")]}, {"recursion_limit": limit})[
                "messages"
            ]
        )[-1]
        for limit in (2, 4, 6)  # where the run would end at the limit (odd ones) the
    ]  # libraries differ: docs/graph-api.md, the recursion limit


@case
def test_create_react_agent_return_direct_and_custom_state():
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool
    from langgraph.prebuilt import create_react_agent
    from langgraph.prebuilt.chat_agent_executor import AgentState

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)

        class Travel(AgentState):
            city: str

    @tool(return_direct=True)
    def book(city: str) -> str:
        """Book, and end the conversation."""
        return f"booked {city}"

    model = ToolCallingFake(
        responses=[
            AIMessage("", tool_calls=[{"name": "book", "args": {"city": "Rome"}, "id": "b1"}])
        ]
    )
    agent = _quiet(create_react_agent, model, [book], state_schema=Travel)
    out = agent.invoke({"messages": [("user", "book Rome")], "city": "Rome"})
    return out["city"], _shape(out["messages"])


@case
def test_create_react_agent_tools_share_the_store_across_threads():
    from typing import Annotated, Any

    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.prebuilt import InjectedStore, create_react_agent
    from langgraph.store.memory import InMemoryStore

    @tool
    def remember(city: str, store: Annotated[Any, InjectedStore()]) -> str:
        """Remember the user's favourite city."""
        store.put(("favourites",), "city", {"city": city})
        return "remembered"

    @tool
    def recall(store: Annotated[Any, InjectedStore()]) -> str:
        """Recall the user's favourite city."""
        item = store.get(("favourites",), "city")
        return item.value["city"] if item else "none"

    model = ToolCallingFake(
        responses=[
            AIMessage("", tool_calls=[{"name": "remember", "args": {"city": "Oslo"}, "id": "r"}]),
            AIMessage("noted"),
            AIMessage("", tool_calls=[{"name": "recall", "args": {}, "id": "q"}]),
            AIMessage("Oslo"),
        ]
    )
    store = InMemoryStore()
    agent = _quiet(
        create_react_agent, model, [remember, recall], store=store, checkpointer=InMemorySaver()
    )
    agent.invoke({"messages": [("user", "I like Oslo")]}, {"configurable": {"thread_id": "a"}})
    out = agent.invoke(
        {"messages": [("user", "what do I like?")]}, {"configurable": {"thread_id": "b"}}
    )
    item = store.get(("favourites",), "city")
    return _shape(out["messages"]), item.value, item.key, item.namespace
