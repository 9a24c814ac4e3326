"""Clocks for timing nodes: a monotonic clock for durations, mapped to the
wall clock once per process so spans carry both without two calls each,
and each thread's CPU window (:class:`CpuWindow`), which keeps reads of the
thread CPU clock rare without guessing the CPU time of a long node."""

from __future__ import annotations

import threading
import time

__all__ = [
    "CPU_WINDOW_NS",
    "MONO0",
    "WALL0",
    "CpuWindow",
    "cpu_ns",
    "mono_ns",
    "wall_ns",
    "windows",
]

mono_ns = time.perf_counter_ns
cpu_ns = time.thread_time_ns
WALL0 = time.time_ns()
MONO0 = time.perf_counter_ns()


def wall_ns(mono: int) -> int:
    """The wall-clock time (Unix ns) of a ``mono_ns()`` reading."""
    return WALL0 + (mono - MONO0)


# ------------------------------------------------------------------ CPU windows
#: read a thread's CPU clock (a system call, ~0.5 µs) at most about once per
#: this much run time on that thread, and around every task at least this long
CPU_WINDOW_NS = 200_000


class CpuWindow:
    """One thread's CPU window: the CPU clock at its start (``cpu``), the
    monotonic clock then (``mono``), and the CPU/wall ratio of the last
    window that closed (``ratio``, 1.0 until one does).

    A task shorter than ``CPU_WINDOW_NS`` is not measured: it gets its wall
    time times ``ratio``. A task at least that long is measured by one read
    at its end (:meth:`charge`). When a task starts in a window older than
    ``CPU_WINDOW_NS``, the window closes (:meth:`open_for`), so what a long
    task is charged includes at most that much of what ran before it.
    """

    __slots__ = ("cpu", "mono", "ratio")

    def __init__(self) -> None:
        self.cpu = cpu_ns()
        self.mono = mono_ns()
        self.ratio = 1.0

    def open_for(self, now: int) -> None:
        """A task starts at ``now`` in a stale window: close it. A window
        closed within a run (younger than twice ``CPU_WINDOW_NS``: short
        tasks and the engine) gives the ratio for the next short tasks; an
        older one covers time outside any run (a user thinking between
        cells, an idle pool thread), so it gives none."""
        now_cpu = cpu_ns()
        age = now - self.mono
        if age < 2 * CPU_WINDOW_NS:
            self.ratio = min(1.0, max(0, now_cpu - self.cpu) / age)
        self.cpu = now_cpu
        self.mono = now

    def charge(self, started: int, ended: int) -> int:
        """The CPU ns of a task that ran from ``started`` to ``ended`` on this
        thread (at least ``CPU_WINDOW_NS`` long): the thread's CPU since the
        window opened, less the time from then to the task's start (counted
        as busy), within [0, wall]. The window then starts at ``ended``."""
        now_cpu = cpu_ns()
        cpu = min(ended - started, max(0, now_cpu - self.cpu - max(0, started - self.mono)))
        self.cpu = now_cpu
        self.mono = ended
        return cpu


class _Windows(threading.local):
    def __init__(self) -> None:
        self.window = CpuWindow()


#: ``windows.window`` is the calling thread's :class:`CpuWindow` (made on first use)
windows = _Windows()
