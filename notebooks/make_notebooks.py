"""Writes the tutorial notebooks from the cells below (run it after editing
them: ``python notebooks/make_notebooks.py``). Keeping the source here makes
the notebooks reviewable as code; ``tests/test_notebooks.py`` executes them."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent
KERNEL = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}}

BUILD = [
    new_markdown_cell(
        "# Build, run and inspect a workflow\n\n"
        "`%%workflow` cells mix edge lines (`a -> b`, `a -> b | c : router`) and Python. "
        "Each top-level function becomes a node; the cell shows the graph."
    ),
    new_code_cell("%load_ext wfkit"),
    new_code_cell(
        "import operator\n"
        "from typing import Annotated, TypedDict\n\n"
        "class Ticket(TypedDict, total=False):\n"
        "    text: str\n"
        "    intent: str\n"
        "    log: Annotated[list[str], operator.add]"
    ),
    new_markdown_cell("The first cell declares the entry, a conditional edge and the classifier."),
    new_code_cell(
        "%%workflow support --state Ticket --checkpoints support.duckdb\n"
        "START -> classify\n"
        "classify -> refund | answer : route\n"
        "refund, answer -> END\n\n"
        "def classify(state):\n"
        "    intent = \"refund\" if \"refund\" in state[\"text\"].lower() else \"question\"\n"
        "    return {\"intent\": intent, \"log\": [\"classify\"]}\n\n"
        "def route(state):\n"
        "    return \"refund\" if state[\"intent\"] == \"refund\" else \"answer\""
    ),
    new_markdown_cell("The next cells add the two handlers; the graph becomes runnable."),
    new_code_cell(
        "%%workflow support\n"
        "def refund(state):\n"
        "    return {\"log\": [\"refund: money back in 3 days\"]}"
    ),
    new_code_cell(
        "%%workflow support\n"
        "def answer(state):\n"
        "    return {\"log\": [\"answer: see the FAQ\"]}"
    ),
    new_markdown_cell(
        "Each `%workflow run` starts a new thread (its id is shown under the result), so "
        "running this notebook again gives the same output: runs are kept in `support.duckdb`, "
        "but no run continues an earlier one."
    ),
    new_code_cell("%workflow run support --input '{\"text\": \"I want a refund\"}'"),
    new_markdown_cell(
        "Redefine a node in a new cell (or by re-running its cell); the next run uses the new "
        "code, and the rest of the graph stays."
    ),
    new_code_cell(
        "%%workflow support\n"
        "def refund(state):\n"
        "    return {\"log\": [\"refund: approved, money back today\"]}"
    ),
    new_code_cell("%workflow run support --input '{\"text\": \"refund please\"}'"),
    new_markdown_cell("The checkpoints and the timings of the latest run:"),
    new_code_cell("%workflow history support"),
    new_code_cell("%workflow trace support --latest"),
    new_markdown_cell(
        "The graph object is in the namespace: the Python API works on it too. "
        "A thread id of its own keeps the run apart from earlier ones."
    ),
    new_code_cell(
        "import uuid\n\n"
        "thread = f\"parcel-{uuid.uuid4().hex[:8]}\"\n"
        "support.invoke({\"text\": \"where is my parcel?\"}, thread=thread)[\"log\"]"
    ),
]

DEBUG = [
    new_markdown_cell(
        "# The step debugger\n\n"
        "`%workflow debug NAME` opens a debugger on a run: Step, Continue to a breakpoint, "
        "answer an interrupt, rewind to any checkpoint."
    ),
    new_code_cell("%load_ext wfkit"),
    new_code_cell(
        "import operator\n"
        "from typing import Annotated, TypedDict\n"
        "from wfkit import interrupt\n\n"
        "class Post(TypedDict, total=False):\n"
        "    topic: str\n"
        "    draft: str\n"
        "    approved: str\n"
        "    log: Annotated[list[str], operator.add]"
    ),
    new_code_cell(
        "%%workflow blog --state Post --checkpoints blog.duckdb\n"
        "START -> write\n"
        "write -> review\n"
        "review -> publish\n"
        "publish -> END\n\n"
        "def write(state):\n"
        "    return {\"draft\": f\"A post about {state['topic']}\", \"log\": [\"write\"]}\n\n"
        "def review(state):\n"
        "    return {\"approved\": interrupt(f\"Publish '{state['draft']}'?\"), \"log\": [\"review\"]}\n\n"
        "def publish(state):\n"
        "    return {\"log\": [f\"published ({state['approved']})\"]}"
    ),
    new_code_cell("%workflow debug blog --input '{\"topic\": \"wfkit\"}'"),
    new_markdown_cell("The same controller works from code:"),
    new_code_cell(
        "from wfkit import Debugger\n"
        "d = Debugger(blog, {\"topic\": \"notebooks\"})\n"
        "d.continue_()\n"
        "print(d.interrupts)\n"
        "d.resume(\"yes\")\n"
        "d.continue_()\n"
        "d.state"
    ),
]


def write(name: str, cells: list[object]) -> Path:
    nb = new_notebook(cells=cells, metadata=KERNEL)
    path = HERE / name
    nbformat.write(nb, path)
    return path


if __name__ == "__main__":
    print(write("01-build-and-run.ipynb", BUILD))
    print(write("02-debugger.ipynb", DEBUG))
