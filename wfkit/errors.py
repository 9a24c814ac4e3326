"""Every error wfkit raises, in one tree. This module imports nothing from wfkit.

Each error derives from :class:`WfkitError` and also inherits the builtin
that matches its meaning, so ``except ValueError`` keeps working::

    WfkitError
    ├── GraphValidationError (ValueError)        the graph cannot be compiled
    ├── InvalidUpdateError (ValueError)          a node returned a bad update
    ├── InvalidInputError (ValueError)           a call's input or options are wrong
    │   └── EmptyInputError (InvalidInputError)  invoke(None) with nothing to continue
    ├── RouterError (ValueError)                 a router returned an unknown target
    ├── GraphRecursionError (RecursionError)     the recursion limit was reached
    ├── NodeTimeoutError (TimeoutError)          a node ran longer than its timeout
    ├── CheckpointerRequiredError (RuntimeError) resume/time travel without a store
    ├── StoreError (RuntimeError)                the checkpoint file cannot be used
    ├── InvalidNamespaceError (ValueError)       a long-term store namespace is malformed
    ├── SerializationError (TypeError)           a state value cannot be stored
    ├── UnsafeValueError (ValueError)            a stored value is not on the allowlist
    ├── GraphvizMissingError (RuntimeError)      drawing needs Graphviz's ``dot``
    ├── DependencyMissingError (ImportError)     an optional extra is not installed
    ├── NodeShippingError (RuntimeError)         a node cannot run on the executor's workers
    └── WorkerLostError (RuntimeError)           workers died running a node call, too often

A node's own exception is never wrapped: it propagates with its own type and
a note (``add_note``) naming the node, the superstep and the attempt.

:class:`WfkitWarning` (``UserWarning``) is the root of wfkit's warnings:
something was accepted, as LangGraph accepts it, that is most often a
mistake (a key no schema declares, a node nothing leads to).

:class:`GraphInterrupt` is not an error but the signal ``interrupt()`` raises
inside a node; the engine catches it and pauses the run. It derives from
:class:`GraphBubbleUp`, as in LangGraph: code that catches exceptions inside
a node should re-raise ``GraphBubbleUp``. :class:`NodeInterrupt` is
LangGraph's older way to pause (``raise NodeInterrupt(value)``). :class:`ParentCommand`
is the signal a subgraph's run ends with when a node returns
``Command(graph=Command.PARENT)``; the parent graph catches it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "CheckpointerRequiredError",
    "DependencyMissingError",
    "EmptyInputError",
    "GraphBubbleUp",
    "GraphInterrupt",
    "GraphRecursionError",
    "GraphValidationError",
    "GraphvizMissingError",
    "InvalidInputError",
    "InvalidNamespaceError",
    "InvalidUpdateError",
    "NodeInterrupt",
    "NodeShippingError",
    "NodeTimeoutError",
    "ParentCommand",
    "RouterError",
    "SerializationError",
    "StoreError",
    "UnsafeValueError",
    "WfkitError",
    "WfkitWarning",
    "WorkerLostError",
]


class WfkitError(Exception):
    """Root of every error wfkit raises."""


class GraphValidationError(WfkitError, ValueError):
    """The graph definition is invalid; raised by ``add_*`` and ``compile()``."""


class InvalidUpdateError(WfkitError, ValueError):
    """A node returned an update that does not fit the state schema."""


class InvalidInputError(WfkitError, ValueError):
    """The input or an option given to a call does not fit (schema, config, ids)."""


class EmptyInputError(InvalidInputError):
    """``invoke(None)`` (or ``Command(resume=...)``) on a thread with nothing to
    continue from: LangGraph's ``EmptyInputError``."""


class RouterError(WfkitError, ValueError):
    """A router (conditional edge) returned a target that is not in the graph."""


class GraphRecursionError(WfkitError, RecursionError):
    """The run reached its recursion limit (supersteps) before finishing."""


class NodeTimeoutError(WfkitError, TimeoutError):
    """A node ran longer than the ``timeout`` given to ``add_node``."""

    def __init__(self, node: str, timeout: float) -> None:
        super().__init__(
            f"node {node!r} did not finish within its timeout of {timeout:g} s; "
            f"raise it with add_node({node!r}, ..., timeout=...) or make the node faster"
        )
        self.node = node
        self.timeout = timeout

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.node, self.timeout))


class CheckpointerRequiredError(WfkitError, RuntimeError):
    """An operation needs a checkpointer (resume, state history, time travel)."""


class StoreError(WfkitError, RuntimeError):
    """The checkpoint file cannot be used: locked, corrupt, not a wfkit store,
    or written by a newer wfkit. The file is left as it was."""


class InvalidNamespaceError(WfkitError, ValueError):
    """A namespace given to a long-term store (:mod:`wfkit.store`) is not a
    tuple of non-empty strings without ``.``; the message names the
    namespace, the label and the fix. LangGraph's name for the same error."""


class SerializationError(WfkitError, TypeError):
    """A state value cannot be stored (and ``allow_pickle`` is off)."""


class UnsafeValueError(WfkitError, ValueError):
    """A stored value names a type that is not on the allowlist, or is pickled
    while ``allow_pickle`` is off. Nothing was executed."""


class GraphvizMissingError(WfkitError, RuntimeError):
    """Rendering needs Graphviz's ``dot`` program, which is not installed."""


class DependencyMissingError(WfkitError, ImportError):
    """A feature needs an optional extra that is not installed; the message
    names the ``pip install`` line."""


class NodeShippingError(WfkitError, RuntimeError):
    """A node's function cannot be sent to the executor's workers (it does
    not pickle, or it imports a module the workers lack); raised before any
    run starts, naming the node and the fix."""


class WorkerLostError(WfkitError, RuntimeError):
    """The workers running a node call died more often than the executor's
    ``retries_on_worker_loss`` allows (a call that kills its worker, e.g. by
    running out of memory)."""


class WfkitWarning(UserWarning):
    """Root of wfkit's warnings: accepted as LangGraph accepts it, but most often a mistake."""


class GraphBubbleUp(Exception):
    """Base of the signals a node raises to stop its run on purpose (not errors)."""


class GraphInterrupt(GraphBubbleUp):
    """Raised by :func:`wfkit.interrupt` to pause the run; caught by the engine.

    ``interrupts`` is a tuple of :class:`wfkit.types.Interrupt`.
    """

    def __init__(self, interrupts: tuple[Any, ...]) -> None:
        super().__init__(interrupts)
        self.interrupts = interrupts

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.interrupts,))


@dataclass(frozen=True, slots=True)
class _Raised:
    """The question of a :class:`NodeInterrupt` (the engine gives it an id)."""

    value: Any
    id: str = ""


class NodeInterrupt(GraphInterrupt):
    """``raise NodeInterrupt(value)`` in a node pauses the run with ``value`` as
    its question; LangGraph's older form of :func:`wfkit.interrupt` (which is
    resumable with an answer: prefer it)."""

    def __init__(self, value: Any, id: str | None = None) -> None:
        super().__init__((_Raised(value, id or ""),))
        self.value = value

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.value,))


class ParentCommand(Exception):
    """Ends a subgraph's run with a ``Command`` for the parent graph (raised
    when a node returns ``Command(graph=Command.PARENT)``; the parent graph
    applies ``command`` as the subgraph node's result)."""

    def __init__(self, command: Any) -> None:
        super().__init__(command)
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.command,))
