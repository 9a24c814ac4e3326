"""Graph definitions shared verbatim by the wfkit and LangGraph runs.

Every builder takes an :class:`~benchmarks.engines.Engine` and uses only
the LangGraph verbs it carries, so the same code is the benchmark for both
engines.  Every ``compile()`` gets ``e.compile_options`` (nothing for
LangGraph, wfkit's ``trace`` level for wfkit).  The node functions are plain Python and are reused by the
bare-Python floor implementations, which do the same work without an
engine.
"""

from __future__ import annotations

import asyncio
import itertools
import operator
from typing import Annotated, Any, TypedDict

from benchmarks.engines import Engine

# --------------------------------------------------------------------------
# seed1000: the 2-node pipeline of the seed article
# --------------------------------------------------------------------------


class SeedState(TypedDict, total=False):
    text: str
    summary: str
    translation: str


def summarizer(state: SeedState) -> dict[str, Any]:
    return {"summary": state["text"][:20]}


def translator(state: SeedState) -> dict[str, Any]:
    return {"translation": state["summary"].upper()}


def build_seed(e: Engine, checkpointer: Any = None) -> Any:
    """``START -> summarizer -> translator -> END``.

    ``checkpointer`` (a store of that engine) is passed to ``compile`` when
    given: ``ckpt_seed1000`` is this graph, checkpointed.
    """
    g = e.StateGraph(SeedState)
    g.add_node("summarizer", summarizer)
    g.add_node("translator", translator)
    g.add_edge(e.START, "summarizer")
    g.add_edge("summarizer", "translator")
    g.add_edge("translator", e.END)
    if checkpointer is not None:
        return g.compile(checkpointer=checkpointer, **e.compile_options)
    return g.compile(**e.compile_options)


def seed_inputs(runs: int) -> list[SeedState]:
    return [{"text": f"task {i}: a fairly long input text to be summarised"} for i in range(runs)]


def seed_expected(inp: SeedState) -> str:
    return inp["text"][:20].upper()


# --------------------------------------------------------------------------
# chainNxM: a linear chain of N nodes
# --------------------------------------------------------------------------


class ChainState(TypedDict):
    n: int


def step(state: ChainState) -> dict[str, Any]:
    return {"n": state["n"] + 1}


def build_chain(e: Engine, length: int) -> Any:
    """``START -> s0 -> s1 -> ... -> s{length-1} -> END``."""
    g = e.StateGraph(ChainState)
    names = [f"s{i}" for i in range(length)]
    for name in names:
        g.add_node(name, step)
    g.add_edge(e.START, names[0])
    for a, b in itertools.pairwise(names):
        g.add_edge(a, b)
    g.add_edge(names[-1], e.END)
    return g.compile(**e.compile_options)


def chain_config(length: int) -> dict[str, Any]:
    """A config whose recursion limit lets a ``length``-node chain finish."""
    return {"recursion_limit": length + 100}


# --------------------------------------------------------------------------
# fanout1000: map-reduce with Send
# --------------------------------------------------------------------------


class FanState(TypedDict):
    n: int
    results: Annotated[list[int], operator.add]


class WorkerInput(TypedDict):
    i: int


def worker(state: WorkerInput) -> dict[str, Any]:
    return {"results": [state["i"] * 2]}


def build_fanout(e: Engine) -> Any:
    """A router from START sends ``n`` packets to ``worker``; results are summed as lists."""

    def fan_out(state: FanState) -> list[Any]:
        return [e.Send("worker", {"i": i}) for i in range(state["n"])]

    g = e.StateGraph(FanState)
    g.add_node("worker", worker)
    g.add_conditional_edges(e.START, fan_out)
    g.add_edge("worker", e.END)
    return g.compile(**e.compile_options)


# --------------------------------------------------------------------------
# concurrentN: many concurrent runs of one I/O-bound async node
# --------------------------------------------------------------------------

IO_SECONDS = 0.05


class IOState(TypedDict, total=False):
    x: int
    y: int


async def io_node(state: IOState) -> dict[str, Any]:
    await asyncio.sleep(IO_SECONDS)
    return {"y": state["x"] + 1}


def build_io(e: Engine) -> Any:
    """``START -> io -> END`` where ``io`` awaits 50 ms of simulated I/O."""
    g = e.StateGraph(IOState)
    g.add_node("io", io_node)
    g.add_edge(e.START, "io")
    g.add_edge("io", e.END)
    return g.compile(**e.compile_options)
