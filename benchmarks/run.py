"""Run the benchmark suite: every (scenario, implementation) in its own process.

Usage (from the repository root)::

    python -m benchmarks.run                          # everything
    python -m benchmarks.run --only seed1000,import   # some scenarios
    python -m benchmarks.run --impls wfkit,floor      # some implementations
    python -m benchmarks.run --repeat 5               # best of 5 repetitions
    python -m benchmarks.run --markdown benchmarks/RESULTS.md
    python -m benchmarks.run --list                   # scenario ids

Each child is ``python -m benchmarks.run --one SCENARIO IMPL --repeat N``;
it prints one line ``BENCH-RESULT {json}`` with seconds, peak RSS in MB
(``ru_maxrss`` of the child, so memory is per scenario) and extra figures.
A child that raises, crashes or times out becomes an error cell in the
table; the run goes on.

The exception: a scenario's ``interleave`` implementations (``chain100x100``'s
``wfkit`` and ``wfkit_untraced``) share one child, ``--one SCENARIO
wfkit,wfkit_untraced``, which alternates their repetitions
(:func:`benchmarks.measure.interleave`) and prints one line per
implementation.  Raw results are also written as JSON to
``benchmarks/out/latest.json`` (or ``--json FILE``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
import traceback
from pathlib import Path

from benchmarks.engines import is_installed
from benchmarks.measure import Results, RunResult, interleave, peak_rss_mb
from benchmarks.scenarios import REPO_ROOT, SCENARIOS, STANDARD_IMPLS

MARKER = "BENCH-RESULT "
DEFAULT_JSON = REPO_ROOT / "benchmarks" / "out" / "latest.json"


# --------------------------------------------------------------------------
# Child side
# --------------------------------------------------------------------------


def run_one(scenario: str, impl: str, repeat: int) -> RunResult:
    """Run one implementation in this process and describe the outcome."""
    try:
        measurement = SCENARIOS[scenario].impls[impl](repeat)
    except Exception as exc:
        message = " ".join(str(exc).split())  # one line, for the table
        return RunResult(
            scenario,
            impl,
            ok=False,
            rss_mb=peak_rss_mb(),
            error=f"{type(exc).__name__}: {message} [{_where(exc)}]",
            traceback=traceback.format_exc(),
        )
    rss = measurement.rss_mb if measurement.rss_mb is not None else peak_rss_mb()
    return RunResult(
        scenario, impl, ok=True, seconds=measurement.seconds, rss_mb=rss, extra=measurement.extra
    )


def _where(exc: BaseException) -> str:
    """The innermost frame outside this benchmark package (i.e. in the engine), if any."""
    frames = traceback.extract_tb(exc.__traceback__)
    outside = [f for f in frames if "/benchmarks/" not in f.filename]
    frame = (outside or frames)[-1] if frames else None
    if frame is None:
        return "no traceback"
    path = Path(frame.filename)
    try:
        shown = str(path.relative_to(REPO_ROOT))
    except ValueError:
        shown = "/".join(path.parts[-2:])
    return f"at {shown}:{frame.lineno} in {frame.name}"


def run_group(scenario: str, group: list[str], repeat: int) -> list[RunResult]:
    """Run implementations interleaved in this process (see ``Scenario.interleave``)."""
    scen = SCENARIOS[scenario]
    try:
        measured = interleave({impl: scen.impls[impl] for impl in group}, repeat)
    except Exception as exc:
        message = " ".join(str(exc).split())
        error = f"{type(exc).__name__}: {message} [{_where(exc)}] (interleaved: {','.join(group)})"
        tb = traceback.format_exc()
        rss = peak_rss_mb()
        return [
            RunResult(scenario, impl, ok=False, rss_mb=rss, error=error, traceback=tb)
            for impl in group
        ]
    return [
        RunResult(scenario, impl, ok=True, seconds=m.seconds, rss_mb=m.rss_mb, extra=m.extra)
        for impl, m in measured.items()
    ]


def child_main(scenario: str, impls: list[str], repeat: int) -> int:
    if len(impls) == 1:
        results = [run_one(scenario, impls[0], repeat)]
    else:
        results = run_group(scenario, impls, repeat)
    sys.stdout.flush()
    for result in results:
        print(MARKER + json.dumps(result.to_json()), flush=True)
    return 0


# --------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------


def spawn(scenario: str, impls: list[str], repeat: int) -> dict[str, RunResult]:
    """Run implementation(s) in a fresh subprocess and parse its report:
    one implementation, or several interleaved (``Scenario.interleave``)."""
    cmd = [sys.executable, "-m", "benchmarks.run", "--one", scenario, ",".join(impls)]
    cmd += ["--repeat", str(repeat)]
    timeout = SCENARIOS[scenario].timeout
    try:
        proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        error = f"timeout after {timeout:.0f} s"
        return {impl: RunResult(scenario, impl, ok=False, error=error) for impl in impls}
    got: dict[str, RunResult] = {}
    for line in proc.stdout.splitlines():
        if line.startswith(MARKER):
            row = RunResult.from_json(json.loads(line[len(MARKER) :]))
            got[row.impl] = row
    tail = (proc.stderr.strip() or proc.stdout.strip() or "no output")[-500:]
    last = tail.splitlines()[-1] if tail else ""
    for impl in impls:
        if impl not in got:
            got[impl] = RunResult(
                scenario,
                impl,
                ok=False,
                error=f"child exited with code {proc.returncode}: {last}",
                traceback=tail,
            )
    return {impl: got[impl] for impl in impls}


def select(names: str | None, known: list[str], what: str) -> list[str]:
    if not names:
        return known
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return chosen


def _spawn_logged(scenario: str, impls: list[str], repeat: int) -> dict[str, RunResult]:
    """:func:`spawn`, with progress lines on stderr."""
    label = "+".join(impls)
    print(f"{scenario:>16} / {label:<10} ...", end=" ", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    rows = spawn(scenario, impls, repeat)
    wall = time.perf_counter() - t0
    status = []
    for impl, row in rows.items():
        text = f"{row.seconds:.4f} s, {row.rss_mb:.0f} MB" if row.ok else f"FAILED: {row.error}"
        status.append(f"{impl}: {text}" if len(rows) > 1 else text)
    print(f"{'; '.join(status)}  [{wall:.1f} s wall]", file=sys.stderr, flush=True)
    return rows


def run_all(scenarios: list[str], impls: list[str] | None, repeat: int) -> Results:
    langgraph_ok = is_installed("langgraph")
    if not langgraph_ok:
        print(
            "note: langgraph is not installed; skipping its column (pip install -e '.[bench]')",
            file=sys.stderr,
        )
    results: Results = {}
    for sid in scenarios:
        scen = SCENARIOS[sid]
        order = [i for i in STANDARD_IMPLS if i in scen.impls]
        order += [i for i in scen.impls if i not in STANDARD_IMPLS]
        order = [i for i in order if impls is None or i in impls]
        group = [i for i in scen.interleave if i in order]
        if len(group) < 2:
            group = []  # nothing to alternate with: run it the ordinary way
        results[sid] = {}
        for impl in order:
            if impl in group:
                if impl == group[0]:  # the whole group runs at its first member's turn
                    results[sid].update(_spawn_logged(sid, group, repeat))
                continue
            if impl == "langgraph" and not langgraph_ok:
                results[sid][impl] = RunResult(
                    sid, impl, ok=False, skipped=True, error="langgraph not installed"
                )
                continue
            results[sid].update(_spawn_logged(sid, [impl], repeat))
    return results


def write_json(path: Path, results: Results, env_lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "environment": env_lines,
        "results": {
            sid: {impl: row.to_json() for impl, row in by_impl.items()}
            for sid, by_impl in results.items()
        },
    }
    path.write_text(json.dumps(data, indent=2) + "\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--only", metavar="SCEN[,SCEN]", help="run only these scenarios")
    p.add_argument(
        "--impls", metavar="IMPL[,IMPL]", help="run only these implementations (e.g. wfkit,floor)"
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="best of N in-process repetitions for timed scenarios (default 3)",
    )
    p.add_argument(
        "--markdown",
        metavar="FILE",
        type=Path,
        help="also write the report as markdown (e.g. benchmarks/RESULTS.md)",
    )
    p.add_argument(
        "--json",
        metavar="FILE",
        type=Path,
        default=DEFAULT_JSON,
        help=f"raw results as JSON (default {DEFAULT_JSON.relative_to(REPO_ROOT)})",
    )
    p.add_argument("--list", action="store_true", help="list scenario ids and exit")
    p.add_argument("--one", nargs=2, metavar=("SCENARIO", "IMPL"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    if args.one:
        scenario, spec = args.one
        impls = spec.split(",")
        for impl in impls:
            if scenario not in SCENARIOS or impl not in SCENARIOS[scenario].impls:
                raise SystemExit(f"no implementation {impl!r} of scenario {scenario!r}")
        return child_main(scenario, impls, args.repeat)
    if args.list:
        for sid, scen in SCENARIOS.items():
            print(f"{sid:<16} {scen.what}  [{', '.join(scen.impls)}]")
        return 0

    from benchmarks import report  # parent-only: keeps children lean

    scenarios = select(args.only, list(SCENARIOS), "scenario")
    all_impls = sorted({i for s in SCENARIOS.values() for i in s.impls})
    impls = select(args.impls, all_impls, "implementation") if args.impls else None
    fingerprint = report.source_fingerprint()
    results = run_all(scenarios, impls, args.repeat)
    env = report.environment(fingerprint)
    if "WARNING" in env.git:
        print(f"\nwarning: {env.git}", file=sys.stderr)
    print()
    print(report.text_report(results, env, args.repeat))
    write_json(args.json, results, env.lines())
    if args.markdown:
        command = "python -m benchmarks.run " + shlex.join(
            argv if argv is not None else sys.argv[1:]
        )
        args.markdown.write_text(report.markdown_report(results, env, args.repeat, command.strip()))
        print(f"\nmarkdown written to {args.markdown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
