"""What a graph is: the builder (``StateGraph``) and the frozen topology it
compiles to."""

from wfkit.graph.builder import StateGraph
from wfkit.graph.topology import Branch, Join, NodeSpec, Subgraph, Topology

__all__ = ["Branch", "Join", "NodeSpec", "StateGraph", "Subgraph", "Topology"]
