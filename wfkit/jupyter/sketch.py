"""The picture of a graph that does not compile yet, drawn from its cells.

While a graph is built cell by cell it is usually incomplete: an edge line
names a node that no cell defines yet, or a router comes in a later cell.
:func:`sketch` draws what the cells have (the same look as
``Workflow.draw()``), with what is missing marked: a node no cell defines
is a dashed red box saying so, and every edge that needs something missing
(a node or a router) is dashed and red.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from wfkit.trace.draw import Drawing

__all__ = ["sketch"]

MISSING = "#c00000"
_ENDS = {"START": "__start__", "END": "__end__"}


def sketch(name: str, cells: Iterable[Any], namespace: Mapping[str, Any]) -> Drawing:
    """A drawing of the parts of ``cells`` (the magic's ``CellParts``);
    ``namespace`` tells which functions exist."""
    import graphviz

    parts = list(cells)
    routers = {r for p in parts for r in p.routers}
    defined = {n for p in parts for n in p.nodes if n not in routers and n in namespace}
    edges: list[tuple[str, str, str, bool]] = []  # (source, target, label, conditional)
    for p in parts:
        edges += [(a, b, "", False) for a, b in p.edges]
        edges += [(s, t, "", False) for sources, t in p.joins for s in sources]
        for src, targets, router in p.branches:
            label = router if router in namespace else f"{router}?"
            edges += [(src, t, label, True) for t in targets]
    named = {end for a, b, _, _ in edges for end in (a, b)} | defined
    g = graphviz.Digraph(
        name,
        graph_attr={"rankdir": "TB", "fontname": "Helvetica"},
        node_attr={"shape": "box", "style": "rounded", "fontname": "Helvetica"},
        edge_attr={"fontname": "Helvetica", "fontsize": "10"},
    )
    for node in sorted(named, key=lambda n: (n not in _ENDS, n)):
        if node in _ENDS:
            g.node(
                _ENDS[node],
                node,
                shape="circle",
                style="filled",
                fillcolor="#dddddd",
                fontsize="10",
            )
        elif node in defined:
            g.node(node, node)
        else:
            g.node(
                node,
                f"{node}\n(not defined yet)",
                style="rounded,dashed",
                color=MISSING,
                fontcolor=MISSING,
            )
    for a, b, label, conditional in edges:
        attrs: dict[str, str] = {}
        if conditional:
            attrs["style"] = "dashed"
        missing = any(end not in _ENDS and end not in defined for end in (a, b))
        if missing or label.endswith("?"):
            attrs.update(style="dashed", color=MISSING, fontcolor=MISSING)
        if label:
            attrs["label"] = label
        g.edge(_ENDS.get(a, a), _ENDS.get(b, b), **attrs)
    return Drawing(g)
