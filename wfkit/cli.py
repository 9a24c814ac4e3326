"""The ``wfkit`` command line.

``wfkit run MODULE:ATTR --input JSON`` runs a workflow and prints its final
state as JSON; ``wfkit batch MODULE:ATTR --inputs FILE.jsonl --out FILE``
runs one input per line, resumably (:mod:`wfkit.batch_command`);
``wfkit check FILE`` verifies a checkpoint file. ``ATTR`` names a compiled workflow, a ``StateGraph`` (compiled
for you) or a function of no arguments returning either.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wfkit._words import count
from wfkit.errors import WfkitError

__all__ = ["load_workflow", "main"]


class CommandError(Exception):
    """A usage problem: printed as one line, exit status 2."""


def load_workflow(spec: str) -> Any:
    """Import ``MODULE:ATTR`` (the current folder is importable) and return a workflow."""
    from wfkit.graph import StateGraph
    from wfkit.workflow import Workflow

    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise CommandError(f"{spec!r} is not MODULE:ATTR, e.g. examples.support:app")
    if not all(part.isidentifier() for part in module_name.split(".")):
        raise CommandError(
            f"{module_name!r} is not a module name (dotted Python identifiers, e.g. examples.support)"
        )
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise CommandError(
            f"cannot import module {module_name!r}: {exc}; run from the folder that contains it"
        ) from exc
    try:
        obj = getattr(module, attr)
    except AttributeError:
        names = [n for n in vars(module) if not n.startswith("_")]
        raise CommandError(
            f"module {module_name!r} has no attribute {attr!r}; it has: {', '.join(names)}"
        ) from None
    if callable(obj) and not isinstance(obj, Workflow | StateGraph):
        obj = obj()
    if isinstance(obj, StateGraph):
        obj = obj.compile()
    if not isinstance(obj, Workflow):
        raise CommandError(f"{spec} is a {type(obj).__name__}, not a workflow or StateGraph")
    return obj


def _json_input(text: str | None) -> Any:
    if text is None:
        return {}
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise CommandError(
                f"--input {text}: the file is not UTF-8 text ({exc.reason})"
            ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"--input is not valid JSON ({exc.msg} at column {exc.colno}): {text!r}"
        ) from exc


def _cmd_run(args: argparse.Namespace) -> int:
    workflow = load_workflow(args.target)
    value = _json_input(args.input)
    kwargs: dict[str, Any] = {}
    if args.thread:
        kwargs["thread"] = args.thread
    if args.recursion_limit is not None:
        kwargs["recursion_limit"] = args.recursion_limit
    if args.stream:
        for chunk in workflow.stream(value, stream_mode="updates", **kwargs):
            print(json.dumps(chunk, default=repr))
        return 0
    result = workflow.invoke(value, **kwargs)
    print(json.dumps(result, indent=2, default=repr))
    return 0


def _cmd_stress(args: argparse.Namespace) -> int:
    from wfkit.stress import StressResult

    workflow = load_workflow(args.target)
    value = _json_input(args.input)
    if args.runs < 1 or args.concurrency < 1:
        raise CommandError("--runs and --concurrency must be at least 1")
    before = StressResult.load(args.compare) if args.compare else None
    result = workflow.stress(
        value, runs=args.runs, concurrency=args.concurrency, progress=not args.quiet
    )
    print(result)
    if before is not None:
        print(
            f"\ncompared with {args.compare} ({before.throughput:,.1f} runs/s then, {result.throughput:,.1f} now):"
        )
        _print_frame(result.compare(before))
    if args.save:
        result.save(args.save)
        print(f"\nsaved to {args.save}")
    return 0


def _print_frame(frame: Any) -> None:
    import polars as pl

    with pl.Config(tbl_rows=200, tbl_cols=20, tbl_width_chars=160, fmt_str_lengths=60):
        print(frame)


def _spans(path: str, thread: str | None = None, run: str | None = None) -> Any:
    from wfkit.trace import frame

    file = Path(path)
    if not file.exists():
        raise CommandError(
            f"{path} does not exist; give the checkpoint file the workflow writes to"
        )
    with file.open("rb") as fh:
        if fh.read(12)[8:12] != b"DUCK":
            raise CommandError(
                f"{path} is not a DuckDB file; give the checkpoint file the workflow writes to"
            )
    spans = frame(path, thread=thread, run=run)
    if spans.height == 0:
        what = (f" for thread {thread!r}" if thread else "") + (f" for run {run!r}" if run else "")
        raise CommandError(
            f"{path} has no spans{what}; run the workflow with tracing on (the default) first"
        )
    return spans


def _cmd_trace_summary(args: argparse.Namespace) -> int:
    from wfkit.trace import engine_overhead, summary

    spans = _spans(args.path, args.thread, args.run)
    _print_frame(summary(spans).drop("total_ms"))
    overhead = engine_overhead(spans)
    if overhead.height:
        p50: float = overhead["overhead_ms"].median() or 0.0  # type: ignore[assignment]
        share = float(overhead["overhead_ms"].sum() or 0.0) / max(
            float(overhead["wall_ms"].sum() or 0.0), 1e-9
        )
        print(
            f"\n{count(overhead.height, 'run')}; engine overhead p50 {p50:.3f} ms per run ({share:.1%} of run time)"
        )
    return 0


def _cmd_trace_draw(args: argparse.Namespace) -> int:
    import polars as pl

    from wfkit.checkpoint.duckdb import DuckDBCheckpointer
    from wfkit.drawing import GraphView
    from wfkit.trace import summary
    from wfkit.trace.draw import draw

    spans = _spans(args.path, args.thread, None)
    with DuckDBCheckpointer(args.path) as store:
        graphs = store.graphs()
    if not graphs:
        raise CommandError(
            f"{args.path} holds no workflow structure; run the workflow with this checkpointer first"
        )
    name = args.workflow or (next(iter(graphs)) if len(graphs) == 1 else None)
    if name is None or name not in graphs:
        raise CommandError(
            f"choose a workflow with --workflow; {args.path} has {', '.join(sorted(graphs))}"
        )
    view = GraphView.from_dict(graphs[name])
    spans = spans.filter(pl.col("workflow") == name)
    try:
        picture = draw(view, spans=spans, run=args.run, heat=summary(spans) if args.heat else None)
    except ValueError as exc:  # e.g. no spans for that run
        raise CommandError(str(exc)) from None
    out = picture.save(args.output)
    print(f"wrote {out}")
    return 0


def _cmd_trace_compare(args: argparse.Namespace) -> int:
    import polars as pl

    from wfkit.trace import compare

    spans = _spans(args.path)
    a, b = args.runs
    before, after = spans.filter(pl.col("run_id") == a), spans.filter(pl.col("run_id") == b)
    for run, part in ((a, before), (b, after)):
        if part.height == 0:
            raise CommandError(
                f"no spans for run {run!r} in {args.path}; list runs with: wfkit trace runs {args.path}"
            )
    _print_frame(compare(before, after))
    return 0


def _cmd_trace_runs(args: argparse.Namespace) -> int:
    import polars as pl

    spans = _spans(args.path, args.thread)
    runs = spans.filter(pl.col("kind") == "run").select(
        "run_id", "workflow", "thread_id", "start", "wall_ms", "status"
    )
    _print_frame(runs.sort("start"))
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from wfkit import batch_command

    try:
        return batch_command.run(args, load_workflow(args.target))
    except batch_command.UsageError as exc:
        raise CommandError(str(exc)) from None


def _cmd_check(args: argparse.Namespace) -> int:
    from wfkit.checkpoint.check import check_file

    report = check_file(args.path)
    print(report.text())
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wfkit", description="Run and inspect wfkit workflows.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a workflow and print its final state as JSON")
    run.add_argument("target", help="MODULE:ATTR naming a workflow, e.g. examples.support:app")
    run.add_argument("--input", "-i", help="the input as JSON, or @FILE to read it from a file")
    run.add_argument("--thread", help="thread id for the run's config")
    run.add_argument("--recursion-limit", type=int, help="maximum supersteps")
    run.add_argument("--stream", action="store_true", help="print each node's update as it happens")
    run.set_defaults(func=_cmd_run)

    st = sub.add_parser(
        "stress", help="run a workflow many times concurrently and report latencies"
    )
    st.add_argument("target", help="MODULE:ATTR naming a workflow")
    st.add_argument("--input", "-i", help="the input of every run, as JSON or @FILE")
    st.add_argument("--runs", "-n", type=int, default=100, help="how many runs (default 100)")
    st.add_argument("--concurrency", "-c", type=int, default=10, help="runs at once (default 10)")
    st.add_argument("--save", help="write the result as JSON, to --compare against later")
    st.add_argument("--compare", help="a result saved earlier with --save")
    st.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    st.set_defaults(func=_cmd_stress)

    from wfkit.batch_command import add_parser

    add_parser(sub).set_defaults(func=_cmd_batch)
    ck = sub.add_parser(
        "check", help="verify a checkpoint file without changing it, and say how to recover"
    )
    ck.add_argument("path", help="the checkpoint file, e.g. runs.duckdb")
    ck.set_defaults(func=_cmd_check)

    tr = sub.add_parser("trace", help="analyse the spans in a checkpoint file")
    tsub = tr.add_subparsers(dest="trace_command", required=True)
    summ = tsub.add_parser("summary", help="per-node latency table")
    summ.add_argument("path")
    summ.add_argument("--thread")
    summ.add_argument("--run")
    summ.set_defaults(func=_cmd_trace_summary)
    drw = tsub.add_parser(
        "draw", help="draw the graph, a run's path (--run) or a latency heat map (--heat)"
    )
    drw.add_argument("path")
    drw.add_argument("--heat", action="store_true", help="colour nodes by p95 latency")
    drw.add_argument("--run", help="overlay one run's path")
    drw.add_argument("--thread", help="only spans of this thread")
    drw.add_argument("--workflow", help="which workflow, when the file holds several")
    drw.add_argument("--output", "-o", required=True, help="picture file: .svg, .png, .pdf or .dot")
    drw.set_defaults(func=_cmd_trace_draw)
    cmp_ = tsub.add_parser("compare", help="per-node regression table between two runs")
    cmp_.add_argument("path")
    cmp_.add_argument("--runs", nargs=2, required=True, metavar=("BEFORE", "AFTER"))
    cmp_.set_defaults(func=_cmd_trace_compare)
    runs = tsub.add_parser("runs", help="list the runs in the file")
    runs.add_argument("path")
    runs.add_argument("--thread")
    runs.set_defaults(func=_cmd_trace_runs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except CommandError as exc:
        print(f"wfkit: {exc}", file=sys.stderr)
        return 2
    except WfkitError as exc:
        print(f"wfkit: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `wfkit trace runs FILE | head`
        sys.stderr.close()
        return 0
    except OSError as exc:
        print(f"wfkit: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
