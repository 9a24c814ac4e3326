"""The LangGraph compatibility harness.

A case is a test function written the way LangGraph's docs and tests write
it, importing from ``langgraph`` *inside its body*, and decorated with
``@case``. It asserts what LangGraph's docs promise and returns a value to
compare. Each case becomes two tests:

- ``[wfkit]``: the function's source with every ``langgraph`` import renamed
  to ``wfkit`` (the one-line port the README promises; nothing else changes),
  compiled and run. ``make test`` runs this side.
- ``[duckdb]`` (cases decorated with :func:`stores` instead): the renamed
  function once more, with ``InMemorySaver`` made a DuckDB file, so both of
  wfkit's stores give what LangGraph gives.
- ``[both]`` (marker ``langgraph``, deselected unless asked for with
  ``-m langgraph``; ``make compat`` does): the original function runs on
  LangGraph, the renamed one on wfkit, and the two returned values must be
  equal after ``normalize``. Skipped when LangGraph is not installed (the
  ``bench`` extra installs it).

The rename is done on the syntax tree, so line numbers in tracebacks are
the test file's own.
"""

from __future__ import annotations
import __future__

import ast
import asyncio
import dataclasses
import functools
import importlib.util
import inspect
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

SIDES = [
    pytest.param("wfkit", id="wfkit"),
    pytest.param("both", id="both", marks=pytest.mark.langgraph),
]


class _Rename(ast.NodeTransformer):
    def visit_Import(self, node: ast.Import) -> ast.Import:
        for alias in node.names:
            alias.name = _renamed(alias.name)
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.ImportFrom:
        if node.module is not None:
            node.module = _renamed(node.module)
        return node


def _renamed(module: str) -> str:
    if module == "langgraph" or module.startswith("langgraph."):
        return "wfkit" + module[len("langgraph") :]
    return module


def ported(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` as it runs after the ``langgraph`` → ``wfkit`` import rename."""
    lines, first = inspect.getsourcelines(fn)
    tree = ast.parse(textwrap.dedent("".join(lines)))
    ast.increment_lineno(tree, first - 1)
    (definition,) = tree.body
    assert isinstance(definition, ast.FunctionDef | ast.AsyncFunctionDef)
    definition.decorator_list = []
    tree = ast.fix_missing_locations(_Rename().visit(tree))
    namespace = dict(fn.__globals__)
    for name, value in namespace.items():
        module = getattr(value, "__module__", None) or getattr(value, "__name__", "")
        if isinstance(module, str) and module.split(".")[0] == "langgraph":
            raise AssertionError(
                f"{fn.__module__} imports {name!r} from langgraph at module level, where the "
                "rename cannot reach it: import inside the case's body"
            )
    # the case's own future flags, not this module's (its annotations would be strings)
    flags = fn.__code__.co_flags & __future__.annotations.compiler_flag
    source = inspect.getsourcefile(fn) or "<case>"
    exec(compile(tree, source, "exec", flags=flags, dont_inherit=True), namespace)
    return namespace[fn.__name__]


def _call(fn: Callable[..., Any]) -> Any:
    if inspect.iscoroutinefunction(fn):
        return asyncio.run(fn())
    return fn()


def normalize(value: Any) -> Any:
    """A form of ``value`` in which the two libraries' results compare equal:
    containers recursively, other objects as their class name and fields
    (LangGraph's and wfkit's ``Interrupt``, ``Send``, ``Command`` are
    different classes with the same fields)."""
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return value
    if isinstance(value, dict):
        return {normalize(k): normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(normalize(v) for v in value)
    if isinstance(value, set | frozenset):
        return {normalize(v) for v in value}
    if type(value).__module__.split(".")[0] in ("langchain_core", "pydantic"):
        return value  # shared by both sides: compare as they are
    if hasattr(value, "_asdict"):
        return (type(value).__name__, normalize(value._asdict()))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return (type(value).__name__, normalize(fields))
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return (type(value).__name__, normalize(vars(value)))
    if hasattr(type(value), "__slots__"):
        slots = [s for k in type(value).__mro__ for s in getattr(k, "__slots__", ())]
        return (type(value).__name__, normalize({s: getattr(value, s, None) for s in slots}))
    return value


def case(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Make a LangGraph compatibility case of ``fn`` (see the module's text)."""

    @pytest.mark.parametrize("side", SIDES)
    @functools.wraps(fn)
    def test(side: str) -> None:
        wfkit_result = _call(ported(fn))
        if side == "both":
            if importlib.util.find_spec("langgraph") is None:
                pytest.skip("LangGraph is not installed: pip install -e '.[bench]'")
            langgraph_result = _call(fn)
            assert normalize(wfkit_result) == normalize(langgraph_result)

    del test.__wrapped__  # pytest must see the (side) signature, not fn's
    return test


def stores(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A compat case (:func:`case`), plus a wfkit-side test, ``<name>_duckdb``,
    that runs it with ``InMemorySaver`` made a DuckDB file (the case's
    assertions must hold there too)."""
    test = case(fn)

    @functools.wraps(fn)
    def on_duckdb(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        import wfkit.checkpoint.memory as memory
        from wfkit.checkpoint.duckdb import DuckDBCheckpointer

        opened: list[DuckDBCheckpointer] = []

        def saver(**kwargs: Any) -> DuckDBCheckpointer:
            opened.append(DuckDBCheckpointer(tmp_path / f"s{len(opened)}.duckdb", **kwargs))
            return opened[-1]

        monkeypatch.setattr(memory, "InMemorySaver", saver)
        monkeypatch.setattr(memory, "MemorySaver", saver)
        try:
            result = ported(fn)()
            if inspect.iscoroutine(result):
                asyncio.run(result)
        finally:
            for store in opened:
                store.close()

    del on_duckdb.__wrapped__
    on_duckdb.__name__ = fn.__name__ + "_duckdb"
    sys._getframe(1).f_globals[on_duckdb.__name__] = on_duckdb  # collected beside the case
    return test
