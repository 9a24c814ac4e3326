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

__all__ = ["TaskScratch", "current_config", "current_task"]


class TaskScratch:
    """Resume answers for one task, consumed in call order by ``interrupt()``."""

    __slots__ = ("answers", "used")

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.used = 0

    def next_resume(self) -> tuple[bool, Any]:
        if self.used < len(self.answers):
            answer = self.answers[self.used]
            self.used += 1
            return True, answer
        return False, None


current_task: ContextVar[TaskScratch | None] = ContextVar("wfkit_current_task", default=None)
current_config: ContextVar[dict[str, Any] | None] = ContextVar("wfkit_config", default=None)
