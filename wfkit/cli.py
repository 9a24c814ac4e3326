"""The ``wfkit`` command line.

``wfkit run MODULE:ATTR --input JSON`` runs a workflow and prints its final
state as JSON. ``ATTR`` names a compiled workflow, a ``StateGraph`` (compiled
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
        text = Path(text[1:]).read_text()
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


if __name__ == "__main__":
    raise SystemExit(main())
