"""A chat model for tests, tutorials and offline work: it answers from a
script and needs no network.

::

    from langchain_core.messages import AIMessage
    from wfkit.prebuilt.testing import ScriptedChatModel

    model = ScriptedChatModel(responses=[
        AIMessage("", tool_calls=[{"name": "weather", "args": {"city": "Paris"}, "id": "call-1"}]),
        "It is sunny in Paris.",
    ])
    agent = create_react_agent(model, [weather])

It is a real langchain_core chat model (a ``BaseChatModel``): callbacks,
``stream_mode="messages"`` and tracing see it as they see any other.
``bind_tools`` records the tools' names in ``bound_tools`` and returns the
model itself; each call records the messages it was given in ``calls``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field, PrivateAttr, field_validator

__all__ = ["ScriptedChatModel"]


class ScriptedChatModel(BaseChatModel):
    """Answers call *n* with ``responses[n]`` (an ``AIMessage``, or a string
    for a plain answer); a call past the end of the script is an error.

    ``sleep`` seconds are spent on each call, so traces show where a real
    model's time would go.
    """

    responses: list[Any]  # AIMessage or str (checked below: a union would parse a str as a message)
    sleep: float = 0.0
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    bound_tools: list[str] = Field(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @field_validator("responses")
    @classmethod
    def _messages_or_text(cls, responses: list[Any]) -> list[Any]:
        for i, r in enumerate(responses):
            if not isinstance(r, AIMessage | str):
                raise ValueError(
                    f"responses[{i}] is {type(r).__name__}; give an AIMessage (with tool_calls "
                    "to call tools) or a string (the model's answer)"
                )
        return responses

    @property
    def _llm_type(self) -> str:
        return "wfkit-scripted"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[Any, AIMessage]:
        """Record the tools' names; the script decides which it calls."""
        self.bound_tools = [convert_to_openai_tool(t)["function"]["name"] for t in tools]
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self._lock:  # one model may serve runs on several threads
            n = len(self.calls)
            if n >= len(self.responses):
                raise ValueError(
                    f"ScriptedChatModel was called {n + 1} times but its script has "
                    f"{len(self.responses)} responses; add one for this call to responses=[...]"
                )
            self.calls.append(list(messages))
        if self.sleep:
            time.sleep(self.sleep)
        scripted = self.responses[n]
        # a copy: the agent names its reply, which must not change the script
        reply = AIMessage(scripted) if isinstance(scripted, str) else scripted.model_copy(deep=True)
        return ChatResult(generations=[ChatGeneration(message=reply)])
