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


@dataclass
class Session:
    """An implementation built and warmed up, ready to time repetitions.

    ``once()`` times (and verifies) one repetition and returns its seconds;
    ``finish(best, times, rss_mb)`` makes the :class:`Measurement` (it may
    run checks that load more modules, so the peak RSS is taken before it).
    """

    once: Callable[[], float]
    finish: Callable[[float, list[float], float], Measurement]


class SteppedImpl:
    """An implementation ``(repeat) -> Measurement`` that can also be
    prepared as a :class:`Session`, so that :func:`interleave` can alternate
    its repetitions with another implementation's in one process."""

    def __init__(self, prepare: Callable[[], Session]) -> None:
        self.prepare = prepare

    def __call__(self, repeat: int) -> Measurement:
        session = self.prepare()
        best, times = best_of(repeat, session.once)
        return session.finish(best, times, peak_rss_mb())


def interleave(impls: dict[str, Any], repeat: int) -> dict[str, Measurement]:
    """Time several :class:`SteppedImpl` in this process, alternately.

    All are built and warmed up first; then ``repeat`` rounds, each timing
    one repetition of every implementation, the order reversed every other
    round (A B, B A, A B, ...), so that a disturbance of the machine lasting
    longer than a repetition hits them alike.  Each keeps its best time, as
    :func:`best_of` does.  Every result has the process's peak RSS (of all
    of them together) and ``extra["interleaved_with"]``.
    """
    names = list(impls)
    for name, impl in impls.items():
        if not isinstance(impl, SteppedImpl):
            raise TypeError(f"implementation {name!r} cannot be interleaved (not a SteppedImpl)")
    sessions = {name: impls[name].prepare() for name in names}
    times: dict[str, list[float]] = {name: [] for name in names}
    for k in range(max(1, repeat)):
        for name in names if k % 2 == 0 else names[::-1]:
            times[name].append(sessions[name].once())
    rss = peak_rss_mb()
    out = {}
    for name in names:
        m = sessions[name].finish(min(times[name]), times[name], rss)
        m.extra["interleaved_with"] = [n for n in names if n != name]
        out[name] = m
    return out


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
