"""The magics in-process, with IPython's own shell."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

STATE = """
import operator
from typing import Annotated, TypedDict
class Ticket(TypedDict, total=False):
    text: str
    intent: str
    log: Annotated[list, operator.add]
"""

CELL_1 = """
START -> classify
classify -> refund | answer : route
refund, answer -> END

def classify(state):
    return {"intent": "refund" if "refund" in state["text"] else "question", "log": ["classify"]}

def route(state):
    return "refund" if state["intent"] == "refund" else "answer"
"""

CELL_2 = """
def refund(state):
    return {"log": ["refund"]}

def answer(state):
    return {"log": ["answer"]}
"""


@pytest.fixture
def ip(tmp_path: Path) -> Iterator[Any]:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "wfkit")
    shell.run_cell(STATE)
    try:
        yield shell
    finally:
        shell.run_line_magic("unload_ext", "wfkit")
        shell.user_ns.pop("support", None)
        InteractiveShell.clear_instance()
        os.chdir(cwd)


def test_graph_across_cells_run_and_redefine(ip: Any, tmp_path: Path) -> None:
    ip.run_cell_magic("workflow", "support --state Ticket", CELL_1)
    assert type(ip.user_ns["support"]).__name__ == "StateGraph"  # refund/answer not defined yet
    ip.run_cell_magic("workflow", "support", CELL_2)
    app = ip.user_ns["support"]
    assert type(app).__name__ == "Workflow"
    assert app.checkpointer.path == str(tmp_path / "runs.duckdb")
    out = ip.run_line_magic(
        "workflow", 'run support --input \'{"text": "refund please"}\' --thread t1'
    )
    assert out["log"] == ["classify", "refund"]
    ip.run_cell_magic("workflow", "support", CELL_2.replace('["refund"]', '["refund v2"]'))
    out = ip.run_line_magic(
        "workflow", 'run support --input \'{"text": "refund please"}\' --thread t2'
    )
    assert out["log"] == ["classify", "refund v2"]
    history = ip.run_line_magic("workflow", "history support --thread t2")
    assert history["source"].to_list() == ["loop", "loop", "loop", "input"]
    table = ip.run_line_magic("workflow", "trace support")
    assert set(table["node"].to_list()) == {"classify", "refund"}
    assert "support" in str(ip.run_line_magic("workflow", "list").data)


def test_rerunning_a_cell_removes_what_it_no_longer_defines(ip: Any) -> None:
    ip.run_cell_magic(
        "workflow", "support --state Ticket", CELL_1 + "\ndef extra(state):\n    return {}\n"
    )
    ip.run_cell_magic("workflow", "support", CELL_2)
    assert "extra" in ip.user_ns["support"].nodes  # unreachable, so not compiled: the builder
    ip.run_cell_magic("workflow", "support", CELL_1)  # the same edge lines: the same cell
    app = ip.user_ns["support"]
    assert "extra" not in app.topology.by_name


def test_debug_magic_returns_the_widget(ip: Any) -> None:
    ip.run_cell_magic("workflow", "support --state Ticket", CELL_1 + CELL_2)
    widget = ip.run_line_magic(
        "workflow", 'debug support --input \'{"text": "hi"}\' --break answer'
    )
    widget.continue_button.click()
    assert widget.debugger.next == ("answer",)
    # redefining a node's cell hot-swaps it into the open debugger
    ip.run_cell_magic("workflow", "support", CELL_1 + CELL_2.replace('["answer"]', '["answer v2"]'))
    assert widget.debugger.next == ("answer",)  # replays from the checkpoint before it
    assert "reloaded" in widget.status.value  # the view redrew on its own
    # only the node whose code changed was swapped, not every node of the cell
    reloads = [e.message for e in widget.debugger.events if e.kind == "reload"]
    assert len(reloads) == 1 and reloads[0].startswith("node 'answer' reloaded")
    widget.step_button.click()
    assert widget.debugger.state["log"] == ["classify", "answer v2"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("run nope", "no workflow 'nope'"),
        ("frobnicate x", "invalid choice: 'frobnicate'"),
        ("run support --input {bad", "--input is not valid JSON"),
        ("stress support --runs 0", "--runs and --concurrency must be at least 1"),
        ("history support", "no runs of .support. yet"),
        ("threads", "the following arguments are required: name"),
        ("", "the following arguments are required: command"),
        ("debug support --break nowhere", "no node 'nowhere'"),
    ],
)
def test_line_magic_usage_errors(ip: Any, line: str, message: str) -> None:
    ip.run_cell_magic("workflow", "support --state Ticket", CELL_1 + CELL_2)
    with pytest.raises(UsageError, match=message):
        ip.run_line_magic("workflow", line)


@pytest.mark.parametrize(
    ("args", "cell", "message"),
    [
        ("support", CELL_1, "give the state type once"),
        ("support --state Nope", CELL_1, "no 'Nope' in the notebook"),
        (
            "support --state Ticket",
            "def broken(:\n    pass",
            r"syntax error in the %%workflow support cell, line 2",
        ),
        ("support --state Ticket", "a -> b | c", "needs a router"),
        ("9lives --state Ticket", "x = 1", "must be a Python identifier"),
        ("--state Ticket", "x = 1", "required: name"),
    ],
)
def test_cell_magic_usage_errors(ip: Any, args: str, cell: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ip.run_cell_magic("workflow", args, cell)


def test_router_in_another_cell_and_editor_line_numbers(ip: Any) -> None:
    ip.run_cell_magic(
        "workflow",
        "support --state Ticket",
        "START -> classify\nclassify -> refund | answer : route\n"
        + CELL_2
        + CELL_1.split("refund, answer -> END")[1].split("def route")[0],
    )
    ip.run_cell_magic("workflow", "support", "def route(state):\n    return 'answer'\n")
    app = ip.user_ns["support"]
    assert type(app).__name__ == "Workflow" and "route" not in app.topology.by_name
    ip.run_cell_magic(
        "workflow",
        "third --state Ticket",
        "START -> x\nx -> x | END : later\ndef x(s):\n    return {}",
    )
    graph = ip.magics_manager.registry["WorkflowMagics"].graphs["third"]
    assert graph.workflow is None and "router 'later' is not defined yet" in graph.problem
    with pytest.raises(UsageError, match="line 3"):
        ip.run_cell_magic("workflow", "other --state Ticket", "x = 1\ny = (\n")
    assert (
        "other" not in ip.magics_manager.registry["WorkflowMagics"].graphs
    )  # a bad cell leaves no trace


def test_a_router_from_any_cell_is_no_node_and_list_does_not_show_it(ip: Any) -> None:
    # the router's cell comes first, the cell with its edge line after it
    ip.run_cell_magic("workflow", "g --state Ticket", "def route(state):\n    return 'answer'\n")
    ip.run_cell_magic("workflow", "g", CELL_1.replace("\ndef route(state):", "\ndef _no(state):"))
    ip.run_cell_magic("workflow", "g", CELL_2)
    app = ip.user_ns["g"]
    assert set(app.topology.by_name) == {"classify", "refund", "answer"}
    listed = str(ip.run_line_magic("workflow", "list").data)
    assert "answer, classify, refund</td>" in listed and "route" not in listed
    out = ip.run_line_magic("workflow", 'run g --input \'{"text": "x"}\'')
    assert out["log"] == ["classify", "answer"]


BAD_CELL = """START -> bump
bump -> END

def bump(state):
    step = 1
    return {"log": [state["count"] + step]}
"""


def test_node_traceback_shows_the_cell_line_and_no_engine_frames(ip: Any, capsys: Any) -> None:
    ip.run_cell_magic("workflow", "bad --state Ticket", BAD_CELL)
    capsys.readouterr()
    result = ip.run_cell("%workflow run bad --input '{}'")
    assert isinstance(result.error_in_exec, KeyError)
    shown = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)
    assert 'return {"log": [state["count"] + step]}' in shown  # the failing line of the cell
    assert "Could not get source" not in shown
    assert "wfkit/engine" not in shown and "wfkit/workflow.py" not in shown
    assert "wfkit: raised in node 'bump', superstep 0, attempt 1" in shown
    # the Python API in a plain cell shows the same short traceback
    result = ip.run_cell('bad.invoke({}, thread="t1")')
    shown = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)
    assert 'state["count"]' in shown and "wfkit/engine" not in shown
    assert "raised in node 'bump'" in shown


def test_debugger_traceback_shows_the_cell_line(ip: Any) -> None:
    ip.run_cell_magic("workflow", "bad --state Ticket", BAD_CELL)
    widget = ip.run_line_magic("workflow", "debug bad")
    widget.step_button.click()
    tb = widget.debugger.traceback
    assert 'return {"log": [state["count"] + step]}' in tb
    assert "wfkit/engine" not in tb and "wfkit/_loop" not in tb
    assert "raised in node 'bump', superstep 0, attempt 1" in tb
    assert "state[&quot;count&quot;]" in widget.error_view.value


def test_a_new_cell_that_redefines_a_node_keeps_the_rest_of_the_graph(ip: Any) -> None:
    ip.run_cell_magic("workflow", "support --state Ticket", CELL_1)
    ip.run_cell_magic("workflow", "support", CELL_2)
    # a new cell (no cell id here, as in terminal IPython and nbclient) fixing one node
    ip.run_cell_magic("workflow", "support", 'def refund(state):\n    return {"log": ["fixed"]}\n')
    app = ip.user_ns["support"]
    assert type(app).__name__ == "Workflow"
    assert set(app.topology.by_name) == {"classify", "refund", "answer"}
    out = ip.run_line_magic("workflow", 'run support --input \'{"text": "refund"}\'')
    assert out["log"] == ["classify", "fixed"]
    # re-running a cell with the same edge lines replaces that cell's part
    ip.run_cell_magic("workflow", "support", CELL_1.replace('"log": ["classify"]', '"log": []'))
    graph = ip.magics_manager.registry["WorkflowMagics"].graphs["support"]
    assert len(graph.cells) == 3
    out = ip.run_line_magic("workflow", 'run support --input \'{"text": "hi"}\'')
    assert out["log"] == ["answer"]


HOLD = """
import sys
from wfkit.checkpoint.duckdb import DuckDBCheckpointer
store = DuckDBCheckpointer(sys.argv[1], idle_release=None)  # a kernel busy with the file
print("open", flush=True)
sys.stdin.readline()
store.close()
"""


def test_a_file_held_by_another_kernel_gives_a_short_message_and_close_frees_it(
    ip: Any, tmp_path: Path
) -> None:
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "runs.duckdb")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(UsageError) as info:
            ip.run_cell_magic("workflow", "support --state Ticket", CELL_1 + CELL_2)
        text = str(info.value)
        assert f"process {holder.pid}" in text and "%workflow close" in text
        assert "--checkpoints" in text and "Traceback" not in text
        assert info.value.__cause__ is None and info.value.__suppress_context__
        assert "support" not in ip.user_ns  # nothing of the cell ran
    finally:
        holder.communicate("\n", timeout=30)
    ip.run_cell_magic("workflow", "support --state Ticket", CELL_1 + CELL_2)  # free now
    out = ip.run_line_magic("workflow", 'run support --input \'{"text": "hi"}\'')
    assert out["log"] == ["classify", "answer"]
    ip.run_line_magic("workflow", "close support")
    # another process can open the file now, and the graph reopens it when it runs again
    check = subprocess.run(
        [sys.executable, "-c", HOLD, str(tmp_path / "runs.duckdb")],
        input="\n",
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        timeout=60,
    )
    assert check.stdout.strip() == "open", check.stderr
    out = ip.run_line_magic("workflow", 'run support --input \'{"text": "refund"}\'')
    assert out["log"] == ["classify", "refund"]
    with pytest.raises(UsageError, match="no workflow 'nope'"):
        ip.run_line_magic("workflow", "close nope")


def test_history_defaults_to_the_latest_thread_threads_lists_them_debug_binds(ip: Any) -> None:
    ip.run_cell_magic("workflow", "support --state Ticket", CELL_1 + CELL_2)
    with pytest.raises(UsageError, match="no runs of 'support' yet"):
        ip.run_line_magic("workflow", "history support")
    ip.run_line_magic("workflow", 'run support --input \'{"text": "refund"}\' --thread a')
    ip.run_line_magic("workflow", 'run support --input \'{"text": "hi"}\' --thread b')
    history = ip.run_line_magic("workflow", "history support")
    assert history["source"].to_list() == ["loop", "loop", "loop", "input"]
    assert "answer" in history["values"][0]  # thread b, the latest
    threads = ip.run_line_magic("workflow", "threads support")
    assert threads["thread_id"].to_list() == ["b", "a"]
    assert threads["runs"].to_list() == [1, 1] and threads["status"].to_list() == ["done"] * 2
    # the notebook shows each table as a plain HTML table, not Polars' own
    for frame, header in [
        (history, "<th"),
        (threads, ">thread id<"),
        (ip.run_line_magic("workflow", "trace support --latest"), ">p95 (ms)<"),
    ]:
        shown = frame._repr_html_()
        assert header in shown and "shape:" not in shown and ">str<" not in shown
    widget = ip.run_line_magic("workflow", 'debug support --input \'{"text": "x"}\'')
    assert ip.user_ns["support_debugger"] is widget.debugger
    widget.step_button.click()
    assert (
        ip.run_line_magic("workflow", "threads support")["thread_id"][0] == widget.debugger.thread
    )


def test_an_unfinished_graph_is_drawn_with_what_is_missing_marked(ip: Any) -> None:
    from IPython.utils.capture import capture_output

    with capture_output() as shown:
        ip.run_cell_magic("workflow", "support --state Ticket", CELL_1)  # no refund, answer yet
    svg = next(o.data["image/svg+xml"] for o in shown.outputs if "image/svg+xml" in o.data)
    assert ">classify<" in svg and ">refund<" in svg and ">answer<" in svg
    # the nodes no cell defines yet, and the edges to them, are dashed and red
    missing = re.findall(
        r"<g id=\"node\d+\" class=\"node\">\s*<title>(\w+)</title>.*?</g>", svg, re.S
    )
    assert {"refund", "answer"} <= set(missing)
    for name in ("refund", "answer"):
        group = re.search(rf"<title>{name}</title>.*?</g>", svg, re.S)
        assert group and "stroke-dasharray" in group.group(0) and "#c00000" in group.group(0)
    # and so are the edges that need them; the edge from START to classify is not
    edges = {
        m.group(1): m.group(0)
        for m in re.finditer(r"<title>([^<]+)</title>.*?</g>", svg, re.S)
        if "&#45;&gt;" in m.group(1)
    }
    for edge in ("classify&#45;&gt;refund", "refund&#45;&gt;__end__", "answer&#45;&gt;__end__"):
        assert "stroke-dasharray" in edges[edge] and "#c00000" in edges[edge], edge
    assert "#c00000" not in edges["__start__&#45;&gt;classify"]
    text = "".join(str(o.data.get("text/html", "")) for o in shown.outputs)
    assert "not runnable yet" in text and "refund" in text
    kinds = ["svg" if "image/svg+xml" in o.data else "html" for o in shown.outputs]
    assert kinds == ["svg", "html"]  # the message is under the drawing
    # a router no cell defines yet: its edges are red, its label ends with "?"
    with capture_output() as shown:
        ip.run_cell_magic(
            "workflow",
            "loop --state Ticket",
            "START -> x\nx -> x | END : later\ndef x(s):\n    return {}",
        )
    svg = next(o.data["image/svg+xml"] for o in shown.outputs if "image/svg+xml" in o.data)
    later = re.search(r"<title>x&#45;&gt;__end__</title>.*?</g>", svg, re.S)
    assert later and ">later?<" in later.group(0) and "#c00000" in later.group(0)


def test_the_exception_handler_is_wfkit_s_only_while_loaded(ip: Any) -> None:
    assert ip.custom_exceptions == (Exception,)
    ip.run_line_magic("unload_ext", "wfkit")
    assert ip.custom_exceptions == ()
    ip.run_line_magic("load_ext", "wfkit")
    assert ip.custom_exceptions == (Exception,)


ENTRYPOINT = """
from wfkit.checkpoint import MemoryCheckpointer
from wfkit.func import entrypoint, task

@task
def shout(s):
    return s.upper()

@entrypoint(checkpointer=MemoryCheckpointer())
def loud(words):
    return [f.result() for f in [shout(w) for w in words]]
"""


def test_the_line_magics_take_an_entrypoint_of_the_notebook(ip: Any) -> None:
    ip.run_cell(ENTRYPOINT)
    out = ip.run_line_magic("workflow", 'run loud --input \'["a", "b"]\' --thread t1')
    assert out == ["A", "B"]
    table = ip.run_line_magic("workflow", "trace loud")
    assert set(table["node"].to_list()) == {"loud", "shout"}
    history = ip.run_line_magic("workflow", "history loud --thread t1")
    assert history["source"].to_list() == ["loop", "input"]
    widget = ip.run_line_magic("workflow", "debug loud --input '[\"c\"]'")
    assert type(widget).__name__ == "DebuggerWidget"
    with pytest.raises(UsageError, match="compiled workflow or @entrypoint"):
        ip.run_line_magic("workflow", "trace nothing_here")
