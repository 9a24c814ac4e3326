"""LangGraph's functional API: ``@entrypoint`` and ``@task``.

A LangGraph program ports by its imports::

    from wfkit.func import entrypoint, task
    from wfkit.types import interrupt, Command

An entrypoint is a workflow of one superstep: the entrypoint function and
every task call it makes are tasks of that superstep, run by the engine
that runs graphs, so traces, the debugger and executors work for it as
for graphs. See ``docs/functional.md``.
"""

from wfkit.func.entrypoints import FunctionalWorkflow, entrypoint
from wfkit.func.tasks import TaskFunction, TaskFuture, task

__all__ = ["FunctionalWorkflow", "TaskFunction", "TaskFuture", "entrypoint", "task"]
