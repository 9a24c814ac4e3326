"""Rendering of one benchmark invocation: the results table, text or markdown.

The table has one row per scenario with the times and peak RSS of the
standard implementations (wfkit, LangGraph, floor), the ratios
LangGraph/wfkit, wfkit/floor and RSS wfkit/LangGraph, and the target from
``BENCHMARKS.md`` with its verdict.  A scenario's variants (e.g.
``ckpt_seed1000_sync``) follow it as rows of their own: the variant's
implementation in the wfkit column, the scenario's LangGraph and floor
results beside it.  Cells of implementations a scenario does not have read
"n/a"; failed implementations show their error in their cell; full
messages follow the table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.measure import Results, RunResult
from benchmarks.scenarios import REPO_ROOT, SCENARIOS, STANDARD_IMPLS
from benchmarks.targets import Target

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


def _time_cell(scenario: str, row: RunResult | None, impl: str | None = None) -> str:
    if row is None:
        scen = SCENARIOS.get(scenario)
        return "n/a" if scen is not None and impl is not None and impl not in scen.impls else "—"
    if not row.ok:
        return short_error(row)
    cell = fmt_seconds(row.seconds)
    detail = SCENARIOS[scenario].detail if scenario in SCENARIOS else None
    extra = detail(row.extra) if detail else ""
    return f"{cell} ({extra})" if extra else cell


def _rss_cell(row: RunResult | None) -> str:
    row = _ok(row)
    return f"{row.rss_mb:.0f} MB" if row and row.rss_mb is not None else "—"


def _verdict_cells(target: Target | None, results: Results, sid: str) -> tuple[str, str]:
    if target is None:
        return "(extra row, no target)", "—"
    verdict = target.evaluate(results, sid)
    text: str = verdict.status
    if verdict.status != "PASS":
        text += " (" + "; ".join(verdict.notes) + ")"
    return target.label(), text


def _row_cells(
    label: str, sid: str, by_impl: dict[str, RunResult], wf_impl: str, target_cells: tuple[str, str]
) -> list[str]:
    """One table row: ``wf_impl``'s result in the wfkit column."""
    wf, lg, fl = by_impl.get(wf_impl), by_impl.get("langgraph"), by_impl.get("floor")
    wf_ok, lg_ok, fl_ok = _ok(wf), _ok(lg), _ok(fl)
    return [
        label,
        _time_cell(sid, wf, wf_impl),
        _time_cell(sid, lg, "langgraph"),
        _time_cell(sid, fl, "floor"),
        _rss_cell(wf),
        _rss_cell(lg),
        _rss_cell(fl),
        fmt_ratio(_ratio(_secs(lg_ok), _secs(wf_ok))),
        fmt_ratio(_ratio(_secs(wf_ok), _secs(fl_ok))),
        fmt_ratio(_ratio(_rss(wf_ok), _rss(lg_ok))),
        *target_cells,
    ]


def table_rows(results: Results) -> list[list[str]]:
    rows = []
    wfkit = STANDARD_IMPLS[0]
    for sid, by_impl in results.items():
        scen = SCENARIOS.get(sid)
        if wfkit in by_impl or not (scen and scen.variants):
            target = scen.target if scen else None
            rows.append(_row_cells(sid, sid, by_impl, wfkit, _verdict_cells(target, results, sid)))
        for v in scen.variants if scen else ():
            if v.impl in by_impl:
                label = f"{v.id} ({v.impl})"
                rows.append(
                    _row_cells(label, sid, by_impl, v.impl, _verdict_cells(v.target, results, sid))
                )
    return rows


def _variant_impls(sid: str) -> set[str]:
    scen = SCENARIOS.get(sid)
    return {v.impl for v in scen.variants} if scen else set()


def other_impl_lines(results: Results) -> list[str]:
    """Results of implementations outside the standard three (e.g. variants)."""
    lines = []
    for sid, by_impl in results.items():
        for impl, row in by_impl.items():
            if impl in STANDARD_IMPLS or impl in _variant_impls(sid):
                continue  # shown in the table
            cell = _time_cell(sid, row)
            rss = _rss_cell(row)
            lines.append(f"{sid} / {impl}: {cell}, peak RSS {rss}")
    return lines


def variant_lines(results: Results) -> list[str]:
    """What each variant row shows (its LangGraph and floor cells are its scenario's)."""
    lines = []
    for sid, by_impl in results.items():
        scen = SCENARIOS.get(sid)
        for v in scen.variants if scen else ():
            if v.impl in by_impl:
                lines.append(f"{v.id}: {v.what}; wfkit column = {v.impl}, other columns = {sid}'s")
    return lines


def interleave_lines(results: Results) -> list[str]:
    """Implementations measured together in one process, alternately."""
    lines = []
    for sid, by_impl in results.items():
        done: set[str] = set()
        for impl, row in by_impl.items():
            others = row.extra.get("interleaved_with") if row.ok else None
            if not others or impl in done:
                continue
            group = [impl, *others]
            done.update(group)
            lines.append(
                f"{sid}: {', '.join(group)} timed in one subprocess, repetitions alternated "
                f"(A B, B A, ...), best of each; their RSS is that shared process's peak"
            )
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


def source_fingerprint() -> str:
    """A short hash of the ``wfkit/`` sources, to tell whether they changed
    while the suite ran (each subprocess imports wfkit afresh)."""
    h = hashlib.sha1()
    for f in sorted((REPO_ROOT / "wfkit").rglob("*.py")):
        h.update(str(f.relative_to(REPO_ROOT)).encode())
        try:
            h.update(f.read_bytes())
        except OSError:
            h.update(b"<unreadable>")
    return h.hexdigest()[:10]


def environment(fingerprint_at_start: str | None = None) -> Environment:
    """The machine and versions; with ``fingerprint_at_start`` the Source line
    names the ``wfkit/`` source hash and warns if it changed during the run."""
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
        git=_source_line(fingerprint_at_start),
    )


def _source_line(fingerprint_at_start: str | None) -> str:
    line = _git_describe()
    if fingerprint_at_start is None:
        return line
    now = source_fingerprint()
    line += f", wfkit/ sources {now}"
    if now != fingerprint_at_start:
        line += (
            f" - WARNING: wfkit/ changed during the run (was {fingerprint_at_start} at the start),"
            " so rows may have measured different code"
        )
    return line


# --------------------------------------------------------------------------
# Whole reports
# --------------------------------------------------------------------------


def _sections(results: Results) -> list[tuple[str, list[str]]]:
    return [
        ("Variant rows", variant_lines(results)),
        ("Interleaved", interleave_lines(results)),
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
