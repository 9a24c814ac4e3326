"""The public surface: everything in __all__ exists, nothing private leaks."""

from __future__ import annotations

import subprocess
import sys

import wfkit


def test_all_names_exist() -> None:
    for name in wfkit.__all__:
        assert hasattr(wfkit, name), name


def test_public_names_are_all_exported() -> None:
    public = {n for n in vars(wfkit) if not n.startswith("_")}
    modules = {n for n, v in vars(wfkit).items() if type(v).__name__ == "module"}
    assert public - modules == set(wfkit.__all__) - {"__version__"}


def test_langgraph_import_line_works() -> None:
    from wfkit import END, START, Command, RetryPolicy, Send, StateGraph, interrupt  # noqa: F401


def test_import_does_not_load_heavy_libraries() -> None:
    code = (
        "import sys, wfkit; heavy = [m for m in ('polars', 'duckdb', 'graphviz', 'ipywidgets',"
        " 'IPython', 'pydantic', 'dask') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_errors_inherit_matching_builtins() -> None:
    assert issubclass(wfkit.GraphValidationError, ValueError)
    assert issubclass(wfkit.GraphRecursionError, RecursionError)
    assert issubclass(wfkit.NodeTimeoutError, TimeoutError)
    for name in wfkit.__all__:
        obj = getattr(wfkit, name)
        if isinstance(obj, type) and name.endswith("Error"):
            assert issubclass(obj, wfkit.WfkitError), name
