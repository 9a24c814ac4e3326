"""Chat message state: the :func:`add_messages` reducer and
:class:`MessagesState`, with ``langgraph.graph.message``'s names.

``add_messages(left, right)`` appends ``right``'s messages to ``left``'s,
except that a message whose id is already there replaces it, a
``RemoveMessage(id=...)`` deletes the message with that id, and
``RemoveMessage(id=REMOVE_ALL_MESSAGES)`` drops everything before it.
Messages without an id get a fresh one.

With langchain_core installed, messages are langchain_core's: dicts
(``{"role": "user", "content": "hi"}``), ``(role, content)`` tuples and
strings are turned into ``HumanMessage``/``AIMessage``/... exactly as
LangGraph does. Without it, messages are plain dicts ``{"role", "content",
"id"}`` (a tuple or string becomes one) and ``RemoveMessage`` is a small
class of this module; langchain_core is imported only when the first
message is merged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Final, TypedDict

__all__ = ["REMOVE_ALL_MESSAGES", "MessagesState", "RemoveMessage", "add_messages"]  # noqa: F822

REMOVE_ALL_MESSAGES: Final = "__remove_all__"
"""``RemoveMessage(id=REMOVE_ALL_MESSAGES)``: drop every message before it."""

_ROLES: Final = {"human": "user", "ai": "assistant"}


@dataclass(slots=True)
class _PlainRemove:
    """``RemoveMessage`` without langchain_core: delete the message with ``id``."""

    id: str
    type: str = "remove"


def _langchain() -> Any:
    """langchain_core.messages, or None when it is not installed."""
    try:
        import langchain_core.messages as messages
    except ImportError:
        return None
    return messages


def __getattr__(name: str) -> Any:
    if name == "RemoveMessage":  # langchain_core's when installed, so both kinds compare equal
        lc = _langchain()
        return lc.RemoveMessage if lc is not None else _PlainRemove
    raise AttributeError(f"module 'wfkit.graph.message' has no attribute {name!r}")


def _plain(message: Any) -> dict[str, Any] | _PlainRemove:
    """A message as a dict (no langchain_core)."""
    if isinstance(message, _PlainRemove):
        return message
    if isinstance(message, str):
        return {"role": "user", "content": message, "id": None}
    if isinstance(message, tuple | list) and len(message) == 2:
        role, content = message
        return {"role": _ROLES.get(role, role), "content": content, "id": None}
    if isinstance(message, dict):
        if message.get("type") == "remove" or message.get("role") == "remove":
            return _PlainRemove(message["id"])
        if "content" not in message:
            raise ValueError(
                f"message {message!r} has no 'content'; give it as "
                "{'role': 'user', 'content': '...'}"
            )
        role = str(message.get("role", message.get("type", "user")))
        return {**message, "role": _ROLES.get(role, role), "id": message.get("id")}
    raise ValueError(
        f"cannot read {message!r} as a chat message: use a dict {{'role': ..., 'content': ...}}, "
        "a (role, content) tuple, a string, or install langchain_core for its message classes"
    )


def _coerce(messages: list[Any], lc: Any) -> list[Any]:
    if lc is None:
        return [_plain(m) for m in messages]
    base, chunk = lc.BaseMessage, lc.BaseMessageChunk
    if all(issubclass(t, base) and not issubclass(t, chunk) for t in set(map(type, messages))):
        return messages  # the usual case: nothing to convert
    return [lc.message_chunk_to_message(m) for m in lc.convert_to_messages(messages)]


def _id(message: Any) -> Any:
    return message["id"] if isinstance(message, dict) else message.id


def _set_id(message: Any, value: str) -> None:
    if isinstance(message, dict):
        message["id"] = value
    else:
        message.id = value


def _is_remove(message: Any, lc: Any) -> bool:
    if isinstance(message, _PlainRemove):
        return True
    return lc is not None and isinstance(message, lc.RemoveMessage)


def _merge(left: Any, right: Any, *, format: str | None = None) -> list[Any]:
    lc = _langchain()
    left = _coerce(list(left) if isinstance(left, list) else [left], lc)
    right = _coerce(list(right) if isinstance(right, list) else [right], lc)
    for m in left:
        if _id(m) is None:
            _set_id(m, str(uuid.uuid4()))
    remove_all = None
    for i, m in enumerate(right):
        if _id(m) is None:
            _set_id(m, str(uuid.uuid4()))
        if _is_remove(m, lc) and _id(m) == REMOVE_ALL_MESSAGES:
            remove_all = i
    if remove_all is not None:
        rest: list[Any] = right[remove_all + 1 :]
        return rest
    merged = list(left)
    where = {_id(m): i for i, m in enumerate(merged)}
    removed: set[Any] = set()
    for m in right:
        mid = _id(m)
        at = where.get(mid)
        if at is not None:
            if _is_remove(m, lc):
                removed.add(mid)
            else:
                removed.discard(mid)
                merged[at] = m
        elif _is_remove(m, lc):
            raise ValueError(
                f"Attempting to delete a message with an ID that doesn't exist ('{mid}'); "
                "RemoveMessage(id=...) must name a message already in the state"
            )
        else:
            where[mid] = len(merged)
            merged.append(m)
    if removed:
        merged = [m for m in merged if _id(m) not in removed]
    if format == "langchain-openai":
        if lc is None:
            raise ValueError(
                "add_messages(format='langchain-openai') needs langchain_core installed"
            )
        formatted: list[Any] = lc.convert_to_messages(lc.convert_to_openai_messages(merged))
        return formatted
    if format is not None:
        raise ValueError(
            f"Unrecognized format={format!r}. Expected one of 'langchain-openai', None."
        )
    return merged


def add_messages(left: Any = None, right: Any = None, *, format: str | None = None) -> Any:
    """Merge two lists of messages, updating existing messages by id (module
    docstring). ``add_messages(format="langchain-openai")`` with no lists
    gives the reducer with that option, as in LangGraph."""
    if left is not None and right is not None:
        return _merge(left, right, format=format)
    if left is not None or right is not None:
        raise ValueError(
            "Must specify non-null arguments for both 'left' and 'right'. Only received: "
            f"'{'left' if left is not None else 'right'}'."
        )
    reducer: Callable[[Any, Any], Any] = partial(_merge, format=format)
    return reducer


class MessagesState(TypedDict):
    """A state with one key, ``messages``, merged by :func:`add_messages`;
    subclass it to add keys."""

    messages: Annotated[list[Any], add_messages]


Messages = Sequence[Any]
