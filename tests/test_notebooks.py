"""Notebooks executed in a real kernel (nbclient): the tutorials, and the
magics' argument errors as a user sees them."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from tests.markdown_pages import drop_log

ROOT = Path(__file__).resolve().parent.parent
KERNEL = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}


def execute(nb: Any, cwd: Path, allow_errors: bool = False) -> Any:
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
        allow_errors=allow_errors,
    )
    client.execute()
    return nb


def outputs_text(cell: Any) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out["text"])
        elif out.get("output_type") in ("execute_result", "display_data"):
            data = out.get("data", {})
            parts.append(str(data.get("text/plain", "")) + str(data.get("text/html", "")))
        elif out.get("output_type") == "error":
            parts.append(f"{out['ename']}: {out['evalue']}")
    return "\n".join(parts)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    ["01-build-and-run.ipynb", "02-debugger.ipynb", "03-scale-out.ipynb", "04-agent.ipynb"],
)
def test_tutorials_run(name: str, tmp_path: Path) -> None:
    shutil.copy(ROOT / "notebooks" / name, tmp_path / name)
    nb = execute(nbformat.read(tmp_path / name, as_version=4), tmp_path)
    texts = [outputs_text(c) for c in nb.cells if c.cell_type == "code"]
    if name.startswith("01"):
        assert any("refund: money back in 3 days" in t for t in texts)
        assert any(
            "refund: approved, money back today" in t for t in texts
        )  # the redefined node ran
        assert any("<svg" in t or "image/svg" in t or "Drawing" in t for t in texts)
        assert any("classify" in t and "p95 (ms)" in t for t in texts)  # trace summary
        assert any("checkpoints in" in t and "support.duckdb" in t for t in texts)
    elif name.startswith("02"):
        assert any("Debugger" in t or "DebuggerWidget" in t or "VBox" in t for t in texts)
        assert "published (yes)" in texts[-1]
    elif name.startswith("04"):
        assert "Drawing of travel" in texts[3]  # the agent's graph
        assert "DebuggerWidget" in texts[4]
        assert "breakpoint - before tools (the graph's interrupt_before)" in texts[5]
        assert "next: ('tools', 'tools')" in texts[5]
        assert "['sunny, 24 °C', 'rain, 18 °C']" in texts[6]  # approved: both calls ran
        assert "{'city': 'Paris', 'nights': 2}" in texts[6]
        assert "kind='done'" in texts[7] and "I have not booked a hotel" in texts[7]
        assert "agent" in texts[8] and "tools" in texts[8] and "p50_ms" in texts[8]
        assert "Chart" in texts[9]  # the timeline
    else:  # functions defined in the notebook ran on two worker processes
        assert "400 runs; {'n': 7, 'score':" in texts[2]
        assert texts[3].count("tcp://") >= 2 and "queue_s" in texts[3]  # per worker
        assert "all right: True" in texts[5]
        # the call that killed its worker, run again elsewhere
        assert "13, which killed its worker, ran again: True" in texts[5]


@pytest.mark.slow
def test_magic_errors_print_usage_not_tracebacks(tmp_path: Path) -> None:
    cells = [
        "%load_ext wfkit",
        "from typing import TypedDict\nclass S(TypedDict, total=False):\n    n: int",
        "%%workflow g --state S\nSTART -> inc\ndef inc(state):\n    return {'n': state.get('n', 0) + 1}",
        "%workflow run g --input '{\"n\": 41}'",
        "%workflow run nope",
        "%workflow run g --input '{oops'",
        "%workflow frobnicate g",
        "%%workflow g --state S\na -> b | c",
        "%%workflow g --state S\ndef broken(:\n    pass",
    ]
    nb = new_notebook(cells=[new_code_cell(c) for c in cells], metadata=KERNEL)
    nb = execute(nb, tmp_path, allow_errors=True)
    out = [c["outputs"] for c in nb.cells]
    assert "'n': 42" in outputs_text(nb.cells[3])
    for i, expected in [
        (4, "no workflow 'nope'"),
        (5, "not valid JSON"),
        (6, "invalid choice"),
        (7, "needs a router"),
        (8, "syntax error"),
    ]:
        # IPython prints a UsageError as one message on stderr: no error output, no traceback
        assert not [o for o in out[i] if o.get("output_type") == "error"], (i, out[i])
        text = outputs_text(nb.cells[i])
        assert text.startswith("UsageError:") and expected in text, (i, text)
        assert "Traceback" not in text


def without_cell_ids(cells: list[str]) -> Any:
    """A notebook in format 4.4, whose cells have no ids (as papermill and
    older tools write them); nbclient sends no cell id either way."""
    nb = new_notebook(cells=[new_code_cell(c) for c in cells], metadata=KERNEL)
    nb.nbformat_minor = 4
    for cell in nb.cells:
        cell.pop("id", None)
    return nb


@pytest.mark.slow
def test_fixing_a_node_in_a_new_cell_keeps_the_graph_in_nbclient(tmp_path: Path) -> None:
    cells = [
        "%load_ext wfkit",
        "import operator\nfrom typing import Annotated, TypedDict\n"
        "class Claim(TypedDict, total=False):\n    amount: int\n    log: Annotated[list, operator.add]",
        "%%workflow claims --state Claim\nSTART -> check\ncheck -> pay\npay -> END\n\n"
        "def check(state):\n    return {'log': ['checked']}\n\n"
        "def pay(state):\n    return {'log': [state['amount'] / 0]}",
        "%workflow run claims --input '{\"amount\": 5}'",
        "%%workflow claims\ndef pay(state):\n    return {'log': [f\"paid {state['amount']}\"]}",
        "%workflow run claims --input '{\"amount\": 5}'",
    ]
    nb = without_cell_ids(cells)
    nbformat.validate(nb)
    assert all("id" not in c for c in nb.cells)
    nb = execute(nb, tmp_path, allow_errors=True)
    error = [o for o in nb.cells[3].outputs if o.output_type == "error"]
    assert error and error[0].ename == "ZeroDivisionError"
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error[0].traceback))
    assert "return {'log': [state['amount'] / 0]}" in shown  # the cell's line
    assert "wfkit/engine" not in shown and "raised in node 'pay'" in shown
    fixed = outputs_text(nb.cells[4])
    assert "3 nodes" not in fixed and "2 nodes" in fixed and "not runnable" not in fixed
    assert "'log': ['checked', 'paid 5']" in outputs_text(nb.cells[5])


_SVG = re.compile(r"<svg.*?</svg>", re.S)
_SVG_TEXT = re.compile(r"<text[^>]*>(.*?)</text>", re.S)
_MASKS = [
    (re.compile(r"[0-9a-f]{16}-[0-9a-f]+-[0-9a-f]+"), "<id>"),  # checkpoint, run, thread ids
    (re.compile(r"tcp://[\w.-]+:\d+"), "<address>"),  # a Dask worker
    # run ids (a hex counter without leading zeros), as markdown_pages masks them
    (re.compile(r"\b[0-9a-f]{16}-[0-9a-f]{1,8}-(?:0|[1-9a-f][0-9a-f]{0,4})\b"), "<id>"),
    (re.compile(r"\b[0-9a-f]{8,32}\b"), "<hex>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ][0-9:.]+(\+00:00)?"), "<time>"),
    (re.compile(r"\d+\.\d+|\d+(?= ?(ms|µs|s|KB|MB|B)\b)"), "<n>"),  # timings, sizes
    (re.compile(r"#[0-9a-fA-F]{6}"), "<colour>"),  # the heat map's colours follow the timings
    (re.compile(r"([ ─═┄-])\1+"), r"\1"),  # table padding follows the widths of masked cells
]


def shown(cell: Any) -> str:
    """What a browser shows of a cell's outputs: the richest form of each."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out["text"])
        elif out.get("output_type") in ("execute_result", "display_data"):
            data = out.get("data", {})
            for kind in ("image/svg+xml", "text/html", "text/plain"):
                if kind in data:
                    parts.append(str(data[kind]))
                    break
        elif out.get("output_type") == "error":
            parts.append(f"{out['ename']}: {out['evalue']}")
    return "\n".join(parts)


def masked(text: str, any_numbers: bool = False) -> str:
    """A cell's output with what differs between runs masked: ids, times,
    timings and what follows from them, Dask's log records; a drawing is
    reduced to its labels. ``any_numbers``: every number (how Dask shares
    the calls out between its workers changes from run to run)."""
    text = drop_log(text, "distributed")  # a worker's restart, a rescheduled key
    text = _SVG.sub(lambda m: "<svg " + " | ".join(_SVG_TEXT.findall(m.group(0))) + ">", text)
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    if any_numbers:
        text = re.sub(r"\d+", "<n>", text)
    return _TIMED_TABLE.sub(_rows_sorted, text)


# a trace summary (it has a p50_ms column) lists its nodes by total time, an
# order that can change from run to run when two nodes take about as long
_TIMED_TABLE = re.compile(
    r"(<thead>(?:(?!</thead>).)*p50_ms.*?</thead><tbody>)(.*?)(</tbody>)", re.S
)


def _rows_sorted(match: re.Match[str]) -> str:
    rows = re.findall(r"<tr>.*?</tr>", match.group(2), re.S)
    return match.group(1) + "".join(sorted(rows)) + match.group(3)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    ["01-build-and-run.ipynb", "02-debugger.ipynb", "03-scale-out.ipynb", "04-agent.ipynb"],
)
def test_tutorials_give_the_same_output_on_every_run(name: str, tmp_path: Path) -> None:
    shutil.copy(ROOT / "notebooks" / name, tmp_path / name)
    runs = []
    for _ in range(2):  # Restart & Run All, twice, in the same folder
        nb = execute(nbformat.read(tmp_path / name, as_version=4), tmp_path)
        runs.append(
            [
                masked(shown(c), any_numbers=name.startswith("03"))
                for c in nb.cells
                if c.cell_type == "code"
            ]
        )
    for i, (first, second) in enumerate(zip(*runs, strict=True)):
        assert first == second, f"code cell {i} of {name} changed on the second run"
