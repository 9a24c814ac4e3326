"""wfkit.prebuilt.tool_node: ToolNode (inputs, parallel calls, errors,
injection, Command returns, interrupts) and tools_condition."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import InjectedToolArg, InjectedToolCallId, tool

from wfkit import START, Command, StateGraph, interrupt
from wfkit.checkpoint.memory import InMemorySaver
from wfkit.config import get_config
from wfkit.graph.message import MessagesState, add_messages
from wfkit.prebuilt import InjectedState, InjectedStore, ToolNode, ToolRuntime, tools_condition
from wfkit.prebuilt.tool_node import ToolInvocationError
from wfkit.runtime import Runtime


def call(name: str, id: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args, "id": id, "type": "tool_call"}


def asking(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [HumanMessage("go"), AIMessage("", tool_calls=list(calls))]}


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool
def fail(x: str) -> str:
    """Always fails."""
    raise ValueError(f"no {x}")


@tool
def missing(x: str) -> str:
    """Fails with a KeyError."""
    raise KeyError(x)


def in_graph(node: ToolNode, state: type = MessagesState, **compile: Any) -> Any:
    return StateGraph(state).add_node("tools", node).add_edge(START, "tools").compile(**compile)


def shape(messages: list[Any]) -> list[tuple[str, Any, Any, Any]]:
    return [
        (type(m).__name__, m.content, getattr(m, "tool_call_id", None), m.status) for m in messages
    ]


# ---------------------------------------------------------------- inputs and outputs
def test_each_input_kind_gets_its_output_kind() -> None:
    node = ToolNode([add])
    c = call("add", "1", a=1, b=2)
    out = node.invoke(asking(c))
    assert list(out) == ["messages"] and shape(out["messages"]) == [
        ("ToolMessage", "3", "1", "success")
    ]
    assert isinstance(node.invoke([AIMessage("", tool_calls=[c])]), list)  # messages in, list out
    assert shape(node.invoke([c])["messages"]) == [("ToolMessage", "3", "1", "success")]
    sent = {"__type": "tool_call_with_context", "tool_call": c, "state": asking(c)}
    assert shape(node.invoke(sent)["messages"]) == [("ToolMessage", "3", "1", "success")]
    assert node.invoke(asking(c))["messages"][0].name == "add"


def test_runs_the_calls_of_the_latest_ai_message() -> None:
    old = AIMessage("", tool_calls=[call("add", "old", a=0, b=0)])
    state = {
        "messages": [
            old,
            HumanMessage("x"),
            AIMessage("", tool_calls=[call("add", "new", a=2, b=2)]),
        ]
    }
    assert [m.tool_call_id for m in ToolNode([add]).invoke(state)["messages"]] == ["new"]
    assert ToolNode([add]).invoke({"messages": [HumanMessage("x"), AIMessage("no calls")]}) == {
        "messages": []
    }


def test_input_without_messages_or_ai_message_names_the_fix() -> None:
    node = ToolNode([add])
    with pytest.raises(ValueError, match="no messages in its input"):
        node.invoke({"messages": []})
    with pytest.raises(ValueError, match="no AIMessage in 'messages'"):
        node.invoke({"messages": [HumanMessage("x")]})


def test_a_custom_messages_key() -> None:
    node = ToolNode([add], messages_key="chat")
    out = node.invoke({"chat": [AIMessage("", tool_calls=[call("add", "1", a=1, b=1)])]})
    assert list(out) == ["chat"] and out["chat"][0].content == "2"


def test_functions_become_tools() -> None:
    def shout(text: str) -> str:
        """Shout."""
        return text.upper()

    node = ToolNode([shout])
    assert list(node.tools_by_name) == ["shout"]
    assert node.invoke([call("shout", "1", text="hi")])["messages"][0].content == "HI"
    with pytest.raises(TypeError, match="is not a tool"):
        ToolNode([42])  # type: ignore[list-item]


def test_calls_run_in_parallel_and_come_back_in_call_order() -> None:
    threads: dict[str, str] = {}

    @tool
    def slow(label: str, seconds: float) -> str:
        """Sleep."""
        threads[label] = threading.current_thread().name
        time.sleep(seconds)
        return label

    node = ToolNode([slow])
    calls = [call("slow", str(i), label=f"c{i}", seconds=0.3 - 0.1 * i) for i in range(3)]
    t0 = time.perf_counter()
    out = node.invoke(asking(*calls))
    took = time.perf_counter() - t0
    assert [m.content for m in out["messages"]] == ["c0", "c1", "c2"]
    assert took < 0.5, took  # one after another would take 0.6 s
    assert len(set(threads.values())) == 3


def test_max_concurrency_limits_the_threads() -> None:
    running, peak = [0], [0]
    lock = threading.Lock()

    @tool
    def busy(n: int) -> int:
        """Busy."""
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return n

    ToolNode([busy]).invoke(
        asking(*[call("busy", str(i), n=i) for i in range(6)]), {"max_concurrency": 2}
    )
    assert peak[0] == 2


def test_parallel_calls_in_a_graph_update_the_state_once() -> None:
    graph = in_graph(ToolNode([add]))
    out = graph.invoke(asking(call("add", "1", a=1, b=2), call("add", "2", a=3, b=4)))
    assert [(type(m).__name__, m.content) for m in out["messages"]] == [
        ("HumanMessage", "go"),
        ("AIMessage", ""),
        ("ToolMessage", "3"),
        ("ToolMessage", "7"),
    ]


# ---------------------------------------------------------------- errors
def test_an_unknown_tool_is_answered_even_with_error_handling_off() -> None:
    for setting in (True, False):
        out = ToolNode([add], handle_tool_errors=setting).invoke([call("nope", "1")])
        assert shape(out["messages"]) == [
            ("ToolMessage", "Error: nope is not a valid tool, try one of [add].", "1", "error")
        ]


def test_bad_arguments_come_back_to_the_model_by_default() -> None:
    out = ToolNode([add]).invoke([call("add", "1", a="x")])
    (message,) = out["messages"]
    assert message.status == "error" and message.name == "add"
    assert message.content == (
        "Error invoking tool 'add' with kwargs {'a': 'x'} with error:\n"
        " a: Input should be a valid integer, unable to parse string as an integer\n"
        "b: Field required\n"
        " Please fix the error and try again."
    )


def test_a_tools_own_error_is_raised_by_default_naming_the_node() -> None:
    graph = in_graph(ToolNode([fail, add]))
    with pytest.raises(ValueError, match="no way") as caught:
        graph.invoke(asking(call("add", "1", a=1, b=1), call("fail", "2", x="way")))
    assert any("node 'tools'" in note for note in caught.value.__notes__)


@pytest.mark.parametrize(
    ("setting", "content"),
    [
        (True, "Error: ValueError('no way')\n Please fix your mistakes."),
        ("That did not work.", "That did not work."),
        (ValueError, "Error: ValueError('no way')\n Please fix your mistakes."),
        ((KeyError, ValueError), "Error: ValueError('no way')\n Please fix your mistakes."),
    ],
)
def test_handle_tool_errors_settings_that_catch(setting: Any, content: str) -> None:
    out = ToolNode([fail], handle_tool_errors=setting).invoke([call("fail", "9", x="way")])
    assert shape(out["messages"]) == [("ToolMessage", content, "9", "error")]


def test_an_exception_type_setting_lets_others_through() -> None:
    node = ToolNode([fail, missing], handle_tool_errors=KeyError)
    assert node.invoke([call("missing", "1", x="k")])["messages"][0].status == "error"
    with pytest.raises(ValueError, match="no way"):
        node.invoke([call("fail", "2", x="way")])


def test_a_handler_catches_what_its_annotation_names() -> None:
    def on_value(e: ValueError) -> str:
        return f"handled {e}"

    node = ToolNode([fail, missing], handle_tool_errors=on_value)
    assert node.invoke([call("fail", "1", x="way")])["messages"][0].content == "handled no way"
    with pytest.raises(KeyError):
        node.invoke([call("missing", "2", x="k")])

    def on_either(e: ValueError | KeyError) -> str:
        return type(e).__name__

    either = ToolNode([fail, missing], handle_tool_errors=on_either)
    assert either.invoke([call("missing", "2", x="k")])["messages"][0].content == "KeyError"

    def on_any(e):  # type: ignore[no-untyped-def]  # no annotation: every error
        return "any"

    assert (
        ToolNode([missing], handle_tool_errors=on_any)
        .invoke([call("missing", "3", x="k")])["messages"][0]
        .content
        == "any"
    )


def test_a_handler_annotated_with_a_non_exception_is_refused_at_once() -> None:
    def wrong(e: str) -> str:
        return e

    with pytest.raises(ValueError, match="annotate it with the exception types"):
        ToolNode([fail], handle_tool_errors=wrong)
    with pytest.raises(ValueError, match="give True, False"):
        ToolNode([fail], handle_tool_errors=3)  # type: ignore[arg-type]


def test_error_handling_off_raises_bad_arguments_too() -> None:
    with pytest.raises(ToolInvocationError, match="Error invoking tool 'add'") as caught:
        ToolNode([add], handle_tool_errors=False).invoke([call("add", "1", a="x", b=1)])
    assert caught.value.tool_name == "add" and caught.value.tool_kwargs == {"a": "x", "b": 1}


# ---------------------------------------------------------------- injection
class Shop(TypedDict):
    messages: Annotated[list[Any], add_messages]
    user: str
    cart: list[str]


def test_injected_state_whole_or_one_key_is_hidden_from_the_model() -> None:
    @tool
    def whoami(prefix: str, user: Annotated[str, InjectedState("user")]) -> str:
        """Who is asking."""
        return f"{prefix} {user}"

    @tool
    def count(state: Annotated[dict, InjectedState]) -> int:
        """Items in the cart."""
        return len(state["cart"])

    assert set(whoami.tool_call_schema.model_json_schema()["properties"]) == {"prefix"}
    assert count.tool_call_schema.model_json_schema()["properties"] == {}
    graph = in_graph(ToolNode([whoami, count]), Shop)
    state = {
        **asking(call("whoami", "1", prefix="hi", user="mallory"), call("count", "2")),
        "user": "ada",
        "cart": ["tea", "jam"],
    }
    out = graph.invoke(state)["messages"][-2:]
    assert [m.content for m in out] == ["hi ada", "2"]  # the model's forged user= was dropped


def test_a_missing_state_key_fails_unless_the_argument_is_optional() -> None:
    @tool
    def needs(user: Annotated[str, InjectedState("nobody")]) -> str:
        """Needs a key."""
        return user

    @tool
    def maybe(user: Annotated[str | None, InjectedState("nobody")] = None) -> str:
        """Optional key."""
        return str(user)

    with pytest.raises(KeyError, match="nobody"):
        ToolNode([needs]).invoke(asking(call("needs", "1")))
    assert ToolNode([maybe]).invoke(asking(call("maybe", "1")))["messages"][0].content == "None"


def test_a_bare_list_of_tool_calls_has_no_state_to_inject() -> None:
    @tool
    def count(state: Annotated[dict, InjectedState]) -> int:
        """Count."""
        return len(state)

    with pytest.raises(ValueError, match="carries none; give the ToolNode the state"):
        ToolNode([count]).invoke([call("count", "1")])


def test_injected_store_and_tool_runtime() -> None:
    @tool
    def remember(fact: str, store: Annotated[Any, InjectedStore()]) -> str:
        """Remember."""
        store.append(fact)
        return "ok"

    @tool
    def introspect(runtime: ToolRuntime) -> str:
        """Look at the runtime."""
        return f"{runtime.tool_call_id} {runtime.context} {len(runtime.state['messages'])} {[t.name for t in runtime.tools]}"

    node = ToolNode([remember, introspect])
    facts: list[str] = []
    out = node(
        asking(call("remember", "1", fact="tea"), call("introspect", "2")),
        {},
        Runtime(store=facts, context="ctx"),
    )
    assert facts == ["tea"]
    assert out["messages"][1].content == "2 ctx 2 ['remember', 'introspect']"
    with pytest.raises(ValueError, match=r"takes the store .* compile it with store="):
        node.invoke(asking(call("remember", "1", fact="tea")))


def test_injected_tool_call_id() -> None:
    @tool
    def echo_id(tool_call_id: Annotated[str, InjectedToolCallId]) -> str:
        """Echo the call's id."""
        return tool_call_id

    assert (
        ToolNode([echo_id])
        .invoke([call("echo_id", "abc", tool_call_id="forged")])["messages"][0]
        .content
        == "abc"
    )


def test_get_config_inside_a_tool_sees_the_tools_task() -> None:
    @tool
    def where() -> str:
        """Where am I."""
        return get_config()["metadata"]["langgraph_node"]

    out = in_graph(ToolNode([where, add])).invoke(
        asking(call("where", "1"), call("add", "2", a=1, b=1))
    )
    assert out["messages"][2].content == "tools"


# ---------------------------------------------------------------- Command returns
class Booking(TypedDict, total=False):
    messages: Annotated[list[Any], add_messages]
    booked: str


@tool
def book(flight: str, tool_call_id: Annotated[str, InjectedToolCallId]) -> Command:
    """Book a flight."""
    return Command(
        update={"booked": flight, "messages": [ToolMessage("booked", tool_call_id=tool_call_id)]}
    )


def test_a_tool_returning_command_updates_the_state() -> None:
    graph = in_graph(ToolNode([book, add]), Booking)
    out = graph.invoke(asking(call("book", "1", flight="LH1"), call("add", "2", a=1, b=1)))
    assert out["booked"] == "LH1"
    assert [(m.content, m.name) for m in out["messages"][2:]] == [("booked", "book"), ("2", "add")]
    raw = ToolNode([book, add]).invoke(
        asking(call("book", "1", flight="LH1"), call("add", "2", a=1, b=1))
    )
    assert isinstance(raw[0], Command) and raw[1] == {"messages": [raw[1]["messages"][0]]}


def test_a_command_without_its_tool_message_is_refused() -> None:
    @tool
    def silent() -> Command:
        """Updates without answering."""
        return Command(update={"booked": "x"})

    with pytest.raises(ValueError, match="has no ToolMessage for its call '1'"):
        ToolNode([silent]).invoke(asking(call("silent", "1")))
    with pytest.raises(ValueError, match="was given a list of messages"):
        ToolNode([book]).invoke([AIMessage("", tool_calls=[call("book", "1", flight="x")])])


def test_a_tool_command_can_go_to_another_node() -> None:
    @tool
    def escalate(tool_call_id: Annotated[str, InjectedToolCallId]) -> Command:
        """Hand over to a human."""
        return Command(
            goto="human",
            update={"messages": [ToolMessage("handing over", tool_call_id=tool_call_id)]},
        )

    # the node's own code may go anywhere; destinations= says where, for the compiler
    g = StateGraph(Booking).add_node("tools", ToolNode([escalate]), destinations=("human",))
    g.add_node("human", lambda s: {"booked": "by a human"})
    g.add_edge(START, "tools")
    out = g.compile().invoke(asking(call("escalate", "1")))
    assert out["booked"] == "by a human"


# ---------------------------------------------------------------- interrupts, async tools, wrappers
def test_interrupt_inside_a_tool_pauses_and_resumes() -> None:
    @tool
    def pay(amount: int) -> str:
        """Pay, once a human agrees."""
        answer = interrupt(f"pay {amount}?")
        return f"paid {amount}" if answer == "yes" else "not paid"

    # handle_tool_errors=True catches every error, but an interrupt is not one
    graph = in_graph(ToolNode([pay, add], handle_tool_errors=True), checkpointer=InMemorySaver())
    cfg = {"configurable": {"thread_id": "t"}}
    out = graph.invoke(asking(call("pay", "1", amount=5), call("add", "2", a=1, b=1)), cfg)
    assert [i.value for i in out["__interrupt__"]] == ["pay 5?"]
    out = graph.invoke(Command(resume="yes"), cfg)
    assert [m.content for m in out["messages"][2:]] == ["paid 5", "2"]


def test_a_tool_with_only_an_async_implementation_runs_under_invoke_and_ainvoke() -> None:
    @tool
    async def fetch(url: str) -> str:
        """Fetch."""
        await asyncio.sleep(0.01)
        return f"<{url}>"

    graph = in_graph(ToolNode([fetch]))
    state = asking(call("fetch", "1", url="a"), call("fetch", "2", url="b"))
    assert [m.content for m in graph.invoke(state)["messages"][2:]] == ["<a>", "<b>"]
    assert [m.content for m in asyncio.run(graph.ainvoke(state))["messages"][2:]] == ["<a>", "<b>"]


def test_wrap_tool_call_can_change_retry_or_answer_a_call() -> None:
    seen: list[str] = []

    def wrapper(request: Any, execute: Any) -> Any:
        seen.append(request.tool_call["name"])
        if request.tool_call["name"] == "secret":
            return ToolMessage("refused", tool_call_id=request.tool_call["id"], status="error")
        doubled = {
            **request.tool_call,
            "args": {k: v * 2 for k, v in request.tool_call["args"].items()},
        }
        return execute(request.override(tool_call=doubled))

    out = ToolNode([add], wrap_tool_call=wrapper).invoke(
        [call("add", "1", a=1, b=2), call("secret", "2")]
    )
    assert [m.content for m in out["messages"]] == ["6", "refused"] and sorted(seen) == [
        "add",
        "secret",
    ]
    with pytest.raises(TypeError, match="sync wrap_tool_call"):
        ToolNode([add], awrap_tool_call=wrapper)


def test_the_node_is_named_tools_and_checked_for_reachability() -> None:
    g = StateGraph(MessagesState).add_node(ToolNode([add])).add_edge(START, "tools")
    assert list(g.nodes) == ["tools"]
    topology = g.compile().topology
    assert topology.by_name["tools"].command_targets == ()  # not "may go anywhere"
    assert set(topology.by_name["tools"].wants_config) == {"config", "runtime"}


# ---------------------------------------------------------------- tools_condition
def test_tools_condition_routes_on_the_last_message() -> None:
    asks = AIMessage("", tool_calls=[call("add", "1", a=1, b=1)])
    assert tools_condition({"messages": [HumanMessage("x"), asks]}) == "tools"
    assert tools_condition({"messages": [asks, AIMessage("done")]}) == "__end__"
    assert tools_condition([asks]) == "tools"
    assert tools_condition({"chat": [asks]}, messages_key="chat") == "tools"
    with pytest.raises(ValueError, match="no messages under 'messages'"):
        tools_condition({"messages": []})


def test_tools_condition_declares_its_targets_for_the_compiler() -> None:
    def agent(state: Any) -> dict[str, Any]:
        return {"messages": [AIMessage("done")]}

    g = StateGraph(MessagesState).add_node("agent", agent).add_node("tools", ToolNode([add]))
    g.add_edge(START, "agent").add_conditional_edges("agent", tools_condition).add_edge(
        "tools", "agent"
    )
    out = g.compile().invoke({"messages": [HumanMessage("hi")]})
    assert out["messages"][-1].content == "done"
    assert g.branches[0].targets == ("tools", "__end__")


def test_injected_store_in_a_graph_compiled_with_one() -> None:
    from wfkit.store import InMemoryStore

    @tool
    def save(fact: str, store: Annotated[Any, InjectedStore()]) -> str:
        """Save a fact."""
        store.put(("facts",), fact, {"text": fact})
        return f"{len(store.search(('facts',)))} facts"

    store = InMemoryStore()
    graph = in_graph(ToolNode([save]), store=store)
    out = graph.invoke(asking(call("save", "1", fact="tea"), call("save", "2", fact="jam")))
    assert sorted(i.key for i in store.search(("facts",))) == ["jam", "tea"]
    assert out["messages"][-1].content.endswith("facts")


def test_a_model_cannot_set_an_injected_argument_the_node_does_not_fill() -> None:
    @tool
    def whoami(role: Annotated[str, InjectedToolArg] = "guest") -> str:
        """Say the caller's role (set by the server, never by the model)."""
        return role

    out = ToolNode([whoami]).invoke([call("whoami", "1", role="admin")])
    assert out["messages"][0].content == "guest"
