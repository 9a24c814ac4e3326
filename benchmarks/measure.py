"""Measurement primitives shared by every scenario implementation.

An implementation is a callable ``(repeat) -> Measurement``.  It builds
whatever it needs once, warms up, then times the work ``repeat`` times and
keeps the best time (machines are shared and noisy; the minimum is the
least disturbed run).  Every implementation must verify its own result and
raise :class:`VerificationError` when it is wrong, so that a broken engine
can never post a fast time.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class VerificationError(AssertionError):
    """The measured work produced a wrong result."""


@dataclass
class Measurement:
    """What one implementation of one scenario reports.

    ``seconds`` is the headline time (best of the repetitions).  ``extra``
    holds scenario-specific figures (µs per superstep, build time, ...);
    values must be JSON-serialisable.
    """

    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)
    #: Peak RSS to report instead of this process's own (e.g. of children).
    rss_mb: float | None = None


def check(condition: bool, message: str) -> None:
    """Raise :class:`VerificationError` with ``message`` unless ``condition``."""
    if not condition:
        raise VerificationError(message)


def best_of(repeat: int, run: Callable[[], float]) -> tuple[float, list[float]]:
    """Call ``run`` (which returns its own elapsed seconds) ``repeat`` times.

    Returns the best time and the list of all times.
    """
    times = [run() for _ in range(max(1, repeat))]
    return min(times), times


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` once and return ``(elapsed_seconds, result)``."""
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size in MB of this process (or its children).

    ``ru_maxrss`` is in KB on Linux and in bytes on macOS.
    """
    rss = resource.getrusage(who).ru_maxrss
    divisor = 1024 * 1024 if sys.platform == "darwin" else 1024
    return rss / divisor


@dataclass
class RunResult:
    """The outcome of one (scenario, implementation) subprocess."""

    scenario: str
    impl: str
    ok: bool
    seconds: float | None = None
    rss_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    skipped: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "impl": self.impl,
            "ok": self.ok,
            "seconds": self.seconds,
            "rss_mb": self.rss_mb,
            "extra": self.extra,
            "error": self.error,
            "traceback": self.traceback,
            "skipped": self.skipped,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunResult:
        return cls(
            scenario=data["scenario"],
            impl=data["impl"],
            ok=bool(data["ok"]),
            seconds=data.get("seconds"),
            rss_mb=data.get("rss_mb"),
            extra=dict(data.get("extra") or {}),
            error=data.get("error"),
            traceback=data.get("traceback"),
            skipped=bool(data.get("skipped", False)),
        )


#: results[scenario_id][impl] for everything run in one invocation.
Results = dict[str, dict[str, RunResult]]
