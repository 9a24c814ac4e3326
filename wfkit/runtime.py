"""``Runtime``: what a run gives its nodes besides the state, LangGraph's
``langgraph.runtime`` names.

A node declaring a ``runtime`` parameter receives the run's
:class:`Runtime`; any code running inside a node can fetch it with
:func:`get_runtime`::

    @dataclass
    class Context:
        user: str

    def greet(state: State, runtime: Runtime[Context]) -> dict:
        return {"text": f"hello {runtime.context.user}"}

    graph = StateGraph(State, context_schema=Context)...compile()
    graph.invoke({}, context={"user": "ada"})  # a dict becomes a Context
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Final, Generic, TypeVar

from wfkit import _context

__all__ = ["RUNTIME_KEY", "Runtime", "get_runtime", "no_op_writer"]

ContextT = TypeVar("ContextT")

RUNTIME_KEY: Final = "wfkit_runtime"
"""The config key a run keeps its :class:`Runtime` under."""


def no_op_writer(chunk: Any) -> None:
    """The stream writer of a run that does not stream ``"custom"``: drops the chunk."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Runtime(Generic[ContextT]):
    """Run-scoped dependencies: ``context`` (what ``invoke(..., context=...)``
    was given), ``store`` (the long-term store, once a graph has one),
    ``stream_writer`` (writes a ``"custom"`` stream chunk; a no-op unless the
    run streams that mode) and ``previous`` (the functional API's last
    return; ``None`` here)."""

    context: ContextT = field(default=None)  # type: ignore[assignment]
    store: Any = None
    stream_writer: Callable[[Any], None] = no_op_writer
    previous: Any = None

    def override(self, **changes: Any) -> Runtime[ContextT]:
        """A copy with the given fields replaced."""
        return replace(self, **changes)


def get_runtime(context_schema: type[ContextT] | None = None) -> Runtime[ContextT]:
    """The running graph's :class:`Runtime`, from inside one of its nodes.

    ``context_schema`` only types the result, as in LangGraph. Outside a
    running node this raises ``RuntimeError``.
    """
    config = _context.current_config.get()
    runtime = config.get(RUNTIME_KEY) if config is not None else None
    if runtime is None:
        raise RuntimeError(
            "get_runtime() was called outside a running graph; call it inside a node "
            "(or take a `runtime` parameter in the node function)"
        )
    return runtime  # type: ignore[no-any-return]
