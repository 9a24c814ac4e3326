"""The ``%%workflow`` cell magic and ``%workflow`` line magics.

A ``%%workflow NAME`` cell mixes edge lines and Python::

    %%workflow support --state Ticket
    START -> classify
    classify -> refund | answer : route
    refund, answer -> END

    def classify(state): ...
    def route(state): return "refund" if state["intent"] == "refund" else "answer"

Edge lines: ``a -> b`` (``a, b -> c`` adds an edge from each; ``a & b -> c``
is a join: ``c`` runs once after both), ``a -> b | c : router`` is a
conditional edge, ``START``/``END`` are the graph's ends, ``#`` starts a
comment. Everything else runs as Python in the notebook's namespace; each
top-level function becomes a node unless a router uses it or its name
starts with ``_``. Re-running a cell replaces what it defined; other cells'
parts stay. The cell shows the graph; ``NAME`` holds the compiled workflow.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shlex
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import HTML, display

from wfkit.errors import GraphValidationError, WfkitError
from wfkit.graph.topology import GraphWarning
from wfkit.jupyter.tables import table

__all__ = ["WorkflowMagics", "parse_cell"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_EDGE = re.compile(
    rf"^\s*(?P<src>{_NAME}(?:\s*[,&]\s*{_NAME})*)\s*->\s*(?P<dst>{_NAME}(?:\s*[|,]\s*{_NAME})*)"
    rf"(?:\s*:\s*(?P<router>{_NAME}))?\s*(?:#.*)?$"
)


@dataclass
class CellParts:
    """What one cell contributes to a graph."""

    edges: list[tuple[str, str]] = field(default_factory=list)
    joins: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    branches: list[tuple[str, tuple[str, ...], str]] = field(
        default_factory=list
    )  # (source, targets, router)
    functions: list[str] = field(default_factory=list)
    code: str = ""

    @property
    def wiring(self) -> tuple[Any, ...]:
        """The cell's edge lines, as a value to compare cells by (empty: none)."""
        if not (self.edges or self.joins or self.branches):
            return ()
        return (sorted(self.edges), sorted(self.joins), sorted(self.branches))

    @property
    def routers(self) -> set[str]:
        return {r for _, _, r in self.branches}

    @property
    def nodes(self) -> list[str]:
        return [f for f in self.functions if f not in self.routers and not f.startswith("_")]


class _ArgParser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise UsageError(f"{self.format_usage().strip()}\n{self.prog}: {message}")


def parse_cell(cell: str, name: str) -> CellParts:
    """Split a ``%%workflow`` cell into edges and Python (edge lines are
    blanked, so Python line numbers stay those of the cell)."""
    parts = CellParts()
    python_lines: list[str] = []
    for line in cell.splitlines():
        m = _EDGE.match(line)
        if m is None or line.lstrip().startswith(
            ("def ", "class ", "async ", "@", "return", "lambda")
        ):
            python_lines.append(line)
            continue
        python_lines.append("")
        src_text, dst_text, router = m.group("src"), m.group("dst"), m.group("router")
        join = "&" in src_text
        sources = [s.strip() for s in re.split(r"[,&]", src_text)]
        targets = [t.strip() for t in re.split(r"[|,]", dst_text)]
        if router:
            if join:
                raise UsageError(
                    f"line {line.strip()!r}: a conditional edge starts at one node, not a join"
                )
            for src in sources:
                parts.branches.append((src, tuple(targets), router))
        elif "|" in dst_text:
            raise UsageError(
                f"line {line.strip()!r}: 'a -> b | c' needs a router: 'a -> b | c : route'"
            )
        elif join:
            for target in targets:
                parts.joins.append((tuple(sources), target))
        else:
            parts.edges.extend((s, t) for s in sources for t in targets)
    parts.code = "\n".join(python_lines)
    try:
        tree = ast.parse(parts.code, filename=f"<%%workflow {name}>")
    except SyntaxError as exc:
        raise UsageError(
            f"syntax error in the %%workflow {name} cell, line {(exc.lineno or 0) + 1}: {exc.msg}\n    {(exc.text or '').rstrip()}"
        ) from None
    parts.functions = [
        n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    return parts


@dataclass
class NotebookGraph:
    """A graph built across cells: each cell's parts, by cell key."""

    name: str
    state: str | None = None
    checkpoints: str | None = None
    cells: dict[str, CellParts] = field(default_factory=dict)
    workflow: Any = None
    problem: str | None = None


@magics_class
class WorkflowMagics(Magics):  # type: ignore[misc]
    """``%%workflow NAME`` builds graphs; ``%workflow ...`` runs, debugs and inspects them."""

    shell: Any

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.graphs: dict[str, NotebookGraph] = {}
        self.stores: dict[str, Any] = {}
        self.debuggers: dict[str, Any] = {}

    # ---------------------------------------------------------------- building
    def _cell_key(self, graph: NotebookGraph, parts: CellParts) -> str:
        """Which earlier part this cell replaces, or a new key (see
        docs/magics.md, "How a cell is matched")."""
        try:
            meta = self.shell.kernel.get_parent().get(
                "metadata", {}
            )  # JupyterLab and Notebook 7 send the cell id
            if meta.get("cellId"):
                return f"id:{meta['cellId']}"
        except Exception:  # not in a kernel (tests, terminal IPython)
            pass
        # no cell id (nbclient, papermill, nbmake, terminal IPython): the same
        # text, or the same edge lines, is the same cell; anything else is new
        for key, old in graph.cells.items():
            if key.startswith("id:"):
                continue
            if old.wiring == parts.wiring and (parts.wiring or old.code == parts.code):
                return key
        return f"cell-{len(graph.cells) + 1}"

    @cell_magic  # type: ignore[misc]
    def workflow(self, line: str, cell: str) -> Any:
        parser = _ArgParser(prog="%%workflow", add_help=False)
        parser.add_argument("name")
        parser.add_argument("--state")
        parser.add_argument("--checkpoints")
        try:
            args = parser.parse_args(shlex.split(line))
        except ValueError as exc:  # shlex: an unclosed quote
            raise UsageError(f"%%workflow {line}: {exc}") from None
        if not re.fullmatch(_NAME, args.name):
            raise UsageError(f"%%workflow {args.name}: the graph name must be a Python identifier")
        parts = parse_cell(
            cell, args.name
        )  # before registering anything: a bad cell leaves no trace
        known = self.graphs.get(args.name)
        # open the file before anything of the cell runs: a file held by another
        # kernel is a short message, and the cell leaves no trace
        self._open(args.checkpoints or (known.checkpoints if known else None), args.name)
        graph = self.graphs.setdefault(args.name, NotebookGraph(args.name))
        if args.state:
            graph.state = args.state
        if args.checkpoints:
            graph.checkpoints = args.checkpoints
        key = self._cell_key(graph, parts)
        code = self._compile(f"%%workflow {line}\n{cell}", parts.code)
        exec(code, self.shell.user_ns)  # the user's own cell code, in their namespace
        graph.cells[key] = parts
        self._rebuild(graph)
        self._show(graph)
        return None

    def _compile(self, raw: str, python: str) -> Any:
        """Compile a cell's Python under a name IPython's traceback knows
        (``Cell In[N]``), with the cell's own text in ``linecache``, so a
        node's traceback shows the failing line as the editor shows it. The
        Python has a blank line for the ``%%workflow`` line and for each edge
        line, so line numbers are the editor's."""
        source = "\n" + python
        compiler = getattr(self.shell, "compile", None)
        if compiler is not None and hasattr(compiler, "cache"):
            name = compiler.cache(raw, self.shell.execution_count)
            return compiler(source, name, "exec")
        return compile(source, "<%%workflow>", "exec")

    def _store(self, graph: NotebookGraph) -> Any:
        return self._open(graph.checkpoints, graph.name)

    def _open(self, checkpoints: str | None, name: str) -> Any:
        """The open store of a checkpoint file, opened on first use; a file
        another process holds is a :class:`UsageError` saying what to do."""
        from wfkit.checkpoint.duckdb import DuckDBCheckpointer, open_store
        from wfkit.errors import StoreError

        path = str(Path(checkpoints or "runs.duckdb").resolve())
        store = self.stores.get(path)
        if store is None or store._closed:
            try:
                store = open_store(path) or DuckDBCheckpointer(path)  # share one opened elsewhere
            except StoreError as exc:
                if "open for writing in" not in str(exc):
                    raise UsageError(f"%%workflow {name}: {exc}") from None
                holder = re.search(r"in (process \d+|another process)", str(exc))
                raise UsageError(
                    f"%%workflow {name}: the checkpoint file {path} is open in "
                    f"{holder.group(1) if holder else 'another process'} (another notebook's "
                    f"kernel, or a terminal). DuckDB lets one process use a file. Run "
                    f"%workflow close NAME in that notebook (or shut its kernel down), or give "
                    f"this graph its own file: %%workflow {name} --checkpoints {name}.duckdb"
                ) from None
            self.stores[path] = store
        return store

    def _rebuild(self, graph: NotebookGraph) -> None:
        from wfkit import END, START, StateGraph
        from wfkit.errors import WfkitError

        ns = self.shell.user_ns
        if graph.state is None:
            raise UsageError(
                f"%%workflow {graph.name}: give the state type once, e.g. %%workflow {graph.name} --state State"
            )
        schema = ns.get(graph.state)
        if schema is None:
            raise UsageError(
                f"%%workflow {graph.name} --state {graph.state}: no {graph.state!r} in the notebook; define it first"
            )
        builder = StateGraph(schema, name=graph.name)
        ends = {"START": START, "END": END}
        routers = {r for parts in graph.cells.values() for r in parts.routers}
        try:
            for parts in graph.cells.values():
                for fn_name in parts.nodes:
                    if fn_name not in builder.nodes and fn_name not in routers:
                        if fn_name not in ns:  # the cell deleted its own function
                            raise GraphValidationError(
                                f"node {fn_name!r} is defined in a cell but no longer in the "
                                f"notebook; define it again or remove it from the cell"
                            )
                        builder.add_node(fn_name, ns[fn_name])
            for parts in graph.cells.values():
                for a, b in parts.edges:
                    builder.add_edge(ends.get(a, a), ends.get(b, b))
                for sources, target in parts.joins:
                    builder.add_edge(list(sources), target)
                for src, targets, router in parts.branches:
                    fn = ns.get(router)
                    if fn is None:  # may come in a later cell: not runnable yet
                        raise GraphValidationError(
                            f"router {router!r} is not defined yet; define it in a cell"
                        )
                    builder.add_conditional_edges(
                        ends.get(src, src), fn, [ends.get(t, t) for t in targets]
                    )
            with warnings.catch_warnings():
                # a cell's node that nothing leads to yet: shown as the graph's problem
                warnings.simplefilter("error", GraphWarning)
                graph.workflow = builder.compile(checkpointer=self._store(graph))
            graph.problem = None
            ns[graph.name] = graph.workflow
            debugger = self.debuggers.get(graph.name)
            if debugger is not None:
                for parts in graph.cells.values():
                    for fn_name in parts.nodes:
                        old = debugger.workflow.topology.by_name.get(fn_name)
                        if old is not None and fn_name in ns and _changed(old.fn, ns[fn_name]):
                            debugger.reload(fn_name, ns[fn_name])  # hot swap into the open debugger
        except (WfkitError, GraphWarning) as exc:
            graph.workflow = None
            graph.problem = str(exc)
            ns[graph.name] = builder

    def _show(self, graph: NotebookGraph) -> None:
        store = self._store(graph)
        routers = {r for p in graph.cells.values() for r in p.routers}
        nodes = sorted({n for p in graph.cells.values() for n in p.nodes} - routers)
        if graph.workflow is None:
            if shutil.which("dot") is not None:  # what exists, with what is missing marked
                from wfkit.jupyter.sketch import sketch

                display(sketch(graph.name, graph.cells.values(), self.shell.user_ns))
            display(
                HTML(
                    f"<b>{graph.name}</b>: {_count(nodes)}, not runnable yet — {_esc(graph.problem or '')}"
                )
            )
            return
        display(graph.workflow.draw())
        display(
            HTML(
                f"<small><b>{graph.name}</b>: {_count(nodes)} · checkpoints in <code>{_esc(store.path)}</code></small>"
            )
        )

    # ---------------------------------------------------------------- line magics
    def _graph(self, name: str) -> NotebookGraph:
        graph = self.graphs.get(name)
        if graph is None:
            from wfkit.workflow import Workflow

            found = self.shell.user_ns.get(name)
            if isinstance(found, Workflow):  # compiled in code, or an @entrypoint
                return NotebookGraph(name=name, workflow=found)
            known = ", ".join(self.graphs) or "none yet"
            raise UsageError(
                f"no workflow {name!r}; define it with %%workflow {name} --state State, or name "
                f"a compiled workflow or @entrypoint of the notebook (known: {known})"
            )
        if graph.workflow is None:
            raise UsageError(f"workflow {name!r} is not runnable yet: {graph.problem}")
        if getattr(graph.workflow.checkpointer, "_closed", False):  # %workflow close: reopen
            self._rebuild(graph)
        return graph

    @line_magic("workflow")  # type: ignore[misc,arg-type]
    def workflow_line(self, line: str) -> Any:
        parser = _ArgParser(prog="%workflow", add_help=False)
        sub = parser.add_subparsers(dest="command")
        sub.required = True
        p = sub.add_parser("show", add_help=False)
        p.add_argument("name")
        p = sub.add_parser("run", add_help=False)
        p.add_argument("name")
        p.add_argument("--input", default="{}")
        p.add_argument("--thread")
        p = sub.add_parser("debug", add_help=False)
        p.add_argument("name")
        p.add_argument("--input", default=None)
        p.add_argument("--thread")
        p.add_argument("--break", dest="breaks", action="append", default=[], metavar="NODE")
        p = sub.add_parser("history", add_help=False)
        p.add_argument("name")
        p.add_argument("--thread")
        p = sub.add_parser("threads", add_help=False)
        p.add_argument("name")
        p = sub.add_parser("trace", add_help=False)
        p.add_argument("name")
        which = p.add_mutually_exclusive_group()
        which.add_argument("--thread")
        which.add_argument("--latest", action="store_true")
        p = sub.add_parser("stress", add_help=False)
        p.add_argument("name")
        p.add_argument("--runs", type=int, default=100)
        p.add_argument("--concurrency", type=int, default=10)
        p.add_argument("--input", default="{}")
        sub.add_parser("list", add_help=False)
        p = sub.add_parser("reset", add_help=False)
        p.add_argument("name")
        p = sub.add_parser("close", add_help=False)
        p.add_argument("name")
        try:
            args = parser.parse_args(shlex.split(line))
        except ValueError as exc:
            raise UsageError(f"%workflow: {exc}") from None
        return getattr(self, f"_cmd_{args.command}")(args)

    def _json(self, text: str | None, what: str) -> Any:
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise UsageError(f"{what} is not valid JSON ({exc}): {text!r}") from None

    def _cmd_show(self, args: argparse.Namespace) -> Any:
        return self._graph(args.name).workflow.draw()

    def _cmd_run(self, args: argparse.Namespace) -> Any:
        from wfkit.checkpoint.base import new_id

        wf = self._graph(args.name).workflow
        thread = args.thread or f"run-{new_id()}"
        result = wf.invoke(self._json(args.input, "--input"), thread=thread)
        display(HTML(f"<small>thread <code>{_esc(thread)}</code></small>"))
        return result

    def _cmd_debug(self, args: argparse.Namespace) -> Any:
        from wfkit.debugger import Debugger

        wf = self._graph(args.name).workflow
        value = self._json(args.input, "--input")
        if value is None and not args.thread:
            value = {}
        from wfkit.func import FunctionalWorkflow

        # a graph's input is a JSON object; an entrypoint takes any JSON value
        if not isinstance(value, dict | None) and not isinstance(wf, FunctionalWorkflow):
            raise UsageError(f"%workflow debug: --input must be a JSON object, got {args.input}")
        try:
            debugger = Debugger(wf, value, thread=args.thread)
        except WfkitError as exc:
            raise UsageError(f"%workflow debug {args.name}: {exc}") from None
        for node in args.breaks:
            try:
                debugger.add_breakpoint(node)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        self.debuggers[args.name] = debugger
        self.shell.user_ns[f"{args.name}_debugger"] = debugger  # the handle for code
        return debugger.widget()

    def _cmd_history(self, args: argparse.Namespace) -> Any:
        wf = self._graph(args.name).workflow
        thread = args.thread
        if thread is None:
            threads = self._threads(args.name)
            thread = threads["thread_id"][0]
            display(HTML(f"<small>thread <code>{_esc(thread)}</code> (the latest)</small>"))
        return table(wf.history_frame({"configurable": {"thread_id": thread}}))

    def _threads(self, name: str) -> Any:
        """The graph's threads in its file, the latest first (Polars): runs,
        last activity, and where each stands."""
        import polars as pl

        wf = self._graph(name).workflow
        spans = wf.traces().filter(pl.col("workflow") == wf.name)
        if spans.height == 0:
            raise UsageError(
                f"no runs of {name!r} yet in {wf.checkpointer.path}; run it first "
                f"(%workflow run {name} --input '{{...}}')"
            )
        frame = (
            spans.group_by("thread_id")
            .agg(runs=pl.col("run_id").n_unique(), last=pl.col("end").max())
            .sort("last", descending=True)
        )
        steps, nexts, statuses = [], [], []
        for thread in frame["thread_id"]:
            snap = wf.get_state({"configurable": {"thread_id": thread}})
            steps.append(snap.metadata.get("step"))
            nexts.append(", ".join(snap.next))
            failed = any(t.status == "failed" for t in snap.tasks)
            statuses.append(
                "paused"
                if snap.interrupts
                else "failed"
                if failed
                else "done"
                if not snap.next
                else "stopped"
            )
        return frame.with_columns(
            step=pl.Series(steps, dtype=pl.Int64),
            next=pl.Series(nexts, dtype=pl.String),
            status=pl.Series(statuses, dtype=pl.String),
        )

    def _cmd_threads(self, args: argparse.Namespace) -> Any:
        return table(self._threads(args.name))

    def _cmd_trace(self, args: argparse.Namespace) -> Any:
        from wfkit.trace import summary

        wf = self._graph(args.name).workflow
        import polars as pl

        thread = args.thread
        if args.latest:
            thread = self._threads(args.name)["thread_id"][0]
            display(HTML(f"<small>thread <code>{_esc(thread)}</code> (the latest)</small>"))
        spans = wf.traces(thread=thread).filter(pl.col("workflow") == wf.name)
        if spans.height == 0:
            raise UsageError(
                f"no spans for {args.name} yet; run it first (%workflow run {args.name} ...)"
            )
        found = summary(spans)
        display(wf.draw(heat=found))
        return table(found)

    def _cmd_stress(self, args: argparse.Namespace) -> Any:
        if args.runs < 1 or args.concurrency < 1:
            raise UsageError("%workflow stress: --runs and --concurrency must be at least 1")
        wf = self._graph(args.name).workflow
        return wf.stress(
            self._json(args.input, "--input"), runs=args.runs, concurrency=args.concurrency
        )

    def _cmd_list(self, args: argparse.Namespace) -> Any:
        rows = []
        for g in self.graphs.values():
            routers = {r for p in g.cells.values() for r in p.routers}  # any cell's router
            nodes = sorted({n for p in g.cells.values() for n in p.nodes} - routers)
            status = "ready" if g.workflow is not None else f"not runnable: {g.problem}"
            rows.append(
                f"<tr><td><b>{_esc(g.name)}</b></td><td>{len(g.cells)}</td><td>{_esc(', '.join(nodes))}</td><td>{_esc(status)}</td></tr>"
            )
        return HTML(
            "<table><tr><th>workflow</th><th>cells</th><th>nodes</th><th>status</th></tr>"
            + "".join(rows)
            + "</table>"
        )

    def _cmd_reset(self, args: argparse.Namespace) -> Any:
        if args.name not in self.graphs:
            raise UsageError(f"no workflow {args.name!r} to reset")
        del self.graphs[args.name]
        self.debuggers.pop(args.name, None)
        self.shell.user_ns.pop(args.name, None)
        self.shell.user_ns.pop(f"{args.name}_debugger", None)
        return None

    def _cmd_close(self, args: argparse.Namespace) -> Any:
        graph = self.graphs.get(args.name)
        if graph is None:
            known = ", ".join(self.graphs) or "none yet"
            raise UsageError(f"no workflow {args.name!r} to close (known: {known})")
        path = str(Path(graph.checkpoints or "runs.duckdb").resolve())
        store = self.stores.pop(path, None)
        if store is None or store._closed:
            return HTML(f"<small><code>{_esc(path)}</code> is not open in this kernel</small>")
        store.close()  # flushes everything first
        users = sorted(
            g.name
            for g in self.graphs.values()
            if str(Path(g.checkpoints or "runs.duckdb").resolve()) == path
        )
        return HTML(
            f"<small>closed <code>{_esc(path)}</code> (used by {_esc(', '.join(users))}); "
            f"another process can open it now, and the next run here opens it again</small>"
        )


def _esc(text: str) -> str:
    import html

    return html.escape(text)


def _count(nodes: list[str]) -> str:
    return f"{len(nodes)} node" + ("" if len(nodes) == 1 else "s")


def _changed(old: Any, new: Any) -> bool:
    """Whether a re-run cell really changed a function (not just re-created it)."""
    a, b = getattr(old, "__code__", None), getattr(new, "__code__", None)
    if a is None or b is None:
        return old is not new
    return (a.co_code, a.co_consts, a.co_names) != (b.co_code, b.co_consts, b.co_names)
