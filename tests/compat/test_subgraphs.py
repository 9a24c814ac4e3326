"""LangGraph compatibility: graphs inside graphs under a checkpointer, and
the writes of a superstep that stopped at ``interrupt()``.

- a subgraph node, or a graph a node calls (``inner.invoke(...)``), keeps
  checkpoints of its own under its ``checkpoint_ns`` when the parent has a
  checkpointer: ``get_state(config, subgraphs=True)`` shows them in
  ``tasks[i].state``, and a config naming the namespace reads them;
- resuming the parent resumes the inner graph from its own checkpoint: inner
  nodes that finished before the ``interrupt()`` (or before a failure) do
  not run again (counted per node);
- a superstep that stops at ``interrupt()`` keeps what its finished tasks
  wrote as pending writes: they are not run again on resume, and the result
  of ``invoke()`` and ``get_state()`` (of the thread's head) show them
  applied.

Namespaces and checkpoint ids differ between the libraries (wfkit's hold
task ids like ``"1:0:team"``, LangGraph's hashes), so the cases compare a
namespace by its node names (``"team|leaf"``) and metadata ``parents`` by
their keys.
"""

from typing import Any

import pytest

from tests.compat.harness import case, stores


def _ns(ns: str) -> str:
    """A checkpoint namespace by its node names: ``"a:<id>|b:<id>|1"`` -> ``"a|b|1"``."""
    return "|".join(part.split(":")[0] for part in ns.split("|")) if ns else ns


def _meta(meta: Any) -> Any:
    """Checkpoint metadata with ``parents`` reduced to its namespaces."""
    if not meta:
        return meta
    return {**meta, "parents": sorted(_ns(k) for k in meta.get("parents", {}))}


def _state(state: Any) -> Any:
    if state is None:
        return None
    if isinstance(state, dict):  # a config: the subgraph has checkpoints there
        configurable = state["configurable"]
        return ("config", sorted(configurable), _ns(configurable["checkpoint_ns"]))
    return _snap(state)


def _snap(snap: Any) -> dict[str, Any]:
    """A snapshot without its ids and times."""
    configurable = snap.config["configurable"]
    return {
        "values": snap.values,
        "next": snap.next,
        "metadata": _meta(snap.metadata),
        "ns": _ns(configurable.get("checkpoint_ns", "")),
        "config": sorted(k for k in configurable if not k.startswith("__")),  # not internals
        "map": sorted(_ns(k) for k in configurable.get("checkpoint_map", {})),
        "tasks": [
            (t.name, [i.value for i in t.interrupts], t.error is not None, _state(t.state))
            for t in snap.tasks
        ],
        "interrupts": [i.value for i in snap.interrupts],
    }


def _values(out: dict[str, Any]) -> dict[str, Any]:
    """An output with its interrupts reduced to their values."""
    return {k: [i.value for i in v] if k == "__interrupt__" else v for k, v in sorted(out.items())}


# ----------------------------------------------------------------- a subgraph node's checkpoints


@stores
def test_get_state_with_subgraphs_shows_the_paused_subgraph():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import interrupt

    class Outer(TypedDict, total=False):
        topic: str
        answer: str

    class Inner(TypedDict, total=False):
        topic: str
        answer: str
        notes: Annotated[list[str], operator.add]

    def research(state: Inner) -> dict:
        return {"notes": [f"about {state['topic']}"]}

    def ask(state: Inner) -> dict:
        return {"answer": interrupt({"notes": state["notes"]})}

    inner = StateGraph(Inner)
    inner.add_node("research", research)
    inner.add_node("ask", ask)
    inner.add_edge(START, "research")
    inner.add_edge("research", "ask")
    inner.add_edge("ask", END)
    outer = StateGraph(Outer)
    outer.add_node("plan", lambda s: {"topic": s["topic"].upper()})
    outer.add_node("team", inner.compile())
    outer.add_edge(START, "plan")
    outer.add_edge("plan", "team")
    outer.add_edge("team", END)
    app = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"topic": "cats"}, config)
    plain = app.get_state(config)
    deep = app.get_state(config, subgraphs=True)
    assert deep.values == plain.values == {"topic": "CATS"}
    assert deep.tasks[0].state.values == {"topic": "CATS", "notes": ["about CATS"]}
    return _snap(plain), _snap(deep)


@stores
def test_get_state_of_a_subgraph_namespace_and_its_history():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import interrupt

    class State(TypedDict, total=False):
        draft: str
        ok: str

    inner = StateGraph(State)
    inner.add_node("write", lambda s: {"draft": "text"})
    inner.add_node("ask", lambda s: {"ok": interrupt(s["draft"])})
    inner.add_edge(START, "write")
    inner.add_edge("write", "ask")
    inner.add_edge("ask", END)
    outer = StateGraph(State)
    outer.add_node("review", inner.compile())
    outer.add_edge(START, "review")
    outer.add_edge("review", END)
    app = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"draft": ""}, config)
    sub_config = app.get_state(config).tasks[0].state
    sub = app.get_state(sub_config)
    assert sub.values == app.get_state(config, subgraphs=True).tasks[0].state.values
    history = list(app.get_state_history(sub_config))
    assert history[0].config == sub.config
    by_id = app.get_state(sub.config)
    parent = app.get_state(sub.parent_config)
    return (
        _snap(sub),
        [(_meta(h.metadata), h.next, h.values) for h in history],
        _snap(by_id),
        _snap(parent),
        [_ns(h.config["configurable"]["checkpoint_ns"]) for h in history],
    )


@stores
def test_resumed_subgraph_skips_the_nodes_that_finished():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command, interrupt

    calls: dict[str, int] = {}

    class Outer(TypedDict, total=False):
        topic: str
        answer: str

    class Inner(TypedDict, total=False):
        topic: str
        answer: str
        notes: Annotated[list[str], operator.add]

    def node(name, update):
        def run(state):
            calls[name] = calls.get(name, 0) + 1
            return update(state)

        return run

    inner = StateGraph(Inner)
    inner.add_node("research", node("research", lambda s: {"notes": ["found"]}))
    inner.add_node("ask", node("ask", lambda s: {"answer": interrupt(s["notes"])}))
    inner.add_node("write", node("write", lambda s: {"answer": s["answer"] + "!"}))
    inner.add_edge(START, "research")
    inner.add_edge("research", "ask")
    inner.add_edge("ask", "write")
    outer = StateGraph(Outer)
    outer.add_node("team", inner.compile())
    outer.add_edge(START, "team")
    outer.add_edge("team", END)
    app = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    first = app.invoke({"topic": "cats"}, config)
    sub_config = app.get_state(config).tasks[0].state
    done = app.invoke(Command(resume="yes"), config)
    assert calls == {"research": 1, "ask": 2, "write": 1}
    after = app.get_state(sub_config)
    return (
        _values(first),
        done,
        calls,
        _snap(after),
        len(list(app.get_state_history(sub_config))),
        _snap(app.get_state(config)),
    )


@stores
def test_subgraph_with_two_questions_resumes_at_the_second():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command, interrupt

    calls: dict[str, int] = {}

    class State(TypedDict, total=False):
        name: str
        city: str
        card: str

    def count(name):
        calls[name] = calls.get(name, 0) + 1

    def ask_name(state):
        count("ask_name")
        return {"name": interrupt("name?")}

    def ask_city(state):
        count("ask_city")
        return {"city": interrupt(f"city of {state['name']}?")}

    def card(state):
        count("card")
        return {"card": f"{state['name']} from {state['city']}"}

    inner = StateGraph(State)
    inner.add_node("ask_name", ask_name)
    inner.add_node("ask_city", ask_city)
    inner.add_node("card", card)
    inner.add_edge(START, "ask_name")
    inner.add_edge("ask_name", "ask_city")
    inner.add_edge("ask_city", "card")
    outer = StateGraph(State)
    outer.add_node("form", inner.compile())
    outer.add_edge(START, "form")
    outer.add_edge("form", END)
    app = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    asked = [_values(app.invoke({}, config))]
    asked.append(_values(app.invoke(Command(resume="Ada"), config)))
    inner_state = _snap(app.get_state(config, subgraphs=True).tasks[0].state)
    done = app.invoke(Command(resume="London"), config)
    assert done["card"] == "Ada from London"
    assert calls == {"ask_name": 2, "ask_city": 2, "card": 1}
    return asked, inner_state, done, calls


@stores
def test_subgraph_question_resumed_by_its_interrupt_id():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command, interrupt

    class State(TypedDict, total=False):
        ok: str

    inner = StateGraph(State)
    inner.add_node("ask", lambda s: {"ok": interrupt("ship?")})
    inner.add_edge(START, "ask")
    outer = StateGraph(State)
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "sub")
    outer.add_edge("sub", END)
    app = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    (question,) = app.invoke({}, config)["__interrupt__"]
    assert [i.id for i in app.get_state(config).interrupts] == [question.id]
    return app.invoke(Command(resume={question.id: "shipped"}), config)


@stores
def test_failed_subgraph_resumes_after_its_finished_nodes():
    import time
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    calls: dict[str, int] = {}
    broken = [True]

    class State(TypedDict, total=False):
        fetched: str
        parsed: str
        other: str

    def fetch(state):
        calls["fetch"] = calls.get("fetch", 0) + 1
        return {"fetched": "raw"}

    def parse(state):
        calls["parse"] = calls.get("parse", 0) + 1
        if broken[0]:
            time.sleep(0.2)  # "other" finishes first (LangGraph stops the unfinished ones)
            raise ValueError("bad input")
        return {"parsed": state["fetched"].upper()}

    inner = StateGraph(State)
    inner.add_node("fetch", fetch)
    inner.add_node("parse", parse)
    inner.add_edge(START, "fetch")
    inner.add_edge("fetch", "parse")
    outer = StateGraph(State)
    outer.add_node("etl", inner.compile())
    outer.add_node("other", lambda s: {"other": "done"})
    outer.add_edge(START, "etl")
    outer.add_edge(START, "other")
    app = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    try:
        app.invoke({}, config)
    except ValueError as exc:
        error = str(exc)
    failed = _snap(app.get_state(config, subgraphs=True))
    broken[0] = False
    done = app.invoke(None, config)
    assert calls == {"fetch": 1, "parse": 2}
    return error, failed, done, calls


@stores
def test_three_levels_of_subgraphs():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph
    from langgraph.types import Command, interrupt

    calls: dict[str, int] = {}

    class State(TypedDict, total=False):
        path: str
        answer: str

    def step(name):
        def run(state):
            calls[name] = calls.get(name, 0) + 1
            return {"path": state.get("path", "") + name}

        return run

    def ask(state):
        calls["ask"] = calls.get("ask", 0) + 1
        return {"answer": interrupt(f"deep at {state['path']}?")}

    leaf = StateGraph(State)
    leaf.add_node("leaf_step", step("L"))
    leaf.add_node("ask", ask)
    leaf.add_edge(START, "leaf_step")
    leaf.add_edge("leaf_step", "ask")
    mid = StateGraph(State)
    mid.add_node("mid_step", step("M"))
    mid.add_node("leaf", leaf.compile())
    mid.add_edge(START, "mid_step")
    mid.add_edge("mid_step", "leaf")
    top = StateGraph(State)
    top.add_node("top_step", step("T"))
    top.add_node("mid", mid.compile())
    top.add_edge(START, "top_step")
    top.add_edge("top_step", "mid")
    app = top.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    first = _values(app.invoke({"path": ""}, config))
    deep = _snap(app.get_state(config, subgraphs=True))
    mid_config = app.get_state(config).tasks[0].state
    mid_plain = _snap(app.get_state(mid_config))
    leaf_config = app.get_state(mid_config).tasks[0].state
    leaf_plain = _snap(app.get_state(leaf_config))
    done = app.invoke(Command(resume="yes"), config)
    assert calls == {"T": 1, "M": 1, "L": 1, "ask": 2}
    return first, deep, mid_plain, leaf_plain, done, calls


@stores
def test_subgraph_node_not_run_yet_has_an_empty_state():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    class State(TypedDict, total=False):
        x: str

    inner = StateGraph(State)
    inner.add_node("a", lambda s: {"x": "a"})
    inner.add_edge(START, "a")
    outer = StateGraph(State)
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "sub")
    app = outer.compile(checkpointer=InMemorySaver(), interrupt_before=["sub"])
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"x": ""}, config)
    (task,) = app.get_state(config, subgraphs=True).tasks
    empty = task.state
    return (
        _state(app.get_state(config).tasks[0].state),
        empty.values,
        empty.next,
        empty.tasks,
        empty.interrupts,
        empty.parent_config,
    )


@stores
def test_durability_exit_resumes_the_subgraph_where_it_paused():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command, interrupt

    calls: dict[str, int] = {}

    class State(TypedDict, total=False):
        draft: str
        ok: str

    def write(state):
        calls["write"] = calls.get("write", 0) + 1
        return {"draft": "text"}

    def ask(state):
        calls["ask"] = calls.get("ask", 0) + 1
        return {"ok": interrupt(state["draft"])}

    inner = StateGraph(State)
    inner.add_node("write", write)
    inner.add_node("ask", ask)
    inner.add_edge(START, "write")
    inner.add_edge("write", "ask")
    outer = StateGraph(State)
    outer.add_node("review", inner.compile())
    outer.add_edge(START, "review")
    outer.add_edge("review", END)
    app = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    first = _values(app.invoke({"draft": ""}, config, durability="exit"))
    sub_config = app.get_state(config).tasks[0].state
    paused = _snap(app.get_state(sub_config))
    kept = len(list(app.get_state_history(sub_config)))
    done = app.invoke(Command(resume="yes"), config, durability="exit")
    assert calls == {"write": 1, "ask": 2}
    kept_after = len(list(app.get_state_history(sub_config)))  # a finished subgraph: nothing
    return first, paused, kept, done, calls, kept_after


@case
def test_checkpoints_stream_of_a_subgraph():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    class State(TypedDict, total=False):
        x: str

    inner = StateGraph(State)
    inner.add_node("a", lambda s: {"x": s["x"] + "a"})
    inner.add_edge(START, "a")
    outer = StateGraph(State)
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "sub")
    app = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    out = []
    for ns, chunk in app.stream({"x": ""}, config, stream_mode="checkpoints", subgraphs=True):
        out.append(
            (
                tuple(_ns(p) for p in ns),
                _meta(chunk["metadata"]),
                chunk["next"],
                chunk["values"],
                _ns(chunk["config"]["configurable"]["checkpoint_ns"]),
                [(t["name"], _state(t["state"])) for t in chunk["tasks"]],
            )
        )
    return out


@case
def test_async_subgraph_resumes_where_it_paused():
    import asyncio
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph
    from langgraph.types import Command, interrupt

    calls: dict[str, int] = {}

    class State(TypedDict, total=False):
        draft: str
        ok: str

    async def write(state):
        calls["write"] = calls.get("write", 0) + 1
        return {"draft": "text"}

    async def ask(state):
        calls["ask"] = calls.get("ask", 0) + 1
        return {"ok": interrupt(state["draft"])}

    inner = StateGraph(State)
    inner.add_node("write", write)
    inner.add_node("ask", ask)
    inner.add_edge(START, "write")
    inner.add_edge("write", "ask")
    outer = StateGraph(State)
    outer.add_node("review", inner.compile())
    outer.add_edge(START, "review")
    app = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}

    async def main():
        first = await app.ainvoke({"draft": ""}, config)
        inner_state = (await app.aget_state(config, subgraphs=True)).tasks[0].state
        done = await app.ainvoke(Command(resume="yes"), config)
        return _values(first), _snap(inner_state), done

    result = asyncio.run(main())
    assert calls == {"write": 1, "ask": 2}
    return result, calls


# ----------------------------------------------------------------- nested calls


@stores
def test_get_state_with_subgraphs_shows_a_nested_call():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command, interrupt

    calls: dict[str, int] = {}

    class State(TypedDict, total=False):
        question: str
        context: str
        answer: str

    def lookup(state):
        calls["lookup"] = calls.get("lookup", 0) + 1
        return {"context": f"notes on {state['question']}"}

    def ask(state):
        calls["ask"] = calls.get("ask", 0) + 1
        return {"answer": interrupt(state["context"])}

    inner = StateGraph(State)
    inner.add_node("lookup", lookup)
    inner.add_node("ask", ask)
    inner.add_edge(START, "lookup")
    inner.add_edge("lookup", "ask")
    reviewer = inner.compile()

    def delegate(state: State) -> dict:
        calls["delegate"] = calls.get("delegate", 0) + 1
        result = reviewer.invoke({"question": state["question"]})
        return {"answer": result["answer"].upper()}

    outer = StateGraph(State)
    outer.add_node("delegate", delegate)
    outer.add_edge(START, "delegate")
    outer.add_edge("delegate", END)
    app = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    first = _values(app.invoke({"question": "ship it?"}, config))
    plain = _snap(app.get_state(config))
    deep = _snap(app.get_state(config, subgraphs=True))
    done = app.invoke(Command(resume="yes"), config)
    assert calls == {"delegate": 2, "lookup": 1, "ask": 2}
    return first, plain, deep, done, calls


@stores
def test_two_nested_calls_in_one_node_resume_in_turn():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph
    from langgraph.types import Command, interrupt

    calls: dict[str, int] = {}

    class State(TypedDict, total=False):
        topic: str
        notes: str
        answer: str

    def count(name):
        calls[name] = calls.get(name, 0) + 1

    def research(state):
        count(f"research:{state['topic']}")
        return {"notes": state["topic"] + " notes"}

    def ask(state):
        count(f"ask:{state['topic']}")
        return {"answer": interrupt(f"about {state['notes']}?")}

    inner = StateGraph(State)
    inner.add_node("research", research)
    inner.add_node("ask", ask)
    inner.add_edge(START, "research")
    inner.add_edge("research", "ask")
    inner = inner.compile()

    def both(state):
        count("both")
        a = inner.invoke({"topic": "cats"})["answer"]
        b = inner.invoke({"topic": "dogs"})["answer"]
        return {"answer": f"{a}+{b}"}

    outer = StateGraph(State)
    outer.add_node("both", both)
    outer.add_edge(START, "both")
    app = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    outs = [_values(app.invoke({"topic": "pets"}, config))]
    outs.append(_values(app.invoke(Command(resume="yes"), config)))
    second = _snap(app.get_state(config, subgraphs=True))
    outs.append(_values(app.invoke(Command(resume="no"), config)))
    assert outs[-1]["answer"] == "yes+no"
    expected = {"both": 3, "research:cats": 1, "ask:cats": 2, "research:dogs": 1, "ask:dogs": 2}
    assert calls == expected
    return outs, second, calls


@stores
def test_questions_of_a_node_and_of_its_nested_graph_in_turn():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph
    from langgraph.types import Command, interrupt

    calls: dict[str, int] = {}

    class State(TypedDict, total=False):
        topic: str
        answer: str

    def ask(state):
        calls["ask"] = calls.get("ask", 0) + 1
        return {"answer": interrupt(f"inner {state['topic']}?")}

    def ask_again(state):
        calls["ask_again"] = calls.get("ask_again", 0) + 1
        return {"answer": state["answer"] + "/" + interrupt(f"inner again {state['topic']}?")}

    inner = StateGraph(State)
    inner.add_node("ask", ask)
    inner.add_node("ask_again", ask_again)
    inner.add_edge(START, "ask")
    inner.add_edge("ask", "ask_again")
    inner = inner.compile()

    def mixed(state):
        calls["mixed"] = calls.get("mixed", 0) + 1
        own = interrupt("own first?")
        nested = inner.invoke({"topic": "t"})["answer"]
        last = interrupt("own last?")
        return {"answer": f"{own}|{nested}|{last}"}

    outer = StateGraph(State)
    outer.add_node("mixed", mixed)
    outer.add_edge(START, "mixed")
    app = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    out = app.invoke({"topic": "pets"}, config)
    asked = []
    for answer in ["A", "B", "C", "D"]:
        asked.append([i.value for i in out["__interrupt__"]])
        out = app.invoke(Command(resume=answer), config)
    assert out["answer"] == "A|B/C|D"
    assert calls == {"mixed": 5, "ask": 2, "ask_again": 2}
    return asked, out, calls


# ----------------------------------------------------------------- a superstep stopped at interrupt()


@stores
def test_interrupt_keeps_the_finished_siblings_writes():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command, interrupt

    calls: dict[str, int] = {}

    class State(TypedDict, total=False):
        log: Annotated[list[str], operator.add]
        side: str
        answer: str

    def ask(state):
        calls["ask"] = calls.get("ask", 0) + 1
        return {"answer": interrupt("ok?"), "log": ["ask"]}

    def sibling(state):
        calls["sibling"] = calls.get("sibling", 0) + 1
        return {"log": ["sibling"], "side": "x"}

    def after(state):
        calls["after"] = calls.get("after", 0) + 1
        return {"log": ["after"]}

    graph = StateGraph(State)
    graph.add_node("ask", ask)
    graph.add_node("sibling", sibling)
    graph.add_node("after", after)
    graph.add_edge(START, "ask")
    graph.add_edge(START, "sibling")
    graph.add_edge(["ask", "sibling"], "after")
    graph.add_edge("after", END)
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    first = _values(app.invoke({"log": []}, config))
    head = app.get_state(config)
    at_head = (head.values, head.next, [(t.name, t.result) for t in head.tasks])
    by_id = app.get_state(head.config)
    recorded = (by_id.values, by_id.next, [(t.name, t.result) for t in by_id.tasks])
    history = [(h.values, h.next) for h in app.get_state_history(config)]
    done = app.invoke(Command(resume="yes"), config)
    assert calls == {"ask": 2, "sibling": 1, "after": 1}
    after_history = [(h.values, h.next) for h in app.get_state_history(config)]
    return first, at_head, recorded, history, done, calls, after_history


@stores
def test_interrupt_keeps_the_siblings_writes_under_durability_exit():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph
    from langgraph.types import Command, interrupt

    calls: dict[str, int] = {}

    class State(TypedDict, total=False):
        log: Annotated[list[str], operator.add]
        answer: str

    def ask(state):
        calls["ask"] = calls.get("ask", 0) + 1
        return {"answer": interrupt("ok?")}

    def sibling(state):
        calls["sibling"] = calls.get("sibling", 0) + 1
        return {"log": ["sibling"]}

    graph = StateGraph(State)
    graph.add_node("ask", ask)
    graph.add_node("sibling", sibling)
    graph.add_edge(START, "ask")
    graph.add_edge(START, "sibling")
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    first = _values(app.invoke({"log": []}, config, durability="exit"))
    head = app.get_state(config)
    done = app.invoke(Command(resume="yes"), config, durability="exit")
    assert calls == {"ask": 2, "sibling": 1}
    return first, head.values, head.next, done, calls


@case
def test_interrupt_without_a_checkpointer_returns_the_siblings_writes():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.graph import START, StateGraph
    from langgraph.types import interrupt

    class State(TypedDict, total=False):
        log: Annotated[list[str], operator.add]
        answer: str

    graph = StateGraph(State)
    graph.add_node("ask", lambda s: {"answer": interrupt("ok?")})
    graph.add_node("sibling", lambda s: {"log": ["sibling"]})
    graph.add_edge(START, "ask")
    graph.add_edge(START, "sibling")
    return _values(graph.compile().invoke({"log": ["start"]}))


@case
def test_values_stream_ends_with_the_siblings_writes():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph
    from langgraph.types import interrupt

    class State(TypedDict, total=False):
        log: Annotated[list[str], operator.add]
        answer: str

    graph = StateGraph(State)
    graph.add_node("ask", lambda s: {"answer": interrupt("ok?")})
    graph.add_node("sibling", lambda s: {"log": ["sibling"]})
    graph.add_node("quiet", lambda s: None)
    graph.add_edge(START, "ask")
    graph.add_edge(START, "sibling")
    graph.add_edge(START, "quiet")
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    chunks = list(app.stream({"log": []}, config, stream_mode="values"))
    return [_values(c) for c in chunks]


@case
def test_values_stream_of_an_interrupt_whose_siblings_wrote_nothing():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph
    from langgraph.types import interrupt

    class State(TypedDict, total=False):
        answer: str

    graph = StateGraph(State)
    graph.add_node("ask", lambda s: {"answer": interrupt("ok?")})
    graph.add_node("quiet", lambda s: None)
    graph.add_edge(START, "ask")
    graph.add_edge(START, "quiet")
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    chunks = list(app.stream({"answer": "none yet"}, config, stream_mode="values"))
    out = app.invoke({"answer": "none yet"}, {"configurable": {"thread_id": "2"}})
    return [_values(c) for c in chunks], _values(out)


@stores
def test_failed_superstep_keeps_the_finished_siblings_writes():
    import operator
    import time
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    calls: dict[str, int] = {}
    broken = [True]

    class State(TypedDict, total=False):
        log: Annotated[list[str], operator.add]

    def flaky(state):
        calls["flaky"] = calls.get("flaky", 0) + 1
        if broken[0]:
            time.sleep(0.2)  # its sibling finishes first (LangGraph stops the unfinished ones)
            raise ValueError("down")
        return {"log": ["flaky"]}

    def steady(state):
        calls["steady"] = calls.get("steady", 0) + 1
        return {"log": ["steady"]}

    graph = StateGraph(State)
    graph.add_node("flaky", flaky)
    graph.add_node("steady", steady)
    graph.add_edge(START, "flaky")
    graph.add_edge(START, "steady")
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    with pytest.raises(ValueError, match="down"):
        app.invoke({"log": []}, config)
    head = app.get_state(config)
    at_head = (
        head.values,
        head.next,
        [(t.name, t.error is not None, t.result) for t in head.tasks],
    )
    by_id = app.get_state(head.config)
    broken[0] = False
    done = app.invoke(None, config)
    assert calls == {"flaky": 2, "steady": 1}
    return at_head, (by_id.values, by_id.next), done, calls


@stores
def test_subgraph_compiled_without_checkpoints_runs_again_from_its_start():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command, interrupt

    calls: dict[str, int] = {}

    class State(TypedDict, total=False):
        draft: str
        ok: str

    def write(state):
        calls["write"] = calls.get("write", 0) + 1
        return {"draft": "text"}

    def ask(state):
        calls["ask"] = calls.get("ask", 0) + 1
        return {"ok": interrupt(state["draft"])}

    inner = StateGraph(State)
    inner.add_node("write", write)
    inner.add_node("ask", ask)
    inner.add_edge(START, "write")
    inner.add_edge("write", "ask")
    outer = StateGraph(State)
    outer.add_node("review", inner.compile(checkpointer=False))
    outer.add_edge(START, "review")
    outer.add_edge("review", END)
    app = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    first = _values(app.invoke({"draft": ""}, config))
    (task,) = app.get_state(config, subgraphs=True).tasks
    done = app.invoke(Command(resume="yes"), config)
    assert calls == {"write": 2, "ask": 2}
    return first, task.state, done, calls


@stores
def test_retried_subgraph_task_runs_the_subgraph_again_from_its_start():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph
    from langgraph.types import RetryPolicy

    calls: dict[str, int] = {}

    class State(TypedDict, total=False):
        fetched: str
        parsed: str

    def fetch(state):
        calls["fetch"] = calls.get("fetch", 0) + 1
        return {"fetched": "raw"}

    def parse(state):
        calls["parse"] = calls.get("parse", 0) + 1
        if calls["parse"] == 1:
            raise ConnectionError("try again")
        return {"parsed": state["fetched"].upper()}

    inner = StateGraph(State)
    inner.add_node("fetch", fetch)
    inner.add_node("parse", parse)
    inner.add_edge(START, "fetch")
    inner.add_edge("fetch", "parse")
    outer = StateGraph(State)
    policy = RetryPolicy(initial_interval=0.01, retry_on=ConnectionError)
    outer.add_node("etl", inner.compile(), retry_policy=policy)
    outer.add_edge(START, "etl")
    app = outer.compile(checkpointer=InMemorySaver())
    out = app.invoke({}, {"configurable": {"thread_id": "1"}})
    assert calls == {"fetch": 2, "parse": 2}  # as LangGraph: a retry starts the subgraph over
    return out, calls


@stores
def test_replay_before_a_subgraph_runs_it_again_from_its_start():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    calls: dict[str, int] = {}

    class State(TypedDict, total=False):
        topic: str
        a: str
        b: str

    def step(name):
        def run(state):
            calls[name] = calls.get(name, 0) + 1
            return {name: state["topic"] + name}

        return run

    inner = StateGraph(State)
    inner.add_node("a", step("a"))
    inner.add_node("b", step("b"))
    inner.add_edge(START, "a")
    inner.add_edge("a", "b")
    outer = StateGraph(State)
    outer.add_node("plan", lambda s: {"topic": s["topic"].upper()})
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "plan")
    outer.add_edge("plan", "sub")
    app = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    first = app.invoke({"topic": "x"}, config)
    before_sub = next(s for s in app.get_state_history(config) if s.next == ("sub",))
    replayed = app.invoke(None, before_sub.config)
    assert calls == {"a": 2, "b": 2}
    return first, replayed, calls, len(list(app.get_state_history(config)))


@stores
def test_a_fork_runs_its_subgraph_from_the_start_not_the_other_branchs_pause():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph
    from langgraph.types import interrupt

    calls: dict[str, int] = {}

    class State(TypedDict, total=False):
        topic: str
        notes: str
        ok: str

    def research(state):
        calls["research"] = calls.get("research", 0) + 1
        return {"notes": f"on {state['topic']}"}

    def ask(state):
        calls["ask"] = calls.get("ask", 0) + 1
        return {"ok": interrupt(state["notes"])}

    inner = StateGraph(State)
    inner.add_node("research", research)
    inner.add_node("ask", ask)
    inner.add_edge(START, "research")
    inner.add_edge("research", "ask")
    outer = StateGraph(State)
    outer.add_node("plan", lambda s: {"topic": s["topic"].upper()})
    outer.add_node("team", inner.compile())
    outer.add_edge(START, "plan")
    outer.add_edge("plan", "team")
    app = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    first = _values(app.invoke({"topic": "cats"}, config))
    before_plan = next(s for s in app.get_state_history(config) if s.next == ("plan",))
    app.update_state(before_plan.config, {"topic": "DOGS"}, as_node="plan")
    second = _values(app.invoke(None, config))  # the thread's head: the fork
    assert calls == {"research": 2, "ask": 2}
    inner_state = _snap(app.get_state(config, subgraphs=True).tasks[0].state)
    return first, second, calls, inner_state


@stores
def test_replaying_an_update_runs_its_subgraph_again_from_the_start():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph
    from langgraph.types import interrupt

    calls: dict[str, int] = {}

    class State(TypedDict, total=False):
        topic: str
        notes: str
        ok: str

    def research(state):
        calls["research"] = calls.get("research", 0) + 1
        return {"notes": f"on {state['topic']}"}

    def ask(state):
        calls["ask"] = calls.get("ask", 0) + 1
        return {"ok": interrupt(state["notes"])}

    inner = StateGraph(State)
    inner.add_node("research", research)
    inner.add_node("ask", ask)
    inner.add_edge(START, "research")
    inner.add_edge("research", "ask")
    outer = StateGraph(State)
    outer.add_node("team", inner.compile())
    outer.add_edge(START, "team")
    app = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    update = app.update_state(config, {"topic": "cats"})  # a new thread: team planned
    first = _values(app.invoke(None, update))
    again = _values(app.invoke(None, update))  # the update has no child yet: replayed
    assert calls == {"research": 2, "ask": 2}
    return first, again, calls
