"""Prebuilt tool-calling agents, with ``langgraph.prebuilt``'s names:
:class:`ToolNode`, :func:`tools_condition` and :func:`create_react_agent`.

::

    from langchain_core.tools import tool
    from wfkit.prebuilt import create_react_agent

    @tool
    def weather(city: str) -> str:
        \"\"\"The weather in a city.\"\"\"
        return f"sunny in {city}"

    agent = create_react_agent(model, [weather], prompt="Be brief.")
    agent.invoke({"messages": [("user", "weather in Paris?")]})

``model`` is any langchain_core chat model that supports ``bind_tools``
(:class:`wfkit.prebuilt.testing.ScriptedChatModel` answers from a script,
with no network). The agent is an ordinary compiled graph: checkpoints,
traces, streaming and the debugger work on it as on any other.

These need langchain_core, the ``langchain`` extra
(``pip install 'wfkit[langchain]'``); ``import wfkit`` does not, and
importing this package without it raises
:class:`~wfkit.errors.DependencyMissingError`. See ``docs/prebuilt.md``.
"""

from typing import Final

from wfkit.errors import DependencyMissingError

INSTALL: Final = "pip install 'wfkit[langchain]'"

try:
    import langchain_core.messages  # noqa: F401 - the check; the modules below use it
except ImportError as exc:
    raise DependencyMissingError(
        f"wfkit.prebuilt (ToolNode, tools_condition, create_react_agent) needs langchain_core, "
        f"which is not installed ({exc}); install it with: {INSTALL}"
    ) from exc

# the check above must come first: these import langchain_core
from wfkit.prebuilt.chat_agent_executor import (  # noqa: E402
    AgentState,
    AgentStatePydantic,
    create_react_agent,
)
from wfkit.prebuilt.tool_node import (  # noqa: E402
    InjectedState,
    InjectedStore,
    ToolCallRequest,
    ToolNode,
    ToolRuntime,
    tools_condition,
)

__all__ = [
    "AgentState",
    "AgentStatePydantic",
    "InjectedState",
    "InjectedStore",
    "ToolCallRequest",
    "ToolNode",
    "ToolRuntime",
    "create_react_agent",
    "tools_condition",
]
