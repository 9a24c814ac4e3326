"""Managed values: state keys the engine computes for each node instead of
storing, with ``langgraph.managed``'s names.

- ``RemainingSteps``: how many supersteps the run may still take before
  ``GraphRecursionError`` — the number LangGraph gives for the same
  ``recursion_limit`` (an agent stops looping when it gets low);
- ``IsLastStep``: whether this is the last of them.

Declare them as keys of the state schema::

    class State(TypedDict):
        messages: Annotated[list, add_messages]
        remaining_steps: RemainingSteps

Nodes and routers read them like any key; they are never part of the
input, the output or a checkpoint, and a value given for one in the input
is ignored (as in LangGraph).
"""

from __future__ import annotations

from typing import Annotated, Any

__all__ = ["IsLastStep", "ManagedValue", "RemainingSteps", "managed_value"]


class ManagedValue:
    """A kind of managed value: ``get(limit, step)`` from the run's recursion
    limit (the superstep it may not reach) and the reading superstep."""

    @staticmethod
    def get(limit: int, step: int) -> Any:
        raise NotImplementedError


class RemainingStepsManager(ManagedValue):
    @staticmethod
    def get(limit: int, step: int) -> int:
        # LangGraph counts one superstep fewer than wfkit for the same limit
        # (docs/graph-api.md, differences): give its number
        return limit - step - 1


class IsLastStepManager(ManagedValue):
    @staticmethod
    def get(limit: int, step: int) -> bool:
        return limit - step - 1 == 1


RemainingSteps = Annotated[int, RemainingStepsManager]
IsLastStep = Annotated[bool, IsLastStepManager]


def managed_value(metadata: tuple[Any, ...]) -> type[ManagedValue] | None:
    """The managed value among an ``Annotated`` key's metadata, if any."""
    for item in metadata:
        if isinstance(item, type) and issubclass(item, ManagedValue):
            return item
    return None
