"""Per-task context that ``interrupt()`` reads: the resume answers of the
task that is running. Set by the drivers only for tasks that have answers."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

__all__ = ["TaskScratch", "current_task"]


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
