"""``ToolNode`` runs the tool calls of the latest AI message, in parallel;
``tools_condition`` routes to it while the model asks for tools.

With LangGraph 1.x's semantics (``langgraph.prebuilt.tool_node``):

- **Input**: the graph state (a dict, or an object with a ``messages``
  attribute) whose latest ``AIMessage`` holds the calls; a list of
  messages; a list of ``ToolCall`` dicts; or one call sent with the state
  (``{"__type": "tool_call_with_context", "tool_call": ..., "state": ...}``,
  what ``create_react_agent`` sends each call as).
- **Output**: ``{"messages": [ToolMessage, ...]}`` in the calls' order (a
  plain list for a list of messages). A tool may return a ``Command``
  (with a ``ToolMessage`` for its call in ``update``); the output is then a
  list of ``Command``\\s and updates, which the engine applies as one.
- **Errors**: see :mod:`wfkit.prebuilt._tool_errors` (``handle_tool_errors``).
  A call naming an unknown tool always comes back as an error message.
- **Injection**: ``InjectedState``, ``InjectedStore``, ``ToolRuntime`` (see
  :mod:`wfkit.prebuilt._injection`) and langchain_core's
  ``InjectedToolCallId``.

Several calls run on threads at once (at most the config's
``max_concurrency``), each in a copy of the caller's context, so
``interrupt()``, ``get_config()`` and ``get_store()`` work inside tools. A
tool that has only an async implementation is run to completion on
wfkit's event loop (:func:`wfkit._loop.run_sync`): the node itself is
sync, so that a graph of sync nodes needs no event loop.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from dataclasses import dataclass, replace
from typing import Any, Literal, TypedDict, cast

from langchain_core.messages import (
    AIMessage,
    RemoveMessage,
    ToolCall,
    ToolMessage,
    convert_to_messages,
)
from langchain_core.messages.tool import ToolOutputMixin
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langchain_core.tools import tool as make_tool
from langchain_core.tools.base import TOOL_MESSAGE_BLOCK_TYPES
from pydantic import ValidationError

from wfkit._loop import run_sync
from wfkit.errors import GraphBubbleUp, ParentCommand
from wfkit.graph.message import REMOVE_ALL_MESSAGES
from wfkit.prebuilt._injection import (
    NO_STATE,
    Injected,
    InjectedState,
    InjectedStore,
    ToolRuntime,
    inject,
    scan,
)
from wfkit.prebuilt._tool_errors import (
    INVALID_TOOL_NAME,
    ErrorPolicy,
    HandleToolErrors,
    ToolInvocationError,
    default_handle_tool_errors,
    model_problems,
)
from wfkit.runtime import Runtime
from wfkit.types import Command, Send, adopt_tool_output

__all__ = [
    "InjectedState",
    "InjectedStore",
    "ToolCallRequest",
    "ToolCallWithContext",
    "ToolInvocationError",
    "ToolNode",
    "ToolRuntime",
    "msg_content_output",
    "runnable_config",
    "tools_condition",
]

adopt_tool_output(ToolOutputMixin)  # a tool may return wfkit's Command (see wfkit.types)

InputKind = Literal["list", "dict", "tool_calls"]
_RETHROWN = (GraphBubbleUp, ParentCommand)  # interrupts and Command.PARENT are not tool errors

# one tool call sent with the state it was made in ("__type" cannot be a class-body key)
ToolCallWithContext = TypedDict(
    "ToolCallWithContext",
    {"__type": Literal["tool_call_with_context"], "tool_call": ToolCall, "state": Any},
)

_LANGCHAIN_KEYS = ("tags", "metadata", "run_name", "max_concurrency", "recursion_limit")


def runnable_config(config: dict[str, Any], tags: Sequence[str] = ()) -> RunnableConfig:
    """The part of a task's config a langchain_core runnable (a tool, a chat
    model) is given: its ``tags``, ``metadata``, ``configurable``... but not
    wfkit's own keys. Callbacks are passed on unless a ``"messages"``
    stream already put them (with its own handler) in langchain_core's
    context."""
    from langchain_core.runnables.config import var_child_runnable_config

    out: dict[str, Any] = {k: config[k] for k in _LANGCHAIN_KEYS if k in config}
    if tags:
        out["tags"] = [*out.get("tags", ()), *tags]
    if "configurable" in config:
        out["configurable"] = dict(config["configurable"])
    context = var_child_runnable_config.get()
    if config.get("callbacks") is not None and (context is None or not context.get("callbacks")):
        out["callbacks"] = config["callbacks"]
    return cast(RunnableConfig, out)


def msg_content_output(output: Any) -> str | list[dict[str, Any]]:
    """A tool's output as ``ToolMessage`` content: text and content blocks as
    they are, anything else as JSON (or ``str()`` when it is not JSON-able)."""
    if isinstance(output, str) or (
        isinstance(output, list)
        and all(isinstance(x, dict) and x.get("type") in TOOL_MESSAGE_BLOCK_TYPES for x in output)
    ):
        return output
    try:
        return json.dumps(output, ensure_ascii=False)
    except Exception:
        return str(output)


@dataclass
class ToolCallRequest:
    """One tool call as ``wrap_tool_call`` sees it: the call, the tool
    (``None`` for a name the node does not know), the state and the tool's
    :class:`ToolRuntime`."""

    tool_call: ToolCall
    tool: BaseTool | None
    state: Any
    runtime: ToolRuntime[Any, Any]

    def override(self, **changes: Any) -> ToolCallRequest:
        """A copy with ``tool_call``, ``tool`` or ``state`` replaced (a new
        state is also the runtime's)."""
        request = replace(self, **changes)
        if "state" in changes:
            request = replace(request, runtime=replace(request.runtime, state=request.state))
        return request


ToolCallWrapper = Callable[
    [ToolCallRequest, Callable[[ToolCallRequest], Any]], "ToolMessage | Command[Any]"
]


class ToolNode:
    """A graph node that runs the tool calls of the latest AI message (see
    the module's text)::

        graph.add_node("tools", ToolNode([search, calculator]))
        graph.add_conditional_edges("agent", tools_condition)
        graph.add_edge("tools", "agent")

    - ``tools``: langchain_core tools, or functions (made into tools with
      ``langchain_core.tools.tool``);
    - ``handle_tool_errors``: which errors come back to the model as error
      messages (``True``, a text, exception types, a function ``(e) ->
      str``, ``False``); by default the model's bad arguments do, the tools'
      own errors are raised;
    - ``messages_key``: the state key that holds the messages;
    - ``wrap_tool_call``: ``fn(request, execute)`` around each call, to
      retry, change or answer it (``execute(request)`` runs the tool).
    """

    def __init__(
        self,
        tools: Sequence[BaseTool | Callable[..., Any]],
        *,
        name: str = "tools",
        tags: Sequence[str] | None = None,
        handle_tool_errors: HandleToolErrors = default_handle_tool_errors,
        messages_key: str = "messages",
        wrap_tool_call: ToolCallWrapper | None = None,
        awrap_tool_call: Any = None,
    ) -> None:
        if awrap_tool_call is not None:
            raise TypeError(
                "ToolNode(awrap_tool_call=...): wfkit's ToolNode runs tools from sync code (async "
                "tools included), so it takes a sync wrap_tool_call=fn(request, execute) only"
            )
        self.name = name
        self.tags = list(tags or ())
        self.handle_tool_errors = handle_tool_errors
        self._policy = ErrorPolicy(handle_tool_errors)
        self.messages_key = messages_key
        self._wrap = wrap_tool_call
        self._tools: dict[str, BaseTool] = {}
        self._injected: dict[str, Injected] = {}
        for given in tools:
            if isinstance(given, BaseTool):
                made = given
            elif callable(given):
                made = make_tool(given)
            else:
                raise TypeError(
                    f"ToolNode: {given!r} is not a tool; give langchain_core tools or functions"
                )
            self._tools[made.name] = made
            self._injected[made.name] = scan(made)

    @property
    def tools_by_name(self) -> dict[str, BaseTool]:
        """The node's tools by name."""
        return self._tools

    def __repr__(self) -> str:
        return f"ToolNode(name={self.name!r}, tools={list(self._tools)})"

    # ------------------------------------------------------------ as a node
    def __call__(self, input: Any, config: dict[str, Any], runtime: Runtime[Any]) -> Any:
        # this method must not name Command: the compiler would then take the
        # node for one that may go anywhere, and stop checking reachability
        calls, kind, state = self._parse(input)
        tools = list(self._tools.values())
        runtimes = [
            ToolRuntime(
                state=state,
                context=runtime.context,
                config=config,
                stream_writer=runtime.stream_writer,
                tool_call_id=call["id"],
                store=runtime.store,
                tools=tools,
            )
            for call in calls
        ]
        return self._combine(self._run_all(calls, kind, runtimes, config), kind)

    def invoke(self, input: Any, config: dict[str, Any] | None = None, **_: Any) -> Any:
        """Run the node outside a graph (no store, no context)."""
        return self(input, dict(config or {}), Runtime())

    async def ainvoke(self, input: Any, config: dict[str, Any] | None = None, **_: Any) -> Any:
        """:meth:`invoke` on a worker thread."""
        import asyncio

        return await asyncio.to_thread(contextvars.copy_context().run, self.invoke, input, config)

    # ------------------------------------------------------------ input
    def _parse(self, input: Any) -> tuple[list[ToolCall], InputKind, Any]:
        """The calls to run, the kind of input, and the state tools may be given."""
        key = self.messages_key
        messages: Any
        kind: InputKind
        state: Any
        if isinstance(input, list):
            if input and isinstance(input[-1], dict) and input[-1].get("type") == "tool_call":
                return list(input), "tool_calls", NO_STATE
            messages, kind, state = input, "list", input
        elif isinstance(input, dict) and input.get("__type") == "tool_call_with_context":
            return [input["tool_call"]], "tool_calls", input["state"]
        elif isinstance(input, dict) and input.get(key):
            messages, kind, state = input[key], "dict", input
        elif not isinstance(input, dict) and getattr(input, key, None):
            messages, kind, state = getattr(input, key), "dict", input
        else:
            raise ValueError(
                f"ToolNode {self.name!r} found no messages in its input (under {key!r}); give it "
                f"the state with the model's AIMessage in {key!r}, a list of messages, or a "
                "list of tool calls"
            )
        latest = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
        if latest is None:
            raise ValueError(
                f"ToolNode {self.name!r}: no AIMessage in {key!r}; it runs the tool calls of "
                "the latest AIMessage, so call the model first"
            )
        return list(latest.tool_calls), kind, state

    # ------------------------------------------------------------ running
    def _run_all(
        self,
        calls: list[ToolCall],
        kind: InputKind,
        runtimes: list[ToolRuntime[Any, Any]],
        config: dict[str, Any],
    ) -> list[Any]:
        if len(calls) <= 1:
            return [self._run_one(c, kind, r, config) for c, r in zip(calls, runtimes, strict=True)]
        limit = config.get("max_concurrency") or len(calls)
        with ThreadPoolExecutor(min(limit, len(calls)), thread_name_prefix="wfkit-tool") as pool:
            futures = [
                pool.submit(contextvars.copy_context().run, self._run_one, c, kind, r, config)
                for c, r in zip(calls, runtimes, strict=True)
            ]
            return [f.result() for f in futures]  # the first failure in call order is raised

    def _run_one(
        self,
        call: ToolCall,
        kind: InputKind,
        runtime: ToolRuntime[Any, Any],
        config: dict[str, Any],
    ) -> Any:
        request = ToolCallRequest(
            tool_call=call, tool=self._tools.get(call["name"]), state=runtime.state, runtime=runtime
        )
        if self._wrap is None:
            return self._execute(request, kind, config)
        try:
            return self._wrap(request, lambda req: self._execute(req, kind, config))
        except _RETHROWN:
            raise
        except Exception as exc:
            if not self.handle_tool_errors:
                raise
            return self._error(request.tool_call, self._policy.content(exc))

    def _error(self, call: ToolCall, content: str) -> ToolMessage:
        return ToolMessage(content, name=call["name"], tool_call_id=call["id"], status="error")

    def _execute(self, request: ToolCallRequest, kind: InputKind, config: dict[str, Any]) -> Any:
        """One call: its tool run with the injected arguments, the result
        checked, an error handled as ``handle_tool_errors`` says."""
        call, tool = request.tool_call, request.tool
        if tool is None:
            tools = ", ".join(self._tools)
            return self._error(call, INVALID_TOOL_NAME.format(name=call["name"], tools=tools))
        injected = self._injected.get(call["name"]) or scan(tool)  # a tool a wrapper swapped in
        full = inject(dict(call), injected, request.runtime, self.messages_key)
        lc_config = runnable_config(config, self.tags)
        try:
            try:
                response = _invoke(tool, {**full, "type": "tool_call"}, lc_config)
            except ValidationError as exc:
                problems = model_problems(exc, injected.hidden)
                raise ToolInvocationError(call["name"], exc, call["args"], problems) from exc
            return self._checked(response, call, kind)
        except _RETHROWN:
            raise
        except Exception as exc:
            if not self._policy.catches(exc):
                raise
            return self._error(call, self._policy.content(exc))

    # ------------------------------------------------------------ output
    def _checked(self, response: Any, call: ToolCall, kind: InputKind) -> Any:
        if isinstance(response, Command):
            return self._checked_command(response, call, kind)
        if isinstance(response, ToolMessage):
            response.content = msg_content_output(response.content)  # type: ignore[assignment]
            return response
        if isinstance(response, list) and all(
            isinstance(r, Command | ToolMessage) for r in response
        ):
            return self._checked_list(response, call, kind)
        raise TypeError(
            f"tool {call['name']!r} returned {type(response).__name__}; a tool called by ToolNode "
            "returns its result, a ToolMessage, a Command, or a list of them"
        )

    def _matching(self, messages: Any, call: ToolCall) -> list[ToolMessage]:
        return [
            m
            for m in (messages if isinstance(messages, list) else [messages])
            if isinstance(m, ToolMessage) and m.tool_call_id == call["id"]
        ]

    def _checked_list(self, response: list[Any], call: ToolCall, kind: InputKind) -> list[Any]:
        found = 0
        for item in response:
            if isinstance(item, ToolMessage):
                found += item.tool_call_id == call["id"]
            elif isinstance(item.update, dict):
                found += len(self._matching(item.update.get(self.messages_key, []), call))
        if found != 1:
            raise ValueError(
                f"tool {call['name']!r} returned a list with {found} messages for tool call "
                f"{call['id']!r}; it must hold exactly one ToolMessage(tool_call_id={call['id']!r})"
            )
        out: list[Any] = []
        for item in response:
            if isinstance(item, ToolMessage):
                item.content = msg_content_output(item.content)  # type: ignore[assignment]
                out.append(item)
            else:
                out.append(self._checked_command(item, call, kind, terminated=True))
        return out

    def _checked_command(
        self, command: Command[Any], call: ToolCall, kind: InputKind, *, terminated: bool = False
    ) -> Command[Any]:
        """``command`` (a copy) with its tool message named after the tool;
        a command for this graph must answer the call with a ToolMessage."""
        key, name = self.messages_key, call["name"]
        if isinstance(command.update, dict):
            if kind == "list":
                raise ValueError(
                    f"tool {name!r} returned Command(update={{...}}), a dict, but the ToolNode "
                    f"was given a list of messages; update with a list of messages, or give the "
                    f"ToolNode the state (a dict with {key!r})"
                )
            command = deepcopy(command)
            given = command.update.get(key, [])
        elif isinstance(command.update, list):
            if kind != "list":
                raise ValueError(
                    f"tool {name!r} returned Command(update=[...]), a list of messages, but the "
                    f"ToolNode was given the state; update with {{{key!r}: [...]}}"
                )
            command = deepcopy(command)
            given = command.update
        else:
            return command
        messages = convert_to_messages(given if isinstance(given, list) else [given])
        if messages == [RemoveMessage(id=REMOVE_ALL_MESSAGES)]:
            return command
        matching = self._matching(messages, call)
        for message in matching:
            message.name = name
        if not terminated and command.graph is None and not matching:
            example = (
                f"Command(update={{{key!r}: [ToolMessage('done', tool_call_id=tool_call_id)]}})"
                if kind != "list"
                else "Command(update=[ToolMessage('done', tool_call_id=tool_call_id)])"
            )
            raise ValueError(
                f"tool {name!r} returned a Command whose update has no ToolMessage for its call "
                f"{call['id']!r} (got {messages!r}); every tool call needs one, so the model sees "
                f"a result: return {example}, with tool_call_id from an InjectedToolCallId argument"
            )
        return command

    def _combine(self, outputs: list[Any], kind: InputKind) -> Any:
        flat: list[Any] = []
        for out in outputs:
            flat.extend(out) if isinstance(out, list) else flat.append(out)
        key = self.messages_key
        if not any(isinstance(o, Command) for o in flat):
            return flat if kind == "list" else {key: flat}
        combined: list[Any] = []
        parent: Command[Any] | None = None  # Command.PARENT gotos of Sends, merged into one
        for out in flat:
            if not isinstance(out, Command):
                combined.append([out] if kind == "list" else {key: [out]})
            elif (
                out.graph == Command.PARENT
                and isinstance(out.goto, list)
                and all(isinstance(s, Send) for s in out.goto)
            ):
                sends = [*(parent.goto if parent else ()), *out.goto]  # type: ignore[misc]
                parent = Command(graph=Command.PARENT, goto=sends)
            else:
                combined.append(out)
        if parent is not None:
            combined.append(parent)
        return combined


def _invoke(tool: BaseTool, call: dict[str, Any], config: RunnableConfig) -> Any:
    """``tool.invoke(call)``; a tool with only an async implementation is
    awaited on wfkit's loop."""
    if getattr(tool, "func", False) is None and getattr(tool, "coroutine", None) is not None:
        return run_sync(tool.ainvoke(call, config))
    return tool.invoke(call, config)


def tools_condition(state: Any, messages_key: str = "messages") -> Literal["tools", "__end__"]:
    """The router of a tool-calling loop: ``"tools"`` when the latest
    message asks for tool calls, else ``END``::

        graph.add_conditional_edges("agent", tools_condition)
    """
    if isinstance(state, list):
        messages = state
    elif isinstance(state, dict):
        messages = state.get(messages_key) or []
    else:
        messages = getattr(state, messages_key, None) or []
    if not messages:
        raise ValueError(
            f"tools_condition found no messages under {messages_key!r} in the state "
            f"({state!r}); route with it after the node that calls the model"
        )
    last = messages[-1]
    return "tools" if getattr(last, "tool_calls", None) else "__end__"
