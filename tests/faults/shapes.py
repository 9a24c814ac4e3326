"""Graphs for the crash tests, shared by the child process that is killed
and the test that reopens its file.

Every node appends one key (``node:item``) to ``log`` and writes a line
``<thread> start|end <key> <depth>`` to a side log, with one ``os.write``
on an ``O_APPEND`` file, so the line survives a SIGKILL. ``depth`` is the
superstep the node runs in (the input is superstep 0): under ``sync`` a
node started at depth ``d`` proves every superstep before ``d`` committed.
"""

from __future__ import annotations

import itertools
import operator
import os
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

from wfkit import START, Command, Send, StateGraph, interrupt

SHAPES = ("chain", "fanout", "join", "send", "subgraph", "interrupt")
DURABILITIES = ("sync", "async", "exit")
FANOUT = 80  # more than 64 rows per flush: the journal's bulk (Arrow) path


class S(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    n: int


def _say(log: str, line: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def _node(log: str, name: str, depth: int, ask: bool = False) -> Callable[..., dict[str, Any]]:
    def node(state: Any, config: dict[str, Any]) -> dict[str, Any]:
        thread = config["configurable"]["thread_id"]
        item = state if isinstance(state, int) else 0  # a Send's argument
        key = f"{name}:{item}"
        _say(log, f"{thread} start {key} {depth}")
        answer = interrupt("go on?") if ask else None
        _say(log, f"{thread} end {key} {depth}")
        return {"log": [key if answer is None else f"{key}={answer}"]}

    node.__name__ = name
    return node


def build(shape: str, log: str) -> StateGraph:
    """The graph of ``shape``, its nodes logging to ``log``."""
    g = StateGraph(S)
    if shape == "chain":
        names = [f"n{i}" for i in range(6)]
        for d, n in enumerate(names, 1):
            g.add_node(n, _node(log, n, d))
        g.add_edge(START, names[0])
        for a, b in itertools.pairwise(names):
            g.add_edge(a, b)
    elif shape == "fanout":  # static parallel branches, then one node after them
        g.add_node("a", _node(log, "a", 1)).add_edge(START, "a")
        for i in range(6):
            g.add_node(f"b{i}", _node(log, f"b{i}", 2)).add_edge("a", f"b{i}")
            g.add_edge(f"b{i}", "c")
        g.add_node("c", _node(log, "c", 3))
    elif shape == "join":  # branches of different lengths, joined
        for n, d in (("a", 1), ("x", 2), ("y", 2), ("y2", 3), ("z", 4)):
            g.add_node(n, _node(log, n, d))
        g.add_edge(START, "a").add_edge("a", "x").add_edge("a", "y").add_edge("y", "y2")
        g.add_edge(["x", "y2"], "z")
    elif shape == "send":  # dynamic fan-out to FANOUT tasks
        g.add_node("a", _node(log, "a", 1)).add_node("w", _node(log, "w", 2))
        g.add_node("d", _node(log, "d", 3))
        g.add_edge(START, "a")
        g.add_conditional_edges("a", lambda s: [Send("w", i) for i in range(1, FANOUT + 1)])
        g.add_edge("w", "d")
    elif shape == "subgraph":
        inner = StateGraph(S)
        inner.add_node("i1", _node(log, "i1", 2)).add_node("i2", _node(log, "i2", 2))
        inner.add_edge(START, "i1").add_edge("i1", "i2")
        g.add_node("a", _node(log, "a", 1)).add_node("team", inner.compile())
        g.add_node("b", _node(log, "b", 3))
        g.add_edge(START, "a").add_edge("a", "team").add_edge("team", "b")
    elif shape == "interrupt":
        g.add_node("a", _node(log, "a", 1)).add_node("ask", _node(log, "ask", 2, ask=True))
        g.add_node("b", _node(log, "b", 3))
        g.add_edge(START, "a").add_edge("a", "ask").add_edge("ask", "b")
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return g


def run_thread(app: Any, thread: str) -> dict[str, Any]:
    """Run a thread from wherever its checkpoints say it is to its end,
    answering the interrupt of the ``interrupt`` shape with ``"yes"``."""
    config = {"configurable": {"thread_id": thread}}
    snap = app.get_state(config)
    if not snap.created_at:  # never started
        out: dict[str, Any] = app.invoke({"n": 0}, config)
    else:
        out = snap.values
    for _ in range(10):
        snap = app.get_state(config)
        if snap.interrupts:
            out = app.invoke(Command(resume="yes"), config)
        elif snap.next:
            out = app.invoke(None, config)
        else:
            return {k: v for k, v in out.items() if k != "__interrupt__"}
    raise AssertionError(f"thread {thread} did not finish")
