"""Shared helpers for the test suite."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

import pytest

# before any test module imports it (tests/faults does): detailed messages from its asserts
pytest.register_assert_rewrite("wfkit.checkpoint.testing")
pytest.register_assert_rewrite("wfkit.store.testing")
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


@pytest.fixture(scope="session")
def process_client() -> Any:
    """A Dask cluster of two worker processes (one thread each), shared by the
    few tests that need real processes (a killed worker, shipping, the
    notebook); the logic tests use a cluster of threads (test_distributed.py).
    The property test's module is sent to the workers by value (it is not
    importable there); other tests ship self-contained node functions."""
    pytest.importorskip("distributed")
    import sys

    import cloudpickle
    from distributed import Client, LocalCluster

    for name in ("tests.test_properties", "test_properties"):
        if name in sys.modules:
            cloudpickle.register_pickle_by_value(sys.modules[name])
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
