"""The harness itself: the rename reaches only imports, and a case that
differs between the libraries fails its ``[both]`` side."""

from __future__ import annotations

import importlib.util

import pytest

from tests.compat.harness import case, normalize, ported


def _imports_langgraph():
    from langgraph.graph import START

    return START, __name__


def test_rename_changes_imports_only():
    start, module = ported(_imports_langgraph)()
    assert start == "__start__"
    assert module == __name__


def test_normalize_compares_classes_by_fields():
    from wfkit import Send

    assert normalize(Send("a", {"x": 1})) == ("Send", {"node": "a", "arg": {"x": 1}})


@case
def test_start_and_end_names():
    from langgraph.graph import END, START

    return START, END


def _differs():
    import langgraph as library

    return library.__name__


@pytest.mark.langgraph
@pytest.mark.skipif(importlib.util.find_spec("langgraph") is None, reason="needs LangGraph")
def test_a_difference_fails_the_both_side():
    with pytest.raises(AssertionError):
        case(_differs).__call__("both")  # wfkit.__name__ != langgraph.__name__
