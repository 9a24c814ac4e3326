"""Graph building and compile-time validation: every error names the thing
and says the fix."""

from __future__ import annotations

import itertools
import warnings
from typing import Any, Literal, TypedDict

import pytest

from tests.conftest import LogState, appender
from wfkit import END, START, Command, GraphValidationError, RetryPolicy, StateGraph
from wfkit.graph.topology import GraphWarning


def chain(*names: str) -> StateGraph:
    g = StateGraph(LogState)
    for name in names:
        g.add_node(appender(name))
    g.add_edge(START, names[0])
    for a, b in itertools.pairwise(names):
        g.add_edge(a, b)
    g.add_edge(names[-1], END)
    return g


def test_add_node_takes_name_from_function() -> None:
    g = StateGraph(LogState)
    g.add_node(appender("hello")).add_edge(START, "hello")
    assert g.compile().invoke({}) == {"log": ["hello"]}


def test_unknown_node_in_edge_is_named_with_suggestion() -> None:
    g = chain("fetch", "parse")
    g.add_edge("parse", "summarise")
    with pytest.raises(GraphValidationError, match=r"'summarise'.*add_node\('summarise'"):
        g.compile()
    g2 = chain("fetch", "parse")
    g2.add_edge("fetsh", "parse")
    with pytest.raises(GraphValidationError, match="Did you mean 'fetch'"):
        g2.compile()


def test_no_entry_point() -> None:
    g = StateGraph(LogState)
    g.add_node(appender("a"))
    with pytest.raises(GraphValidationError, match=r"no entry point.*add_edge\(START, 'a'\)"):
        g.compile()


def test_unreachable_node() -> None:
    g = chain("a", "b")
    g.add_node(appender("orphan"))
    with pytest.warns(GraphWarning, match="node 'orphan' is unreachable"):
        app = g.compile()  # compiled, as LangGraph compiles it
    assert app.invoke({}) == {"log": ["a", "b"]}


def test_node_reached_only_by_annotated_command_is_reachable() -> None:
    def jump(state: Any) -> Command[Literal["target"]]:
        return Command(goto="target")

    g = StateGraph(LogState)
    g.add_node("jump", jump).add_node(appender("target")).add_edge(START, "jump")
    assert g.compile().invoke({}) == {"log": ["target"]}


def test_open_router_disables_unreachable_check() -> None:
    g = StateGraph(LogState)
    g.add_node(appender("a")).add_node(appender("b"))
    g.add_conditional_edges(START, lambda s: "b")
    assert g.compile().invoke({}) == {"log": ["b"]}


def test_join_target_reachable_only_when_all_sources_are() -> None:
    g = StateGraph(LogState)
    for n in "abc":
        g.add_node(appender(n))
    g.add_edge(START, "a").add_edge(["a", "b"], "c")
    with pytest.warns(GraphWarning, match="'b' is unreachable"):
        g.compile()


def test_start_and_end_misuse() -> None:
    g = chain("a")
    g.add_edge("a", START)
    with pytest.raises(GraphValidationError, match="START cannot be a target"):
        g.compile()
    g2 = chain("a")
    g2.add_edge(END, "a")
    with pytest.raises(GraphValidationError, match="END cannot be a source"):
        g2.compile()


def test_router_path_map_target_must_exist() -> None:
    g = chain("a")
    g.add_conditional_edges("a", lambda s: "x", {"x": "missing"})
    with pytest.raises(GraphValidationError, match=r"router.*unknown node 'missing'"):
        g.compile()


def test_router_literal_annotation_target_must_exist() -> None:
    def route(state: Any) -> Literal["nowhere"]:
        return "nowhere"

    g = chain("a")
    g.add_conditional_edges("a", route)
    with pytest.raises(GraphValidationError, match="'nowhere'"):
        g.compile()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda g: g.add_node("a", appender("a")), "already in the graph"),
        (lambda g: g.add_node(START, appender("x")), "reserved"),
        (lambda g: g.add_node("x"), "needs a function"),
        (lambda g: g.add_node("x", 42), "not callable"),
        (lambda g: g.add_node("x", appender("x"), timeout=0), "timeout must be a positive"),
        (lambda g: g.add_node("x", appender("x"), retry=3), "must be a RetryPolicy"),
        (
            lambda g: g.add_node(
                "x", appender("x"), retry=RetryPolicy(), retry_policy=RetryPolicy()
            ),
            "not both",
        ),
        (lambda g: g.add_edge(["a", START], "b"), "join cannot start at START"),
        (lambda g: g.add_conditional_edges("a", "route"), "not callable"),
        (lambda g: g.add_conditional_edges("a", lambda s: 1, path_map=5), "path_map must be"),
    ],
)
def test_bad_builder_calls(call: Any, message: str) -> None:
    g = chain("a")
    with pytest.raises(GraphValidationError, match=message):
        call(g)


def test_schema_must_be_a_known_kind() -> None:
    class Plain:
        x: int

    with pytest.raises(GraphValidationError, match="not a TypedDict, dataclass or pydantic model"):
        StateGraph(Plain)
    with pytest.raises(GraphValidationError, match="needs a class"):
        StateGraph({"x": int})  # type: ignore[arg-type]


def test_interrupt_names_must_exist() -> None:
    with pytest.raises(
        GraphValidationError, match=r"compile\(interrupt_before=...\) names unknown node 'zz'"
    ):
        chain("a").compile(interrupt_before=["zz"])


def test_add_sequence_and_entry_helpers() -> None:
    g = StateGraph(LogState)
    g.add_sequence([appender("a"), ("b", appender("b"))])
    g.set_entry_point("a").set_finish_point("b")
    assert g.compile().invoke({}) == {"log": ["a", "b"]}


def test_topology_is_csr() -> None:
    g = chain("a", "b", "c")
    g.add_edge("a", "c")
    topo = g.compile().topology
    index = {n.name: n.index for n in topo.nodes}
    offs, targets = topo.succ_offsets, topo.succ_targets
    a = index["a"]
    assert list(targets[offs[a] : offs[a + 1]]) == [index["b"], index["c"]]
    assert [n.name for n in topo.by_name["a"].succ] == ["b", "c"]


def test_get_graph_dot_and_mermaid() -> None:
    g = chain("a", "b")
    g.add_conditional_edges("b", lambda s: "done", {"done": END, "again": "a"})
    view = g.compile().get_graph()
    assert view.nodes == (START, "a", "b", END)
    dot = view.to_dot()
    assert '"a" -> "b";' in dot
    assert '"b" -> "a" [style=dashed, label="again"];' in dot
    assert 'label="START"' in dot
    mermaid = view.draw_mermaid()
    assert mermaid.startswith("flowchart TD")
    assert "-.->|again|" in mermaid


# ---------------------------------------------------------------- LangGraph's compile rules


def test_a_node_that_names_command_may_jump_anywhere() -> None:
    def jump(state: Any):  # no annotation: only its code says it returns a Command
        return Command(goto="target")

    g = StateGraph(LogState)
    g.add_node("jump", jump).add_node(appender("target")).add_edge(START, "jump")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        app = g.compile()
    assert app.invoke({}) == {"log": ["target"]}
    assert app.topology.by_name["jump"].command_targets is None


def test_destinations_are_command_targets_and_validated() -> None:
    def go(state: Any) -> Any:
        return {"n": 1}

    g = StateGraph(LogState)
    g.add_node("go", go, destinations=("x",)).add_node(appender("x")).add_edge(START, "go")
    assert g.compile().topology.by_name["go"].command_targets == ("x",)
    bad = StateGraph(LogState)
    bad.add_node("go", go, destinations={"nowhere": "label"}).add_edge(START, "go")
    with pytest.raises(GraphValidationError, match="destinations=\\) of node 'go' names unknown"):
        bad.compile()


def test_a_join_into_end_is_accepted_and_leads_nowhere() -> None:
    g = StateGraph(LogState)
    g.add_node(appender("x")).add_node(appender("y"))
    g.add_edge(START, "x").add_edge(START, "y").add_edge(["x", "y"], END)
    app = g.compile()
    assert app.topology.joins == ()
    assert app.invoke({}) == {"log": ["x", "y"]}
    with pytest.raises(GraphValidationError, match="a join cannot start at START"):
        g.add_edge([START, "x"], "y")


def test_add_sequence_refuses_nothing_and_duplicates() -> None:
    with pytest.raises(GraphValidationError, match="at least one node"):
        StateGraph(LogState).add_sequence([])
    with pytest.raises(GraphValidationError, match="already in the graph"):
        StateGraph(LogState).add_sequence([appender("a"), appender("a")])


def test_input_schema_must_be_a_schema() -> None:
    with pytest.raises(GraphValidationError, match="node 'n': input_schema must be a TypedDict"):
        StateGraph(LogState).add_node("n", appender("n"), input_schema=int)


def test_state_graph_takes_langgraphs_arguments() -> None:
    class Ctx(TypedDict):
        user: str

    g = StateGraph(LogState, Ctx, input_schema=LogState, output_schema=LogState)
    assert g.context_schema is Ctx and g.input_schema is LogState


def test_langgraphs_older_keywords_are_accepted_with_a_deprecation_warning() -> None:
    class In(TypedDict):
        n: int

    with pytest.warns(DeprecationWarning, match="`input` is deprecated"):
        g = StateGraph(LogState, input=In)
    assert g.input_schema is In
    with pytest.warns(DeprecationWarning, match="`output` is deprecated"):
        assert StateGraph(LogState, output=In).output_schema is In
    with pytest.warns(DeprecationWarning, match="use `input_schema` instead"):
        g.add_node("a", appender("a"), input=In)
    with pytest.raises(TypeError, match="unexpected keyword argument\\(s\\) error_handler"):
        g.add_node("b", appender("b"), error_handler=appender("c"))
    with pytest.raises(TypeError, match="unexpected keyword argument\\(s\\) nope"):
        StateGraph(LogState, nope=In)
