"""Pictures with Graphviz: a graph's structure, one run's path over it, and a
latency heat map; plus a timeline (Gantt) of a run's spans with Altair.

``workflow.draw()`` returns a :class:`Drawing`: it shows itself in Jupyter
(SVG), saves ``.svg``/``.png``/``.pdf``/``.dot`` files, and keeps the DOT
source (``.source``) even where Graphviz's ``dot`` program is missing —
rendering then raises :class:`GraphvizMissingError` with the install command.
"""

from __future__ import annotations

import itertools
import shutil
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfkit.errors import GraphvizMissingError
from wfkit.types import END, START

if TYPE_CHECKING:
    import polars as pl

    from wfkit.drawing import GraphView

__all__ = ["Drawing", "GraphvizMissingError", "draw", "timeline"]

_INSTALL = (
    "Graphviz's 'dot' program is not installed, so the picture cannot be rendered "
    "(the DOT source is in .source). Install it: sudo apt-get install graphviz (Debian/Ubuntu), "
    "brew install graphviz (macOS), conda install -c conda-forge graphviz"
)
# p95 latency colour ramp, cool to hot
_RAMP = ("#eef5fb", "#c6dbef", "#fdd0a2", "#fd8d3c", "#e6550d", "#a50f15")


class Drawing:
    """A Graphviz picture: ``.source`` (DOT), ``.svg()``, ``.save(path)``, and
    rich display in Jupyter."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph

    @property
    def source(self) -> str:
        return str(self.graph.source)

    def svg(self) -> str:
        return self.render("svg").decode()

    def render(self, fmt: str) -> bytes:
        if shutil.which("dot") is None:
            raise GraphvizMissingError(_INSTALL)
        return bytes(self.graph.pipe(format=fmt))

    def save(self, path: str | Path) -> Path:
        """Write the picture; the format comes from the suffix (.svg .png .pdf .dot)."""
        out = Path(path)
        fmt = out.suffix.lstrip(".").lower() or "svg"
        if fmt in ("dot", "gv"):
            out.write_text(self.source)
        else:
            out.write_bytes(self.render(fmt))
        return out

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        if shutil.which("dot") is None:
            return {"text/plain": f"{_INSTALL}\n\n{self.source}"}
        return {"image/svg+xml": self.svg(), "text/plain": f"<Drawing of {self.graph.name}>"}

    def __repr__(self) -> str:
        return f"<Drawing {self.graph.name!r}: {len(self.source.splitlines())} lines of DOT>"


def _ramp(value: float, top: float) -> str:
    if top <= 0:
        return _RAMP[0]
    i = min(len(_RAMP) - 1, int(value / top * (len(_RAMP) - 1) + 0.5))
    return _RAMP[i]


def _fmt_ms(ms: float) -> str:
    from wfkit._format import significant  # one precision for every label

    return f"{significant(ms)} ms" if ms < 1000 else f"{significant(ms / 1000)} s"


def _add_graph(
    g: Any,
    view: GraphView,
    prefix: str,
    *,
    visited: Counter[str] | None,
    edge_counts: Counter[tuple[str, str]] | None,
    failed: set[str],
    interrupted: set[str],
    heat: dict[str, float] | None,
    extra: dict[str, dict[str, str]] | None = None,
) -> None:
    """Nodes and edges of ``view`` into ``g`` (node ids prefixed for clusters);
    ``extra`` adds Graphviz attributes per node (the debugger's highlights)."""
    top = max(heat.values(), default=0.0) if heat else 0.0
    subgraphs = dict(view.subgraphs)
    for name in view.nodes:
        node_id = prefix + name
        if name in (START, END):
            if prefix:
                continue  # a subgraph's own START/END are implied by its cluster
            g.node(
                node_id,
                "START" if name == START else "END",
                shape="circle",
                style="filled",
                fillcolor="#dddddd",
                fontsize="10",
            )
            continue
        if name in subgraphs:
            with g.subgraph(name=f"cluster_{prefix}{name}") as c:
                c.attr(label=name, style="rounded,dashed", color="#888888")
                _add_graph(
                    c,
                    subgraphs[name],
                    f"{prefix}{name}/",
                    visited=None,
                    edge_counts=None,
                    failed=set(),
                    interrupted=set(),
                    heat=None,
                )
                c.node(node_id, name, shape="box3d")
            continue
        attrs: dict[str, str] = {"label": name}
        fill = None
        if heat is not None and name in heat:
            fill = _ramp(heat[name], top)
            attrs["label"] = f"{name}\\np95 {_fmt_ms(heat[name])}"
            if fill in _RAMP[-2:]:
                attrs["fontcolor"] = "white"
        if visited is not None:
            if name in visited:
                fill = fill or "#d9f0d3"
                if visited[name] > 1:
                    attrs["label"] += f"\\n×{visited[name]}"
            else:
                attrs["fontcolor"] = "#999999"
                attrs["color"] = "#bbbbbb"
        if name in failed:
            fill, attrs["color"], attrs["penwidth"] = "#f4a6a6", "#c00000", "2"
        if name in interrupted:
            attrs["shape"], attrs["color"], attrs["penwidth"] = "octagon", "#d98c00", "2"
            attrs["label"] += "\\n⏸ interrupted"
        if not prefix and (name in view.interrupt_before or name in view.interrupt_after):
            marks = ("⏸ before" if name in view.interrupt_before else "") + (
                " ⏸ after" if name in view.interrupt_after else ""
            )
            attrs["xlabel"] = marks.strip()
        if fill:
            attrs["style"], attrs["fillcolor"] = "rounded,filled", fill
        if extra and name in extra:
            attrs.update(extra[name])
        g.node(node_id, **attrs)
    for e in view.edges:
        if prefix and (e.source in (START, END) or e.target in (START, END)):
            continue
        attrs = {}
        if e.conditional:
            attrs["style"] = "dashed"
        if e.join:
            attrs["arrowhead"] = "diamond"
        label = e.label if e.label and e.label != "?" else ""
        if edge_counts is not None:
            n = edge_counts.get((e.source, e.target), 0)
            if n:
                attrs["penwidth"] = str(min(6, 1.5 + n / 2))
                attrs["color"] = "#2b8a3e"
                label = f"{label} ×{n}".strip()
            else:
                attrs["color"] = "#cccccc"
        if label:
            attrs["label"] = label
        g.edge(prefix + e.source, prefix + e.target, **attrs)


def draw(
    view: GraphView,
    *,
    spans: pl.DataFrame | None = None,
    run: str | None = None,
    heat: pl.DataFrame | None = None,
) -> Drawing:
    """The structure; with ``spans`` and ``run``, that run's path (visited
    nodes, edge traversal counts, the failed node red, the interrupted one
    marked); with ``heat`` (a :func:`wfkit.trace.summary` frame), nodes
    coloured by p95 latency with the figure on the label."""
    import graphviz

    g = graphviz.Digraph(
        view.name,
        graph_attr={"rankdir": "TB", "fontname": "Helvetica"},
        node_attr={"shape": "box", "style": "rounded", "fontname": "Helvetica"},
        edge_attr={"fontname": "Helvetica", "fontsize": "10"},
    )
    visited: Counter[str] | None = None
    edge_counts: Counter[tuple[str, str]] | None = None
    failed: set[str] = set()
    interrupted: set[str] = set()
    if run is not None:
        if spans is None:
            raise ValueError(
                "draw(run=...) needs the spans of that run: draw(spans=workflow.traces(), run=run_id)"
            )
        visited, edge_counts, failed, interrupted = _run_path(view, spans, run)
    heat_ms = None
    if heat is not None:
        heat_ms = {
            str(n): float(v) for n, v in heat.select("node", "p95_ms").iter_rows() if v is not None
        }
    _add_graph(
        g,
        view,
        "",
        visited=visited,
        edge_counts=edge_counts,
        failed=failed,
        interrupted=interrupted,
        heat=heat_ms,
    )
    return Drawing(g)


def draw_debug(
    view: GraphView,
    *,
    next_nodes: set[str],
    finished: set[str],
    failed: set[str],
    breakpoints: set[str],
) -> Drawing:
    """The structure with the debugger's marks: next nodes yellow, the last
    step's nodes green, a failed node red, breakpoints with a red border."""
    import graphviz

    g = graphviz.Digraph(
        view.name,
        graph_attr={"rankdir": "TB", "fontname": "Helvetica"},
        node_attr={"shape": "box", "style": "rounded", "fontname": "Helvetica"},
        edge_attr={"fontname": "Helvetica", "fontsize": "10"},
    )
    extra: dict[str, dict[str, str]] = {}
    for name in view.nodes:
        attrs: dict[str, str] = {}
        if name in finished:
            attrs.update(style="rounded,filled", fillcolor="#d3f9d8")
        if name in next_nodes:
            attrs.update(style="rounded,filled", fillcolor="#fff3bf", penwidth="2")
        if name in failed:
            attrs.update(style="rounded,filled", fillcolor="#ffc9c9", color="#c00000", penwidth="2")
        if name in breakpoints:
            attrs.update(color="#e03131", penwidth="3", label=f"● {name}")
        if attrs:
            extra[name] = attrs
    _add_graph(
        g,
        view,
        "",
        visited=None,
        edge_counts=None,
        failed=set(),
        interrupted=set(),
        heat=None,
        extra=extra,
    )
    return Drawing(g)


def _run_path(
    view: GraphView, spans: pl.DataFrame, run: str
) -> tuple[Counter[str], Counter[tuple[str, str]], set[str], set[str]]:
    import polars as pl

    mine = spans.filter((pl.col("run_id") == run) & (pl.col("kind") == "node"))
    if mine.height == 0:
        known = spans["run_id"].unique().to_list()[:5]
        raise ValueError(f"no node spans for run {run!r}; runs in these spans include {known}")
    final = (
        mine.sort("attempt").group_by(["step", "task_id"], maintain_order=True).last().sort("step")
    )
    visited: Counter[str] = Counter(final["node"].to_list())
    failed = set(final.filter(pl.col("status") == "error")["node"].to_list())
    interrupted = set(final.filter(pl.col("status") == "interrupted")["node"].to_list())
    by_step: dict[int, list[str]] = {}
    for step, node in final.select("step", "node").iter_rows():
        by_step.setdefault(int(step), []).append(str(node))
    edges = {(e.source, e.target) for e in view.edges}
    counts: Counter[tuple[str, str]] = Counter()
    steps = sorted(by_step)
    if steps:
        for node in set(by_step[steps[0]]):
            if (START, node) in edges:
                counts[(START, node)] += 1
    for a, b in itertools.pairwise(steps):
        for dst in by_step[b]:
            for src in set(by_step[a]):
                if (src, dst) in edges:
                    counts[(src, dst)] += 1
    if steps and not failed and not interrupted:
        for node in set(by_step[steps[-1]]):
            if (node, END) in edges:
                counts[(node, END)] += 1
    return visited, counts, failed, interrupted


def timeline(spans: pl.DataFrame, run: str | None = None) -> Any:
    """An Altair Gantt chart of one run's node spans: one bar per task, a row
    per task (labelled node · task id), coloured by superstep, so tasks that
    overlap show their concurrency. By default the newest top-level run."""
    import altair as alt
    import polars as pl

    from wfkit.trace.analysis import latest_run

    nodes = spans.filter(pl.col("kind") == "node")
    if run is None:
        run = latest_run(spans)
    data = (
        nodes.filter(pl.col("run_id") == run)
        .with_columns(
            start_ms=(pl.col("start_ns") - pl.col("start_ns").min()) / 1e6,
            end_ms=(pl.col("end_ns") - pl.col("start_ns").min()) / 1e6,
            step=pl.col("step").cast(pl.String),
        )
        .select("node", "task_id", "step", "attempt", "status", "start_ms", "end_ms", "wall_ms")
    )
    return (
        alt.Chart(data, title=f"run {run}")
        .mark_bar()
        .encode(
            x=alt.X("start_ms:Q", title="ms since the run's first node"),
            x2="end_ms:Q",
            y=alt.Y("row:N", sort=None, title="task"),
            color="step:N",
            tooltip=["node", "task_id", "step", "attempt", "status", "wall_ms"],
        )
    )
