"""Rendering of one benchmark invocation: the results table, text or markdown.

The table has one row per scenario with the times and peak RSS of the
standard implementations (wfkit, LangGraph, floor), the ratios
LangGraph/wfkit, wfkit/floor and RSS wfkit/LangGraph, and the target from
``BENCHMARKS.md`` with its verdict.  Failed implementations show their
error in their cell; full messages follow the table.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.measure import Results, RunResult
from benchmarks.scenarios import REPO_ROOT, SCENARIOS, STANDARD_IMPLS

HEADERS = [
    "scenario",
    "wfkit",
    "LangGraph",
    "floor",
    "RSS wfkit",
    "RSS LG",
    "RSS floor",
    "LG/wfkit",
    "wfkit/floor",
    "RSS wfkit/LG",
    "target",
    "verdict",
]


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "—"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} µs"


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "—"
    return f"{r:.1f}x" if r >= 10 else f"{r:.2f}x"


def _ok(row: RunResult | None) -> RunResult | None:
    return row if row is not None and row.ok else None


def _secs(row: RunResult | None) -> float | None:
    return row.seconds if row is not None else None


def _rss(row: RunResult | None) -> float | None:
    return row.rss_mb if row is not None else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b is not None and b > 0 else None


def short_error(row: RunResult) -> str:
    if row.skipped:
        return f"skipped ({row.error})" if row.error else "skipped"
    first = (row.error or "failed").splitlines()[0]
    return "ERROR " + (first if len(first) <= 60 else first[:57] + "...")


def _time_cell(scenario: str, row: RunResult | None) -> str:
    if row is None:
        return "—"
    if not row.ok:
        return short_error(row)
    cell = fmt_seconds(row.seconds)
    detail = SCENARIOS[scenario].detail if scenario in SCENARIOS else None
    extra = detail(row.extra) if detail else ""
    return f"{cell} ({extra})" if extra else cell


def _rss_cell(row: RunResult | None) -> str:
    row = _ok(row)
    return f"{row.rss_mb:.0f} MB" if row and row.rss_mb is not None else "—"


def table_rows(results: Results) -> list[list[str]]:
    rows = []
    for sid, by_impl in results.items():
        wf, lg, fl = (by_impl.get(i) for i in STANDARD_IMPLS)
        wf_ok, lg_ok, fl_ok = _ok(wf), _ok(lg), _ok(fl)
        scen = SCENARIOS.get(sid)
        target = scen.target if scen else None
        if target is None:
            target_text, verdict_text = ("(extra row, no target)", "—")
        else:
            verdict = target.evaluate(results, sid)
            target_text = target.label()
            verdict_text = verdict.status
            if verdict.status != "PASS":
                verdict_text += " (" + "; ".join(verdict.notes) + ")"
        rows.append(
            [
                sid,
                _time_cell(sid, wf),
                _time_cell(sid, lg),
                _time_cell(sid, fl),
                _rss_cell(wf),
                _rss_cell(lg),
                _rss_cell(fl),
                fmt_ratio(_ratio(_secs(lg_ok), _secs(wf_ok))),
                fmt_ratio(_ratio(_secs(wf_ok), _secs(fl_ok))),
                fmt_ratio(_ratio(_rss(wf_ok), _rss(lg_ok))),
                target_text,
                verdict_text,
            ]
        )
    return rows


def other_impl_lines(results: Results) -> list[str]:
    """Results of implementations outside the standard three (e.g. variants)."""
    lines = []
    for sid, by_impl in results.items():
        for impl, row in by_impl.items():
            if impl in STANDARD_IMPLS:
                continue
            cell = _time_cell(sid, row)
            rss = _rss_cell(row)
            lines.append(f"{sid} / {impl}: {cell}, peak RSS {rss}")
    return lines


def build_lines(results: Results) -> list[str]:
    """Graph build + compile times (context, not the headline)."""
    lines = []
    for sid, by_impl in results.items():
        parts = []
        for impl in ("wfkit", "langgraph"):
            row = _ok(by_impl.get(impl))
            if row and "build_s" in row.extra:
                parts.append(f"{impl} {fmt_seconds(float(row.extra['build_s']))}")
        if parts:
            lines.append(f"{sid}: " + ", ".join(parts))
    return lines


def error_lines(results: Results) -> list[str]:
    lines = []
    for sid, by_impl in results.items():
        for impl, row in by_impl.items():
            if not row.ok and not row.skipped:
                lines.append(f"{sid} / {impl}: {row.error}")
    return lines


def skipped_lines(results: Results) -> list[str]:
    seen: dict[str, str] = {}
    for by_impl in results.values():
        for impl, row in by_impl.items():
            if row.skipped:
                seen.setdefault(impl, row.error or "skipped")
    return [f"{impl}: {why}" for impl, why in seen.items()]


def render_text(rows: Sequence[Sequence[str]], headers: Sequence[str] = HEADERS) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def render_markdown_table(rows: Sequence[Sequence[str]], headers: Sequence[str] = HEADERS) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


# --------------------------------------------------------------------------
# Machine and versions
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Environment:
    date: str
    nproc: int
    cpu: str
    python: str
    platform: str
    versions: dict[str, str]
    git: str

    def lines(self) -> list[str]:
        versions = ", ".join(f"{k} {v}" for k, v in self.versions.items())
        return [
            f"Date: {self.date}",
            f"Machine: {self.nproc} CPUs, {self.cpu}, {self.platform}",
            f"Python: {self.python}",
            f"Versions: {versions}",
            f"Source: {self.git}",
        ]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git_describe() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=REPO_ROOT, capture_output=True, text=True
        ).stdout.strip()
        return f"git {out}" + (" (uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "git: no commit"


def environment() -> Environment:
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    return Environment(
        date=dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        nproc=nproc,
        cpu=_cpu_model(),
        python=platform.python_version(),
        platform=platform.platform(),
        versions={d: _version(d) for d in ("wfkit", "langgraph", "duckdb", "polars")},
        git=_git_describe(),
    )


# --------------------------------------------------------------------------
# Whole reports
# --------------------------------------------------------------------------


def _sections(results: Results) -> list[tuple[str, list[str]]]:
    return [
        ("Other implementations", other_impl_lines(results)),
        ("Graph build + compile (not the headline)", build_lines(results)),
        ("Skipped", skipped_lines(results)),
        ("Errors", error_lines(results)),
    ]


def text_report(results: Results, env: Environment, repeat: int) -> str:
    parts = [render_text(table_rows(results)), ""]
    for title, lines in _sections(results):
        if lines:
            parts += [f"{title}:", *(f"  {line}" for line in lines), ""]
    parts += [*env.lines(), f"Time: best of {repeat} in-process repetitions (import: median)"]
    return "\n".join(parts)


def markdown_report(results: Results, env: Environment, repeat: int, command: str) -> str:
    parts = [
        "# wfkit benchmark results",
        "",
        *(f"- {line}" for line in env.lines()),
        f"- Command: `{command}`",
        f"- Times: best of {repeat} in-process repetitions; import: median of fresh processes.",
        "  Each (scenario, implementation) runs in its own subprocess; RSS is that",
        "  process's peak. Machines are shared and noisy: only ratios within one run count.",
        "",
        render_markdown_table(table_rows(results)),
        "",
    ]
    for title, lines in _sections(results):
        if lines:
            parts += [f"## {title}", "", *(f"- {line}" for line in lines), ""]
    return "\n".join(parts)
