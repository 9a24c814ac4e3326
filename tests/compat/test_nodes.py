"""LangGraph compatibility: nodes and edges (``add_sequence``, retry
policies, ``cache_policy``, ``defer``, ``destinations``, ``Command`` lists,
``Command.PARENT``, joins into ``END``, what ``compile()`` accepts).
Ported from LangGraph's how-tos (Command, retries, caching, defer) and its
tests (test_pregel.py, test_parent_command.py); see tests/compat/harness.py.

No ``from __future__ import annotations``: the ``Command[Literal[...]]``
annotations of the cases' local functions must be real objects."""

from tests.compat.harness import case


@case
def test_add_sequence():
    # test_pregel.py::test_add_sequence
    import operator
    from typing import Annotated

    from langgraph.graph import START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        foo: Annotated[list[str], operator.add]
        bar: str

    def step1(state: State):
        return {"foo": ["step1"], "bar": "baz"}

    def step2(state: State):
        return {"foo": ["step2"]}

    builder = StateGraph(State)
    builder.add_sequence([step1, step2])
    builder.add_edge(START, "step1")
    graph = builder.compile()
    unnamed = graph.invoke({"foo": []}), list(graph.stream({"foo": []}, stream_mode="updates"))

    named = StateGraph(State)
    named.add_sequence([("meow1", step1), ("meow2", step2)])
    named.add_edge(START, "meow1")
    graph = named.compile()
    return (
        unnamed,
        graph.invoke({"foo": []}),
        list(graph.stream({"foo": []}, stream_mode="updates")),
    )


@case
def test_add_sequence_refuses_empty_and_duplicates():
    from langgraph.graph import StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        foo: str

    def step1(state: State):
        return {"foo": "x"}

    refused = []
    for nodes in ([], [step1, step1], [("foo", step1), ("foo", step1)]):
        try:
            StateGraph(State).add_sequence(nodes)
        except ValueError:
            refused.append(True)
    return refused


@case
def test_retry_policy_retries_a_flaky_node():
    from langgraph.graph import START, StateGraph
    from langgraph.types import RetryPolicy
    from typing_extensions import TypedDict

    class State(TypedDict):
        result: str

    calls = []

    def flaky(state: State):
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("try again")
        return {"result": f"ok after {len(calls)} calls"}

    policy = RetryPolicy(max_attempts=3, initial_interval=0.0, jitter=False)
    builder = StateGraph(State)
    builder.add_node("flaky", flaky, retry_policy=policy)
    builder.add_edge(START, "flaky")
    return builder.compile().invoke({})


@case
def test_retry_policy_gives_up_after_max_attempts():
    from langgraph.graph import START, StateGraph
    from langgraph.types import RetryPolicy
    from typing_extensions import TypedDict

    class State(TypedDict):
        result: str

    calls = []

    def always_fails(state: State):
        calls.append(1)
        raise ConnectionError("down")

    builder = StateGraph(State)
    builder.add_node(
        "node",
        always_fails,
        retry_policy=RetryPolicy(max_attempts=2, initial_interval=0.0, jitter=False),
    )
    builder.add_edge(START, "node")
    try:
        builder.compile().invoke({})
    except ConnectionError as exc:
        return str(exc), len(calls)
    return None


@case
def test_retry_policy_retry_on_decides():
    from langgraph.graph import START, StateGraph
    from langgraph.types import RetryPolicy
    from typing_extensions import TypedDict

    class State(TypedDict):
        result: str

    calls = []

    def node(state: State):
        calls.append(1)
        raise KeyError("not retried")

    policy = RetryPolicy(retry_on=ValueError, initial_interval=0.0, jitter=False)
    builder = StateGraph(State).add_node("node", node, retry_policy=policy)
    builder.add_edge(START, "node")
    try:
        builder.compile().invoke({})
    except KeyError:
        return len(calls)
    return None


@case
def test_a_list_of_retry_policies_first_match_wins():
    import operator
    from typing import Annotated

    from langgraph.graph import START, StateGraph
    from langgraph.types import RetryPolicy
    from typing_extensions import TypedDict

    class State(TypedDict):
        log: Annotated[list, operator.add]

    def run(errors):
        calls = []

        def flaky(state: State):
            calls.append(1)
            if len(calls) <= len(errors):
                raise errors[len(calls) - 1]
            return {"log": ["ok"]}

        policies = [
            RetryPolicy(retry_on=ValueError, max_attempts=5, initial_interval=0.0, jitter=False),
            RetryPolicy(retry_on=KeyError, max_attempts=2, initial_interval=0.0, jitter=False),
        ]
        builder = StateGraph(State).add_node("flaky", flaky, retry_policy=policies)
        builder.add_edge(START, "flaky")
        try:
            return builder.compile().invoke({"log": []}), len(calls)
        except Exception as exc:
            return type(exc).__name__, len(calls)

    assert run([ValueError("a"), KeyError("k")]) == ("KeyError", 2)
    return (
        run([ValueError("a"), ValueError("b"), ValueError("c")]),  # the first policy: 4 calls
        run([ValueError("a"), KeyError("k")]),  # the second: its max_attempts counts all
        run([TypeError("none matches")]),
    )


@case
def test_cache_policy_reuses_results():
    # the how-to "add node caching"
    from langgraph.cache.memory import InMemoryCache
    from langgraph.graph import START, StateGraph
    from langgraph.types import CachePolicy
    from typing_extensions import TypedDict

    class State(TypedDict):
        x: int
        result: int

    calls = []

    def expensive(state: State):
        calls.append(state["x"])
        return {"result": state["x"] * 2}

    builder = StateGraph(State)
    builder.add_node("expensive", expensive, cache_policy=CachePolicy(ttl=120))
    builder.add_edge(START, "expensive")
    graph = builder.compile(cache=InMemoryCache())
    results = [graph.invoke({"x": 5}), graph.invoke({"x": 5}), graph.invoke({"x": 6})]
    assert calls == [5, 6]
    return results, calls


@case
def test_cache_policy_key_func():
    from langgraph.cache.memory import InMemoryCache
    from langgraph.graph import START, StateGraph
    from langgraph.types import CachePolicy
    from typing_extensions import TypedDict

    class State(TypedDict):
        query: str
        noise: int
        answer: str

    calls = []

    def answer(state: State):
        calls.append(state["noise"])
        return {"answer": state["query"].upper()}

    policy = CachePolicy(key_func=lambda state: state["query"])
    builder = StateGraph(State).add_node("answer", answer, cache_policy=policy)
    builder.add_edge(START, "answer")
    graph = builder.compile(cache=InMemoryCache())
    out = [graph.invoke({"query": "hi", "noise": n}) for n in range(3)]
    assert calls == [0]
    return out, calls


@case
def test_cache_policy_without_a_cache_does_not_cache():
    from langgraph.graph import START, StateGraph
    from langgraph.types import CachePolicy
    from typing_extensions import TypedDict

    class State(TypedDict):
        x: int

    calls = []

    def node(state: State):
        calls.append(1)
        return {"x": state["x"] + 1}

    builder = StateGraph(State).add_node("node", node, cache_policy=CachePolicy())
    builder.add_edge(START, "node")
    graph = builder.compile()
    return graph.invoke({"x": 1}), graph.invoke({"x": 1}), len(calls)


@case
def test_defer_runs_after_the_other_branches():
    # test_pregel.py::test_in_one_fan_out_state_graph_defer_node
    import operator
    from typing import Annotated

    from langgraph.graph import StateGraph
    from typing_extensions import TypedDict

    def sorted_add(x: list[str], y: list[str]) -> list[str]:
        return sorted(operator.add(x, y))

    class State(TypedDict, total=False):
        query: str
        answer: str
        docs: Annotated[list[str], sorted_add]

    def run(use_waiting_edge):
        workflow = StateGraph(State)

        def rewrite_query(data: State) -> State:
            return {"query": f"query: {data['query']}"}

        def analyzer_one(data: State) -> State:
            return {"query": f"analyzed: {data['query']}"}

        def retriever_one(data: State) -> State:
            return {"docs": ["doc1", "doc2"]}

        def retriever_two(data: State) -> State:
            return {"docs": ["doc3", "doc4"]}

        def qa(data: State) -> State:
            return {"answer": ",".join(data["docs"])}

        workflow.add_node(rewrite_query)
        workflow.add_node(analyzer_one)
        workflow.add_node(retriever_one)
        workflow.add_node(retriever_two)
        workflow.add_node(qa, defer=True)
        workflow.set_entry_point("rewrite_query")
        workflow.add_edge("rewrite_query", "retriever_one")
        workflow.add_edge("retriever_one", "analyzer_one")
        workflow.add_edge("rewrite_query", "retriever_two")
        if use_waiting_edge:
            workflow.add_edge(["retriever_one", "retriever_two"], "qa")
        else:
            workflow.add_edge("retriever_one", "qa")
            workflow.add_edge("retriever_two", "qa")
        workflow.set_finish_point("qa")
        app = workflow.compile()
        assert app.invoke({"query": "what is weather in sf"}) == {
            "query": "analyzed: query: what is weather in sf",
            "docs": ["doc1", "doc2", "doc3", "doc4"],
            "answer": "doc1,doc2,doc3,doc4",
        }
        return (
            app.invoke({"query": "what is weather in sf"}),
            [*app.stream({"query": "what is weather in sf"}, stream_mode="updates")],
        )

    return run(False), run(True)


@case
def test_defer_waits_for_branches_of_different_lengths():
    import operator
    from typing import Annotated

    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        log: Annotated[list, operator.add]

    builder = StateGraph(State)
    builder.add_node("a", lambda s: {"log": ["a"]})
    builder.add_node("b", lambda s: {"log": ["b"]})
    builder.add_node("b2", lambda s: {"log": ["b2"]})
    builder.add_node("b3", lambda s: {"log": ["b3"]})
    builder.add_node("c", lambda s: {"log": [f"c saw {len(s['log'])}"]}, defer=True)
    builder.add_edge(START, "a")
    builder.add_edge(START, "b")
    builder.add_edge("b", "b2")
    builder.add_edge("b2", "b3")
    builder.add_edge("a", "c")
    builder.add_edge("b3", "c")
    builder.add_edge("c", END)
    out = builder.compile().invoke({"log": []})
    assert out == {"log": ["a", "b", "b2", "b3", "c saw 4"]}
    return out


@case
def test_command_goto_without_annotation_compiles():
    # a node reached only by an unannotated Command(goto=...): LangGraph accepts it
    from langgraph.graph import START, StateGraph
    from langgraph.types import Command
    from typing_extensions import TypedDict

    class State(TypedDict):
        n: int

    def jump(state: State):
        return Command(goto="target", update={"n": 5})

    def target(state: State):
        return {"n": state["n"] * 2}

    builder = StateGraph(State)
    builder.add_node(jump)
    builder.add_node(target)
    builder.add_edge(START, "jump")
    return builder.compile().invoke({"n": 0})


@case
def test_command_with_literal_annotation():
    # the Command how-to: routing and updating from one node
    from typing import Literal

    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command
    from typing_extensions import TypedDict

    class State(TypedDict):
        foo: str

    def node_a(state: State) -> Command[Literal["node_b", "node_c"]]:
        goto = "node_b" if state["foo"] == "go b" else "node_c"
        return Command(update={"foo": "a"}, goto=goto)

    def node_b(state: State):
        return {"foo": state["foo"] + "|b"}

    def node_c(state: State):
        return {"foo": state["foo"] + "|c"}

    builder = StateGraph(State)
    builder.add_edge(START, "node_a")
    builder.add_node(node_a)
    builder.add_node(node_b)
    builder.add_node(node_c)
    builder.add_edge("node_b", END)
    builder.add_edge("node_c", END)
    graph = builder.compile()
    return graph.invoke({"foo": "go b"}), graph.invoke({"foo": "go c"})


@case
def test_destinations_declare_where_a_command_goes():
    from langgraph.graph import START, StateGraph
    from langgraph.types import Command
    from typing_extensions import TypedDict

    class State(TypedDict):
        route: str
        out: str

    def router(state: State):
        return Command(goto=state["route"])

    builder = StateGraph(State)
    builder.add_node("router", router, destinations=("left", "right"))
    builder.add_node("left", lambda s: {"out": "went left"})
    builder.add_node("right", lambda s: {"out": "went right"})
    builder.add_edge(START, "router")
    graph = builder.compile()
    return graph.invoke({"route": "left"}), graph.invoke({"route": "right"})


@case
def test_a_list_of_commands():
    import operator
    from typing import Annotated

    from langgraph.graph import START, StateGraph
    from langgraph.types import Command
    from typing_extensions import TypedDict

    class State(TypedDict):
        log: Annotated[list, operator.add]

    def fan(state: State):
        return [Command(goto="y"), Command(goto="z", update={"log": ["x"]})]

    builder = StateGraph(State)
    builder.add_node("x", fan)
    builder.add_node("y", lambda s: {"log": ["y"]})
    builder.add_node("z", lambda s: {"log": ["z"]})
    builder.add_edge(START, "x")
    out = builder.compile().invoke({"log": []})
    assert out == {"log": ["x", "y", "z"]}
    return out


@case
def test_a_list_of_commands_and_updates():
    import operator
    from typing import Annotated

    from langgraph.graph import START, StateGraph
    from langgraph.types import Command
    from typing_extensions import TypedDict

    class State(TypedDict):
        log: Annotated[list, operator.add]

    builder = StateGraph(State)
    builder.add_node("x", lambda s: [Command(update={"log": [3]}, goto="m"), {"log": [4]}])
    builder.add_node("m", lambda s: {"log": [9]})
    builder.add_edge(START, "x")
    return builder.compile().invoke({"log": []})


@case
def test_command_goto_send_list():
    import operator
    from typing import Annotated

    from langgraph.graph import START, StateGraph
    from langgraph.types import Command, Send
    from typing_extensions import TypedDict

    class State(TypedDict):
        items: list[int]
        done: Annotated[list[int], operator.add]

    def split(state: State):
        return Command(goto=[Send("work", {"item": i}) for i in state["items"]])

    def work(arg):
        return {"done": [arg["item"] * 10]}

    builder = StateGraph(State)
    builder.add_node(split)
    builder.add_node(work)
    builder.add_edge(START, "split")
    return builder.compile().invoke({"items": [1, 2, 3]})


@case
def test_command_parent_from_a_subgraph():
    # the Command how-to: "navigate to a node in a parent graph"
    import operator
    from typing import Annotated

    from langgraph.graph import START, StateGraph
    from langgraph.types import Command
    from typing_extensions import TypedDict

    class State(TypedDict):
        foo: Annotated[str, operator.add]

    def node_a(state: State):
        value = "b" if "pick b" in state["foo"] else "c"
        return Command(update={"foo": value}, goto=f"node_{value}", graph=Command.PARENT)

    subgraph = StateGraph(State).add_node(node_a).add_edge(START, "node_a").compile()

    def node_b(state: State):
        return {"foo": "B"}

    def node_c(state: State):
        return {"foo": "C"}

    builder = StateGraph(State)
    builder.add_edge(START, "subgraph")
    builder.add_node("subgraph", subgraph)
    builder.add_node(node_b)
    builder.add_node(node_c)
    graph = builder.compile()
    assert graph.invoke({"foo": "pick b:"}) == {"foo": "pick b:bB"}
    return graph.invoke({"foo": "pick b:"}), graph.invoke({"foo": "other:"})


@case
def test_command_parent_drops_the_subgraphs_earlier_writes():
    import operator
    from typing import Annotated

    from langgraph.graph import START, StateGraph
    from langgraph.types import Command
    from typing_extensions import TypedDict

    class Outer(TypedDict):
        log: Annotated[list, operator.add]

    class Inner(TypedDict):
        log: Annotated[list, operator.add]
        note: str

    inner = StateGraph(Inner)
    inner.add_node("i1", lambda s: {"log": ["i1"], "note": "kept inside"})
    inner.add_node(
        "i2", lambda s: Command(graph=Command.PARENT, goto="after", update={"log": ["jump"]})
    )
    inner.add_edge(START, "i1")
    inner.add_edge("i1", "i2")
    outer = StateGraph(Outer)
    outer.add_node("sub", inner.compile())
    outer.add_node("after", lambda s: {"log": ["after"]})
    outer.add_edge(START, "sub")
    out = outer.compile().invoke({"log": []})
    assert out == {"log": ["jump", "after"]}
    return out


@case
def test_join_edge_into_end():
    import operator
    from typing import Annotated

    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        log: Annotated[list, operator.add]

    builder = StateGraph(State)
    builder.add_node("x", lambda s: {"log": ["x"]})
    builder.add_node("y", lambda s: {"log": ["y"]})
    builder.add_edge(START, "x")
    builder.add_edge(START, "y")
    builder.add_edge(["x", "y"], END)
    return builder.compile().invoke({"log": []})


@case
def test_unreachable_node_compiles():
    import warnings

    from langgraph.graph import START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        n: int

    builder = StateGraph(State)
    builder.add_node("used", lambda s: {"n": s["n"] + 1})
    builder.add_node("orphan", lambda s: {"n": -1})
    builder.add_edge(START, "used")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # wfkit warns that 'orphan' never runs
        graph = builder.compile()
    return graph.invoke({"n": 1})


@case
def test_add_node_metadata_and_decorator_form():
    from langgraph.graph import START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        n: int

    builder = StateGraph(State)

    def double(state: State):
        return {"n": state["n"] * 2}

    builder.add_node(double, metadata={"owner": "team a"})
    builder.add_edge(START, "double")
    return builder.compile().invoke({"n": 21})


@case
def test_conditional_edge_path_map_and_end():
    import operator
    from typing import Annotated

    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        n: int
        log: Annotated[list, operator.add]

    def step(state: State):
        return {"n": state["n"] + 1, "log": [state["n"]]}

    def again(state: State):
        return "more" if state["n"] < 3 else "stop"

    builder = StateGraph(State)
    builder.add_node(step)
    builder.add_edge(START, "step")
    builder.add_conditional_edges("step", again, {"more": "step", "stop": END})
    return builder.compile().invoke({"n": 0})


@case
def test_updates_stream_of_commands_and_models():
    import operator
    from typing import Annotated

    from langgraph.graph import START, StateGraph
    from langgraph.types import Command
    from pydantic import BaseModel

    class State(BaseModel):
        log: Annotated[list, operator.add] = []
        n: int = 0
        note: str | None = None

    builder = StateGraph(State)
    builder.add_node("x", lambda s: [Command(update={"log": [3]}, goto="m"), {"log": [4], "n": 1}])
    builder.add_node("m", lambda s: Command(update=State(note="from m")))
    builder.add_node("k", lambda s: State(n=5))
    builder.add_edge(START, "x")
    builder.add_edge("m", "k")
    return list(builder.compile().stream({}, stream_mode="updates"))
