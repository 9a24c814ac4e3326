"""A compiled graph's structure as data, DOT text and Mermaid text.

Pure string building: Graphviz itself is needed only to render the DOT
text into a picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wfkit.types import END, START

if TYPE_CHECKING:
    from wfkit.graph.topology import Topology

__all__ = ["Edge", "GraphView"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Edge:
    """One edge: ``conditional`` for router paths, ``join`` for ``add_edge([a, b], c)``."""

    source: str
    target: str
    conditional: bool = False
    join: bool = False
    label: str = ""


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, kw_only=True, slots=True)
class GraphView:
    """Nodes (``START`` and ``END`` included) and edges of a compiled graph."""

    name: str
    nodes: tuple[str, ...]
    edges: tuple[Edge, ...]
    open_routers: tuple[str, ...] = ()  # nodes whose router may go anywhere
    interrupt_before: tuple[str, ...] = ()
    interrupt_after: tuple[str, ...] = ()
    subgraphs: tuple[tuple[str, GraphView], ...] = ()  # (node, its graph)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-able), e.g. to store beside the runs."""
        return {
            "name": self.name,
            "nodes": list(self.nodes),
            "edges": [[e.source, e.target, e.conditional, e.join, e.label] for e in self.edges],
            "open_routers": list(self.open_routers),
            "interrupt_before": list(self.interrupt_before),
            "interrupt_after": list(self.interrupt_after),
            "subgraphs": [[n, g.to_dict()] for n, g in self.subgraphs],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GraphView:
        return cls(
            name=data["name"],
            nodes=tuple(data["nodes"]),
            edges=tuple(
                Edge(source=a, target=b, conditional=c, join=j, label=lbl)
                for a, b, c, j, lbl in data["edges"]
            ),
            open_routers=tuple(data.get("open_routers", ())),
            interrupt_before=tuple(data.get("interrupt_before", ())),
            interrupt_after=tuple(data.get("interrupt_after", ())),
            subgraphs=tuple((n, GraphView.from_dict(g)) for n, g in data.get("subgraphs", ())),
        )

    @classmethod
    def from_topology(cls, topo: Topology) -> GraphView:
        edges: list[Edge] = [Edge(source=s, target=t) for s, t in topo.edges]
        for sources, target in topo.join_edges:
            edges.extend(Edge(source=s, target=target, join=True) for s in sources)
        open_routers: list[str] = []
        for br in topo.branch_list:
            if br.targets is None:
                # a router that may go anywhere: a dashed edge to every node
                open_routers.append(br.source)
                for target in (*topo.by_name, END):
                    edges.append(Edge(source=br.source, target=target, conditional=True, label="?"))
                continue
            labels: dict[str, str] = {}
            if br.path_map is not None:
                for key, target in br.path_map.items():
                    labels.setdefault(target, str(key))
            for target in dict.fromkeys(br.targets):
                edges.append(
                    Edge(
                        source=br.source,
                        target=target,
                        conditional=True,
                        label=labels.get(target, ""),
                    )
                )
        for node in topo.nodes:
            for target in node.command_targets or ():
                edges.append(Edge(source=node.name, target=target, conditional=True, label="goto"))
        return cls(
            name=topo.name,
            nodes=(START, *topo.by_name, END),
            edges=tuple(edges),
            open_routers=tuple(open_routers),
            interrupt_before=tuple(sorted(topo.interrupt_before)),
            interrupt_after=tuple(sorted(topo.interrupt_after)),
            subgraphs=tuple(
                (n.name, cls.from_topology(n.subgraph.topology))
                for n in topo.nodes
                if n.subgraph is not None
            ),
        )

    def to_dot(self) -> str:
        """Graphviz DOT text: START/END as circles, conditional edges dashed."""
        lines = [
            f"digraph {_quote(self.name)} {{",
            "  rankdir=TB;",
            '  node [shape=box, style=rounded, fontname="Helvetica"];',
        ]
        for name in self.nodes:
            if name in (START, END):
                label = "START" if name == START else "END"
                lines.append(
                    f"  {_quote(name)} [label={_quote(label)}, shape=circle, style=filled, fillcolor=lightgrey];"
                )
            else:
                lines.append(f"  {_quote(name)};")
        for e in self.edges:
            attrs = []
            if e.conditional:
                attrs.append("style=dashed")
            if e.join:
                attrs.append("arrowhead=diamond")
            if e.label:
                attrs.append(f"label={_quote(e.label)}")
            suffix = f" [{', '.join(attrs)}]" if attrs else ""
            lines.append(f"  {_quote(e.source)} -> {_quote(e.target)}{suffix};")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def draw_mermaid(self) -> str:
        """Mermaid flowchart text (as LangGraph's ``get_graph().draw_mermaid()``)."""
        ids = {name: f"n{i}" for i, name in enumerate(self.nodes)}
        lines = ["flowchart TD"]
        for name in self.nodes:
            label = {"__start__": "START", "__end__": "END"}.get(name, name)
            shape = f"(({label}))" if name in (START, END) else f"[{label}]"
            lines.append(f"  {ids[name]}{shape}")
        for e in self.edges:
            arrow = "-.->" if e.conditional else "-->"
            label = f"|{e.label}|" if e.label else ""
            lines.append(f"  {ids[e.source]} {arrow}{label} {ids[e.target]}")
        return "\n".join(lines) + "\n"
