"""The errors wfkit raises.

Every error derives from :class:`WfkitError`; each one also inherits the
builtin that matches its meaning, so ``except ValueError`` keeps working::

    WfkitError
    ├── GraphValidationError (ValueError)    the graph cannot be compiled
    ├── InvalidUpdateError (ValueError)      a node returned a bad update
    ├── InvalidInputError (ValueError)       invoke() input does not fit the schema
    ├── RouterError (ValueError)             a router returned an unknown target
    ├── GraphRecursionError (RecursionError) the recursion limit was reached
    ├── NodeTimeoutError (TimeoutError)      a node ran longer than its timeout
    └── CheckpointerRequiredError (RuntimeError)  resume/time travel without a store

A node's own exception is never wrapped: it propagates with its own type and
a note (``add_note``) naming the node, the superstep and the attempt.

:class:`GraphInterrupt` is not an error but the signal ``interrupt()`` raises
inside a node; the engine catches it and pauses the run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wfkit.types import Interrupt

__all__ = [
    "CheckpointerRequiredError",
    "GraphInterrupt",
    "GraphRecursionError",
    "GraphValidationError",
    "InvalidInputError",
    "InvalidUpdateError",
    "NodeTimeoutError",
    "RouterError",
    "WfkitError",
]


class WfkitError(Exception):
    """Root of every error wfkit raises."""


class GraphValidationError(WfkitError, ValueError):
    """The graph definition is invalid; raised by ``add_*`` and ``compile()``."""


class InvalidUpdateError(WfkitError, ValueError):
    """A node returned an update that does not fit the state schema."""


class InvalidInputError(WfkitError, ValueError):
    """The input given to ``invoke()`` does not fit the state schema."""


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


class CheckpointerRequiredError(WfkitError, RuntimeError):
    """An operation needs a checkpointer (resume, state history, time travel)."""


class GraphInterrupt(Exception):
    """Raised by :func:`wfkit.interrupt` to pause the run; caught by the engine."""

    def __init__(self, interrupts: tuple[Interrupt, ...]) -> None:
        super().__init__(interrupts)
        self.interrupts = interrupts

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.interrupts,))
