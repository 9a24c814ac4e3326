"""The layers: no import circle among wfkit's modules, and the core never
imports the Jupyter layer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT.parent / "shared" / "tools" / "import_circles.py"


@pytest.mark.skipif(
    not TOOL.exists(), reason="shared/tools/import_circles.py is not beside the checkout"
)
def test_no_import_circles_type_only_imports_included() -> None:
    out = subprocess.run(
        [sys.executable, str(TOOL), str(ROOT / "wfkit"), "--typing"],
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip().splitlines()[-1].startswith("circles: 0"), out.stdout


def test_core_does_not_import_the_jupyter_layer() -> None:
    code = (
        "import sys, wfkit\n"
        "from wfkit import Debugger, StateGraph, START\n"
        "from typing import TypedDict\n"
        "class S(TypedDict):\n    n: int\n"
        "app = StateGraph(S).add_node('a', lambda s: {'n': 1}).add_edge(START, 'a').compile()\n"
        "d = Debugger(app, {'n': 0}); d.step(); d.history()\n"
        "print([m for m in sys.modules if m.startswith('wfkit.jupyter') or m in ('ipywidgets', 'IPython')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_view_registers_itself() -> None:
    import wfkit.jupyter.widget as widget
    from wfkit import Debugger

    assert Debugger.view_factory is widget.DebuggerWidget
