"""Numbers as the notebook shows them: the debugger's and the magics'
tables as HTML tables with units and one precision, and the heat map's
labels with the same precision."""

from __future__ import annotations

import re
from typing import Any

import polars as pl

from tests.test_debugger import build
from wfkit import Debugger
from wfkit._format import significant
from wfkit.drawing import GraphView
from wfkit.trace.draw import draw


def test_three_significant_digits_keep_their_zeros() -> None:
    assert [significant(x) for x in (0.012345, 1.5, 12.0, 123.4, 1234.6, 0.0, -2.5)] == [
        "0.0123",
        "1.50",
        "12.0",
        "123",
        "1235",
        "0",
        "-2.50",
    ]


def test_heat_map_labels_have_one_precision() -> None:
    app = build(False)
    view = GraphView.from_topology(app.topology)
    heat = pl.DataFrame({"node": ["draft", "ask", "publish"], "p95_ms": [0.04213, 1.5, 123.456]})
    dot = draw(view, heat=heat).source
    labels = re.findall(r"p95 ([0-9.]+) ms", dot)
    assert sorted(labels) == ["0.0421", "1.50", "123"]


def test_tables_are_html_tables_with_units() -> None:
    from wfkit.jupyter.tables import table

    frame = pl.DataFrame(
        {
            "node": ["classify", "refund"],
            "count": [3, 1],
            "p50_ms": [0.0123456, 1.5],
            "peak_memory_bytes": [2_500_000, None],
            "share": [0.691404, 0.308596],
            "next": [["a", "b"], []],
        }
    )
    shown: Any = table(frame)
    assert isinstance(shown, pl.DataFrame) and shown["count"].to_list() == [3, 1]
    html = shown._repr_html_()
    assert "<table" in html and "shape:" not in html
    assert "&quot;" not in html and '"classify"' not in html  # strings are not quoted
    assert ">str<" not in html and ">f64<" not in html  # no dtype row
    assert "p50 (ms)" in html and ">0.0123<" in html and ">1.50<" in html
    assert "peak memory (MB)" in html and ">2.50<" in html and ">—<" in html
    assert "share (%)" in html and ">69.1<" in html
    assert ">a, b<" in html
    assert "0.691404" not in html and "0.012345" not in html


def test_the_timings_tab_is_such_a_table() -> None:
    w: Any = Debugger(build(False), {"topic": "x"}).widget()
    w.step_button.click()
    html = w.timing_view.value
    assert "p95 (ms)" in html and "mean cpu (ms)" in html and "&quot;" not in html
    assert "shape:" not in html and ">str<" not in html
