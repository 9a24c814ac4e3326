"""Context variables that code inside a running node reads:

- ``current_task``: the resume answers of the task that is running, which
  ``interrupt()`` consumes. Set by the drivers only for tasks that have
  answers.
- ``run_config``: the config of the graph run whose nodes are running in
  this context. Set by the interpreters for the length of a drive, so that a
  graph a node calls (``inner.invoke(...)``, a nested call) inherits its
  caller's thread and config, and an ``interrupt()`` inside it pauses the
  caller, the way LangGraph's nested calls read ``var_child_runnable_config``.

Both travel to worker threads and asyncio tasks with the context
(``contextvars.copy_context()``), so a node sees them wherever it runs.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

__all__ = ["TaskScratch", "current_task", "run_config"]


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
run_config: ContextVar[dict[str, Any] | None] = ContextVar("wfkit_run_config", default=None)
