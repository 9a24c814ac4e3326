"""A support-ticket workflow: classify the ticket, route it, answer it.

Runs without an LLM: the "model" is a keyword classifier, so the example
is deterministic and offline. Replace ``classify`` with an LLM call to make
it real; nothing else changes.

    wfkit run examples.support:app --input '{"text": "I want a refund for order 42"}'
"""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

from wfkit import END, START, RetryPolicy, Send, StateGraph


class Ticket(TypedDict, total=False):
    text: str
    intent: str
    facts: Annotated[list[str], operator.add]
    reply: str


def classify(state: Ticket) -> Ticket:
    text = state["text"].lower()
    intent = "refund" if any(w in text for w in ("refund", "money back", "return")) else "question"
    return {"intent": intent}


def route(state: Ticket) -> str | list[Send]:
    """Refunds go straight to ``refund``; questions fan out to ``lookup``,
    one task per keyword, run in parallel."""
    if state["intent"] == "refund":
        return "refund"
    words = [w.strip("?.!,") for w in state["text"].split() if len(w) > 4]
    return [Send("lookup", {"word": w}) for w in words[:5]] or [Send("lookup", {"word": "help"})]


def refund(state: Ticket) -> Ticket:
    return {"reply": "Your refund is on its way: allow 3-5 working days."}


def lookup(item: dict[str, str]) -> Ticket:
    return {"facts": [f"{item['word']}: see the FAQ"]}


def answer(state: Ticket) -> Ticket:
    return {"reply": "Here is what we found: " + "; ".join(state.get("facts", []))}


graph = StateGraph(Ticket)
graph.add_node(classify)
graph.add_node("refund", refund)
graph.add_node("lookup", lookup, retry=RetryPolicy(max_attempts=3, initial_interval=0.05))
graph.add_node(answer)
graph.add_edge(START, "classify")
graph.add_conditional_edges("classify", route)
graph.add_edge("lookup", "answer")
graph.add_edge("refund", END)
graph.add_edge("answer", END)

app = graph.compile()
