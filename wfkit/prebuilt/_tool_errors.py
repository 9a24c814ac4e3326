"""What a ``ToolNode`` does when a tool fails: ``handle_tool_errors``.

The setting is read once, when the node is made (:class:`ErrorPolicy`):

- ``True``: every error becomes an error ``ToolMessage`` (``"Error:
  ValueError('...')\\n Please fix your mistakes."``);
- a string: every error becomes a ``ToolMessage`` with that text;
- an exception type, or a tuple of them: only those, with the text of
  ``True``;
- a function ``(exc) -> str``: the errors its first parameter's annotation
  names (``e: ValueError``, ``e: ValueError | KeyError``; all errors when it
  has none), with the text it returns;
- ``False``: none; the error propagates and the run fails.

The default is LangGraph 1.x's: arguments that do not fit the tool's
schema (:class:`ToolInvocationError`) come back to the model as an error
message it can correct; an error raised by the tool itself propagates. A
call naming a tool the node does not have always comes back as a message.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, Final

from langchain_core.tools import ToolException

__all__ = [
    "ErrorPolicy",
    "INVALID_TOOL_NAME",
    "ToolInvocationError",
    "default_handle_tool_errors",
]

INVALID_TOOL_NAME: Final = "Error: {name} is not a valid tool, try one of [{tools}]."
_CALL_ERROR: Final = "Error: {error}\n Please fix your mistakes."
_INVOCATION_ERROR: Final = (
    "Error invoking tool '{name}' with kwargs {kwargs} with error:\n"
    " {error}\n"
    " Please fix the error and try again."
)

HandleToolErrors = bool | str | Callable[..., str] | type[Exception] | tuple[type[Exception], ...]


class ToolInvocationError(ToolException):
    """The model called a tool with arguments its schema rejects. The text
    lists what is wrong with each argument the model chose (never the
    injected ones, which it cannot see or fix)."""

    def __init__(
        self,
        tool_name: str,
        source: Exception,
        tool_kwargs: dict[str, Any],
        problems: list[Any] | None = None,
    ) -> None:
        if problems is None:
            shown = str(source)
        else:
            shown = "\n".join(
                f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'Unknown error')}"
                for e in problems
            )
        self.message = _INVOCATION_ERROR.format(name=tool_name, kwargs=tool_kwargs, error=shown)
        self.tool_name = tool_name
        self.tool_kwargs = tool_kwargs
        self.source = source
        self.filtered_errors = problems
        super().__init__(self.message)


def model_problems(error: Any, hidden: frozenset[str]) -> list[Any]:
    """A pydantic ``ValidationError``'s entries about the arguments the model
    chose, with the injected ones left out of each entry's ``input``."""
    out = []
    for entry in error.errors():
        loc = entry.get("loc") or ()
        if not loc or loc[0] in hidden:
            continue
        entry = dict(entry)
        given = entry.get("input")
        if isinstance(given, dict):
            entry["input"] = {k: v for k, v in given.items() if k not in hidden}
        out.append(entry)
    return out


def default_handle_tool_errors(e: Exception) -> str:
    """LangGraph 1.x's default: the text of a :class:`ToolInvocationError`;
    any other error is raised again."""
    if isinstance(e, ToolInvocationError):
        return e.message
    raise e


def _handled_by(handler: Callable[..., str]) -> tuple[type[BaseException], ...]:
    """The exception types a handler function's first parameter is annotated with."""
    try:
        params = list(inspect.signature(handler).parameters.values())
    except (TypeError, ValueError):
        return (Exception,)
    if not params:
        return (Exception,)
    first = params[1] if params[0].name in ("self", "cls") and len(params) == 2 else params[0]
    try:
        hints = typing.get_type_hints(handler)
    except Exception:
        hints = {}
    hint = hints.get(first.name)
    if hint is None:
        return (Exception,)
    kinds = (
        typing.get_args(hint)
        if typing.get_origin(hint) in (typing.Union, types.UnionType)
        else (hint,)
    )
    if not all(isinstance(k, type) and issubclass(k, BaseException) for k in kinds):
        raise ValueError(
            f"handle_tool_errors={handler!r}: its first parameter is annotated {hint!r}; "
            "annotate it with the exception types it handles (e: ValueError, or "
            "e: ValueError | KeyError), or leave it unannotated to handle every error"
        )
    return tuple(kinds)


class ErrorPolicy:
    """``handle_tool_errors``, read once (see the module's text)."""

    __slots__ = ("handles", "setting")

    def __init__(self, setting: HandleToolErrors) -> None:
        self.setting = setting
        self.handles: tuple[type[BaseException], ...]
        if setting is False:
            self.handles = ()
        elif setting is True or isinstance(setting, str):
            self.handles = (Exception,)
        elif isinstance(setting, type) and issubclass(setting, Exception):
            self.handles = (setting,)
        elif isinstance(setting, tuple) and all(
            isinstance(k, type) and issubclass(k, Exception) for k in setting
        ):
            self.handles = setting
        elif callable(setting) and not isinstance(setting, type):
            self.handles = _handled_by(setting)
        else:
            raise ValueError(
                f"handle_tool_errors={setting!r}: give True, False, a message, an exception "
                "type (or a tuple of them) or a function (exc) -> str"
            )

    def catches(self, exc: BaseException) -> bool:
        return bool(self.handles) and isinstance(exc, self.handles)

    def content(self, exc: Exception) -> str:
        """The text of the error message for ``exc`` (a handler may raise it again)."""
        setting = self.setting
        if isinstance(setting, str):
            return setting
        if setting is True or isinstance(setting, type | tuple):
            return _CALL_ERROR.format(error=repr(exc))
        return str(setting(exc))  # type: ignore[operator]
