"""``stream_mode="messages"``: chat model tokens and the messages nodes return.

Imported only by a run that streams ``"messages"``; it needs langchain_core
for chat models (without it, nothing here has anything to stream).

- Inside each task of such a run, langchain_core's context config carries a
  callback handler (:func:`enter_chat_callbacks`), so a chat model a node
  calls (``model.invoke(...)`` included: the handler asks models to stream)
  reports each token; each becomes ``(AIMessageChunk, metadata)``.
- When a task finishes, the messages in its update that were neither in its
  input nor streamed already are emitted whole (:func:`node_messages`).

``metadata`` is LangGraph's: the task's ``langgraph_node``,
``langgraph_step``, ``langgraph_checkpoint_ns``... plus what the chat model
adds (``ls_provider``, ``ls_model_type``...).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import fields, is_dataclass
from typing import Any

# the sink is a wfkit.engine.events.Sink (not imported: that module imports this one)


__all__ = ["enter_chat_callbacks", "node_messages"]

from wfkit.constants import TAG_NOSTREAM

_handler_class: Any = None


def _namespace(metadata: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(metadata.get("langgraph_checkpoint_ns", "")).split("|"))[:-1]


def _emit(sink: Any, ns: tuple[str, ...], message: Any, metadata: dict[str, Any]) -> None:
    if message.id is None:
        message.id = str(uuid.uuid4())
    sink.seen.add(message.id)
    sink.emit(ns, "messages", (message, metadata))


def _make_handler_class() -> Any:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk

    marker: Any = object
    try:  # the marker that makes BaseChatModel.invoke stream to its handlers
        from langchain_core.tracers import _streaming

        marker = _streaming._StreamingCallbackHandler
    except (ImportError, AttributeError):  # pragma: no cover - older langchain_core
        pass

    class ChatTokens(BaseCallbackHandler, marker):  # type: ignore[misc]
        """Relays a chat model's tokens and final message to a stream's sink."""

        run_inline = True  # called in the model's thread, in order

        def __init__(self, sink: Any) -> None:
            self.sink = sink
            self.runs: dict[Any, tuple[tuple[str, ...], dict[str, Any]]] = {}

        def tap_output_iter(self, run_id: Any, output: Any) -> Any:
            return output

        def tap_output_aiter(self, run_id: Any, output: Any) -> Any:
            return output

        def on_chat_model_start(
            self,
            serialized: Any,
            messages: Any,
            *,
            run_id: Any,
            tags: list[str] | None = None,
            metadata: dict[str, Any] | None = None,
            **kwargs: Any,
        ) -> None:
            if not metadata or "langgraph_node" not in metadata:
                return  # not called from a node of this stream
            if tags and TAG_NOSTREAM in tags:
                return
            ns = _namespace(metadata)
            if self.sink.wants(ns):
                self.runs[run_id] = (ns, metadata)

        def on_llm_new_token(
            self, token: Any, *, chunk: Any = None, run_id: Any, **kwargs: Any
        ) -> None:
            found = self.runs.get(run_id)
            if found is not None and isinstance(chunk, ChatGenerationChunk):
                _emit(self.sink, found[0], chunk.message, found[1])

        def on_llm_end(self, response: Any, *, run_id: Any, **kwargs: Any) -> None:
            found = self.runs.pop(run_id, None)
            if found is None or not response.generations or not response.generations[0]:
                return
            gen = response.generations[0][0]
            if isinstance(gen, ChatGeneration) and gen.message.id not in self.sink.seen:
                _emit(self.sink, found[0], gen.message, found[1])

        def on_llm_error(self, error: BaseException, *, run_id: Any, **kwargs: Any) -> None:
            self.runs.pop(run_id, None)

    return ChatTokens


def enter_chat_callbacks(sink: Any, config: dict[str, Any]) -> Callable[[], None] | None:
    """Give chat models called in this context the stream's handler; returns the undo."""
    try:
        from langchain_core.runnables.config import var_child_runnable_config
    except ImportError:
        return None
    global _handler_class
    if sink.handler is None:
        if _handler_class is None:
            _handler_class = _make_handler_class()
        sink.handler = _handler_class(sink)
    callbacks = config.get("callbacks")
    if callbacks is None:
        callbacks = [sink.handler]
    elif isinstance(callbacks, list):
        callbacks = [*callbacks, sink.handler]
    else:  # a callback manager: add to a copy
        callbacks = callbacks.copy()
        callbacks.add_handler(sink.handler, inherit=True)
    lc_config = {
        "callbacks": callbacks,
        "metadata": config.get("metadata") or {},
        "tags": list(config.get("tags") or ()),
        "configurable": config.get("configurable") or {},
        "recursion_limit": config.get("recursion_limit", 25),
    }
    token = var_child_runnable_config.set(lc_config)  # type: ignore[arg-type]
    return lambda: var_child_runnable_config.reset(token)


def _values(obj: Any) -> Sequence[Any]:
    if isinstance(obj, dict):
        return list(obj.values())
    model_fields = getattr(type(obj), "model_fields", None)
    if isinstance(model_fields, dict):
        return [getattr(obj, k, None) for k in model_fields]
    if is_dataclass(obj) and not isinstance(obj, type):
        return [getattr(obj, f.name) for f in fields(obj)]
    return ()


def _messages_in(value: Any, base: type) -> list[Any]:
    if isinstance(value, base):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, base)]
    found: list[Any] = []
    for v in _values(value):
        if isinstance(v, base):
            found.append(v)
        elif isinstance(v, list | tuple):
            found.extend(item for item in v if isinstance(item, base))
    return found


def node_messages(sink: Any, metadata: dict[str, Any], arg: Any, update: Any) -> list[Any]:
    """The ``(message, metadata)`` chunks of a finished task: the messages it
    returned that its input did not hold and no chat model streamed."""
    if "langchain_core.messages" not in sys.modules:
        return []  # no langchain_core message can exist
    from langchain_core.messages import BaseMessage

    seen = sink.seen
    for m in _messages_in(arg, BaseMessage):
        if m.id is not None:
            seen.add(m.id)
    meta = {"ls_integration": "langgraph", **metadata}
    out = []
    for m in _messages_in(update, BaseMessage):
        if m.id is None or m.id not in seen:
            if m.id is None:
                m.id = str(uuid.uuid4())
            seen.add(m.id)
            out.append((m, meta))
    return out
