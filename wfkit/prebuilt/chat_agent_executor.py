"""``create_react_agent``: a model that calls tools in a loop until it
answers, as a compiled graph (LangGraph 1.x's
``langgraph.prebuilt.chat_agent_executor``).

The graph::

    START -> [pre_model_hook ->] agent -> tools -> agent ... -> [post_model_hook ->]
             [generate_structured_response ->] END

- ``agent`` calls the model with the prompt and the messages and appends
  its reply (named after the agent). When the run is about to reach its
  recursion limit (``remaining_steps`` below 2 with tool calls pending) it
  answers "Sorry, need more steps to process this request." instead of
  failing with ``GraphRecursionError``.
- A reply with tool calls goes to ``tools`` (a :class:`ToolNode`): with
  ``version="v2"`` (the default) each call is its own task, sent with the
  state it was made in (a ``Send`` of a ``ToolCallWithContext``), so the
  calls run in parallel and a checkpoint between them keeps each; with
  ``"v1"`` one task runs them all. A reply without tool calls ends the run.
- A tool with ``return_direct=True`` ends the run after it answers.

``interrupt_before=["tools"]`` pauses before the tools run, so a human can
approve the calls (``invoke(None, config)`` continues) or change them
(``update_state``) first.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Sequence
from copy import copy
from typing import Annotated, Any, Final, Literal, NotRequired, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, SystemMessage, ToolMessage
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig, RunnableSequence
from langchain_core.tools import BaseTool
from pydantic import BaseModel

from wfkit._loop import run_sync
from wfkit.errors import DependencyMissingError, InvalidInputError
from wfkit.graph.builder import StateGraph
from wfkit.graph.message import add_messages
from wfkit.managed import RemainingSteps
from wfkit.prebuilt.tool_node import ToolNode, runnable_config
from wfkit.runtime import Runtime
from wfkit.types import END, Send
from wfkit.workflow import Workflow

__all__ = [
    "AgentState",
    "AgentStatePydantic",
    "AgentStateWithStructuredResponse",
    "AgentStateWithStructuredResponsePydantic",
    "create_react_agent",
    "create_tool_calling_executor",
]

NEED_MORE_STEPS: Final = "Sorry, need more steps to process this request."

StructuredResponse = dict[str, Any] | BaseModel


# ``AnyMessage`` (LangGraph writes ``BaseMessage``): its union names every message
# class, so a checkpoint file read by a new process may decode them
# (wfkit.checkpoint.serde's allowlist is built from the state's annotations)


class AgentState(TypedDict):
    """The agent's state: its messages, and the steps it has left."""

    messages: Annotated[Sequence[AnyMessage], add_messages]
    remaining_steps: NotRequired[RemainingSteps]


class AgentStatePydantic(BaseModel):
    """:class:`AgentState` as a pydantic model."""

    messages: Annotated[Sequence[AnyMessage], add_messages]
    remaining_steps: RemainingSteps = 25


class AgentStateWithStructuredResponse(AgentState):
    """:class:`AgentState` with the ``response_format`` answer."""

    structured_response: StructuredResponse


class AgentStateWithStructuredResponsePydantic(AgentStatePydantic):
    structured_response: StructuredResponse


def _value(state: Any, key: str, default: Any = None) -> Any:
    return state.get(key, default) if isinstance(state, dict) else getattr(state, key, default)


# ---------------------------------------------------------------- prompt and model
Prompt = Callable[[Any, RunnableConfig], Any]


def _prompt(prompt: Any) -> Prompt:
    """``prompt=`` as a function (state, config) -> the model's input."""
    if prompt is None:
        return lambda state, config: _value(state, "messages")
    if isinstance(prompt, str):
        system = SystemMessage(content=prompt)
        return lambda state, config: [system, *_value(state, "messages")]
    if isinstance(prompt, SystemMessage):
        return lambda state, config: [prompt, *_value(state, "messages")]
    if isinstance(prompt, Runnable):
        return lambda state, config: prompt.invoke(state, config)
    if inspect.iscoroutinefunction(prompt):
        return lambda state, config: run_sync(prompt(state))
    if callable(prompt):
        return lambda state, config: prompt(state)
    raise InvalidInputError(
        f"create_react_agent(prompt={prompt!r}): give a string, a SystemMessage, a function "
        "(state) -> messages, or a langchain_core Runnable"
    )


def _first_model_step(model: Any) -> Any:
    if isinstance(model, RunnableSequence):
        return next(
            (s for s in model.steps if isinstance(s, RunnableBinding | BaseChatModel)), model
        )
    return model


def _tool_name(spec: dict[str, Any]) -> str | None:
    if spec.get("type") == "function":  # OpenAI's form
        return str(spec["function"]["name"])
    return spec.get("name")  # Anthropic's form; others are not checked


def _should_bind(model: Any, tools: list[BaseTool], builtin: int) -> bool:
    """Whether ``model`` still needs ``bind_tools``; a model bound already
    must have been bound with the same tools."""
    model = _first_model_step(model)
    if not isinstance(model, RunnableBinding) or "tools" not in model.kwargs:
        return True
    bound = model.kwargs["tools"]
    if len(tools) != len(bound) - builtin:
        raise InvalidInputError(
            f"create_react_agent: the model was bound with {len(bound) - builtin} tools "
            f"(model.bind_tools) but given {len(tools)}; bind the same tools, or pass the "
            "model unbound and let create_react_agent bind them"
        )
    names = {n for n in map(_tool_name, bound) if n}
    if missing := {t.name for t in tools} - names:
        raise InvalidInputError(
            f"create_react_agent: tools {sorted(missing)} are not bound to the model; bind "
            "them with model.bind_tools(...) or pass the model unbound"
        )
    return False


def _chat_model(model: Any) -> BaseChatModel:
    """The chat model inside a binding or a sequence (for ``with_structured_output``)."""
    model = _first_model_step(model)
    if isinstance(model, RunnableBinding):
        model = model.bound
    if not isinstance(model, BaseChatModel):
        raise TypeError(
            f"response_format needs a chat model (or model.bind_tools(...)), got {type(model)}"
        )
    return model


def _named_model(name: str) -> Any:
    try:
        from langchain.chat_models import (  # type: ignore[import-not-found, unused-ignore]
            init_chat_model,
        )
    except ImportError as exc:
        raise DependencyMissingError(
            f"create_react_agent({name!r}): a model named by a '<provider>:<model>' string needs "
            f"the langchain package (pip install langchain); or pass a chat model object"
        ) from exc
    return init_chat_model(name)


def _check_history(messages: Sequence[BaseMessage]) -> None:
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    open_calls = [
        call
        for m in messages
        if isinstance(m, AIMessage)
        for call in m.tool_calls
        if call["id"] not in answered
    ]
    if open_calls:
        raise ValueError(
            "Found AIMessages with tool_calls that do not have a corresponding ToolMessage. "
            f"Here are the first few of those tool calls: {open_calls[:3]}.\n\n"
            "Every tool call in the messages needs a ToolMessage with its tool_call_id before "
            "the model is called again (most providers require it): let the run continue "
            "(invoke(None, config)) to run the tools, or answer each call with "
            "update_state(config, {'messages': [ToolMessage(..., tool_call_id=...)]})"
        )


# ---------------------------------------------------------------- the agent
def create_react_agent(
    model: Any,
    tools: Sequence[BaseTool | Callable[..., Any] | dict[str, Any]] | ToolNode,
    *,
    prompt: Any = None,
    response_format: Any = None,
    pre_model_hook: Any = None,
    post_model_hook: Any = None,
    state_schema: type[Any] | None = None,
    context_schema: type[Any] | None = None,
    checkpointer: Any = None,
    store: Any = None,
    interrupt_before: Sequence[str] | None = None,
    interrupt_after: Sequence[str] | None = None,
    debug: bool = False,
    version: Literal["v1", "v2"] = "v2",
    name: str | None = None,
    **deprecated: Any,
) -> Workflow:
    """A tool-calling agent as a compiled graph (see the module's text).

    - ``model``: a langchain_core chat model that supports ``bind_tools``
      (the tools are bound here unless already bound), a
      ``"provider:model"`` string (needs ``langchain``), or a function
      ``(state, runtime) -> model`` choosing one per call (bind its tools yourself);
    - ``tools``: tools, functions, provider tool dicts (bound, not run
      here), or a :class:`ToolNode`; with none, the agent is one model call;
    - ``prompt``: a system prompt (a string or ``SystemMessage``), or a
      function / Runnable from the state to the model's input;
    - ``response_format``: a schema (or ``(prompt, schema)``); after the
      loop, one more call with ``with_structured_output`` fills
      ``structured_response``;
    - ``pre_model_hook`` / ``post_model_hook``: nodes before / after the
      model call (the pre hook may return ``llm_input_messages``, the
      model's input, instead of changing ``messages``);
    - ``state_schema``: a state with at least ``messages`` and
      ``remaining_steps`` (default :class:`AgentState`);
    - ``checkpointer``, ``store``, ``interrupt_before``, ``interrupt_after``,
      ``name``: as for ``StateGraph.compile``.
    """
    if "config_schema" in deprecated:
        import warnings

        warnings.warn(
            "`config_schema` is deprecated (as in LangGraph); use `context_schema` instead",
            DeprecationWarning,
            stacklevel=2,
        )
        given = deprecated.pop("config_schema")
        context_schema = context_schema or given
    if deprecated:
        raise TypeError(
            f"create_react_agent() got unexpected keyword argument(s) {', '.join(sorted(deprecated))}"
        )
    if version not in ("v1", "v2"):
        raise InvalidInputError(f"create_react_agent(version={version!r}): give 'v1' or 'v2'")
    if debug:
        raise InvalidInputError(
            "create_react_agent(debug=True): wfkit prints no debug log; stream with "
            "stream_mode='debug', or step through the agent with wfkit.Debugger(agent, input)"
        )
    if post_model_hook is not None and version == "v1":
        raise InvalidInputError(
            "create_react_agent(post_model_hook=...) works with version='v2' only (as in LangGraph)"
        )
    if state_schema is not None:
        wanted = {"messages", "remaining_steps"} | (
            {"structured_response"} if response_format else set()
        )
        if missing := wanted - set(typing.get_type_hints(state_schema)):
            raise InvalidInputError(
                f"create_react_agent(state_schema={state_schema.__name__}): it lacks "
                f"{', '.join(sorted(missing))}; subclass AgentState (or AgentStatePydantic)"
            )
    else:
        state_schema = AgentStateWithStructuredResponse if response_format else AgentState

    builtin: list[dict[str, Any]] = []
    if isinstance(tools, ToolNode):
        tool_node = tools
    else:
        builtin = [t for t in tools if isinstance(t, dict)]
        tool_node = ToolNode([t for t in tools if not isinstance(t, dict)])
    tool_list = list(tool_node.tools_by_name.values())

    dynamic = callable(model) and not isinstance(model, str | Runnable)
    if not dynamic:
        if isinstance(model, str):
            model = _named_model(model)
        if (tool_list or builtin) and _should_bind(model, tool_list, len(builtin)):
            try:
                model = model.bind_tools([*tool_list, *builtin])
            except (NotImplementedError, AttributeError) as exc:
                raise InvalidInputError(
                    f"create_react_agent: {type(model).__name__} does not support bind_tools, "
                    "so it cannot call tools; use a chat model with tool calling (or tools=[])"
                ) from exc
    to_input = _prompt(prompt)
    direct = {t.name for t in tool_list if t.return_direct}
    pydantic_state = isinstance(state_schema, type) and issubclass(state_schema, BaseModel)

    def resolve(state: Any, runtime: Runtime[Any]) -> Any:
        if not dynamic:
            return model
        chosen = model(state, runtime)
        return run_sync(chosen) if inspect.iscoroutine(chosen) else chosen

    def model_input(state: Any, config: RunnableConfig) -> Any:
        messages = _value(state, "messages")
        if pre_model_hook is not None:
            messages = _value(state, "llm_input_messages") or messages
        if messages is None:
            wanted = "'llm_input_messages' or 'messages'" if pre_model_hook else "'messages'"
            raise ValueError(f"the agent's model call needs {wanted} in the state, got {state!r}")
        _check_history(messages)
        if messages is not _value(state, "messages"):
            if pydantic_state:
                state = copy(state)
                state.messages = messages
            else:
                state = {**state, "messages": messages}
        return to_input(state, config)

    def more_steps_needed(state: Any, response: Any) -> bool:
        calls = response.tool_calls if isinstance(response, AIMessage) else []
        left = _value(state, "remaining_steps")
        if left is None:
            return False
        all_direct = isinstance(response, AIMessage) and all(c["name"] in direct for c in calls)
        return (left < 1 and all_direct) or (left < 2 and bool(calls))

    def agent(state: Any, config: dict[str, Any], runtime: Runtime[Any]) -> dict[str, Any]:
        lc_config = runnable_config(config)
        response = resolve(state, runtime).invoke(model_input(state, lc_config), lc_config)
        response.name = name
        if more_steps_needed(state, response):
            return {"messages": [AIMessage(id=response.id, content=NEED_MORE_STEPS)]}
        return {"messages": [response]}

    def generate_structured_response(
        state: Any, config: dict[str, Any], runtime: Runtime[Any]
    ) -> dict[str, Any]:
        messages = list(_value(state, "messages"))
        schema = response_format
        if isinstance(response_format, tuple):
            system, schema = response_format
            messages = [SystemMessage(content=system), *messages]
        structured = _chat_model(resolve(state, runtime)).with_structured_output(schema)
        return {"structured_response": structured.invoke(messages, runnable_config(config))}

    input_schema = None
    if pre_model_hook is not None:  # the agent also reads the hook's llm_input_messages
        if pydantic_state:
            from pydantic import create_model

            input_schema = create_model(
                "CallModelInputSchema",
                llm_input_messages=(list[AnyMessage], ...),
                __base__=state_schema,
            )
        else:

            class CallModelInputSchema(state_schema):  # type: ignore[valid-type, misc]
                llm_input_messages: list[AnyMessage]

            input_schema = CallModelInputSchema

    builder = StateGraph(state_schema, context_schema=context_schema)
    builder.add_node("agent", agent, input_schema=input_schema)
    entry = "agent"
    if pre_model_hook is not None:
        builder.add_node("pre_model_hook", pre_model_hook)
        builder.add_edge("pre_model_hook", "agent")
        entry = "pre_model_hook"
    builder.set_entry_point(entry)
    if post_model_hook is not None:
        builder.add_node("post_model_hook", post_model_hook)
        builder.add_edge("agent", "post_model_hook")
    if response_format is not None:
        builder.add_node("generate_structured_response", generate_structured_response)
    after = "generate_structured_response" if response_format is not None else END

    if not tool_list:
        if response_format is not None:
            builder.add_edge("post_model_hook" if post_model_hook else "agent", after)
        return _compile(builder, checkpointer, store, interrupt_before, interrupt_after, name)

    def sends(state: Any, calls: list[Any]) -> list[Send]:
        return [
            Send("tools", {"__type": "tool_call_with_context", "tool_call": call, "state": state})
            for call in calls
        ]

    def should_continue(state: Any) -> Any:
        last = _value(state, "messages")[-1]
        if not isinstance(last, AIMessage) or not last.tool_calls:
            return "post_model_hook" if post_model_hook is not None else after
        if version == "v1":
            return "tools"
        if post_model_hook is not None:
            return "post_model_hook"
        return sends(state, last.tool_calls)

    builder.add_node("tools", tool_node)
    agent_paths = ["post_model_hook"] if post_model_hook is not None else ["tools", after]
    builder.add_conditional_edges("agent", should_continue, agent_paths)

    if post_model_hook is not None:

        def post_model_hook_router(state: Any) -> Any:
            messages = _value(state, "messages")
            answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
            latest = next(m for m in reversed(messages) if isinstance(m, AIMessage))
            pending = [c for c in latest.tool_calls if c["id"] not in answered]
            if pending:
                return sends(state, pending)
            if isinstance(messages[-1], ToolMessage):
                return entry
            return after

        builder.add_conditional_edges(
            "post_model_hook", post_model_hook_router, [entry, "tools", after]
        )

    if direct:

        def route_tool_responses(state: Any) -> str:
            last: Any = None
            for message in reversed(_value(state, "messages")):
                last = message
                if not isinstance(message, ToolMessage):
                    break
                if message.name in direct:
                    return END
            # a parallel call of a return_direct tool, answered in another task
            if isinstance(last, AIMessage) and any(c["name"] in direct for c in last.tool_calls):
                return END
            return entry

        builder.add_conditional_edges("tools", route_tool_responses, [entry, END])
    else:
        builder.add_edge("tools", entry)
    return _compile(builder, checkpointer, store, interrupt_before, interrupt_after, name)


def _compile(
    builder: StateGraph,
    checkpointer: Any,
    store: Any,
    interrupt_before: Sequence[str] | None,
    interrupt_after: Sequence[str] | None,
    name: str | None,
) -> Workflow:
    return builder.compile(
        checkpointer,
        interrupt_before=interrupt_before or (),
        interrupt_after=interrupt_after or (),
        name=name or "agent",
        store=store,
    )


create_tool_calling_executor = create_react_agent  # LangGraph's older name
