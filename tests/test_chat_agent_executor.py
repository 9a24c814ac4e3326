"""wfkit.prebuilt.chat_agent_executor: create_react_agent with langchain_core
chat models (the scripted one of wfkit.prebuilt.testing), and the extra's
import guard."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from pydantic import BaseModel

from wfkit import Debugger, DependencyMissingError, InvalidInputError
from wfkit.checkpoint.duckdb import DuckDBCheckpointer
from wfkit.checkpoint.memory import InMemorySaver
from wfkit.graph.message import REMOVE_ALL_MESSAGES, RemoveMessage
from wfkit.prebuilt import (
    AgentState,
    AgentStatePydantic,
    InjectedState,
    InjectedStore,
    ToolNode,
    create_react_agent,
)
from wfkit.prebuilt.testing import ScriptedChatModel


@tool
def weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


@tool
def time_in(city: str) -> str:
    """The time in a city."""
    return f"noon in {city}"


def asks(*calls: tuple[str, str, str]) -> AIMessage:
    return AIMessage(
        "",
        tool_calls=[{"name": n, "args": {"city": c}, "id": i} for n, c, i in calls],
    )


def trip() -> ScriptedChatModel:
    return ScriptedChatModel(
        responses=[
            asks(("weather", "Paris", "c1"), ("time_in", "Paris", "c2")),
            "Sunny, and it is noon.",
        ]
    )


def shape(messages: list[Any]) -> list[tuple[str, Any]]:
    return [(type(m).__name__, m.content) for m in messages]


QUESTION = {"messages": [("user", "weather and time in Paris?")]}
ANSWERED = [
    ("HumanMessage", "weather and time in Paris?"),
    ("AIMessage", ""),
    ("ToolMessage", "sunny in Paris"),
    ("ToolMessage", "noon in Paris"),
    ("AIMessage", "Sunny, and it is noon."),
]


def test_loops_through_the_tools_to_an_answer() -> None:
    model = trip()
    agent = create_react_agent(model, [weather, time_in], prompt="Be brief.")
    out = agent.invoke(QUESTION)
    assert shape(out["messages"]) == ANSWERED
    assert model.bound_tools == ["weather", "time_in"]
    first, second = model.calls
    assert shape(first) == [
        ("SystemMessage", "Be brief."),
        ("HumanMessage", "weather and time in Paris?"),
    ]
    assert shape(second)[-2:] == [
        ("ToolMessage", "sunny in Paris"),
        ("ToolMessage", "noon in Paris"),
    ]
    assert list(agent.topology.by_name) == ["agent", "tools"] and agent.name == "agent"


def test_each_tool_call_is_a_task_of_its_own_in_one_superstep() -> None:
    agent = create_react_agent(trip(), [weather, time_in], checkpointer=InMemorySaver())
    cfg = {"configurable": {"thread_id": "t"}}
    agent.invoke(QUESTION, cfg)
    steps = [(s.metadata["step"], s.next) for s in agent.get_state_history(cfg)]
    assert steps == [
        (3, ()),
        (2, ("agent",)),
        (1, ("tools", "tools")),
        (0, ("agent",)),
        (-1, ("__start__",)),
    ]


def test_version_v1_runs_all_calls_in_one_task() -> None:
    agent = create_react_agent(
        trip(), [weather, time_in], checkpointer=InMemorySaver(), version="v1"
    )
    cfg = {"configurable": {"thread_id": "t"}}
    assert shape(agent.invoke(QUESTION, cfg)["messages"]) == ANSWERED
    assert [s.next for s in agent.get_state_history(cfg)][2] == ("tools",)
    with pytest.raises(InvalidInputError, match="'v1' or 'v2'"):
        create_react_agent(trip(), [weather], version="v3")  # type: ignore[arg-type]


def test_interrupt_before_tools_then_approve_by_continuing() -> None:
    agent = create_react_agent(
        trip(), [weather, time_in], checkpointer=InMemorySaver(), interrupt_before=["tools"]
    )
    cfg = {"configurable": {"thread_id": "t"}}
    paused = agent.invoke(QUESTION, cfg)
    assert shape(paused["messages"]) == ANSWERED[:2]
    snap = agent.get_state(cfg)
    assert snap.next == ("tools", "tools")
    assert [c["name"] for c in snap.values["messages"][-1].tool_calls] == ["weather", "time_in"]
    assert shape(agent.invoke(None, cfg)["messages"]) == ANSWERED


def test_interrupt_before_tools_then_reject_by_answering_the_calls() -> None:
    model = trip()
    agent = create_react_agent(
        model, [weather, time_in], checkpointer=InMemorySaver(), interrupt_before=["tools"]
    )
    cfg = {"configurable": {"thread_id": "t"}}
    calls = agent.invoke(QUESTION, cfg)["messages"][-1].tool_calls
    refusals = [ToolMessage("not allowed", tool_call_id=c["id"], name=c["name"]) for c in calls]
    agent.update_state(cfg, {"messages": refusals}, as_node="tools")
    out = agent.invoke(None, cfg)
    assert shape(out["messages"])[2:] == [
        ("ToolMessage", "not allowed"),
        ("ToolMessage", "not allowed"),
        ("AIMessage", "Sunny, and it is noon."),
    ]
    assert shape(model.calls[1])[-1] == ("ToolMessage", "not allowed")


@pytest.mark.slow
def test_a_paused_agent_resumes_from_its_file_in_a_new_process(tmp_path: Path) -> None:
    path = tmp_path / "agent.duckdb"
    with DuckDBCheckpointer(path) as store:
        agent = create_react_agent(
            trip(), [weather, time_in], checkpointer=store, interrupt_before=["tools"]
        )
        agent.invoke(QUESTION, {"configurable": {"thread_id": "t"}})
    script = f"""
from langchain_core.tools import tool
from wfkit.checkpoint.duckdb import DuckDBCheckpointer
from wfkit.prebuilt import create_react_agent
from wfkit.prebuilt.testing import ScriptedChatModel

@tool
def weather(city: str) -> str:
    \"\"\"The weather in a city.\"\"\"
    return f"sunny in {{city}}"

@tool
def time_in(city: str) -> str:
    \"\"\"The time in a city.\"\"\"
    return f"noon in {{city}}"

with DuckDBCheckpointer({str(path)!r}) as store:
    agent = create_react_agent(ScriptedChatModel(responses=["done"]), [weather, time_in], checkpointer=store)
    out = agent.invoke(None, {{"configurable": {{"thread_id": "t"}}}})
    print([type(m).__name__ for m in out["messages"]], out["messages"][-1].content)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "['HumanMessage', 'AIMessage', 'ToolMessage', 'ToolMessage', 'AIMessage'] done"
    )


def test_interrupt_after_agent() -> None:
    agent = create_react_agent(
        trip(), [weather, time_in], checkpointer=InMemorySaver(), interrupt_after=["agent"]
    )
    cfg = {"configurable": {"thread_id": "t"}}
    agent.invoke(QUESTION, cfg)
    assert agent.get_state(cfg).next == ("tools", "tools")
    agent.invoke(None, cfg)
    assert agent.get_state(cfg).next == ()  # paused after the answer too, with nothing left


@pytest.mark.parametrize(
    "prompt",
    [
        "Be brief.",
        SystemMessage("Be brief."),
        lambda state: [SystemMessage("Be brief."), *state["messages"]],
        ChatPromptTemplate.from_messages([("system", "Be brief."), ("placeholder", "{messages}")]),
    ],
    ids=["str", "system-message", "function", "runnable"],
)
def test_prompt_forms(prompt: Any) -> None:
    model = ScriptedChatModel(responses=["hi"])
    create_react_agent(model, [weather], prompt=prompt).invoke({"messages": [("user", "hello")]})
    assert shape(model.calls[0]) == [("SystemMessage", "Be brief."), ("HumanMessage", "hello")]


def test_an_async_prompt_function() -> None:
    async def prompt(state: Any) -> list[Any]:
        await asyncio.sleep(0)
        return [SystemMessage("async"), *state["messages"]]

    model = ScriptedChatModel(responses=["hi"])
    create_react_agent(model, [weather], prompt=prompt).invoke({"messages": [("user", "hello")]})
    assert model.calls[0][0].content == "async"
    with pytest.raises(InvalidInputError, match="give a string, a SystemMessage"):
        create_react_agent(model, [weather], prompt=42)


def test_ainvoke_and_the_messages_stream() -> None:
    out = asyncio.run(create_react_agent(trip(), [weather, time_in]).ainvoke(QUESTION))
    assert shape(out["messages"]) == ANSWERED
    agent = create_react_agent(trip(), [weather, time_in])
    seen = [
        (type(m).__name__, m.content, meta["langgraph_node"])
        for m, meta in agent.stream(QUESTION, stream_mode="messages")
    ]
    assert seen == [
        ("AIMessage", "", "agent"),
        ("ToolMessage", "sunny in Paris", "tools"),
        ("ToolMessage", "noon in Paris", "tools"),
        ("AIMessage", "Sunny, and it is noon.", "agent"),
    ]


def test_runs_out_of_steps_with_an_apology_not_an_error() -> None:
    looping = ScriptedChatModel(responses=[asks(("weather", "Paris", f"c{i}")) for i in range(10)])
    out = create_react_agent(looping, [weather]).invoke(QUESTION, {"recursion_limit": 4})
    assert shape(out["messages"])[-1] == (
        "AIMessage",
        "Sorry, need more steps to process this request.",
    )
    assert len(looping.calls) == 2


def test_a_return_direct_tool_ends_the_run() -> None:
    @tool(return_direct=True)
    def final(city: str) -> str:
        """Answer directly."""
        return f"final for {city}"

    model = ScriptedChatModel(responses=[asks(("final", "Paris", "c1"))])
    out = create_react_agent(model, [final, weather]).invoke(QUESTION)
    assert shape(out["messages"])[-1] == ("ToolMessage", "final for Paris")
    assert len(model.calls) == 1


def test_without_tools_it_is_one_model_call() -> None:
    model = ScriptedChatModel(responses=["just this"])
    agent = create_react_agent(model, [])
    assert shape(agent.invoke(QUESTION)["messages"])[-1] == ("AIMessage", "just this")
    assert list(agent.topology.by_name) == ["agent"] and model.bound_tools == []


def test_the_name_names_the_graph_and_the_replies() -> None:
    agent = create_react_agent(trip(), [weather, time_in], name="travel")
    out = agent.invoke(QUESTION)
    assert agent.name == "travel"
    assert [m.name for m in out["messages"] if isinstance(m, AIMessage)] == ["travel", "travel"]


def test_a_tool_node_given_as_tools_keeps_its_settings() -> None:
    @tool
    def broken(city: str) -> str:
        """Fails."""
        raise RuntimeError("down")

    model = ScriptedChatModel(responses=[asks(("broken", "Paris", "c1")), "sorry"])
    node = ToolNode([broken], handle_tool_errors="the service is down")
    out = create_react_agent(model, node).invoke(QUESTION)
    assert shape(out["messages"])[2:] == [
        ("ToolMessage", "the service is down"),
        ("AIMessage", "sorry"),
    ]


class Travel(AgentState):
    city: str


def test_a_state_schema_with_more_keys() -> None:
    @tool
    def local_weather(state: Annotated[dict, InjectedState]) -> str:
        """Weather where the user is."""
        return f"sunny in {state['city']}"

    model = ScriptedChatModel(
        responses=[
            AIMessage("", tool_calls=[{"name": "local_weather", "args": {}, "id": "c1"}]),
            "ok",
        ]
    )
    agent = create_react_agent(model, [local_weather], state_schema=Travel)
    out = agent.invoke({"messages": [("user", "weather?")], "city": "Oslo"})
    assert out["city"] == "Oslo" and out["messages"][2].content == "sunny in Oslo"


def test_a_state_schema_without_the_agent_keys_is_refused() -> None:
    from typing import TypedDict

    class Bare(TypedDict):
        messages: list[Any]

    with pytest.raises(InvalidInputError, match="lacks remaining_steps; subclass AgentState"):
        create_react_agent(trip(), [weather], state_schema=Bare)


def test_a_pydantic_state_schema() -> None:
    class Chat(AgentStatePydantic):
        mood: str = "calm"

    # message objects: wfkit validates a pydantic input before add_messages would
    # coerce ("user", "...") tuples (LangGraph coerces first)
    question = {"messages": [HumanMessage("weather and time in Paris?")]}
    out = create_react_agent(trip(), [weather, time_in], state_schema=Chat).invoke(question)
    assert shape(out["messages"]) == ANSWERED


class Forecast(BaseModel):
    city: str
    sky: str


def test_response_format_fills_structured_response() -> None:
    model = ScriptedChatModel(
        responses=[
            asks(("weather", "Paris", "c1")),
            "Sunny in Paris.",
            AIMessage(
                "",
                tool_calls=[
                    {"name": "Forecast", "args": {"city": "Paris", "sky": "sunny"}, "id": "f"}
                ],
            ),
        ]
    )
    agent = create_react_agent(
        model, [weather], response_format=("Answer as a forecast.", Forecast)
    )
    out = agent.invoke(QUESTION)
    assert out["structured_response"] == Forecast(city="Paris", sky="sunny")
    assert model.calls[2][0].content == "Answer as a forecast."
    assert model.bound_tools == ["Forecast"]  # with_structured_output binds the schema


def test_pre_model_hook_gives_the_model_other_messages() -> None:
    def keep_last(state: Any) -> dict[str, Any]:
        return {"llm_input_messages": state["messages"][-1:]}

    model = ScriptedChatModel(responses=["hi"])
    agent = create_react_agent(model, [weather], pre_model_hook=keep_last)
    out = agent.invoke({"messages": [("user", "one"), ("ai", "two"), ("user", "three")]})
    assert shape(model.calls[0]) == [("HumanMessage", "three")]
    assert len(out["messages"]) == 4 and "llm_input_messages" not in out


def test_pre_model_hook_can_rewrite_the_messages() -> None:
    def trim(state: Any) -> dict[str, Any]:
        return {"messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES), *state["messages"][-1:]]}

    out = create_react_agent(
        ScriptedChatModel(responses=["hi"]), [weather], pre_model_hook=trim
    ).invoke({"messages": [("user", "one"), ("user", "two")]})
    assert shape(out["messages"]) == [("HumanMessage", "two"), ("AIMessage", "hi")]


def test_post_model_hook_runs_after_each_model_call() -> None:
    seen: list[int] = []

    def audit(state: Any) -> None:
        seen.append(len(state["messages"]))

    agent = create_react_agent(trip(), [weather, time_in], post_model_hook=audit)
    assert shape(agent.invoke(QUESTION)["messages"]) == ANSWERED
    assert seen == [2, 5]
    with pytest.raises(InvalidInputError, match="version='v2' only"):
        create_react_agent(trip(), [weather], post_model_hook=audit, version="v1")


def test_a_model_chosen_per_call() -> None:
    model = trip()

    def choose(state: Any, runtime: Any) -> Any:
        return model.bind_tools([weather, time_in])

    assert (
        shape(create_react_agent(choose, [weather, time_in]).invoke(QUESTION)["messages"])
        == ANSWERED
    )


def test_models_that_cannot_call_tools_or_were_bound_otherwise_are_refused() -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    with pytest.raises(InvalidInputError, match="does not support bind_tools"):
        create_react_agent(FakeListChatModel(responses=["x"]), [weather])
    from langchain_core.runnables import RunnableBinding

    bound = RunnableBinding(
        bound=trip(), kwargs={"tools": [{"type": "function", "function": {"name": "weather"}}]}
    )
    with pytest.raises(InvalidInputError, match=r"bound with 1 tools .* but given 2"):
        create_react_agent(bound, [weather, time_in])
    with pytest.raises(InvalidInputError, match=r"tools \['time_in'\] are not bound"):
        create_react_agent(bound, [time_in])
    assert (
        shape(
            create_react_agent(bound, [weather]).invoke({"messages": [("user", "x")]})["messages"]
        )[-1][0]
        == "AIMessage"
    )


def test_open_tool_calls_in_the_history_are_refused_before_the_model_is_called() -> None:
    agent = create_react_agent(trip(), [weather])
    history = {"messages": [("user", "x"), asks(("weather", "Paris", "c1")), ("user", "again")]}
    with pytest.raises(ValueError, match="do not have a corresponding ToolMessage"):
        agent.invoke(history)


def test_other_options() -> None:
    with pytest.raises(InvalidInputError, match="stream_mode='debug'"):
        create_react_agent(trip(), [weather], debug=True)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        create_react_agent(trip(), [weather], colour="blue")
    with pytest.raises(DependencyMissingError, match="needs the langchain package"):
        create_react_agent("openai:gpt-4o", [weather])


def test_the_scripted_model_says_when_its_script_ends() -> None:
    with pytest.raises(ValueError, match="called 2 times but its script has 1 responses"):
        create_react_agent(
            ScriptedChatModel(responses=[asks(("weather", "x", "1"))]), [weather]
        ).invoke(QUESTION)
    with pytest.raises(ValueError, match=r"responses\[0\] is int"):
        ScriptedChatModel(responses=[3])


# ---------------------------------------------------------------- the debugger
def test_stepping_through_the_agent_task_by_task_and_approving_the_tools() -> None:
    agent = create_react_agent(trip(), [weather, time_in], interrupt_before=["tools"])
    debugger = Debugger(agent, QUESTION)
    assert debugger.next == ("agent",)
    debugger.step()
    assert debugger.next == ("tools", "tools") and debugger.paused
    assert debugger.step_node().kind == "task"  # the weather call alone
    assert debugger.state["messages"][-1].tool_calls  # nothing applied until the step's end
    debugger.step_node()
    assert shape(debugger.state["messages"])[2:] == ANSWERED[2:4]
    debugger.continue_()
    assert debugger.done and shape(debugger.state["messages"]) == ANSWERED
    assert set(debugger.timings()["node"]) == {"agent", "tools"}


# ---------------------------------------------------------------- the extra
def test_wfkit_imports_without_langchain_and_prebuilt_says_how_to_install_it() -> None:
    code = (
        "import sys\n"
        "sys.modules['langchain_core'] = None  # as if it were not installed\n"
        "import wfkit\n"
        "try:\n"
        "    from wfkit.prebuilt import create_react_agent\n"
        "except wfkit.DependencyMissingError as exc:\n"
        "    print(isinstance(exc, ImportError), exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith(
        "True wfkit.prebuilt (ToolNode, tools_condition, create_react_agent) needs langchain_core"
    )
    assert "pip install 'wfkit[langchain]'" in out.stdout
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, wfkit; print('langchain_core' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "False"


def test_the_store_reaches_the_tools_across_threads() -> None:
    from wfkit.store import InMemoryStore

    @tool
    def remember(city: str, store: Annotated[Any, InjectedStore()]) -> str:
        """Remember a favourite city."""
        store.put(("favourites",), "city", {"city": city})
        return "remembered"

    @tool
    def recall(store: Annotated[Any, InjectedStore()]) -> str:
        """Recall the favourite city."""
        item = store.get(("favourites",), "city")
        return item.value["city"] if item else "none"

    store = InMemoryStore()
    model = ScriptedChatModel(
        responses=[
            AIMessage("", tool_calls=[{"name": "remember", "args": {"city": "Oslo"}, "id": "r"}]),
            "noted",
            AIMessage("", tool_calls=[{"name": "recall", "args": {}, "id": "q"}]),
            "Oslo",
        ]
    )
    agent = create_react_agent(model, [remember, recall], store=store, checkpointer=InMemorySaver())
    agent.invoke({"messages": [("user", "I like Oslo")]}, {"configurable": {"thread_id": "a"}})
    out = agent.invoke(
        {"messages": [("user", "what do I like?")]}, {"configurable": {"thread_id": "b"}}
    )
    assert shape(out["messages"])[-2:] == [("ToolMessage", "Oslo"), ("AIMessage", "Oslo")]
