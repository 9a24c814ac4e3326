"""``wfkit batch MODULE:ATTR --inputs FILE.jsonl --out results.jsonl``.

One run per line of the inputs file (a JSON object each), on the local
drivers, on a Dask cluster (``--dask ADDRESS``) or on a local cluster it
starts (``--local-cluster N`` worker processes), with the progress bar.
Run ``i`` is thread ``STEM-i`` (``STEM``: the inputs file's name, or
``--thread-prefix``). Each finished run is appended to the results file at
once, as ``{"index", "thread", "status", "output", "error"}``, in the order
runs finish.

``--resume`` reads the results file and skips the runs already finished
there (``status`` ``ok``); the others run again: from their checkpoint when
the workflow has one (``--checkpoints FILE`` gives it one) and the thread
stopped part-way, else from their input.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from wfkit.types import Interrupt

__all__ = ["add_parser", "run"]


class UsageError(Exception):
    """A bad argument or file: the command prints it and exits with status 2."""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "batch", help="one run per line of a JSONL file, resumable, with a progress bar"
    )
    p.add_argument("target", help="MODULE:ATTR naming a workflow")
    p.add_argument("--inputs", required=True, help="a JSONL file: one input object per line")
    p.add_argument("--out", required=True, help="the results file (JSONL), appended as runs finish")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--dask", metavar="ADDRESS", help="a Dask scheduler, e.g. tcp://host:8786")
    where.add_argument(
        "--local-cluster", type=int, metavar="N", help="start a Dask LocalCluster of N processes"
    )
    p.add_argument("--checkpoints", metavar="FILE", help="checkpoint every run to this DuckDB file")
    p.add_argument("--resume", action="store_true", help="skip runs finished in --out")
    p.add_argument("--thread-prefix", help="thread ids are PREFIX-LINE (default: the inputs' name)")
    p.add_argument("--max-concurrency", type=int, help="runs at once")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    return p


def _inputs(path: str) -> list[Any]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"--inputs {path}: {exc.strerror or exc}") from None
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"--inputs {path}, line {number}: not JSON ({exc.msg} at column {exc.colno})"
            ) from None
        if not isinstance(value, dict):
            raise UsageError(f"--inputs {path}, line {number}: an input must be a JSON object")
        out.append(value)
    return out


def _finished(path: Path) -> set[int]:
    """The indices of runs the results file records as finished."""
    done: set[int] = set()
    if not path.exists():
        return done
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError, KeyError, TypeError):  # a torn last line
            row = json.loads(line)
            if row["status"] == "ok":
                done.add(int(row["index"]))
    return done


def _jsonable(value: Any) -> Any:
    if isinstance(value, Interrupt):
        return {"value": value.value, "id": value.id}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


@contextlib.contextmanager
def _executor(args: argparse.Namespace) -> Iterator[Any]:
    if args.dask is None and args.local_cluster is None:
        yield None
        return
    try:
        import distributed
    except ImportError:
        raise UsageError(
            "--dask and --local-cluster need Dask: pip install 'wfkit[dask]'"
        ) from None
    from wfkit.distributed import DaskExecutor

    dask: Any = distributed  # untyped
    Client, LocalCluster = dask.Client, dask.LocalCluster
    with contextlib.ExitStack() as stack:
        if args.dask is not None:
            client = stack.enter_context(Client(args.dask))
        else:
            if args.local_cluster < 1:
                raise UsageError("--local-cluster needs at least 1 worker")
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=args.local_cluster,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                )
            )
            client = stack.enter_context(Client(cluster))
        yield stack.enter_context(DaskExecutor(client))


def _writer(out: TextIO, threads: list[str], indices: list[int]) -> Any:
    lock = threading.Lock()

    def write(i: int, result: Any, error: BaseException | None) -> None:
        row: dict[str, Any] = {"index": indices[i], "thread": threads[i]}
        if error is not None:
            row.update(status="error", output=None, error=f"{type(error).__name__}: {error}")
        else:
            paused = isinstance(result, dict) and "__interrupt__" in result
            row.update(status="interrupted" if paused else "ok", output=_jsonable(result))
            row["error"] = None
        text = json.dumps(row, default=repr) + "\n"
        with lock:
            out.write(text)
            out.flush()

    return write


def run(args: argparse.Namespace, workflow: Any) -> int:
    """The command, once the workflow is loaded; 0 when every run finished ok."""
    from wfkit.batch import batch
    from wfkit.workflow import Workflow

    inputs = _inputs(args.inputs)
    out_path = Path(args.out)
    finished = _finished(out_path) if args.resume else set()
    if not args.resume and out_path.exists() and out_path.stat().st_size:
        raise UsageError(
            f"--out {out_path} already holds results; pass --resume to skip the runs finished "
            f"there, or remove it"
        )
    if args.checkpoints:
        workflow = Workflow(
            workflow.topology,
            checkpointer=args.checkpoints,
            trace=workflow.trace,
            executor=workflow.executor,
        )
    prefix = args.thread_prefix or Path(args.inputs).stem
    indices = [i for i in range(len(inputs)) if i not in finished]
    threads = [f"{prefix}-{i}" for i in indices]
    todo = [
        _start_value(workflow, inputs[i], thread)
        for i, thread in zip(indices, threads, strict=True)
    ]
    if not todo:
        print(f"wfkit batch: all {len(inputs)} runs are finished in {out_path}")
        return 0
    with _executor(args) as executor, out_path.open("a", encoding="utf-8") as out:
        results = batch(
            workflow,
            todo,
            threads=threads,
            executor=executor,
            max_concurrency=args.max_concurrency,
            progress=not args.quiet,
            return_exceptions=True,
            on_result=_writer(out, threads, indices),
        )
    failed, paused = len(results.failed), len(results.interrupted)
    ok = len(todo) - failed - paused
    print(
        f"wfkit batch: {ok} ok, {failed} failed, {paused} interrupted"
        + (f" ({len(finished)} skipped, finished before)" if finished else "")
        + f"; results in {out_path}"
    )
    return 0 if not failed and not paused else 1


def _start_value(workflow: Any, value: Any, thread: str) -> Any:
    """A run's input, or ``None`` to continue its thread where it stopped."""
    if workflow.checkpointer is None:
        return value
    state = workflow.get_state({"configurable": {"thread_id": thread}})
    return None if state.next else value
