"""Context variables the engine sets for the code a node runs.

- ``current_task``: the resume answers of the running task, which
  ``interrupt()`` consumes (set only for tasks that have answers);
- ``current_config``: the config of the running graph, or of the running
  task when the run asked for per-task context (``subgraphs=True``,
  ``stream_mode="messages"``, or a node taking ``config``/``runtime``/
  ``writer``); ``wfkit.config.get_config()``, ``get_stream_writer()`` and
  ``wfkit.runtime.get_runtime()`` read it.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

__all__ = ["NestedAnswer", "TaskScratch", "current_config", "current_task"]


class NestedAnswer:
    """An answer a task was given for a question of a graph it runs (a
    subgraph, a nested call) that keeps checkpoints of its own at namespace
    ``ns`` (:mod:`wfkit.threads.lineage`): that graph takes it when it
    continues from its checkpoint, and the node's own ``interrupt()`` calls
    skip it."""

    __slots__ = ("ns", "value")

    def __init__(self, ns: str, value: Any) -> None:
        self.ns = ns
        self.value = value

    def __repr__(self) -> str:
        return f"NestedAnswer({self.ns!r}, {self.value!r})"


class TaskScratch:
    """Resume answers for one task: its own, consumed in call order by
    ``interrupt()``, and those for the graphs it runs (:class:`NestedAnswer`)."""

    __slots__ = ("answers", "used")

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.used = 0

    def next_resume(self) -> tuple[bool, Any]:
        answers = self.answers
        while self.used < len(answers):
            answer = answers[self.used]
            self.used += 1
            if type(answer) is not NestedAnswer:
                return True, answer
        return False, None

    def nested(self, ns: str) -> tuple[bool, Any]:
        """The newest answer for the graph at namespace ``ns``: it answers the
        question that graph paused at last (a task runs again only once its
        pending question is answered)."""
        for answer in reversed(self.answers):
            if type(answer) is NestedAnswer and answer.ns == ns:
                return True, answer.value
        return False, None


current_task: ContextVar[TaskScratch | None] = ContextVar("wfkit_current_task", default=None)
current_config: ContextVar[dict[str, Any] | None] = ContextVar("wfkit_config", default=None)
