"""wfkit: build, run, checkpoint, debug and trace stateful AI workflows.

The graph API follows LangGraph's verbs, so a LangGraph graph ports by
changing its imports::

    from wfkit import StateGraph, START, END

Heavy libraries (polars, duckdb, graphviz, ipywidgets) are imported only
by the features that use them.
"""

from wfkit.debugger import DebugEvent, Debugger
from wfkit.engine.runs import AsyncRun, Run
from wfkit.errors import (
    CheckpointerRequiredError,
    DependencyMissingError,
    EmptyInputError,
    GraphBubbleUp,
    GraphInterrupt,
    GraphRecursionError,
    GraphValidationError,
    GraphvizMissingError,
    InvalidInputError,
    InvalidNamespaceError,
    InvalidUpdateError,
    NodeInterrupt,
    NodeShippingError,
    NodeTimeoutError,
    RouterError,
    SerializationError,
    StoreError,
    UnsafeValueError,
    WfkitError,
    WfkitWarning,
    WorkerLostError,
)
from wfkit.graph import StateGraph
from wfkit.types import (
    END,
    START,
    BatchOptions,
    CachePolicy,
    Command,
    Interrupt,
    RetryPolicy,
    RunOptions,
    Send,
    TaskStatus,
    interrupt,
)
from wfkit.workflow import Workflow

__version__ = "0.1.0"


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext wfkit``: the ``%%workflow`` magics (see ``wfkit.jupyter``)."""
    from wfkit.jupyter import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    from wfkit.jupyter import unload_ipython_extension as unload

    unload(ipython)


__all__ = [
    "END",
    "START",
    "AsyncRun",
    "CachePolicy",
    "CheckpointerRequiredError",
    "Command",
    "DebugEvent",
    "Debugger",
    "DependencyMissingError",
    "EmptyInputError",
    "GraphBubbleUp",
    "GraphInterrupt",
    "GraphRecursionError",
    "GraphValidationError",
    "GraphvizMissingError",
    "Interrupt",
    "InvalidInputError",
    "InvalidNamespaceError",
    "InvalidUpdateError",
    "NodeInterrupt",
    "NodeShippingError",
    "NodeTimeoutError",
    "RetryPolicy",
    "RouterError",
    "Run",
    "BatchOptions",
    "RunOptions",
    "Send",
    "SerializationError",
    "StateGraph",
    "StoreError",
    "TaskStatus",
    "UnsafeValueError",
    "WfkitError",
    "WfkitWarning",
    "WorkerLostError",
    "Workflow",
    "__version__",
    "interrupt",
    "load_ipython_extension",
    "unload_ipython_extension",
]
