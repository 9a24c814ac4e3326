"""Clocks for timing nodes: a monotonic clock for durations, mapped to the
wall clock once per process so spans carry both without two calls each."""

from __future__ import annotations

import time

__all__ = ["MONO0", "WALL0", "cpu_ns", "mono_ns", "wall_ns"]

mono_ns = time.perf_counter_ns
cpu_ns = time.thread_time_ns
WALL0 = time.time_ns()
MONO0 = time.perf_counter_ns()


def wall_ns(mono: int) -> int:
    """The wall-clock time (Unix ns) of a ``mono_ns()`` reading."""
    return WALL0 + (mono - MONO0)
