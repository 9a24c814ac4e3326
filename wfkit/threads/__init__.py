"""Threads above the engine: persisting a run (``RunSaver``), loading a
checkpoint back into a machine, and reading a thread's past (``get_state``,
``get_state_history``, ``update_state``)."""

from wfkit.threads.snapshot import StateSnapshot, TaskInfo

__all__ = ["StateSnapshot", "TaskInfo"]
