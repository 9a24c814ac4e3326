"""One checkpoint file, two processes: the store lets its file go when idle
and opens it again when used, a second process waits a bounded time for a
file in use, and each sees what the other wrote."""

from __future__ import annotations

import operator
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from wfkit import END, START, StateGraph
from wfkit.checkpoint import DuckDBCheckpointer, StoreError

ROOT = Path(__file__).resolve().parent.parent

GRAPH = """
import operator
from typing import Annotated, TypedDict
from wfkit import END, START, StateGraph

class Chat(TypedDict, total=False):
    messages: Annotated[list, operator.add]

def reply(state):
    return {"messages": ["re:" + state["messages"][-1]]}

def build(store):
    g = StateGraph(Chat)
    g.add_node("reply", reply)
    g.add_edge(START, "reply")
    g.add_edge("reply", END)
    return g.compile(checkpointer=store)
"""


class Chat(TypedDict, total=False):
    messages: Annotated[list[str], operator.add]


def reply(state: Chat) -> dict[str, Any]:
    return {"messages": ["re:" + state["messages"][-1]]}


def build(store: Any) -> Any:
    g = StateGraph(Chat)
    g.add_node("reply", reply)
    g.add_edge(START, "reply")
    g.add_edge("reply", END)
    return g.compile(checkpointer=store)


CHAT = {"configurable": {"thread_id": "chat"}}


def turn(app: Any, text: str) -> list[str]:
    return list(app.invoke({"messages": [text]}, CHAT)["messages"])


def child(tmp: Path, body: str) -> subprocess.Popen[str]:
    script = tmp / f"child{time.monotonic_ns()}.py"
    script.write_text(GRAPH + textwrap.dedent(body))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out


def wait_until_let_go(store: DuckDBCheckpointer) -> None:
    deadline = time.monotonic() + 60  # a bound for a loaded machine, not a figure
    while store.file_open:
        assert time.monotonic() < deadline, "the store never let its idle file go"
        time.sleep(0.02)


def test_an_idle_store_lets_its_file_go_and_opens_it_again(tmp_path: Path) -> None:
    path = tmp_path / "runs.duckdb"
    with DuckDBCheckpointer(path, idle_release=0.1) as store:
        app = build(store)
        assert turn(app, "a") == ["a", "re:a"]
        wait_until_let_go(store)
        assert app.get_state(CHAT).values["messages"] == ["a", "re:a"]
        assert not store.file_open  # answered from memory: the file stays free
        assert turn(app, "b") == ["a", "re:a", "b", "re:b"]
        store.flush()  # the flusher opened the file again to write
        wait_until_let_go(store)
        assert len(list(app.get_state_history(CHAT))) == 4
    with DuckDBCheckpointer(path) as again:
        assert build(again).get_state(CHAT).values["messages"] == ["a", "re:a", "b", "re:b"]


def test_idle_release_none_keeps_the_file(tmp_path: Path) -> None:
    with DuckDBCheckpointer(tmp_path / "runs.duckdb", idle_release=None) as store:
        turn(build(store), "a")
        store.flush()
        time.sleep(0.3)
        assert store.file_open


def test_two_processes_take_turns_on_one_file(tmp_path: Path) -> None:
    path = tmp_path / "runs.duckdb"
    other = f"""
        from wfkit.checkpoint import DuckDBCheckpointer
        with DuckDBCheckpointer({str(path)!r}, lock_wait=60) as store:
            app = build(store)
            cfg = {{"configurable": {{"thread_id": "chat"}}}}
            before = len(app.get_state(cfg).values["messages"])
            out = app.invoke({{"messages": ["from B"]}}, cfg)
            print(before, len(out["messages"]))
        """
    with DuckDBCheckpointer(path, idle_release=0.2) as store:
        app = build(store)
        turn(app, "a1")
        # B starts while A holds the file: it waits until A has been idle a moment
        assert finish(child(tmp_path, other)).split() == ["2", "4"]
        # A reads what B wrote (the file changed while A had let it go)
        assert app.get_state(CHAT).values["messages"] == ["a1", "re:a1", "from B", "re:from B"]
        assert turn(app, "a2")[-2:] == ["a2", "re:a2"]
        assert finish(child(tmp_path, other)).split() == ["6", "8"]
        history = list(app.get_state_history(CHAT))
        assert history[0].values["messages"][-2:] == ["from B", "re:from B"]
        assert len(history[0].values["messages"]) == 8


def test_a_file_held_elsewhere_fails_the_write_after_the_wait(tmp_path: Path) -> None:
    path = tmp_path / "runs.duckdb"
    held = tmp_path / "held"
    holder = f"""
        import time
        from wfkit.checkpoint import DuckDBCheckpointer
        store = DuckDBCheckpointer({str(path)!r}, idle_release=None, lock_wait=60)
        open({str(held)!r}, "w").close()
        time.sleep(600)
        """
    with DuckDBCheckpointer(path, idle_release=0.1, lock_wait=0.3) as store:
        app = build(store)
        turn(app, "a")
        wait_until_let_go(store)
        proc = child(tmp_path, holder)
        try:
            deadline = time.monotonic() + 60
            while not held.exists():
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
                time.sleep(0.02)
            with pytest.raises(
                StoreError, match=rf"open for writing in process {proc.pid} \(waited 0.3 s"
            ):
                app.invoke({"messages": ["b"]}, CHAT, durability="sync")
        finally:
            proc.kill()
            proc.communicate()
        # the holder is gone. The thread's next read reports (once) that its
        # rows did not reach the file, as for any failed write; then it goes on
        with pytest.raises(StoreError, match="earlier background write of thread 'chat'"):
            app.get_state(CHAT)
        assert turn(app, "c") == ["a", "re:a", "c", "re:c"]


def test_bad_knobs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"idle_release=-1.*seconds >= 0"):
        DuckDBCheckpointer(tmp_path / "a.duckdb", idle_release=-1)
    with pytest.raises(StoreError, match=r"lock_wait='x'"):
        DuckDBCheckpointer(tmp_path / "a.duckdb", lock_wait="x")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match=r"cache_bytes=-5.*the default is 67108864"):
        DuckDBCheckpointer(tmp_path / "a.duckdb", cache_bytes=-5)
