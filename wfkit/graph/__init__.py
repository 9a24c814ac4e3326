"""What a graph is: the builder (``StateGraph``) and the frozen topology it
compiles to."""

from wfkit.graph.builder import StateGraph
from wfkit.graph.message import MessagesState, add_messages
from wfkit.graph.topology import Branch, Join, NodeSpec, Subgraph, Topology
from wfkit.types import END, START

# START, END, add_messages and MessagesState are here because LangGraph users
# import them from langgraph.graph
__all__ = [
    "END",
    "START",
    "Branch",
    "Join",
    "MessagesState",
    "NodeSpec",
    "StateGraph",
    "Subgraph",
    "Topology",
    "add_messages",
]
