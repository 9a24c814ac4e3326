"""LangGraph compatibility: state schemas (TypedDict from ``typing`` and
``typing_extensions``, ``Required``/``NotRequired``, input and output
schemas, node input schemas and private channels, pydantic and dataclass
states, subgraph keys). Ported from LangGraph's how-tos on state and its
tests (test_pregel.py, test_pydantic.py); see tests/compat/harness.py.

No ``from __future__ import annotations`` here: the schemas are classes
local to each case, whose annotations must be evaluated where they are
written (LangGraph reads them with ``get_type_hints`` too)."""

from tests.compat.harness import case


@case
def test_typing_extensions_typeddict_state():
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        topic: str
        joke: str

    def write(state: State):
        return {"joke": f"a joke about {state['topic']}"}

    builder = StateGraph(State)
    builder.add_node("write", write)
    builder.add_edge(START, "write")
    builder.add_edge("write", END)
    return builder.compile().invoke({"topic": "cats"})


@case
def test_typing_extensions_reducers_and_partial_input():
    import operator
    from typing import Annotated

    from langgraph.graph import START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        count: int
        log: Annotated[list[str], operator.add]

    def step(state: State):
        return {"count": state.get("count", 0) + 1, "log": [f"step {state.get('count', 0)}"]}

    builder = StateGraph(State)
    builder.add_node(step)
    builder.add_edge(START, "step")
    graph = builder.compile()
    return graph.invoke({}), graph.invoke({"count": 5, "log": ["start"]})


@case
def test_required_and_not_required_keys():
    from typing import NotRequired, Required

    from langgraph.graph import START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict, total=False):
        question: Required[str]
        answer: NotRequired[str]

    def respond(state: State):
        assert "answer" not in state
        return {"answer": state["question"].upper()}

    graph = StateGraph(State).add_node(respond).add_edge(START, "respond").compile()
    return graph.invoke({"question": "why?"})


@case
def test_input_and_output_schemas():
    # the how-to "define input and output schemas"
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class InputState(TypedDict):
        question: str

    class OutputState(TypedDict):
        answer: str

    class OverallState(InputState, OutputState):
        pass

    def answer_node(state: InputState):
        return {"answer": "bye", "question": state["question"]}

    builder = StateGraph(OverallState, input_schema=InputState, output_schema=OutputState)
    builder.add_node(answer_node)
    builder.add_edge(START, "answer_node")
    builder.add_edge("answer_node", END)
    graph = builder.compile()
    assert graph.invoke({"question": "hi"}) == {"answer": "bye"}
    return graph.invoke({"question": "hi"})


@case
def test_input_schema_filters_the_input():
    from langgraph.graph import START, StateGraph
    from typing_extensions import TypedDict

    class In(TypedDict):
        question: str

    class State(TypedDict):
        question: str
        notes: str

    seen = []

    def node(state: State):
        seen.append(dict(state))
        return {"notes": "from the node"}

    graph = StateGraph(State, input_schema=In).add_node(node).add_edge(START, "node").compile()
    # "notes" is a state key, but not an input key: it is left out of the input
    out = graph.invoke({"question": "q", "notes": "from the input"})
    assert seen == [{"question": "q"}]
    return out, seen


@case
def test_multiple_schemas_and_private_state():
    # the "multiple schemas" example of LangGraph's graph API page
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class InputState(TypedDict):
        user_input: str

    class OutputState(TypedDict):
        graph_output: str

    class OverallState(TypedDict):
        foo: str
        user_input: str
        graph_output: str

    class PrivateState(TypedDict):
        bar: str

    def node_1(state: InputState) -> OverallState:
        return {"foo": state["user_input"] + " name"}

    def node_2(state: OverallState) -> PrivateState:
        return {"bar": state["foo"] + " is"}

    def node_3(state: PrivateState) -> OutputState:
        return {"graph_output": state["bar"] + " Lance"}

    builder = StateGraph(OverallState, input_schema=InputState, output_schema=OutputState)
    builder.add_node("node_1", node_1)
    builder.add_node("node_2", node_2)
    builder.add_node("node_3", node_3)
    builder.add_edge(START, "node_1")
    builder.add_edge("node_1", "node_2")
    builder.add_edge("node_2", "node_3")
    builder.add_edge("node_3", END)
    graph = builder.compile()
    assert graph.invoke({"user_input": "My"}) == {"graph_output": "My name is Lance"}
    return graph.invoke({"user_input": "My"})


@case
def test_private_channel_between_two_nodes():
    # the how-to "pass private state between nodes"
    from langgraph.graph import START, StateGraph
    from typing_extensions import TypedDict

    class OverallState(TypedDict):
        a: str

    class Node1Output(TypedDict):
        private_data: str

    class Node2Input(TypedDict):
        private_data: str

    seen = []

    def node_1(state: OverallState) -> Node1Output:
        return {"private_data": "set by node_1"}

    def node_2(state: Node2Input) -> OverallState:
        seen.append(dict(state))
        return {"a": "set by node_2"}

    def node_3(state: OverallState) -> OverallState:
        seen.append(dict(state))
        return {"a": state["a"] + ", then node_3"}

    builder = StateGraph(OverallState).add_sequence([node_1, node_2, node_3])
    builder.add_edge(START, "node_1")
    graph = builder.compile()
    out = graph.invoke({"a": "start"})
    assert seen == [{"private_data": "set by node_1"}, {"a": "set by node_2"}]
    return out, seen


@case
def test_node_input_schema_keyword():
    from langgraph.graph import START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        question: str
        context: str
        answer: str

    class Reads(TypedDict):
        question: str

    seen = []

    def node(state):
        seen.append(dict(state))
        return {"answer": state["question"] + "!"}

    builder = StateGraph(State)
    builder.add_node("node", node, input_schema=Reads)
    builder.add_edge(START, "node")
    return builder.compile().invoke({"question": "q", "context": "c"}), seen


@case
def test_node_schemas_custom_output():
    # test_pregel.py::test_node_schemas_custom_output, with operator.add for messages
    import operator
    from typing import Annotated

    from langgraph.graph import START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        hello: str
        bye: str
        messages: Annotated[list[str], operator.add]

    class Output(TypedDict):
        messages: list[str]

    class StateForA(TypedDict):
        hello: str
        messages: Annotated[list[str], operator.add]

    class StateForB(TypedDict):
        bye: str
        now: int

    class StateForC(TypedDict):
        hello: str
        now: int

    def node_a(state: StateForA) -> State:
        assert state == {"hello": "there", "messages": ["hello"]}

    def node_b(state: StateForB):
        assert state == {"bye": "world"}
        return {"now": 123, "hello": "again"}

    def node_c(state: StateForC) -> StateForC:
        assert state == {"hello": "again", "now": 123}

    builder = StateGraph(State, output_schema=Output)
    builder.add_node("a", node_a)
    builder.add_node("b", node_b)
    builder.add_node("c", node_c)
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    graph = builder.compile()
    return graph.invoke({"hello": "there", "bye": "world", "messages": ["hello"]})


@case
def test_pydantic_state():
    from langgraph.graph import END, START, StateGraph
    from pydantic import BaseModel

    class State(BaseModel):
        text: str
        count: int = 0

    seen = []

    def node(state: State):
        seen.append((type(state).__name__, state.text, state.count))
        return {"count": state.count + 1}

    builder = StateGraph(State)
    builder.add_node(node)
    builder.add_edge(START, "node")
    builder.add_edge("node", END)
    graph = builder.compile()
    # a default is what the node's instance has, not a state value until written
    return graph.invoke({"text": "a"}), graph.invoke(State(text="b", count=5)), seen


@case
def test_pydantic_defaults_are_not_returned_until_written():
    from langgraph.graph import START, StateGraph
    from pydantic import BaseModel

    class State(BaseModel):
        a: int
        b: str = "x"

    def node(state: State):
        assert state.b == "x"
        return {"a": state.a + 1}

    graph = StateGraph(State).add_node(node).add_edge(START, "node").compile()
    assert graph.invoke({"a": 1}) == {"a": 2}
    return graph.invoke({"a": 1}), graph.invoke(State(a=5))


@case
def test_pydantic_node_returns_a_model():
    # test_pregel.py::test_pydantic_none_state_update and _update_command
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command
    from pydantic import BaseModel

    class One(BaseModel):
        foo: str | None

    def set_none(state: One) -> One:
        return One(foo=None)

    first = StateGraph(One).add_node(set_none).add_edge(START, "set_none").compile()

    class Two(BaseModel):
        foo: str | None = None
        bar: str | None = None

    def node_a(state: Two):
        return Two(foo="foo")

    def node_b(state: Two):
        return Command(update=Two(bar="bar"))

    builder = StateGraph(Two)
    builder.add_node(node_a)
    builder.add_node(node_b)
    builder.add_edge(START, "node_a")
    builder.add_edge("node_a", "node_b")
    builder.add_edge("node_b", END)
    return first.invoke({"foo": ""}), builder.compile().invoke(Two())


@case
def test_command_update_as_pydantic_or_dataclass():
    # test_pregel.py::test_command_pydantic_dataclass
    from dataclasses import dataclass
    from typing import Literal

    from langgraph.graph import START, StateGraph
    from langgraph.types import Command
    from pydantic import BaseModel

    class PydanticState(BaseModel):
        foo: str

    @dataclass
    class DataclassState:
        foo: str

    results = []
    for State in (PydanticState, DataclassState):

        def node_a(state, State=State) -> Command[Literal["node_b"]]:
            return Command(update=State(foo="foo"), goto="node_b")

        def node_b(state):
            return {"foo": state.foo + "bar"}

        builder = StateGraph(State)
        builder.add_edge(START, "node_a")
        builder.add_node(node_a)
        builder.add_node(node_b)
        results.append(builder.compile().invoke(State(foo="")))
    return results


@case
def test_dataclass_state():
    import operator
    from dataclasses import dataclass, field
    from typing import Annotated

    from langgraph.graph import START, StateGraph

    @dataclass
    class State:
        n: int = 0
        tag: str = "t"
        log: Annotated[list, operator.add] = field(default_factory=list)

    def node(state: State):
        return {"n": state.n + 1, "log": [state.tag]}

    graph = StateGraph(State).add_node(node).add_edge(START, "node").compile()
    return graph.invoke({}), graph.invoke(State(n=3))


@case
def test_pydantic_reducer_field():
    import operator
    from typing import Annotated

    from langgraph.graph import START, StateGraph
    from pydantic import BaseModel

    class State(BaseModel):
        log: Annotated[list[str], operator.add] = []
        n: int = 0

    def node(state: State):
        return {"n": state.n + 1, "log": [f"n was {state.n}"]}

    graph = StateGraph(State).add_node(node).add_edge(START, "node").compile()
    return graph.invoke({}), graph.invoke({"n": 2, "log": ["in"]})


@case
def test_subgraph_inner_keys_stay_inside():
    from langgraph.graph import START, StateGraph
    from typing_extensions import TypedDict

    class Parent(TypedDict):
        question: str
        answer: str

    class Child(TypedDict):
        question: str
        answer: str
        scratch: str

    def think(state: Child):
        return {"scratch": "thinking about " + state["question"]}

    def reply(state: Child):
        return {"answer": state["scratch"] + ": 42"}

    child = StateGraph(Child).add_sequence([think, reply])
    child.add_edge(START, "think")
    parent = StateGraph(Parent)
    parent.add_node("child", child.compile())
    parent.add_edge(START, "child")
    return parent.compile().invoke({"question": "life"})


@case
def test_subgraph_with_a_different_schema_sharing_a_key():
    # the how-to "use subgraphs": shared key "foo", the child's own "bar"
    from langgraph.graph import START, StateGraph
    from typing_extensions import TypedDict

    class ParentState(TypedDict):
        foo: str

    class SubgraphState(TypedDict):
        foo: str
        bar: str

    def subgraph_node_1(state: SubgraphState):
        return {"bar": "bar"}

    def subgraph_node_2(state: SubgraphState):
        return {"foo": state["foo"] + state["bar"]}

    sub = StateGraph(SubgraphState)
    sub.add_node(subgraph_node_1)
    sub.add_node(subgraph_node_2)
    sub.add_edge(START, "subgraph_node_1")
    sub.add_edge("subgraph_node_1", "subgraph_node_2")

    def node_1(state: ParentState):
        return {"foo": "hi! " + state["foo"]}

    builder = StateGraph(ParentState)
    builder.add_node("node_1", node_1)
    builder.add_node("node_2", sub.compile())
    builder.add_edge(START, "node_1")
    builder.add_edge("node_1", "node_2")
    return builder.compile().invoke({"foo": "foo"})


@case
def test_unknown_keys_are_left_out():
    import warnings

    from langgraph.graph import START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        a: int

    def node(state: State):
        return {"a": state["a"] + 1, "typo": 2}

    graph = StateGraph(State).add_node(node).add_edge(START, "node").compile()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # wfkit warns about "extra" and "typo"
        return graph.invoke({"a": 0, "extra": 1})


@case
def test_pydantic_state_with_input_and_output_models():
    # test_pregel.py::test_in_one_fan_out_state_graph_waiting_edge_custom_state_class_pydantic_input
    import operator
    from typing import Annotated

    from langgraph.graph import StateGraph
    from pydantic import BaseModel

    def sorted_add(x: list[str], y: list[str]) -> list[str]:
        return sorted(operator.add(x, y))

    class InnerObject(BaseModel):
        yo: int

    class QueryModel(BaseModel):
        query: str

    class State(QueryModel):
        inner: InnerObject
        answer: str | None = None
        docs: Annotated[list[str], sorted_add]

    class StateUpdate(BaseModel):
        query: str | None = None
        answer: str | None = None
        docs: list[str] | None = None

    class Input(QueryModel):
        inner: InnerObject

    class Output(BaseModel):
        answer: str
        docs: list[str]

    def rewrite_query(data: State) -> State:
        return {"query": f"query: {data.query}"}

    def analyzer_one(data: State) -> State:
        return StateUpdate(query=f"analyzed: {data.query}")

    def retriever_one(data: State) -> State:
        return {"docs": ["doc1", "doc2"]}

    def retriever_two(data: State) -> State:
        return {"docs": ["doc3", "doc4"]}

    def qa(data: State) -> State:
        return {"answer": ",".join(data.docs)}

    def decider(data: State) -> str:
        assert isinstance(data, State)
        return "retriever_two"

    workflow = StateGraph(State, input_schema=Input, output_schema=Output)
    workflow.add_node("rewrite_query", rewrite_query)
    workflow.add_node("analyzer_one", analyzer_one)
    workflow.add_node("retriever_one", retriever_one)
    workflow.add_node("retriever_two", retriever_two)
    workflow.add_node("qa", qa)
    workflow.set_entry_point("rewrite_query")
    workflow.add_edge("rewrite_query", "analyzer_one")
    workflow.add_edge("analyzer_one", "retriever_one")
    workflow.add_conditional_edges("rewrite_query", decider, {"retriever_two": "retriever_two"})
    workflow.add_edge(["retriever_one", "retriever_two"], "qa")
    workflow.set_finish_point("qa")
    app = workflow.compile()
    given = Input(query="what is weather in sf", inner=InnerObject(yo=1))
    out = app.invoke(given)
    assert out == {"docs": ["doc1", "doc2", "doc3", "doc4"], "answer": "doc1,doc2,doc3,doc4"}
    return out, [*app.stream(given, stream_mode="updates")]


@case
def test_graph_validation_with_command():
    # test_pregel.py::test_graph_validation_with_command
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command
    from typing_extensions import TypedDict

    class State(TypedDict):
        foo: str
        bar: str

    def node_a(state: State):
        return Command(goto="b", update={"foo": "bar"})

    def node_b(state: State):
        return Command(goto=END, update={"bar": "baz"})

    builder = StateGraph(State)
    builder.add_node("a", node_a)
    builder.add_node("b", node_b)
    builder.add_edge(START, "a")
    graph = builder.compile()
    assert graph.invoke({"foo": ""}) == {"foo": "bar", "bar": "baz"}
    return graph.invoke({"foo": ""})
