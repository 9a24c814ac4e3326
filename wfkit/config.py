"""What code inside a node can ask of the run it belongs to, with
``langgraph.config``'s names: :func:`get_config`, :func:`get_stream_writer`,
:func:`get_store`.

The engine sets the config of the running graph (or of the running task,
see :mod:`wfkit._context`) in a context variable, so these work from any
function a node calls, in threads the engine starts and in asyncio tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wfkit import _context
from wfkit.runtime import RUNTIME_KEY, Runtime, no_op_writer

__all__ = ["get_config", "get_store", "get_stream_writer"]


def get_config() -> dict[str, Any]:
    """The config of the running node (LangGraph's ``RunnableConfig`` dict:
    ``configurable``, ``metadata``, ``recursion_limit``...).

    Raises ``RuntimeError`` outside a running graph, as LangGraph does.
    """
    config = _context.current_config.get()
    if config is None:
        raise RuntimeError(
            "get_config() was called outside a running graph; call it inside a node "
            "(or take a `config` parameter in the node function)"
        )
    return config


def get_stream_writer() -> Callable[[Any], None]:
    """The function that writes a ``stream_mode="custom"`` chunk from inside a
    node; a no-op when the run does not stream ``"custom"``::

        def node(state):
            get_stream_writer()({"progress": 0.5})
            return {...}
    """
    runtime: Runtime[Any] | None = get_config().get(RUNTIME_KEY)
    return runtime.stream_writer if runtime is not None else no_op_writer


def get_store() -> Any:
    """The running graph's long-term store (``None`` until it has one)."""
    runtime: Runtime[Any] | None = get_config().get(RUNTIME_KEY)
    return runtime.store if runtime is not None else None
