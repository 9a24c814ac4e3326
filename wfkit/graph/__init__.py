"""What a graph is: the builder (``StateGraph``) and the frozen topology it
compiles to."""

from wfkit.graph.builder import StateGraph
from wfkit.graph.topology import Branch, Join, NodeSpec, Subgraph, Topology
from wfkit.types import END, START

# START and END are here because LangGraph users import them from langgraph.graph
__all__ = ["END", "START", "Branch", "Join", "NodeSpec", "StateGraph", "Subgraph", "Topology"]
