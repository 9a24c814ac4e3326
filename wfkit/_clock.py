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
    "close_stale_window",
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
    monotonic clock then (``mono``), when it grows stale (``stale``, ``mono``
    plus ``CPU_WINDOW_NS``: one comparison on the hot path), and the CPU/wall
    ratio of the last window that closed (``ratio``, 1.0 until one does).

    A task shorter than ``CPU_WINDOW_NS`` is not measured: its span gets its
    wall time times the ratio of the window that closes at its run's end
    (:meth:`close_for_run`). A task at least that long is measured by one
    read at its end (:meth:`charge`), which starts a new window. A window
    also starts when a run or a task starts in one older than
    ``CPU_WINDOW_NS`` (:meth:`open_for`), and after the thread waited or
    slept or handed control to its caller (:meth:`restart`), so what a long
    task is charged for the time before it is at most that much of the
    engine's own work on this thread.
    """

    __slots__ = ("cpu", "mono", "ratio", "stale")

    def __init__(self) -> None:
        self.cpu = cpu_ns()
        self.mono = mono = mono_ns()
        self.stale = mono + CPU_WINDOW_NS
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
        self.stale = now + CPU_WINDOW_NS

    def restart(self, now: int) -> None:
        """The thread was idle or busy elsewhere until ``now``: start a new
        window that gives no ratio for what came before."""
        self.cpu = cpu_ns()
        self.mono = now
        self.stale = now + CPU_WINDOW_NS

    def close_for_run(self, run_started: int, now: int) -> float:
        """A run that started at ``run_started`` ends at ``now``: the ratio its
        short tasks get. A window opened within the run covers only the run,
        so it closes whatever its age; one opened before closes when older
        than ``CPU_WINDOW_NS`` and gives a ratio only if younger than twice
        that (:meth:`open_for`)."""
        if self.mono >= run_started:
            age = now - self.mono
            if age >= CPU_WINDOW_NS:
                now_cpu = cpu_ns()
                self.ratio = min(1.0, max(0, now_cpu - self.cpu) / age)
                self.cpu = now_cpu
                self.mono = now
                self.stale = now + CPU_WINDOW_NS
        elif now - self.mono >= CPU_WINDOW_NS:
            self.open_for(now)
        return self.ratio

    def charge(self, started: int, ended: int) -> int:
        """The CPU ns of a task that ran from ``started`` to ``ended`` on this
        thread (at least ``CPU_WINDOW_NS`` long): the thread's CPU since the
        window opened, less the time from then to the task's start (counted
        as busy), within [0, wall]. The window then starts at ``ended``."""
        now_cpu = cpu_ns()
        cpu = min(ended - started, max(0, now_cpu - self.cpu - max(0, started - self.mono)))
        self.cpu = now_cpu
        self.mono = ended
        self.stale = ended + CPU_WINDOW_NS
        return cpu


class _Windows(threading.local):
    def __init__(self) -> None:
        self.window = CpuWindow()


#: ``windows.window`` is the calling thread's :class:`CpuWindow` (made on first use)
windows = _Windows()


def close_stale_window() -> None:
    """The caller had control (a stream's consumer, a stepping run's user)
    and gives it back: close this thread's window if it is older than
    ``CPU_WINDOW_NS`` (:meth:`CpuWindow.open_for`), so a long task that
    follows is not charged for what the caller did meanwhile."""
    now = mono_ns()
    window = windows.window
    if now >= window.stale:
        window.open_for(now)
