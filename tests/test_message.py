"""wfkit.graph.message: add_messages with and without langchain_core."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from wfkit import START, StateGraph
from wfkit.graph.message import REMOVE_ALL_MESSAGES, MessagesState, add_messages


@pytest.fixture
def no_langchain(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if langchain_core were not installed (an import of it fails)."""
    monkeypatch.setitem(sys.modules, "langchain_core.messages", None)


def test_plain_dict_messages_without_langchain(no_langchain: None) -> None:
    import wfkit.graph.message as message

    merged = add_messages([{"role": "user", "content": "hi", "id": "1"}], [("ai", "hello"), "more"])
    assert [(m["role"], m["content"]) for m in merged] == [
        ("user", "hi"),
        ("assistant", "hello"),
        ("user", "more"),
    ]
    assert all(isinstance(m["id"], str) for m in merged)
    assert message.RemoveMessage is message._PlainRemove


def test_plain_messages_replace_and_remove_by_id(no_langchain: None) -> None:
    from wfkit.graph.message import RemoveMessage

    left = [{"role": "user", "content": "a", "id": "1"}, {"role": "ai", "content": "b", "id": "2"}]
    replaced = add_messages(left, [{"role": "user", "content": "a2", "id": "1"}])
    assert [m["content"] for m in replaced] == ["a2", "b"]
    assert [m["content"] for m in add_messages(left, [RemoveMessage("2")])] == ["a"]
    assert add_messages(left, [{"type": "remove", "id": "1"}])[0]["id"] == "2"
    fresh = add_messages(left, [RemoveMessage(REMOVE_ALL_MESSAGES), "new"])
    assert [m["content"] for m in fresh] == ["new"]


def test_plain_messages_bad_input_says_what_to_give(no_langchain: None) -> None:
    with pytest.raises(ValueError, match=r"cannot read 3 as a chat message"):
        add_messages([], [3])
    with pytest.raises(ValueError, match="no 'content'"):
        add_messages([], [{"role": "user"}])
    with pytest.raises(ValueError, match="doesn't exist"):
        add_messages([], [{"type": "remove", "id": "x"}])


def test_messages_state_graph_without_langchain(no_langchain: None) -> None:
    def reply(state: Any) -> dict[str, Any]:
        return {"messages": [("assistant", f"got {len(state['messages'])}")]}

    app = StateGraph(MessagesState).add_node("reply", reply).add_edge(START, "reply").compile()
    out = app.invoke({"messages": ["hi"]})
    assert [(m["role"], m["content"]) for m in out["messages"]] == [
        ("user", "hi"),
        ("assistant", "got 1"),
    ]


def test_langchain_messages_when_installed() -> None:
    messages = pytest.importorskip("langchain_core.messages")
    merged = add_messages([("user", "hi")], [messages.AIMessage("yo", id="2")])
    assert [type(m).__name__ for m in merged] == ["HumanMessage", "AIMessage"]
    from wfkit.graph.message import RemoveMessage

    assert RemoveMessage is messages.RemoveMessage


def test_format_option_returns_a_reducer() -> None:
    reducer = add_messages(format="langchain-openai")
    assert callable(reducer)
    with pytest.raises(ValueError, match="Unrecognized format"):
        add_messages([("user", "a")], [("user", "b")], format="other")


def test_importing_wfkit_does_not_import_langchain() -> None:
    import subprocess

    code = "import wfkit, wfkit.graph.message, sys; print('langchain_core' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


_MESSAGES_GRAPH = """
import sys
from langchain_core.messages import AIMessage
from wfkit import END, START, StateGraph
from wfkit.graph.message import MessagesState

def reply(state):
    return {"messages": [AIMessage(content="hello back")]}

app = (
    StateGraph(MessagesState).add_node("reply", reply).add_edge(START, "reply")
    .add_edge("reply", END).compile(checkpointer=sys.argv[1])
)
config = {"configurable": {"thread_id": "chat"}}
if sys.argv[2] == "write":
    app.invoke({"messages": [("user", "hi")]}, config)
else:
    print([(type(m).__name__, m.content) for m in app.get_state(config).values["messages"]])
"""


def test_a_messages_state_thread_reads_back_in_a_new_process(tmp_path: Any) -> None:
    """MessagesState types its messages list[Any], so its schema names no
    class: langchain_core's message classes are on the allowlist anyway."""
    pytest.importorskip("langchain_core.messages")
    import subprocess

    script = tmp_path / "chat.py"
    script.write_text(_MESSAGES_GRAPH)
    path = str(tmp_path / "chat.duckdb")
    for verb in ("write", "read"):
        out = subprocess.run(
            [sys.executable, str(script), path, verb], capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[('HumanMessage', 'hi'), ('AIMessage', 'hello back')]"


def test_only_message_classes_of_langchain_core_are_read_back() -> None:
    pytest.importorskip("langchain_core.messages")
    from wfkit.checkpoint.serde import Serde
    from wfkit.errors import UnsafeValueError

    serde = Serde()
    assert serde._lookup("langchain_core.messages.tool.ToolMessage").__name__ == "ToolMessage"
    for name in (
        "langchain_core.messages.ai.UsageMetadata",  # a TypedDict of that package
        "langchain_core.messages.human.AIMessage",  # a message class under another module
        "langchain_core.messages.utils.convert_to_messages",  # a function
    ):
        with pytest.raises(UnsafeValueError, match="not on the allowlist"):
            serde._lookup(name)
