"""The wfkit command line, run as a user would (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wfkit(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfkit.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def test_run_prints_final_state_as_json() -> None:
    out = wfkit("run", "examples.support:app", "--input", '{"text": "I want a refund"}')
    assert out.returncode == 0, out.stderr
    state = json.loads(out.stdout)
    assert state["intent"] == "refund"
    assert state["reply"].startswith("Your refund")


def test_run_accepts_a_stategraph_and_streams(tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text(
        "from typing import TypedDict\n"
        "from wfkit import StateGraph, START\n"
        "class S(TypedDict):\n    n: int\n"
        "graph = StateGraph(S)\n"
        "graph.add_node('inc', lambda s: {'n': s['n'] + 1})\n"
        "graph.add_edge(START, 'inc')\n"
    )
    out = wfkit("run", "mine:graph", "--input", '{"n": 41}', cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"n": 42}
    out = wfkit("run", "mine:graph", "-i", '{"n": 1}', "--stream", cwd=tmp_path)
    assert out.stdout.strip() == '{"inc": {"n": 2}}'


def test_run_input_from_file(tmp_path: Path) -> None:
    (tmp_path / "in.json").write_text('{"text": "where is my parcel"}')
    out = wfkit("run", "examples.support:app", "--input", f"@{tmp_path / 'in.json'}")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["intent"] == "question"


def test_bad_arguments_give_one_line_errors() -> None:
    cases = [
        (("run", "examples.support"), "is not MODULE:ATTR"),
        (("run", "nosuchmodule:app"), "cannot import module 'nosuchmodule'"),
        (("run", "examples.support:nope"), "has no attribute 'nope'"),
        (("run", "examples.support:app", "--input", "{bad"), "--input is not valid JSON"),
        (("run", "examples.support:app", "--input", "[1]"), "InvalidInputError"),
    ]
    for args, message in cases:
        out = wfkit(*args)
        assert out.returncode in (1, 2), args
        assert message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).parent / "wfkit"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    assert "run" in out.stdout
