"""Targets from ``BENCHMARKS.md`` as checkable criteria.

A :class:`Target` is a list of :class:`Criterion`.  Each criterion looks at
the results of one run (all scenarios, all implementations) and answers
``True`` (met), ``False`` (missed) or ``None`` (cannot tell: a needed row
failed or was not run).  Ratios are only ever taken between rows of the
same invocation, because absolute times on shared machines are noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from benchmarks.measure import Results, RunResult

Status = Literal["PASS", "FAIL", "n/a"]


@dataclass(frozen=True)
class Check:
    """The answer of one criterion: ``met`` is None when undecidable."""

    met: bool | None
    note: str


def _row(results: Results, scenario: str, impl: str) -> RunResult | None:
    row = results.get(scenario, {}).get(impl)
    return row if row is not None and row.ok else None


def _missing(scenario: str, impl: str) -> Check:
    return Check(None, f"no {impl} result for {scenario}")


@dataclass(frozen=True)
class Criterion:
    """Base class; subclasses implement :meth:`evaluate`."""

    def label(self) -> str:
        raise NotImplementedError

    def evaluate(self, results: Results, scenario: str) -> Check:
        raise NotImplementedError


@dataclass(frozen=True)
class FasterThan(Criterion):
    """``other.seconds / impl.seconds >= factor`` (e.g. 25x faster than LangGraph)."""

    factor: float
    other: str = "langgraph"
    impl: str = "wfkit"

    def label(self) -> str:
        if self.factor == 1:
            return f"no slower than {_pretty(self.other)}"
        return f"≥{self.factor:g}x faster than {_pretty(self.other)}"

    def evaluate(self, results: Results, scenario: str) -> Check:
        a, b = _row(results, scenario, self.impl), _row(results, scenario, self.other)
        if a is None or a.seconds is None:
            return _missing(scenario, self.impl)
        if b is None or b.seconds is None:
            return _missing(scenario, self.other)
        ratio = b.seconds / a.seconds
        return Check(ratio >= self.factor, f"{ratio:.1f}x vs ≥{self.factor:g}x")


@dataclass(frozen=True)
class TimeAtMost(Criterion):
    """``impl.seconds / other.seconds <= factor`` (e.g. within 3x of the floor)."""

    factor: float
    other: str = "floor"
    impl: str = "wfkit"

    def label(self) -> str:
        return f"time ≤{self.factor:g}x {_pretty(self.other)}"

    def evaluate(self, results: Results, scenario: str) -> Check:
        a, b = _row(results, scenario, self.impl), _row(results, scenario, self.other)
        if a is None or a.seconds is None:
            return _missing(scenario, self.impl)
        if b is None or b.seconds is None:
            return _missing(scenario, self.other)
        ratio = a.seconds / b.seconds
        return Check(ratio <= self.factor, f"time {ratio:.2f}x vs ≤{self.factor:g}x")


@dataclass(frozen=True)
class RssAtMost(Criterion):
    """``impl.rss_mb / other.rss_mb <= factor``."""

    factor: float
    other: str = "langgraph"
    impl: str = "wfkit"

    def label(self) -> str:
        return f"RSS ≤{self.factor:g}x {_pretty(self.other)}"

    def evaluate(self, results: Results, scenario: str) -> Check:
        a, b = _row(results, scenario, self.impl), _row(results, scenario, self.other)
        if a is None or a.rss_mb is None:
            return _missing(scenario, self.impl)
        if b is None or b.rss_mb is None:
            return _missing(scenario, self.other)
        ratio = a.rss_mb / b.rss_mb
        return Check(ratio <= self.factor, f"RSS {ratio:.2f}x vs ≤{self.factor:g}x")


@dataclass(frozen=True)
class RssBelowMb(Criterion):
    """``impl.rss_mb < mb`` (an absolute ceiling, for a scenario with nothing to compare)."""

    mb: float
    impl: str = "wfkit"

    def label(self) -> str:
        return f"RSS <{self.mb:g} MB"

    def evaluate(self, results: Results, scenario: str) -> Check:
        a = _row(results, scenario, self.impl)
        if a is None or a.rss_mb is None:
            return _missing(scenario, self.impl)
        return Check(a.rss_mb < self.mb, f"RSS {a.rss_mb:.0f} MB vs <{self.mb:g} MB")


@dataclass(frozen=True)
class ExtraAtMostOf(Criterion):
    """``extra[key]`` of this scenario's ``impl`` ≤ ``factor`` x the same figure
    of scenario ``reference``'s ``reference_impl`` (default: ``impl``).

    Used for "per-superstep cost stays flat as graphs grow" (``chain1000x10``
    vs ``chain100x100``) and for "tracing costs at most 1.5x" (``chain100x100``'s
    ``wfkit`` vs its ``wfkit_untraced``).
    """

    key: str
    reference: str
    factor: float
    impl: str = "wfkit"
    reference_impl: str | None = None

    def _ref_impl(self) -> str:
        return self.reference_impl or self.impl

    def label(self) -> str:
        ref = self.reference
        if self._ref_impl() != self.impl:
            ref += f"/{self._ref_impl()}"
        return f"{self.key} ≤{self.factor:g}x {ref}'s"

    def evaluate(self, results: Results, scenario: str) -> Check:
        ref_impl = self._ref_impl()
        a, b = _row(results, scenario, self.impl), _row(results, self.reference, ref_impl)
        if a is None or self.key not in a.extra:
            return _missing(scenario, self.impl)
        if b is None or self.key not in b.extra:
            return _missing(self.reference, ref_impl)
        ratio = float(a.extra[self.key]) / float(b.extra[self.key])
        return Check(ratio <= self.factor, f"{ratio:.2f}x vs ≤{self.factor:g}x")


@dataclass(frozen=True)
class ExtraAtLeast(Criterion):
    """``extra[key] >= value`` (absolute figures such as writes per second)."""

    key: str
    value: float
    impl: str = "wfkit"

    def label(self) -> str:
        return f"{self.key} ≥{self.value:,.0f}"

    def evaluate(self, results: Results, scenario: str) -> Check:
        a = _row(results, scenario, self.impl)
        if a is None or self.key not in a.extra:
            return _missing(scenario, self.impl)
        got = float(a.extra[self.key])
        return Check(got >= self.value, f"{got:,.0f} vs ≥{self.value:,.0f}")


@dataclass(frozen=True)
class Verdict:
    status: Status
    notes: list[str]


@dataclass(frozen=True)
class Target:
    """All criteria must be met for PASS."""

    criteria: list[Criterion] = field(default_factory=list)

    def label(self) -> str:
        return "; ".join(c.label() for c in self.criteria)

    def evaluate(self, results: Results, scenario: str) -> Verdict:
        checks = [c.evaluate(results, scenario) for c in self.criteria]
        if any(c.met is False for c in checks):
            status: Status = "FAIL"
        elif any(c.met is None for c in checks):
            status = "n/a"
        else:
            status = "PASS"
        marks = {True: "✓", False: "✗", None: "?"}
        notes = [f"{marks[c.met]} {c.note}" for c in checks]
        return Verdict(status, list(dict.fromkeys(notes)))  # drop repeated "no result" notes


def _pretty(impl: str) -> str:
    return {"langgraph": "LangGraph", "floor": "floor"}.get(impl, impl)
