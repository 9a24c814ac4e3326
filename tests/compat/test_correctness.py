"""LangGraph compatibility: results that used to be wrong with no error.

- a graph a node calls (``inner.invoke(...)``, not a subgraph node) inherits
  its caller's config: an ``interrupt()`` inside it pauses the caller and
  ``Command(resume=...)`` reaches it;
- a replay from an old checkpoint forks: the old branch never changes, and
  an ``interrupt()`` the replay reaches can be resumed;
- a node that changes its input in place changes nothing stored, and
  pydantic states give each task its own copy.

Interrupt ids differ between the libraries (wfkit's are task ids), so the
cases compare interrupt values only. Side effects counted inside nested
graphs are left out: see docs/graph-api.md ("Nested calls").
"""

from typing import Any

from tests.compat.harness import case


def _values(out: dict[str, Any]) -> dict[str, Any]:
    """An output with its interrupts reduced to their values."""
    return {k: [i.value for i in v] if k == "__interrupt__" else v for k, v in sorted(out.items())}


# ----------------------------------------------------------------- nested calls


@case
def test_interrupt_in_a_nested_call_pauses_the_parent():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command, interrupt

    class State(TypedDict, total=False):
        question: str
        answer: str

    def ask(state: State) -> dict:
        return {"answer": interrupt(state["question"])}

    inner = StateGraph(State)
    inner.add_node("ask", ask)
    inner.add_edge(START, "ask")
    inner.add_edge("ask", END)
    inner = inner.compile()

    def delegate(state: State) -> dict:
        return {"answer": inner.invoke({"question": state["question"]})["answer"]}

    outer = StateGraph(State)
    outer.add_node("delegate", delegate)
    outer.add_edge(START, "delegate")
    outer.add_edge("delegate", END)
    app = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    first = app.invoke({"question": "ship it?"}, config)
    paused_at = app.get_state(config).next
    final = app.invoke(Command(resume="yes"), config)
    assert final["answer"] == "yes"
    return _values(first), paused_at, final


@case
def test_interrupt_in_a_nested_call_without_a_checkpointer():
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph
    from langgraph.types import interrupt

    class State(TypedDict, total=False):
        n: int
        answer: str

    def ask(state: State) -> dict:
        return {"answer": interrupt({"n": state["n"]})}

    inner = StateGraph(State)
    inner.add_node("ask", ask)
    inner.add_edge(START, "ask")
    inner = inner.compile()

    def delegate(state: State) -> dict:
        return inner.invoke({"n": state["n"] + 1})

    outer = StateGraph(State)
    outer.add_node("delegate", delegate)
    outer.add_edge(START, "delegate")
    outer.add_edge("delegate", END)
    return _values(outer.compile().invoke({"n": 1}))


@case
def test_nested_call_without_interrupt_keeps_its_own_state():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class Inner(TypedDict, total=False):
        text: str
        words: Annotated[list[str], operator.add]

    class Outer(TypedDict, total=False):
        texts: list[str]
        counts: Annotated[list[int], operator.add]

    def split(state: Inner) -> dict:
        return {"words": state["text"].split()}

    inner = StateGraph(Inner)
    inner.add_node("split", split)
    inner.add_edge(START, "split")
    inner = inner.compile()

    def count(state: Outer) -> dict:
        done = len(state.get("counts", []))
        result = inner.invoke({"text": state["texts"][done]})
        return {"counts": [len(result["words"])]}

    def more(state: Outer) -> str:
        return "count" if len(state["counts"]) < len(state["texts"]) else END

    outer = StateGraph(Outer)
    outer.add_node("count", count)
    outer.add_edge(START, "count")
    outer.add_conditional_edges("count", more, ["count", END])
    app = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    out = app.invoke({"texts": ["a b c", "d e", "f"]}, config)
    assert out["counts"] == [3, 2, 1]  # every call starts from its own input
    return out, sorted(app.get_state(config).values)


@case
def test_command_resume_reaches_each_nested_call_in_turn():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command, interrupt

    class State(TypedDict, total=False):
        topic: str
        answer: str

    def ask(state: State) -> dict:
        return {"answer": interrupt(f"about {state['topic']}?")}

    inner = StateGraph(State)
    inner.add_node("ask", ask)
    inner.add_edge(START, "ask")
    inner = inner.compile()

    def both(state: State) -> dict:
        a = inner.invoke({"topic": "cats"})["answer"]
        b = inner.invoke({"topic": "dogs"})["answer"]
        return {"answer": f"{a}+{b}"}

    outer = StateGraph(State)
    outer.add_node("both", both)
    outer.add_edge(START, "both")
    outer.add_edge("both", END)
    app = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    first = app.invoke({"topic": "pets"}, config)
    second = app.invoke(Command(resume="yes"), config)
    third = app.invoke(Command(resume="no"), config)
    assert third["answer"] == "yes+no"
    return _values(first), _values(second), third


@case
def test_nested_call_reads_the_callers_configurable():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict, total=False):
        user: str
        thread: str

    def who(state: State, config) -> dict:
        c = config["configurable"]
        return {"user": c["user_id"], "thread": c["thread_id"]}

    inner = StateGraph(State)
    inner.add_node("who", who)
    inner.add_edge(START, "who")
    inner = inner.compile()

    outer = StateGraph(State)
    outer.add_node("delegate", lambda state: inner.invoke({}))
    outer.add_edge(START, "delegate")
    outer.add_edge("delegate", END)
    app = outer.compile(checkpointer=InMemorySaver())
    return app.invoke({}, {"configurable": {"thread_id": "t-7", "user_id": "ada"}})


@case
def test_nested_call_on_its_own_thread_returns_its_interrupt():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import interrupt

    class State(TypedDict, total=False):
        answer: str
        inner_paused: bool

    inner = StateGraph(State)
    inner.add_node("ask", lambda state: {"answer": interrupt("?")})
    inner.add_edge(START, "ask")
    inner = inner.compile(checkpointer=InMemorySaver())
    own = {"configurable": {"thread_id": "inner-thread"}}

    def delegate(state: State) -> dict:
        result = inner.invoke({}, own)
        return {"inner_paused": "__interrupt__" in result}

    outer = StateGraph(State)
    outer.add_node("delegate", delegate)
    outer.add_edge(START, "delegate")
    outer.add_edge("delegate", END)
    app = outer.compile(checkpointer=InMemorySaver())
    out = app.invoke({}, {"configurable": {"thread_id": "outer-thread"}})
    return out, inner.get_state(own).next


# ----------------------------------------------------------------- replay


@case
def test_replay_that_reaches_an_interrupt_forks_and_resumes():
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command, interrupt

    class State(TypedDict, total=False):
        log: Annotated[list[str], operator.add]
        answer: str

    def draft(state: State) -> dict:
        return {"log": ["draft"]}

    def ask(state: State) -> dict:
        return {"answer": interrupt("approve?"), "log": ["ask"]}

    def send(state: State) -> dict:
        return {"log": ["send"]}

    builder = StateGraph(State)
    builder.add_node("draft", draft)
    builder.add_node("ask", ask)
    builder.add_node("send", send)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "ask")
    builder.add_edge("ask", "send")
    builder.add_edge("send", END)
    app = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"log": []}, config)
    app.invoke(Command(resume="first"), config)
    at_ask = next(s for s in app.get_state_history(config) if s.next == ("ask",))
    old_results = [t.result for t in at_ask.tasks]

    replayed = app.invoke(None, at_ask.config)
    head = app.get_state(config)
    final = app.invoke(Command(resume="second"), config)
    again = app.get_state(at_ask.config)
    assert [t.result for t in again.tasks] == old_results  # the old branch is unchanged
    forks = [s for s in app.get_state_history(config) if s.next == ("ask",)]
    return (
        _values(replayed),
        head.next,
        head.metadata["source"],
        final,
        old_results,
        again.values,
        len(forks),
    )


@case
def test_replay_of_a_checkpoint_that_does_not_interrupt():
    import itertools
    import operator
    from typing import Annotated, TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict, total=False):
        log: Annotated[list[str], operator.add]

    runs = itertools.count()

    def first(state: State) -> dict:
        return {"log": ["first"]}

    def second(state: State) -> dict:
        return {"log": [f"second#{next(runs)}"]}

    builder = StateGraph(State)
    builder.add_node("first", first)
    builder.add_node("second", second)
    builder.add_edge(START, "first")
    builder.add_edge("first", "second")
    builder.add_edge("second", END)
    app = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    original = app.invoke({"log": []}, config)
    before = next(s for s in app.get_state_history(config) if s.next == ("second",))
    replayed = app.invoke(None, before.config)
    at_second = [s for s in app.get_state_history(config) if s.next == ("second",)]
    sources = [s.metadata["source"] for s in at_second]
    results = [[t.result for t in s.tasks] for s in at_second]
    return original, replayed, app.get_state(config).values, sources, results


# ----------------------------------------------------------------- in-place changes


@case
def test_a_list_changed_in_place_is_not_stored():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict, total=False):
        items: list[str]
        count: int

    def sloppy(state: State) -> dict:
        state["items"].append("sneaky")  # not returned: not an update
        return {"count": len(state["items"])}

    builder = StateGraph(State)
    builder.add_node("sloppy", sloppy)
    builder.add_edge(START, "sloppy")
    builder.add_edge("sloppy", END)
    app = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"items": ["a"]}, config)
    return app.get_state(config).values


@case
def test_a_nested_dict_changed_in_place_is_not_stored():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict, total=False):
        settings: dict
        done: bool

    def tweak(state: State) -> dict:
        state["settings"]["model"]["temperature"] = 0.9
        state["settings"]["tags"].append("tweaked")
        return {"done": True}

    def report(state: State) -> dict:
        return {}

    builder = StateGraph(State)
    builder.add_node("tweak", tweak)
    builder.add_node("report", report)
    builder.add_edge(START, "tweak")
    builder.add_edge("tweak", "report")
    builder.add_edge("report", END)
    app = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    app.invoke({"settings": {"model": {"temperature": 0.1}, "tags": []}}, config)
    stored = app.get_state(config).values
    assert stored["settings"] == {"model": {"temperature": 0.1}, "tags": []}
    return stored


@case
def test_a_list_changed_in_place_and_returned_is_stored():
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict, total=False):
        items: list[str]

    def add(state: State) -> dict:
        state["items"].append("b")
        return {"items": state["items"]}  # the same list, now an update

    builder = StateGraph(State)
    builder.add_node("add", add)
    builder.add_edge(START, "add")
    builder.add_edge("add", END)
    app = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    out = app.invoke({"items": ["a"]}, config)
    return out, app.get_state(config).values


@case
def test_a_pydantic_state_changed_in_place_changes_only_the_nodes_copy():
    import operator
    from typing import Annotated

    from langgraph.graph import END, START, StateGraph
    from pydantic import BaseModel

    class State(BaseModel):
        items: list[str] = []
        notes: dict[str, list[str]] = {}
        seen: Annotated[list[list[str]], operator.add] = []

    def sloppy(state: State) -> dict:
        state.items.append("sneaky")
        state.notes.setdefault("k", []).append("sneaky")
        return {"seen": [list(state.items)]}

    def after(state: State) -> dict:
        return {"seen": [list(state.items), list(state.notes)]}

    builder = StateGraph(State)
    builder.add_node("sloppy", sloppy)
    builder.add_node("after", after)
    builder.add_edge(START, "sloppy")
    builder.add_edge("sloppy", "after")
    builder.add_edge("after", END)
    given = State(items=["a"])
    out = builder.compile().invoke(given)
    return out, given.items


@case
def test_a_pydantic_fan_out_leaves_the_next_superstep_the_state_as_written():
    import operator
    from typing import Annotated

    from langgraph.graph import END, START, StateGraph
    from pydantic import BaseModel

    class State(BaseModel):
        items: list[str] = []
        seen: Annotated[list[str], operator.add] = []

    def sloppy(state: State) -> dict:
        state.items.append("sneaky")
        return {"seen": ["sloppy"]}

    def tidy(state: State) -> dict:
        return {"seen": ["tidy"]}

    def join(state: State) -> dict:
        return {"seen": [f"join saw {state.items}"]}

    builder = StateGraph(State)
    builder.add_node("sloppy", sloppy)
    builder.add_node("tidy", tidy)
    builder.add_node("join", join)
    builder.add_edge(START, "sloppy")
    builder.add_edge(START, "tidy")
    builder.add_edge(["sloppy", "tidy"], "join")
    builder.add_edge("join", END)
    return builder.compile().invoke({"items": ["a"]})
