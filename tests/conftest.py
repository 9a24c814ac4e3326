"""Shared helpers for the test suite."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

import pytest

# before any test module imports it (tests/faults does): detailed messages from its asserts
pytest.register_assert_rewrite("wfkit.checkpoint.testing")
pytest.register_assert_rewrite("tests.compat.harness")  # a differing case shows both values


class LogState(TypedDict, total=False):
    n: int
    log: Annotated[list[str], operator.add]


def appender(name: str) -> Callable[[Any], dict[str, Any]]:
    """A node that appends its own name to ``log``."""

    def node(state: Any) -> dict[str, Any]:
        return {"log": [name]}

    node.__name__ = name
    return node


@pytest.fixture
def log_state() -> type[LogState]:
    return LogState
