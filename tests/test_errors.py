"""The error tree: every error is drawn in errors.py's docstring, inherits
its builtin, and errors.py depends on nothing in wfkit."""

from __future__ import annotations

import ast
import pickle
import re
from pathlib import Path

import wfkit
import wfkit.errors as errors
from wfkit.errors import NodeTimeoutError, WfkitError


def _subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | _subclasses(sub)
    return out


def test_every_error_is_drawn_in_the_tree() -> None:
    import wfkit.checkpoint.duckdb
    import wfkit.cli
    import wfkit.trace.draw  # noqa: F401

    doc = errors.__doc__ or ""
    for cls in _subclasses(WfkitError):
        if cls.__module__.startswith("wfkit"):
            assert cls.__module__ == "wfkit.errors", f"{cls.__name__} is defined outside errors.py"
            line = re.search(rf"── {cls.__name__} \((\w+)\)", doc)
            assert line is not None, f"{cls.__name__} is not drawn in the errors docstring"
            assert line.group(1) in {b.__name__ for b in cls.__mro__}, cls.__name__


def test_every_error_is_exported_at_the_top() -> None:
    for cls in _subclasses(WfkitError):
        assert getattr(wfkit, cls.__name__, None) is cls, f"wfkit.{cls.__name__} missing"


def test_errors_module_imports_nothing_from_wfkit() -> None:
    tree = ast.parse(Path(errors.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert not (node.module or "").startswith("wfkit"), node.module
        if isinstance(node, ast.Import):
            assert not any(a.name.startswith("wfkit") for a in node.names)


def test_errors_survive_pickling() -> None:
    err = pickle.loads(pickle.dumps(NodeTimeoutError("slow", 1.5)))
    assert (err.node, err.timeout) == ("slow", 1.5)
