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


SCALE = [
    new_markdown_cell(
        "# Scale out on Dask\n\n"
        "The same graph, its node calls on a Dask cluster: here a `LocalCluster` of two worker "
        "processes, the way it runs on a laptop. The loop, the checkpoints and the traces stay in "
        "this kernel. Functions defined in this notebook travel to the workers by value "
        "(cloudpickle). See `docs/scale-out.md`."
    ),
    new_code_cell(
        "from distributed import Client, LocalCluster\n\n"
        "cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=\":0\")\n"
        "client = Client(cluster)\n"
        "len(client.nthreads())"
    ),
    new_markdown_cell(
        "A graph with a CPU-bound node (pure Python, so the GIL would keep two threads of one "
        "process from running it at once) and a small one after it."
    ),
    new_code_cell(
        "from typing import TypedDict\n\n"
        "from wfkit import START, StateGraph\n"
        "from wfkit.distributed import DaskExecutor\n\n"
        "class Job(TypedDict, total=False):\n"
        "    n: int\n"
        "    score: int\n"
        "    grade: str\n\n"
        "def score(job):\n"
        "    total = 0\n"
        "    for i in range(20_000 + job[\"n\"]):\n"
        "        total = (total + i * i) % 1_000_003\n"
        "    return {\"score\": total}\n\n"
        "def grade(job):\n"
        "    return {\"grade\": \"high\" if job[\"score\"] > 500_000 else \"low\"}\n\n"
        "graph = StateGraph(Job).add_node(\"score\", score).add_node(\"grade\", grade)\n"
        "graph.add_edge(START, \"score\").add_edge(\"score\", \"grade\")\n"
        "app = graph.compile(checkpointer=\"scale-out.duckdb\", executor=DaskExecutor(client))"
    ),
    new_markdown_cell(
        "`batch` runs one input per run, with a progress bar that counts finished runs (and "
        "failures, if any); each run is a thread of the checkpoint file."
    ),
    new_code_cell(
        "results = app.batch([{\"n\": i} for i in range(400)])\n"
        "print(len(results), \"runs;\", results[7])\n"
        "print(\"threads like\", results.threads[0].rsplit(\"-\", 1)[0] + \"-N\")"
    ),
    new_markdown_cell(
        "## Where the time went\n\n"
        "Each node call's span records the worker that ran it and how its time divides: "
        "`queue_ms` (waiting in the driver and the scheduler until the worker started it), "
        "`run_ms` (the node itself) and `transfer_ms` (until the result was back here). Summed "
        "per worker, over this batch's runs (the checkpoint file keeps the spans of earlier runs "
        "of this notebook too):"
    ),
    new_code_cell(
        "import polars as pl\n\n"
        "spans = app.traces().filter(pl.col(\"kind\") == \"node\", pl.col(\"thread_id\").is_in(results.threads))\n"
        "per_worker = (\n"
        "    spans.group_by(\"worker\")\n"
        "    .agg(calls=pl.len(), queue_s=pl.col(\"queue_ms\").sum() / 1000,\n"
        "         run_s=pl.col(\"run_ms\").sum() / 1000, transfer_s=pl.col(\"transfer_ms\").sum() / 1000)\n"
        "    .sort(\"worker\")\n"
        ")\n"
        "per_worker"
    ),
    new_code_cell(
        "import altair as alt\n\n"
        "phases = per_worker.unpivot(index=\"worker\", on=[\"queue_s\", \"run_s\", \"transfer_s\"],\n"
        "                            variable_name=\"phase\", value_name=\"seconds\")\n"
        "alt.Chart(phases).mark_bar().encode(x=\"sum(seconds):Q\", y=\"worker:N\", color=\"phase:N\")"
    ),
    new_markdown_cell(
        "## A worker dies\n\n"
        "A node that kills its worker process the first time it sees input 13 (as an "
        "out-of-memory kill would). Dask's nanny starts a new worker; the calls that were on "
        "the dead one run once more elsewhere (not counted against the node's `RetryPolicy`), "
        "and the batch finishes with every result right. Which other calls run twice depends on "
        "what the dead worker held at that moment."
    ),
    new_code_cell(
        "import os, tempfile\n\n"
        "folder = tempfile.mkdtemp()\n\n"
        "def fragile(job):\n"
        "    with open(os.path.join(folder, \"calls.log\"), \"a\") as log:\n"
        "        log.write(f\"{job['n']}\\n\")\n"
        "    marker = os.path.join(folder, \"killed\")\n"
        "    if job[\"n\"] == 13 and not os.path.exists(marker):\n"
        "        open(marker, \"w\").close()\n"
        "        os._exit(1)\n"
        "    return {\"score\": job[\"n\"] * 2}\n\n"
        "fragile_app = StateGraph(Job).add_node(\"fragile\", fragile).add_edge(START, \"fragile\").compile(\n"
        "    executor=DaskExecutor(client, batch_size=4))\n"
        "out = fragile_app.batch([{\"n\": i} for i in range(100)])\n"
        "calls = open(os.path.join(folder, \"calls.log\")).read().split()\n"
        "print(\"all right:\", [r[\"score\"] for r in out] == [2 * i for i in range(100)])\n"
        "print(\"13, which killed its worker, ran again:\", calls.count(\"13\") > 1)"
    ),
    new_code_cell("client.close()\ncluster.close()"),
]


AGENT = [
    new_markdown_cell(
        "# A tool-calling agent\n\n"
        "`wfkit.prebuilt` has LangGraph's prebuilt agent: `create_react_agent(model, tools)` "
        "builds a graph where a chat model calls tools in a loop until it answers. Here the "
        "model is `ScriptedChatModel`, a langchain_core chat model that replays a script, so "
        "the notebook runs offline and the same way each time; put any chat model that "
        "supports `bind_tools` in its place (`ChatOpenAI(...)`, `ChatAnthropic(...)`). "
        "It needs the `langchain` extra: `pip install 'wfkit[langchain]'`."
    ),
    new_code_cell("%load_ext wfkit"),
    new_markdown_cell(
        "Two tools: a slow weather service, and a hotel booking that costs money, so a human "
        "approves each tool call before it runs."
    ),
    new_code_cell(
        "import time\n"
        "from langchain_core.tools import tool\n\n"
        "@tool\n"
        "def weather(city: str) -> str:\n"
        '    """Today\'s weather in a city."""\n'
        "    time.sleep(0.2)  # a slow web service\n"
        '    return {"Paris": "sunny, 24 °C", "Rome": "rain, 18 °C"}.get(city, "unknown")\n\n'
        "@tool\n"
        "def book_hotel(city: str, nights: int) -> str:\n"
        '    """Book a hotel room."""\n'
        '    return f"booked {nights} nights in {city}"'
    ),
    new_markdown_cell(
        "The model's script: ask for the weather in both cities at once (two tool calls in one "
        "message), then ask to book, then answer. Each call takes 0.3 s, as a real model's "
        "would take a while."
    ),
    new_code_cell(
        "from langchain_core.messages import AIMessage\n"
        "from wfkit.prebuilt.testing import ScriptedChatModel\n\n"
        "def call(name, id, **args):\n"
        '    return {"name": name, "args": args, "id": id}\n\n'
        "model = ScriptedChatModel(sleep=0.3, responses=[\n"
        '    AIMessage("", tool_calls=[call("weather", "w1", city="Paris"), call("weather", "w2", city="Rome")]),\n'
        '    AIMessage("Paris is sunny: I will book two nights there.",\n'
        '              tool_calls=[call("book_hotel", "b1", city="Paris", nights=2)]),\n'
        '    "Paris is sunny and 24 °C, Rome has rain. I have not booked a hotel: you did not approve it.",\n'
        "])"
    ),
    new_markdown_cell(
        'The agent: checkpoints in `agent.duckdb`, and `interrupt_before=["tools"]`, so every '
        "run stops before its tools run. The cell shows the graph: `agent` calls the model, "
        "`tools` (a `ToolNode`) runs the calls, and back."
    ),
    new_code_cell(
        "from wfkit.prebuilt import create_react_agent\n\n"
        "agent = create_react_agent(\n"
        "    model,\n"
        "    [weather, book_hotel],\n"
        '    prompt="You plan trips.",\n'
        '    checkpointer="agent.duckdb",\n'
        '    interrupt_before=["tools"],\n'
        '    name="travel",\n'
        ")\n"
        "agent"
    ),
    new_markdown_cell(
        "## Step through it\n\n"
        "A `Debugger` on a new run; its widget has Step, Step node and Continue buttons. The "
        "cells below drive the same debugger from code (what the buttons do), and the widget "
        "follows."
    ),
    new_code_cell(
        "from wfkit import Debugger\n\n"
        'debugger = Debugger(agent, {"messages": [("user", "Paris or Rome this weekend? Book two nights at the sunnier one.")]})\n'
        "debugger"
    ),
    new_markdown_cell(
        "One step calls the model. It asks for two tool calls, and the run stops before "
        "`tools`: the graph's own breakpoint. Each call is a task of its own in the next "
        "superstep (`next` names `tools` twice)."
    ),
    new_code_cell(
        "event = debugger.step()\n"
        'print(event.kind, "-", event.message)\n'
        'print("next:", debugger.next)\n'
        'for c in debugger.state["messages"][-1].tool_calls:\n'
        '    print(c["name"], c["args"])'
    ),
    new_markdown_cell(
        "## Approve, or not\n\n"
        "The breakpoint asks no question, so approving is moving on: **Step** (or Continue) "
        "in the widget, `debugger.step()` here. Both weather calls run at once, in one "
        "superstep."
    ),
    new_code_cell(
        "print(debugger.step())\n"
        'print([m.content for m in debugger.state["messages"][-2:]])\n'
        "print(debugger.step())\n"
        'print("the model wants:", debugger.state["messages"][-1].tool_calls[0]["args"])'
    ),
    new_markdown_cell(
        "The model wants to book. To refuse, answer the call in the tools' place: a "
        "`ToolMessage` for it, written as if `tools` had run (`edit_state(..., as_node="
        '"tools")`, a fork of the thread; the original history stays). Continue then runs '
        "the model on that answer."
    ),
    new_code_cell(
        "from langchain_core.messages import ToolMessage\n\n"
        'booking = debugger.state["messages"][-1].tool_calls[0]\n'
        'refusal = ToolMessage("The user did not approve this booking.", tool_call_id=booking["id"], name="book_hotel")\n'
        'print(debugger.edit_state({"messages": [refusal]}, as_node="tools"))\n'
        "print(debugger.continue_())\n"
        'print(debugger.state["messages"][-1].content)'
    ),
    new_markdown_cell(
        "## Where the time went\n\n"
        "Every node call was traced into `agent.duckdb`. Per node: the model's three calls "
        "and the two weather calls (the refused booking never ran); the model is where the "
        "time went."
    ),
    new_code_cell(
        "from wfkit.trace import summary\n\n"
        "spans = agent.traces(thread=debugger.thread)\n"
        'summary(spans).select("node", "count", "p50_ms", "max_ms", "share")'
    ),
    new_markdown_cell(
        "The timeline of the run: the two weather calls ran side by side, in one superstep, so "
        "the tools took 0.2 s, not 0.4 s. The gaps are the time the run waited for the "
        "cells above (the human)."
    ),
    new_code_cell("from wfkit.trace import timeline\n\ntimeline(spans)"),
    new_markdown_cell("The graph coloured by p95 latency: the model is where the time goes."),
    new_code_cell("agent.draw(heat=summary(spans))"),
]


def write(name: str, cells: list[object]) -> Path:
    nb = new_notebook(cells=cells, metadata=KERNEL)
    path = HERE / name
    if path.exists():  # keep the cells' ids, so a diff shows only what changed
        old = nbformat.read(path, as_version=4).cells
        if len(old) == len(nb.cells):
            for before, cell in zip(old, nb.cells, strict=True):
                cell["id"] = before.get("id", cell["id"])
    nbformat.write(nb, path)
    return path


if __name__ == "__main__":
    print(write("01-build-and-run.ipynb", BUILD))
    print(write("02-debugger.ipynb", DEBUG))
    print(write("03-scale-out.ipynb", SCALE))
    print(write("04-agent.ipynb", AGENT))
