"""State schemas: TypedDict, dataclass and pydantic; reducers; input checks."""

from __future__ import annotations

import dataclasses
import operator
from typing import Annotated, Any, NotRequired, Required, TypedDict

import pydantic
import pytest
import typing_extensions

from wfkit import (
    END,
    START,
    Command,
    GraphValidationError,
    InvalidInputError,
    InvalidUpdateError,
    StateGraph,
)
from wfkit.state import Schema, StateKeyWarning, is_typeddict, stream_update, update_pairs


def one_node(schema: Any, fn: Any) -> Any:
    g = StateGraph(schema)
    g.add_node("node", fn).add_edge(START, "node").add_edge("node", END)
    return g.compile()


class Plain(TypedDict):
    a: int
    items: Annotated[list[int], operator.add]


class Simple(TypedDict):
    a: int


def test_keys_without_reducer_are_overwritten_and_reducers_merge() -> None:
    app = one_node(Plain, lambda s: {"a": s["a"] + 1, "items": [s["a"]]})
    assert app.invoke({"a": 1, "items": [0]}) == {"a": 2, "items": [0, 1]}


def test_reducer_key_starts_empty() -> None:
    app = one_node(Plain, lambda s: {"items": [len(s["items"])]})
    assert app.invoke({"a": 0}) == {"a": 0, "items": [0]}


def keep_max(old: int, new: int) -> int:
    return max(old, new)


class Best(TypedDict):
    best: Annotated[int, keep_max]


def test_custom_reducer_function() -> None:
    app = one_node(Best, lambda s: {"best": 3})
    assert app.invoke({"best": 7}) == {"best": 7}
    assert app.invoke({"best": 1}) == {"best": 3}


def test_plain_typeddict_keys_are_optional_required_marked_keys_are_not() -> None:
    class S(TypedDict, total=False):
        question: Required[str]
        answer: str

    app = one_node(S, lambda s: {"answer": s["question"].upper()})
    assert app.invoke({"question": "hi"}) == {"question": "hi", "answer": "HI"}
    with pytest.raises(InvalidInputError, match=r"missing required key\(s\) 'question'"):
        app.invoke({"answer": "x"})
    assert one_node(Plain, lambda s: None).invoke({}) == {"items": []}


def test_unknown_input_key_is_left_out_with_a_warning() -> None:
    app = one_node(Plain, lambda s: None)
    with pytest.warns(StateKeyWarning, match=r"the input wrote key\(s\) 'b'.*known keys: a, items"):
        assert app.invoke({"a": 1, "b": 2}) == {"a": 1, "items": []}


def test_input_must_be_a_mapping() -> None:
    with pytest.raises(InvalidInputError, match="must be a dict of state keys"):
        one_node(Plain, lambda s: None).invoke([1, 2])


@pytest.mark.parametrize("schema", [Plain, Simple], ids=["reducers", "no-reducers"])
def test_update_with_unknown_key_is_left_out_with_a_warning(schema: Any) -> None:
    app = one_node(schema, lambda s: {"a": 2, "b": 1})
    with pytest.warns(StateKeyWarning, match=r"node 'node' wrote key\(s\) 'b'.*Add them to"):
        out = app.invoke({"a": 1})
    assert out["a"] == 2 and "b" not in out


@pytest.mark.parametrize("bad", [5, "text", [("a", 1)], {1, 2}])
def test_node_returning_non_update_is_named(bad: Any) -> None:
    app = one_node(Plain, lambda s: bad)
    with pytest.raises(
        InvalidUpdateError, match=r"node 'node' returned .*a node must return a dict"
    ):
        app.invoke({"a": 1})


@dataclasses.dataclass
class DC:
    question: str
    tries: int = 0
    notes: Annotated[list[str], operator.add] = dataclasses.field(default_factory=list)


def test_dataclass_schema_nodes_get_instances_and_defaults_apply() -> None:
    seen: list[Any] = []

    def node(state: DC) -> dict[str, Any]:
        seen.append(state)
        return {"tries": state.tries + 1, "notes": [state.question]}

    app = one_node(DC, node)
    assert app.invoke({"question": "q"}) == {"question": "q", "tries": 1, "notes": ["q"]}
    assert isinstance(seen[0], DC)
    with pytest.raises(InvalidInputError, match="'question'"):
        app.invoke({"tries": 1})
    assert app.invoke(DC(question="z", tries=5)) == {"question": "z", "tries": 6, "notes": ["z"]}


class PM(pydantic.BaseModel):
    question: str
    score: float = 0.0
    notes: Annotated[list[str], operator.add] = []


def test_pydantic_schema_validates_input_and_nodes_get_models() -> None:
    seen: list[Any] = []

    def node(state: PM) -> dict[str, Any]:
        seen.append(state)
        return {"score": state.score + 0.5, "notes": ["n"]}

    app = one_node(PM, node)
    assert app.invoke({"question": "q", "score": "1.5"}) == {
        "question": "q",
        "score": 2.0,
        "notes": ["n"],
    }
    assert isinstance(seen[0], PM)
    with pytest.raises(InvalidInputError, match="does not validate against PM"):
        app.invoke({"question": "q", "score": "high"})
    with pytest.raises(InvalidInputError, match="'question'"):
        app.invoke({"score": 1.0})


def test_not_required_and_nested_annotations() -> None:
    class S(TypedDict):
        a: NotRequired[Annotated[list[int], operator.add]]

    app = one_node(S, lambda s: {"a": [1]})
    assert app.invoke({"a": [0]}) == {"a": [0, 1]}


def test_reducer_error_names_key_and_node() -> None:
    class S(TypedDict):
        items: Annotated[list[int], operator.add]

    app = one_node(S, lambda s: {"items": 5})
    with pytest.raises(TypeError) as info:
        app.invoke({"items": [1]})
    assert any("reducer of state key 'items'" in n and "'node'" in n for n in info.value.__notes__)


def test_state_passed_to_node_is_not_mutated_later() -> None:
    seen: list[dict[str, Any]] = []

    def first(state: dict[str, Any]) -> dict[str, Any]:
        seen.append(state)
        return {"a": 2}

    g = StateGraph(Plain)
    g.add_node("first", first).add_node("second", lambda s: {"a": 3})
    g.add_edge(START, "first").add_edge("first", "second")
    assert g.compile().invoke({"a": 1})["a"] == 3
    assert seen[0]["a"] == 1


def extend_in_place(old: list[str], new: list[str]) -> list[str]:
    old.extend(new)
    return old


class WithDefault(pydantic.BaseModel):
    notes: Annotated[list[str], extend_in_place] = []


def test_mutable_defaults_are_not_shared_between_runs() -> None:
    app = one_node(WithDefault, lambda s: {"notes": ["run"]})
    assert app.invoke({}) == {"notes": ["run"]}
    assert app.invoke({}) == {"notes": ["run"]}
    assert WithDefault().notes == []


# ---------------------------------------------------------------- LangGraph's schema rules


class TE(typing_extensions.TypedDict, total=False):
    a: typing_extensions.Required[int]
    b: typing_extensions.NotRequired[str]


def test_typing_extensions_typeddict_is_a_schema() -> None:
    assert is_typeddict(TE) and not dataclasses.is_dataclass(TE)
    schema = Schema(TE)
    assert schema.kind == "typeddict" and schema.required == {"a"}
    assert one_node(TE, lambda s: {"b": str(s["a"])}).invoke({"a": 1}) == {"a": 1, "b": "1"}


class Question(TypedDict):
    question: str


class Answer(TypedDict):
    answer: str


class Overall(TypedDict):
    question: str
    answer: str
    notes: str


def test_input_and_output_schemas_filter_input_and_result() -> None:
    g = StateGraph(Overall, input_schema=Question, output_schema=Answer)
    seen: list[dict[str, Any]] = []

    def node(s: Overall) -> dict[str, str]:
        seen.append(dict(s))
        return {"answer": s["question"] + "!", "notes": "private to the run"}

    app = g.add_node("node", node).add_edge(START, "node").compile()
    # "notes" is a state key, not an input key: left out (no warning), as LangGraph does
    assert app.invoke({"question": "q", "notes": "x"}) == {"answer": "q!"}
    assert seen == [{"question": "q"}]


def test_input_schema_required_keys_are_checked() -> None:
    class In(TypedDict, total=False):
        question: Required[str]

    g = StateGraph(Overall, input_schema=In).add_node("n", lambda s: None).add_edge(START, "n")
    with pytest.raises(
        InvalidInputError, match="required key\\(s\\) 'question' of input_schema In"
    ):
        g.compile().invoke({})


class Private(TypedDict):
    secret: str


def test_node_input_annotation_declares_private_channels() -> None:
    # (the annotations are strings here, resolved in this module's globals)
    def write(s: Overall) -> Private:
        return {"secret": "s3"}

    def read(s: Private) -> dict[str, str]:
        assert s == {"secret": "s3"}  # only its own keys
        return {"answer": s["secret"]}

    def after(s: Overall) -> None:
        assert "secret" not in s  # a state-schema node sees the state schema's keys

    g = StateGraph(Overall).add_sequence([write, read, after]).add_edge(START, "write")
    app = g.compile()
    assert app.topology.schema.keys == {"question", "answer", "notes", "secret"}
    assert app.invoke({"question": "q"}) == {"question": "q", "answer": "s3"}


def test_two_schemas_with_different_reducers_for_one_key_are_refused() -> None:
    class A(TypedDict):
        items: Annotated[list[int], operator.add]

    class B(TypedDict):
        items: Annotated[list[int], keep_max]

    with pytest.raises(GraphValidationError, match="'items' has two different reducers"):
        StateGraph(A, output_schema=B)


def test_non_reducer_defaults_are_not_state_values_until_written() -> None:
    @dataclasses.dataclass
    class D:
        n: int = 0
        tag: str = "t"
        log: Annotated[list[str], operator.add] = dataclasses.field(default_factory=list)

    app = one_node(D, lambda s: {"n": s.n + 1, "log": [s.tag]})
    assert app.invoke({}) == {"n": 1, "log": ["t"]}
    assert app.invoke(D(n=3)) == {"n": 4, "tag": "t", "log": ["t"]}


def test_update_pairs_follow_langgraphs_none_rule() -> None:
    class M(pydantic.BaseModel):
        a: int | None = None
        b: int | None = 1
        c: int = 0

    assert update_pairs(M(), ["a", "b", "c"]) == [("b", 1), ("c", 0)]
    assert update_pairs(M(a=None, b=None), ["a", "b", "c"]) == [("a", None), ("b", None), ("c", 0)]

    @dataclasses.dataclass
    class D:
        a: int | None = None
        b: int | None = None

    assert update_pairs(D(b=2), ["a", "b", "missing"]) == [("a", None), ("b", 2)]


def test_a_node_may_return_a_model_instance() -> None:
    class M(pydantic.BaseModel):
        foo: str | None = None
        bar: str | None = None

    app = one_node(M, lambda s: M(foo="foo"))
    assert app.invoke({"bar": "b"}) == {"foo": "foo", "bar": "b"}


def test_stream_update_shows_writes_as_langgraph_does() -> None:
    class M(pydantic.BaseModel):
        log: Annotated[list[int], operator.add] = []
        note: str | None = None

    schema = Schema(M)
    assert stream_update({"log": [1]}, schema) == {"log": [1]}
    assert stream_update(None, schema) is None
    assert stream_update(M(note="x"), schema) == {"log": [], "note": "x"}
    assert stream_update(Command(update=M(log=[2])), schema) == {"log": [2]}
    both = [Command(update={"log": [1]}), {"log": [2], "note": "n"}]
    assert stream_update(both, schema) == [{"log": [1]}, {"log": [2]}, {"note": "n"}]
    assert stream_update([Command(goto="a")], schema) is None
